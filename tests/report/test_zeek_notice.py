"""Findings as a Zeek notice.log (report/zeek_notice.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from tcpforensics import pipeline
from tcpforensics.cli import app
from tcpforensics.report import zeek_notice
from tests.conftest import ROOT


def test_a_scan_finding_is_a_notice_row(tmp_path) -> None:
    head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    rows = "".join(f"2 1 eni-1 198.51.100.7 10.0.0.5 40000 {port} 6 1 44 1700000000 1700000060 REJECT OK\n"
                   for port in range(1, 41))
    log = tmp_path / "vpc.log"
    log.write_text(head + rows)
    text = zeek_notice.render(pipeline.analyze([str(log)]))
    lines = text.splitlines()
    fields = next(x for x in lines if x.startswith("#fields")).split("\t")[1:]
    data = [dict(zip(fields, x.split("\t"), strict=True)) for x in lines if not x.startswith("#")]
    scan = next(d for d in data if d["note"] == "TCPForensics::Port_Scan")
    assert (scan["src"], scan["n"], scan["ts"], scan["actions"]) == ("198.51.100.7", "40", "1700000000.000000",
                                                                   "Notice::ACTION_LOG")
    assert scan["uid"].startswith("L") and scan["dst"] == "-"
    assert lines[0] == "#separator \\x09" and lines[-1].startswith("#close")


def test_analyze_format_zeek_writes_the_notice_log() -> None:
    out = CliRunner().invoke(app, ["analyze", str(ROOT / "samples" / "synflood" / "ss-tanp.txt"), "--format", "zeek"])
    assert out.exit_code in (0, 1), out.output
    lines = out.output.splitlines()
    assert "#path\tnotice" in lines
    assert any(x.split("\t")[2] == "TCPForensics::Syn_Flood" for x in lines if not x.startswith("#"))
