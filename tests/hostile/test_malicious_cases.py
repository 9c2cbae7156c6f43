"""The committed malicious-input set: each case gets its documented exit code and message."""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app
from tests.conftest import FIXTURES

MAL = FIXTURES / "malicious"
runner = CliRunner()


def _cases() -> list[tuple[str, int, str]]:
    with (MAL / "cases.tsv").open(encoding="utf-8", newline="") as fh:
        return [(r["file"], int(r["exit"]), r["message"]) for r in csv.DictReader(fh, delimiter="\t")]


CASES = _cases()
#: Cases whose message is still wrong; the owner's module and why (see fuzz/FINDINGS.md).
KNOWN: dict[str, str] = {}


def test_generator_reproduces_the_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_malicious", MAL / "make_malicious.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path)
    for p in sorted(tmp_path.iterdir()):
        assert p.read_bytes() == (MAL / p.name).read_bytes(), f"{p.name}: re-run make_malicious.py"
    assert len(CASES) == len(list(tmp_path.iterdir())) - 1  # every file but cases.tsv


@pytest.mark.parametrize(
    "name, code, message",
    [pytest.param(*c, marks=pytest.mark.xfail(strict=True, reason=KNOWN[c[0]])) if c[0] in KNOWN else c
     for c in CASES],
)
def test_case(name, code, message):
    path = str(MAL / name)
    r = runner.invoke(app, ["analyze", "-q", "-f", "json", path])
    assert r.exit_code == code, (r.exit_code, r.stderr)
    if code == 2:
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"tcpforensics: {path}: ")
        assert message in lines[0]
        return
    report = json.loads(r.stdout)
    acc = report["accounting"][0]
    assert acc["unaccounted"] == 0
    stopped = (acc.get("extra") or {}).get("stopped")
    if message:
        assert stopped and message in stopped["reason"], stopped
    else:
        assert not stopped


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_stopped_capture_is_reported_to_the_user(fmt):
    r = runner.invoke(app, ["analyze", "-q", "-f", fmt, str(MAL / "pcap-caplen-4g.pcap")])
    assert r.exit_code == 0
    assert "corrupt record header" in r.stdout + r.stderr
