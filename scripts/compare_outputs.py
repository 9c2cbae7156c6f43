"""Snapshot what tcpforensics outputs for every input, and compare two snapshots.

Usage:
    python scripts/compare_outputs.py snapshot DIR [--include PATTERN]... [--extra FILE]... [--benchmarks]
    python scripts/compare_outputs.py compare OLD NEW

``snapshot`` runs the package that ``import tcpforensics`` finds (set ``PYTHONPATH`` to snapshot
another checkout; the path is printed) in-process, through the public API, over every file of
``../shared/corpus``, ``samples/`` and ``tests/fixtures/``, and writes for each input, into
``DIR/<group>/<path of the input>/``:

- ``ingest.*``: the event table, the skipped lines and the counter readings of
  ``tcpforensics.ingest.ingest`` (format detected from content), with the format, accounting
  and metadata (detection scores) in ``ingest.json``;
- ``forced/<format>.*``: for text inputs, the same with each text format forced
  (``--input-format``), so parsers are compared on inputs they do not win too;
- ``flows.*``: for captures, ``tcpforensics.flows(path)``;
- ``report.json``: ``tcpforensics.analyze(path)`` rendered as the JSON report, without the
  volatile fields of ``VOLATILE_KEYS``.

A step that raises records the exception's type and message in ``<step>.error.json`` (an
unusable input's one-line message is output too). Tables are written as Parquet beside a
``.dtypes.json`` (every column's dtype, categories in order); a table longer than
``--max-rows`` is written as a digest instead (row count, dtypes, SHA-256 of its row hashes).
Inputs are named relative to their group's folder, and the run changes into that folder, so a
snapshot does not depend on where the checkout is.

``--include PATTERN`` (repeatable, ``fnmatch`` on ``group/path``, e.g. ``'corpus/text/*'``)
restricts the inputs; ``--extra FILE`` adds capture files (group ``extra``), and
``--benchmarks`` adds the benchmark captures ``benchmarks/data/*.pcap`` (large: minutes each).

``compare`` reports every difference between two snapshots (inputs present on one side only,
JSON values, table dtypes and cells) and exits 1 when there is any, 0 otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS: dict[str, Path] = {
    "corpus": ROOT.parent / "shared" / "corpus",
    "samples": ROOT / "samples",
    "fixtures": ROOT / "tests" / "fixtures",
}
BENCHMARK_CAPTURES = "benchmarks/data/*.pcap"
#: Keys dropped from the JSON report wherever they occur: they would change from run to run
#: or from checkout to checkout, not with what was found (the report has none of them today;
#: input names are relative, see ``snapshot``).
VOLATILE_KEYS = frozenset({"timings", "elapsed", "generated_at", "tool_version", "tcpforensics_version"})
#: Files of a snapshot that ``compare`` does not compare (where and when it was taken).
UNCOMPARED = frozenset({"about.json"})
MAX_ROWS = 2_000_000


# --- snapshot ---------------------------------------------------------------------------------


def inputs(includes: list[str], extra: list[Path]) -> list[tuple[str, Path, str]]:
    """(group, folder, path relative to it) of every input, sorted, filtered by ``includes``."""
    found: list[tuple[str, Path, str]] = []
    for group, base in GROUPS.items():
        if base.is_dir():
            found += [(group, base, p.relative_to(base).as_posix()) for p in sorted(base.rglob("*"))
                      if p.is_file() and "__pycache__" not in p.parts]
    found += [("extra", p.resolve().parent, p.name) for p in extra]
    if includes:
        found = [f for f in found if any(fnmatch.fnmatch(f"{f[0]}/{f[2]}", pat) for pat in includes)]
    return found


def text_format_names() -> list[str]:
    """Names of the text formats of the package under test."""
    try:
        from tcpforensics.ingest import registry
    except ImportError:  # a checkout without tcpforensics/ingest/registry.py lists them itself
        from tcpforensics.ingest import TEXT_FORMATS

        return list(TEXT_FORMATS)
    return [f.name for f in registry.text_formats()]


def snapshot_input(name: str, out: Path, text_formats: list[str], max_rows: int) -> None:
    """Every output of one input (the current directory is its group's folder)."""
    import tcpforensics
    from tcpforensics.ingest import ingest
    from tcpforensics.report.render import render

    ingested = _step(out / "ingest", lambda: ingest(name))
    if ingested is not None:
        _write_ingested(ingested, out / "ingest", max_rows)
    if ingested is None or ingested.format != "pcap":
        for fmt in text_formats:
            forced = _step(out / "forced" / fmt, lambda fmt=fmt: ingest(name, fmt))
            if forced is not None:
                _write_ingested(forced, out / "forced" / fmt, max_rows)
    if ingested is not None and ingested.format == "pcap":
        flows = _step(out / "flows", lambda: tcpforensics.flows(name))
        if flows is not None:
            write_table(flows, out / "flows", max_rows)
    report = _step(out / "report", lambda: tcpforensics.analyze(name, keep_evidence=False))
    if report is not None:
        _write_json(out / "report.json", without_volatile(json.loads(render(report, "json"))))


def _step(stem: Path, fn: Callable[[], object]) -> object | None:
    """``fn()``, or None after writing the exception it raised to ``<stem>.error.json``."""
    try:
        return fn()
    except Exception as e:  # the error is the output of this step
        _write_json(stem.with_name(stem.name + ".error.json"), {"type": type(e).__name__, "message": str(e)})
        return None


def _write_ingested(ingested: object, stem: Path, max_rows: int) -> None:
    write_table(ingested.events, stem.with_name(stem.name + ".events"), max_rows)
    write_table(ingested.skipped, stem.with_name(stem.name + ".skipped"), max_rows)
    if ingested.counters is not None:
        write_table(ingested.counters, stem.with_name(stem.name + ".counters"), max_rows)
    _write_json(stem.with_name(stem.name + ".json"), {
        "input": ingested.input, "format": ingested.format,
        "accounting": ingested.accounting, "meta": ingested.meta,
    })


def write_table(frame: object, stem: Path, max_rows: int) -> None:
    """``stem.parquet`` and ``stem.dtypes.json``; ``stem.digest.json`` for a table too long."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    dtypes = dtypes_of(frame)
    if len(frame) > max_rows:
        _write_json(stem.with_name(stem.name + ".digest.json"), {"dtypes": dtypes, **digest(frame)})
        return
    _write_json(stem.with_name(stem.name + ".dtypes.json"), dtypes)
    frame.to_parquet(stem.with_name(stem.name + ".parquet"))


def dtypes_of(frame: object) -> dict:
    """Columns, dtypes (categories in order) and index of a DataFrame, as JSON values."""
    cols = []
    for name, dtype in frame.dtypes.items():
        entry = {"name": str(name), "dtype": str(dtype)}
        if hasattr(dtype, "categories"):
            entry["categories"] = [_jsonable(c) for c in dtype.categories]
            entry["categories_dtype"] = str(dtype.categories.dtype)
            entry["ordered"] = bool(dtype.ordered)
        cols.append(entry)
    return {"rows": len(frame), "columns": cols, "index": type(frame.index).__name__,
            "index_dtype": str(frame.index.dtype)}


def digest(frame: object) -> dict:
    """Row count and SHA-256 of the per-row hashes of a DataFrame (index included)."""
    import pandas as pd

    h = hashlib.sha256()
    step = 1_000_000
    for start in range(0, len(frame), step):
        part = frame.iloc[start: start + step]
        h.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
    return {"rows": len(frame), "sha256": h.hexdigest()}


def without_volatile(value: object) -> object:
    """``value`` with every key of ``VOLATILE_KEYS`` removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


def _jsonable(v: object) -> object:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "item") and not hasattr(v, "__len__"):  # numpy scalars
        return _jsonable(v.item())
    return repr(v)  # pd.NA, timestamps, anything else: its repr is stable


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(value), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def snapshot(dest: Path, includes: list[str], extra: list[Path], max_rows: int) -> int:
    import tcpforensics

    if dest.exists() and any(dest.iterdir()):
        print(f"compare_outputs: {dest} exists and is not empty", file=sys.stderr)
        return 2
    todo = inputs(includes, extra)
    names = text_format_names()
    print(f"snapshot of {tcpforensics.__file__}: {len(todo)} inputs, text formats {', '.join(names)}")
    dest.mkdir(parents=True, exist_ok=True)
    _write_json(dest / "about.json", {"package": tcpforensics.__file__, "taken": time.strftime("%Y-%m-%dT%H:%M:%S")})
    _write_json(dest / "inputs.json", [f"{g}/{rel}" for g, _, rel in todo])
    for i, (group, base, rel) in enumerate(todo, 1):
        started = time.monotonic()
        with _cwd(base):
            snapshot_input(rel, dest / group / rel, names, max_rows)
        print(f"[{i}/{len(todo)}] {group}/{rel} ({time.monotonic() - started:.1f} s)", flush=True)
    return 0


