"""Hostile process names end to end through the CLI: every output format stays inert and valid."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app
from tests.conftest import FIXTURES

MAL = FIXTURES / "malicious"
DUMPS = ("evil-names.ss.txt", "evil-names.netstat.txt", "evil-names.windows.txt")
runner = CliRunner()

# What must never reach a terminal: ESC (CSI/OSC), other C0/C1 controls, bidi overrides.
_UNSAFE_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _run(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _evil_processes(name: str) -> set[str]:
    """The hostile names the parser read from a dump (what the reports must make inert)."""
    from tcpforensics import read

    return set(read(str(MAL / name))["process"].dropna().astype(str))


@pytest.mark.parametrize("name", DUMPS)
def test_parsers_keep_hostile_names_verbatim(name):
    # The event table is data: it keeps what the dump said (the reports neutralize it).
    procs = _evil_processes(name)
    assert any("<script>" in p for p in procs)
    assert any(p.startswith("=cmd") or p.startswith("+SUM") for p in procs)


@pytest.mark.parametrize("name", DUMPS)
def test_terminal_table_has_no_escapes_or_controls(name):
    out = _run("analyze", "-q", "--expected-listeners", "22", str(MAL / name))
    assert not _UNSAFE_TERMINAL.search(out), repr(_UNSAFE_TERMINAL.search(out))
    assert "<script>" in out  # plain text on a terminal: shown, not interpreted
    assert "red" in out and "\x1b[31m" not in out


@pytest.mark.parametrize("name", DUMPS)
def test_markdown_cells_are_escaped(name):
    out = _run("analyze", "-q", "-f", "markdown", "--expected-listeners", "22", str(MAL / name))
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert not _UNSAFE_TERMINAL.search(out)
    for table in re.findall(r"(?:^\|.*\|$\n?)+", out, flags=re.M):
        rows = table.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, f"a cell broke its table: {rows[:3]}"
    assert re.search(r"(?<!\\)`", out.replace("```", "")) is None  # no live inline code


@pytest.mark.parametrize("name", DUMPS)
@pytest.mark.parametrize("command", [("analyze", "-f", "csv"), ("events", "-f", "csv")])
def test_csv_cells_cannot_start_formulas(name, command):
    extra = ("--expected-listeners", "22") if command[0] == "analyze" else ()
    out = _run(*command, "-q", *extra, str(MAL / name))
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) > 1
    for row in rows:
        assert len(row) == len(rows[0])
        for cell in row:
            assert not (cell.startswith(_FORMULA) and not _NUMBER.match(cell)), cell
            assert "\x1b" not in cell
    assert any("+SUM(1+1)" in cell for row in rows for cell in row)  # the name is kept, made inert


@pytest.mark.parametrize("name", DUMPS)
def test_json_is_valid_and_keeps_names(name):
    report = json.loads(_run("analyze", "-q", "-f", "json", "--expected-listeners", "22", str(MAL / name)))
    subjects = " ".join(str(f["subject"]) + str(f["details"]) for f in report["findings"])
    assert "<script>" in subjects  # JSON is data: escaped by the encoder, not altered
    lines = _run("events", "-q", "-f", "json", str(MAL / name)).splitlines()
    events = [json.loads(line) for line in lines if line.strip()]  # JSON lines, one event each
    assert any("<script>" in str(e.get("process")) for e in events)


def test_csv_formula_hidden_behind_an_escape_sequence(tmp_path):
    dump = tmp_path / "ss.txt"
    dump.write_text(
        "State      Recv-Q Send-Q   Local Address:Port     Peer Address:Port  Process\n"
        'LISTEN     0      128      127.0.0.1:9000     0.0.0.0:*     users:(("\x1b[0m=cmd|\' /C calc\'!A0",pid=1,fd=3))\n',
        encoding="utf-8",
    )
    rows = list(csv.reader(io.StringIO(_run("events", "-q", "-f", "csv", str(dump)))))
    process = rows[1][rows[0].index("process")]
    assert "cmd|" in process and not process.startswith(_FORMULA), process


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_hostile_input_file_name_is_inert(tmp_path, fmt):
    evil = tmp_path / "ss\x1b]0;pwned\x07\x1b[31m|`<b>.txt"
    evil.write_bytes((MAL / "evil-names.ss.txt").read_bytes())
    out = _run("analyze", "-q", "-f", fmt, str(evil))
    assert not _UNSAFE_TERMINAL.search(out)
    assert "pwned" not in out  # the OSC (set window title) sequence is removed with its payload
