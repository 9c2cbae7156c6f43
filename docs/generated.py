"""What the docs generators (gen_formats.py, gen_rules.py) share: a generated block put
between its markers in a page, and every page written, or checked with ``--check``."""

from __future__ import annotations

import sys
from pathlib import Path


def with_block(text: str, begin: str, end: str, block: str, where: Path) -> str:
    """``text`` with what lies between the ``begin`` and ``end`` markers replaced by ``block``."""
    head, found, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise SystemExit(f"{where}: no '{begin}' ... '{end}' block")
    return f"{head}{begin}\n{block}\n{end}{tail}"


def write_or_check(pages: dict[Path, str], command: str, argv: list[str] | None = None) -> int:
    """Write every page whose content differs (with ``--check``: only name them); exit status
    1 when a page was out of date under ``--check``."""
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for path, text in pages.items():
        if (path.read_text(encoding="utf-8") if path.exists() else "") == text:
            continue
        if check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run {command}", file=sys.stderr)
    return 1 if stale else 0