# --- compare ----------------------------------------------------------------------------------


def files_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - UNCOMPARED


def compare(old: Path, new: Path) -> list[str]:
    """Every difference between two snapshots, one line (or a short block) each."""
    a, b = files_of(old), files_of(new)
    diffs = [f"only in {old}: {f}" for f in sorted(a - b)] + [f"only in {new}: {f}" for f in sorted(b - a)]
    for f in sorted(a & b):
        if f.endswith(".json"):
            diffs += [f"{f}: {d}" for d in json_diff(_read_json(old / f), _read_json(new / f))]
        elif f.endswith(".parquet"):
            diffs += [f"{f}: {d}" for d in frame_diff(old / f, new / f)]
        elif (old / f).read_bytes() != (new / f).read_bytes():
            diffs.append(f"{f}: contents differ")
    return diffs


def _read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def json_diff(x: object, y: object, where: str = "$", limit: int = 20) -> list[str]:
    """Paths where two JSON values differ (at most ``limit``), with both values."""
    out: list[str] = []
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if k not in x or k not in y:
                out.append(f"{where}.{k}: {'missing' if k not in x else _short(x[k])} != "
                           f"{'missing' if k not in y else _short(y[k])}")
            else:
                out += json_diff(x[k], y[k], f"{where}.{k}", limit - len(out))
            if len(out) >= limit:
                break
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            out += json_diff(u, v, f"{where}[{i}]", limit - len(out))
            if len(out) >= limit:
                break
    elif x != y or type(x) is not type(y):
        out.append(f"{where}: {_short(x)} != {_short(y)}")
    return out[:limit]


