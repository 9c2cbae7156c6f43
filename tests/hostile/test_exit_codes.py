"""Every exit code of docs/exit-codes.md: 0 done, 1 --fail-on, 2 unusable input or usage."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app
from tests.conftest import FIXTURES, ROOT

runner = CliRunner()
EVIL = str(FIXTURES / "malicious" / "evil-names.ss.txt")  # its worst finding is 'medium'
DOC = (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")


def _one_line_error(r, *needles: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpforensics: "), lines
    for needle in needles:
        assert needle in lines[0]
    assert r.stdout == ""


def test_codes_are_documented():
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 130 |"):
        assert code in DOC


@pytest.mark.parametrize("fail_on, code", [("never", 0), ("high", 0), ("medium", 1), ("low", 1), ("info", 1)])
def test_fail_on(fail_on, code):
    r = runner.invoke(app, ["analyze", "-q", "-f", "json", "--fail-on", fail_on, EVIL])
    assert r.exit_code == code
    assert r.stdout.startswith("{")  # the report is written either way


def test_unusable_input_wins_over_fail_on(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = runner.invoke(app, ["analyze", "-q", "--fail-on", "info", EVIL, str(empty)])
    _one_line_error(r, f"{empty}: is empty")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["analyze", "-q", "/nonexistent/x.txt"], "no such file"),
        (["analyze", "-q", "{tmp}"], "holds no capture, socket table or counter dump (no files)"),
        (["analyze", "-q", "--input-format", "nope", EVIL], "unknown input format 'nope'"),
        (["analyze", "-q", "-t", "nosuch=3", EVIL], "unknown threshold 'nosuch'"),
        (["analyze", "-q", "-t", "nonsense", EVIL], "expected NAME=VALUE"),
        (["analyze", "-q", "--config", "/nonexistent.toml", EVIL], "config file not found"),
        (["analyze", "-q", "-o", "/nonexistent/dir/out.txt", EVIL], "cannot write"),
        (["events", "-q", "-f", "parquet", EVIL], "--format parquet needs --output PATH"),
        (["events", "-q", "/nonexistent/x.txt"], "no such file"),
        (["analyze", "-q", "--engine", "bogus", str(ROOT / "samples" / "synflood" / "capture.pcap")],
         "unknown capture engine 'bogus'"),
    ],
)
def test_exit_2_one_line(tmp_path, args, needle):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _one_line_error(runner.invoke(app, args), needle)


def test_usage_errors_exit_2():
    for args in (["analyze", "--bogus", EVIL], ["analyze"], ["analyze", "-f", "yaml", EVIL]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and r.stdout == "", args


def test_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [\n")
    _one_line_error(runner.invoke(app, ["analyze", "-q", "--config", str(bad), EVIL]), "invalid TOML")


def test_stdin_text_is_read():
    r = runner.invoke(app, ["analyze", "-q", "-f", "json", "-"],
                      input="tcp 0 0 10.0.0.1:1 10.0.0.2:22 ESTABLISHED\n")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["accounting"][0]["events"] == 1


def test_hostile_file_name_stays_one_safe_line(tmp_path):
    evil = tmp_path / "evil\x1b[31m\nname\u202e.txt"
    evil.write_bytes(b"just prose\n")
    r = runner.invoke(app, ["analyze", "-q", str(evil)])
    _one_line_error(r, "evil\\x1b[31m\\nname\\u202e.txt", "is not a recognised socket table")
    assert "\x1b" not in r.stderr and "\u202e" not in r.stderr


def test_error_keeps_raw_fields_and_escapes_its_message():
    from tcpforensics.errors import InputError, one_line

    e = InputError("a\nb", "tool said:\nline two\x1b[0m")
    assert str(e) == "a\\nb: tool said:\\nline two\\x1b[0m"
    assert (e.input_name, e.reason) == ("a\nb", "tool said:\nline two\x1b[0m")
    assert one_line("plain é Ω 東京") == "plain é Ω 東京"
