"""``tcpforensics watch -``: a capture on standard input, rolling findings per interval of
packet time (the bundled hping3 SYN flood and nmap scan samples, replayed)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tcpforensics.cli import app
from tests.conftest import ROOT

runner = CliRunner()
SCANS = ROOT / "samples" / "scans"


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_syn_flood_starts_in_the_first_interval_and_grows() -> None:
    data = (SCANS / "hping3_synflood.pcap").read_bytes()
    r = runner.invoke(app, ["watch", "-", "-i", "0.1", "--format", "json"], input=data)
    assert r.exit_code == 0, r.output
    found = events(r.stdout)
    starts = [e for e in found if e["event"] == "start"]
    assert [(e["seq"], e["category"], e["subject"]) for e in starts] == [(0, "syn_flood", "127.0.0.1:9090")]
    intervals = [e for e in found if e["event"] == "interval"]
    assert len(intervals) == 5 and sum(e["packets"] for e in intervals) == 3000
    assert any(e["event"] == "change" and e["severity"] == "high" for e in found)


def test_scan_and_fail_on() -> None:
    data = (SCANS / "nmap_sS.pcap").read_bytes()
    r = runner.invoke(app, ["watch", "-", "-i", "0.05", "--format", "json", "--fail-on", "high"], input=data)
    assert r.exit_code == 1
    assert any(e["event"] == "start" and e["category"] == "port_scan" for e in events(r.stdout))


def test_count_and_table_view() -> None:
    data = (SCANS / "hping3_synflood.pcap").read_bytes()
    r = runner.invoke(app, ["watch", "-", "-i", "0.1", "-n", "2"], input=data)
    assert r.exit_code == 0, r.output
    assert r.stdout.count("packets") == 2 and "syn_flood" in r.stdout


def test_refusals() -> None:
    r = runner.invoke(app, ["watch", "-"], input=b"not a capture\n" * 10)
    assert r.exit_code == 2 and "not a pcap" in r.output
    r = runner.invoke(app, ["watch", "capture.pcap"])
    assert r.exit_code == 2 and "only '-'" in r.output
    r = runner.invoke(app, ["watch", "-", "--record", "x"], input=b"")
    assert r.exit_code == 2
