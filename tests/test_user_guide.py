"""docs/user-guide.md and docs/README.md stay truthful: every CLI option documented, links resolve."""

from __future__ import annotations

import re

import pytest
import typer

from tcpforensics.cli import app
from tcpforensics.ingest import registry
from tests.conftest import ROOT

DOCS = ROOT / "docs"
GUIDE = (DOCS / "user-guide.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(app).commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_documented(name: str) -> None:
    assert f"### `{name}`" in GUIDE
    section = GUIDE.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    for param in COMMANDS[name].params:
        for opt in param.opts:
            if opt.startswith("-") and opt != "--help":
                assert re.search(rf"`[^`]*{re.escape(opt)}\b", section), f"{name} {opt} not in the user guide"


def test_every_input_format_is_documented() -> None:
    for name in registry.names():
        assert f"| `{name}` |" in GUIDE


@pytest.mark.parametrize("page", ["README.md", "user-guide.md"])
def test_relative_links_resolve(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert links
    missing = [lnk for lnk in links if "://" not in lnk and not (DOCS / lnk).exists()]
    assert missing == []


def test_index_lists_every_doc_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"]({p})" not in index] == []


def test_python_api_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook session of the "Python API" section runs as written, from the repository root."""
    section = GUIDE.split("## Python API", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "no python example in the Python API section"
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block.group(1), "docs/user-guide.md", "exec"), namespace)
    report = namespace["report"]
    assert report.verdict.startswith("MEDIUM: close_wait_leak") and len(report.flows)