def _short(v: object) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 200 else text[:200] + "..."


def frame_diff(old: Path, new: Path) -> list[str]:
    """Differences of two Parquet tables: shape, then the first differing cells of each column
    (dtypes are compared through the ``.dtypes.json`` beside them)."""
    import pandas as pd

    x, y = pd.read_parquet(old), pd.read_parquet(new)
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return [f"shape {len(x)} x {list(x.columns)} != {len(y)} x {list(y.columns)}"]
    if not x.index.equals(y.index):
        return ["index differs"]
    out = []
    for c in x.columns:
        u, v = x[c].astype(object), y[c].astype(object)
        same = (u == v).fillna(False).to_numpy(dtype=bool) | (u.isna() & v.isna()).to_numpy()
        if not same.all():
            rows = [int(i) for i in (~same).nonzero()[0][:3]]
            out.append(f"column {c!r}: {int((~same).sum())} rows differ, e.g. row {rows[0]}: "
                       f"{u.iloc[rows[0]]!r} != {v.iloc[rows[0]]!r}")
    return out


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = cli.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="write the outputs of every input into DIR")
    snap.add_argument("dir", type=Path)
    snap.add_argument("--include", action="append", default=[], metavar="PATTERN",
                      help="only inputs whose group/path matches (fnmatch; repeatable)")
    snap.add_argument("--extra", action="append", default=[], type=Path, metavar="FILE",
                      help="also this capture file (repeatable)")
    snap.add_argument("--benchmarks", action="store_true", help=f"also the captures {BENCHMARK_CAPTURES}")
    snap.add_argument("--max-rows", type=int, default=MAX_ROWS, help="longer tables are written as digests")
    comp = sub.add_parser("compare", help="report every difference between two snapshots; exit 1 on any")
    comp.add_argument("old", type=Path)
    comp.add_argument("new", type=Path)
    args = cli.parse_args(argv)
    if args.command == "snapshot":
        extra = list(args.extra) + (sorted(ROOT.glob(BENCHMARK_CAPTURES)) if args.benchmarks else [])
        return snapshot(args.dir.resolve(), args.include, extra, args.max_rows)
    for d in (args.old, args.new):
        if not (d / "inputs.json").is_file():
            print(f"compare_outputs: {d} is not a snapshot (no inputs.json)", file=sys.stderr)
            return 2
    diffs = compare(args.old, args.new)
    for d in diffs:
        print(d)
    n = len(_read_json(args.old / "inputs.json"))
    print(f"{n} inputs compared: {len(diffs)} difference(s)" if diffs else f"{n} inputs compared: no differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
