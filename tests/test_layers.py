"""The data flows one way: the import-linter contract of pyproject.toml holds, and no import
placed inside a function hides a cycle (the few that exist only defer heavy imports)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tcpforensics"

#: Modules allowed to import project modules inside a function, and why: none of these
#: imports goes up a layer (the contract checks that too), they only defer a costly import.
DEFERRED = {
    "__init__.py": "the package's public names load their stage on first use (importlib, in __getattr__), "
                   "so import tcpforensics and --help do not load the pipeline",
    "cli.py": "each command imports its stages when it runs, so --help and small dumps start fast",
    "ingest/pcap.py": "the tshark engine loads pyshark (asyncio, lxml) only when asked for",
    "report/markdown_report.py": "plot links load matplotlib only when plots were drawn",
}


def test_layers_contract_holds() -> None:
    run = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                          "lint_imports_command()"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _function_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            found += [f"{fn.name}: {n}" for n in names if n == "tcpforensics" or n.startswith("tcpforensics.")]
    return found


def test_no_project_import_inside_functions_except_deferred_ones() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in DEFERRED:
            continue
        if found := _function_imports(path):
            offenders[rel] = found
    assert offenders == {}
