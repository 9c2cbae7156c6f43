"""``tcpforensics watch`` through typer's CliRunner: formats, stops, record, refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from tcpforensics import live
from tcpforensics.cli import app
from tcpforensics.live.view import Dashboard
from tests.live.test_sampler import netstat, root  # noqa: F401  (the fixture)

runner = CliRunner()


def test_help() -> None:
    r = runner.invoke(app, ["watch", "--help"])
    assert r.exit_code == 0 and "--record" in r.stdout and "--fail-on" in r.stdout


def test_json_lines_one_per_interval(root: Path) -> None:  # noqa: F811
    r = runner.invoke(app, ["watch", "--proc", str(root), "--no-processes", "-n", "3", "-i", "0.05", "--format", "json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["seq"] for x in lines if x["event"] == "interval"] == [0, 1, 2]
    assert lines[0]["states"]["LISTEN"] >= 1


def test_table_view_off_a_terminal_prints_a_line_per_interval(root: Path) -> None:  # noqa: F811
    r = runner.invoke(app, ["watch", "--proc", str(root), "--no-processes", "--duration", "0.1", "-i", "0.05"])
    assert r.exit_code == 0, r.output
    assert r.stdout.count("sockets") >= 1 and "#0" in r.stdout


def test_fail_on_exits_1(root: Path) -> None:  # noqa: F811
    (root / "net/netstat").write_text(netstat(1))
    runner.invoke(app, ["watch", "--proc", str(root), "--no-processes", "-n", "1"])
    r = runner.invoke(app, ["watch", "--proc", str(root), "--no-processes", "-n", "1", "--fail-on", "low"])
    assert r.exit_code == 1  # one sample: the since-boot counter is a low finding


def test_record_is_read_back_by_analyze(root: Path, tmp_path: Path) -> None:  # noqa: F811
    record = tmp_path / "rec"
    r = runner.invoke(app, ["watch", "--proc", str(root), "--no-processes", "-n", "2", "-i", "0.05",
                            "--record", str(record), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in record.iterdir()} == {"sockets.txt", "counters.txt", "conntrack.txt"}
    a = runner.invoke(app, ["analyze", str(record), "--format", "json"])
    assert a.exit_code == 0, a.output
    report = json.loads(a.stdout)
    assert report["findings"] is not None


def test_refusals(root: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811, ANN001
    r = runner.invoke(app, ["watch", "--proc", str(tmp_path / "none"), "-n", "1"])
    assert r.exit_code == 2 and "cannot read net/tcp" in r.output
    r = runner.invoke(app, ["watch", "--proc", str(root), "-n", "1", "-t", "no_such_threshold=1"])
    assert r.exit_code == 2
    monkeypatch.setattr(live, "supported", lambda: False)
    r = runner.invoke(app, ["watch", "-n", "1"])
    assert r.exit_code == 2 and "Linux" in r.output


def test_dashboard_on_a_terminal(root: Path) -> None:  # noqa: F811
    out = io.StringIO()
    (root / "net/netstat").write_text(netstat(1))
    options = live.Options(interval=0.01, count=3, window=2, root=root, processes=False)
    scenario_write = {1: lambda: (root / "net/netstat").write_text(netstat(9))}

    class Acting(Dashboard):
        def show(self, summary, changes, active) -> None:  # noqa: ANN001
            super().show(summary, changes, active)
            if (act := scenario_write.get(summary.seq)) is not None:
                act()

    sink = Acting(Console(file=out, force_terminal=True, width=140))
    assert live.watch(options, sink) == 0
    text = out.getvalue()
    assert "states" in text and "listeners" in text and "listen_overflow" in text and "counter deltas" in text
