"""CLI foundation: version, help on every command, exit codes for unusable input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tcpforensics import __version__
from tcpforensics.cli import app

runner = CliRunner()


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.stdout.strip() == f"tcpforensics {__version__}"


@pytest.mark.parametrize("cmd", ["analyze", "events"])
def test_help_on_every_command(cmd: str) -> None:
    r = runner.invoke(app, [cmd, "--help"])
    assert r.exit_code == 0
    assert "Usage" in r.stdout


def test_python_dash_m() -> None:
    r = subprocess.run([sys.executable, "-m", "tcpforensics", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and __version__ in r.stdout


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "is empty"),
        (b"\x00\x01\x02\x03binary\x00\xff" * 100, "binary"),
        (b"just some prose\nnothing like a socket table\n", "not a recognised"),
    ],
)
def test_unusable_input_one_line_exit_2(tmp_path, content: bytes, reason: str) -> None:
    f = tmp_path / "in.txt"
    f.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "tcpforensics", "analyze", str(f)], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(f) in lines[0] and reason in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_file_exit_2(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "tcpforensics", "analyze", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_events_of_a_flow_log_say_it_holds_connections(tmp_path) -> None:
    """A flow log has no events: alone it is one line and exit 2; beside a dump it is named as
    skipped on stderr and the dump's events are written."""
    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\n"
                   "1.0\tC1\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\tS0\n")
    r = subprocess.run([sys.executable, "-m", "tcpforensics", "events", str(log)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert str(log) in r.stderr and "flow log" in r.stderr and "tcpforensics flows" in r.stderr
    dump = tmp_path / "ss.txt"
    dump.write_text("State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                    "ESTAB  0      0      10.0.0.1:22        10.0.0.9:50000\n")
    r = subprocess.run([sys.executable, "-m", "tcpforensics", "events", str(log), str(dump)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and f"{log}: skipped" in r.stderr
    assert len(r.stdout.strip().splitlines()) == 2  # (header and the dump's one socket)
