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
