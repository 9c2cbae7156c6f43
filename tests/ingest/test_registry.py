"""The format registry: every format declares what it must and has docs, fixtures and a fuzz
target; a new format module is picked up by detection, --input-format, help, docs and the
fuzzer without touching any other file."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tcpforensics.cli
from tcpforensics.ingest import formats as formats_package
from tcpforensics.ingest import ingest, registry
from tests.conftest import ROOT, load_script
from tests.hostile import mutate

harness = mutate.harness


def _gen_formats():
    return load_script(ROOT / "docs" / "gen_formats.py")


def test_every_format_declares_what_it_must() -> None:
    found = registry.formats()
    assert sorted(f.name for f in found) == list(registry.names())
    assert {f.kind for f in found} == set(registry.KINDS)
    assert [f.order for f in found] == sorted(f.order for f in found)


@pytest.mark.parametrize("name", registry.names())
def test_every_format_has_fixtures(name: str) -> None:
    assert registry.get(name).fixture_files(), f"{name}: no file matches FIXTURES"


@pytest.mark.parametrize("name", registry.names())
def test_every_format_documents_itself(name: str) -> None:
    doc = registry.get(name).doc
    assert "Columns" in doc and "Example::" in doc, f"{name}: the docstring needs its columns and an example"


def test_the_docs_of_the_formats_are_current() -> None:
    gen = _gen_formats()
    stale = [p.name for p, text in gen.rendered().items() if p.read_text(encoding="utf-8") != text]
    assert stale == [], f"run python docs/gen_formats.py ({', '.join(stale)})"


@pytest.mark.parametrize("name", registry.names())
def test_every_format_has_a_fuzz_target_with_seeds(name: str) -> None:
    assert name in harness.targets()
    seeds = harness.seed_files(name)
    assert seeds
    harness.target_fn(name)(min(seeds, key=lambda p: p.stat().st_size).read_bytes()[:20000])


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize("name", [f.name for f in registry.text_formats()])
def test_text_formats_take_helpers_from_the_library_only(name: str) -> None:
    """A text format imports, of ``tcpforensics.ingest``, only its helper library
    (``ingest.parsing``), its interface (``ingest.base``) and its own modules."""
    module = registry.get(name).module
    root = Path(module.__file__).parent if module.__file__.endswith("__init__.py") else Path(module.__file__)
    own = f"tcpforensics.ingest.formats.{name}"
    allowed = ("tcpforensics.ingest.parsing.", "tcpforensics.ingest.base.", own + ".")
    for path in [root] if root.is_file() else sorted(root.glob("*.py")):
        ingest_imports = {m for m in _imported_modules(path) if m.startswith("tcpforensics.ingest.")}
        assert {m for m in ingest_imports if not m.startswith(allowed)} == set(), path.name


# --- a new format is one module and a fixture ---------------------------------------------------

def _toy_module(fixture_glob: str) -> str:
    """The minimal format of docs/architecture.md (its code block), reading ``fixture_glob``."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    code = doc.split("A minimal text format", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'FIXTURES = ("toy/*.txt",)' in code
    return code.replace('FIXTURES = ("toy/*.txt",)', f"FIXTURES = ({fixture_glob!r},)")


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A format ``toy`` registered the way every format is: a module in a folder of the
    formats package's path, and a fixture its ``FIXTURES`` names. No project file changes."""
    folder, fixtures = tmp_path / "more_formats", tmp_path / "toy_fixtures"
    folder.mkdir()
    fixtures.mkdir()
    fixture = fixtures / "toy-two-sockets.txt"
    fixture.write_text("#toy\ntcp 10.0.0.1:22 10.0.0.2:50000 ESTABLISHED\ntcp 0.0.0.0:80 0.0.0.0:0 LISTEN\n")
    (folder / "toy.py").write_text(_toy_module(str(fixtures / "*.txt")))
    monkeypatch.setattr(formats_package, "__path__", [*formats_package.__path__, str(folder)])
    yield fixture
    monkeypatch.undo()
    sys.modules.pop("tcpforensics.ingest.formats.toy", None)
    importlib.reload(tcpforensics.cli)  # its help lists the formats as they are again


def test_a_new_format_module_is_registered(toy: Path) -> None:
    assert "toy" in registry.names()
    fmt = registry.get("toy")
    assert (fmt.kind, fmt.order, fmt.fixture_files()) == ("text", 100, [toy])


def test_a_new_format_is_detected_from_content(toy: Path) -> None:
    got = ingest(str(toy))
    assert got.format == "toy"
    assert got.accounting["unaccounted"] == 0
    assert got.events["state"].astype(str).tolist() == ["ESTABLISHED", "LISTEN"]
    assert got.events["src_port"].tolist() == [22, 80]


def test_a_new_format_is_an_input_format_of_the_cli_and_its_help(toy: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke(tcpforensics.cli.app, ["events", "--input-format", "toy", str(toy), "-f", "json"])
    assert run.exit_code == 0, run.output
    assert '"dst_port":50000' in run.output.replace(" ", "")
    cli = importlib.reload(tcpforensics.cli)  # the help text is made when the CLI module loads
    shown = CliRunner().invoke(cli.app, ["analyze", "--help"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert shown.exit_code == 0
    help_line = next(line for line in shown.output.splitlines() if "--input-format" in line)
    assert "toy" in help_line


def test_a_new_format_is_in_the_docs(toy: Path) -> None:
    gen = _gen_formats()
    assert "| `toy` | toy socket lists (a `#toy` line first) | `toy-list > toy.txt` |" in gen.guide_table()
    assert "| `toy` | toy socket lists (a `#toy` line first) |" in gen.readme_table()
    page = gen.page()
    assert "## `toy`" in page and "line 2: tcp 10.0.0.1:22 -> 10.0.0.2:50000" in page
    assert any(p.read_text(encoding="utf-8") != text for p, text in gen.rendered().items())  # stale until regenerated


def test_a_new_format_is_a_fuzz_target(toy: Path) -> None:
    assert "toy" in harness.targets()
    assert harness.seed_files("toy") == [toy]
    harness.target_fn("toy")(toy.read_bytes())
    harness.target_fn("toy")(b"#toy\ntcp 1.2.3.4:5 6.7.8.9:10 ESTAB\xff\nnonsense\n")


def test_a_module_that_declares_too_little_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "broken_formats"
    folder.mkdir()
    (folder / "half.py").write_text('"""Half a format."""\nNAME = "half"\nKIND = "text"\n')
    monkeypatch.setattr(formats_package, "__path__", [*formats_package.__path__, str(folder)])
    try:
        with pytest.raises(registry.FormatDeclarationError, match=r"half\.py: a format must declare DESCRIPTION"):
            registry.formats()
    finally:
        monkeypatch.undo()
        sys.modules.pop("tcpforensics.ingest.formats.half", None)
    assert "half" not in registry.names()
