"""Renderers: terminal table, Markdown sections, CSV to stdout and per-table files, --fail-on."""

from __future__ import annotations

import csv
import io
import re

import pytest
from reportkit import EVIL_PROCESS, findings_frame, make_report, syn_flood_finding
from typer.testing import CliRunner

from tcpforensics import pipeline
from tcpforensics.cli import app
from tcpforensics.report.render import fails, render

runner = CliRunner()
ESC_OR_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_table_verdict_first_and_no_escapes(hostile_report) -> None:
    text = render(hostile_report, "table")
    first = text.splitlines()[0]
    assert first == "HIGH: syn_flood on 127.0.0.1:8080 (count 129; +2 more findings)"
    assert not ESC_OR_CONTROL.search(text)
    assert "evilRED" in text and "pwned" not in text  # the OSC title payload is gone
    for title in ("Findings (3)", "State histogram", "Per listener", "Per process", "Odd things",
                  "Input accounting", "Skipped records"):
        assert title in text
    # findings by severity, most severe first
    sev_rows = [ln.split()[0] for ln in text.splitlines() if ln.split()[:1] and ln.split()[0] in ("high", "medium", "low")]
    assert sev_rows == ["high", "medium", "low"]
    assert "(+5 more)" in text  # 25 skipped lines: first 20 listed


def test_table_without_findings_says_ok() -> None:
    text = render(make_report(), "table")
    assert text.startswith("OK: nothing abnormal found in 4 sockets (1 input)")
    assert "SYN_RECEIVED" in text


def test_markdown_sections_and_order(hostile_report) -> None:
    md = render(hostile_report, "markdown")
    lines = md.splitlines()
    assert lines[0].startswith("## HIGH: syn\\_flood on 127.0.0.1:8080")  # the verdict comes first
    assert lines[2].startswith("tcpforensics ") and "dump.txt (ss)" in lines[2]
    heads = [ln for ln in lines if ln.startswith("#")]
    assert heads == [
        lines[0], "### Findings (3)", "#### High (1)", "#### Medium (1)", "#### Low (1)",
        "### State histogram", "### Per listener", "### Per process", "### Odd things",
        "### Input accounting", "#### Skipped records",
    ]
    # full explanation and next step, escaped cells, no raw HTML or escape bytes
    assert "The handshake is never completed." in md and "Consider rate limits." in md
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert not ESC_OR_CONTROL.search(md)
    # every table row has the column count of its header (no cell broke out with a pipe)
    for block in md.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("| ")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
            assert len(widths) == 1, block
    assert "lines 100, 101" in md and "(+5 more)" in md


def test_markdown_no_findings() -> None:
    md = render(make_report(), "markdown")
    assert "No findings." in md and "## State histogram" in md


def test_csv_stdout_is_findings_neutralized(hostile_report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(hostile_report, "csv"))))
    assert [r["category"] for r in rows] == ["syn_flood", "close_wait_leak", "stuck_socket"]
    assert rows[1]["subject"].startswith("'=HYPERLINK")
    assert rows[1]["explanation"].startswith("'+cmd")
    assert rows[1]["next_step"].startswith("'@SUM")
    assert rows[2]["explanation"].startswith("'") and rows[2]["next_step"].startswith("'")
    assert rows[0]["evidence"].split(";")[0] == "dump.txt:3"
    assert rows[0]["details"] == "sources=8;ratio=nan"


def _cli_with(monkeypatch, report, args: list[str]):
    monkeypatch.setattr(pipeline, "analyze", lambda *a, **k: report)
    return runner.invoke(app, ["analyze", "in.txt", *args])


def test_cli_csv_output_dir(monkeypatch, tmp_path, hostile_report) -> None:
    out = tmp_path / "report"
    r = _cli_with(monkeypatch, hostile_report, ["--format", "csv", "--output", f"{out}/"])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["accounting.csv", "findings.csv", "listeners.csv", "odd_things.csv",
                     "processes.csv", "skipped.csv", "states.csv"]
    odd = list(csv.DictReader((out / "odd_things.csv").open(encoding="utf-8")))
    assert odd == [{"what": "'=1+1", "value": ""}]
    procs = list(csv.DictReader((out / "processes.csv").open(encoding="utf-8")))
    assert procs[1]["process"] == "'-negative"
    assert not ESC_OR_CONTROL.search((out / "processes.csv").read_text(encoding="utf-8").replace("\n", ""))
    skipped = list(csv.DictReader((out / "skipped.csv").open(encoding="utf-8")))
    assert len(skipped) == 25 and skipped[0]["reason"] == "unparseable row"
    acc = list(csv.DictReader((out / "accounting.csv").open(encoding="utf-8")))
    assert {"kind": "skipped", "item": "unparseable row", "count": "25"}.items() <= acc[-1].items()
    states = list(csv.DictReader((out / "states.csv").open(encoding="utf-8")))
    assert [s["state"] for s in states] == ["LISTEN", "SYN_RECEIVED", "CLOSE_WAIT"]


def test_cli_csv_output_existing_dir_without_slash(monkeypatch, tmp_path, hostile_report) -> None:
    r = _cli_with(monkeypatch, hostile_report, ["-f", "csv", "-o", str(tmp_path)])
    assert r.exit_code == 0 and (tmp_path / "findings.csv").is_file()


def test_cli_csv_output_file(monkeypatch, tmp_path, hostile_report) -> None:
    f = tmp_path / "findings.csv"
    r = _cli_with(monkeypatch, hostile_report, ["-f", "csv", "-o", str(f)])
    assert r.exit_code == 0 and f.read_text().startswith("severity,category,subject")


@pytest.mark.parametrize(
    "severity, fail_on, code",
    [("high", "high", 1), ("high", "medium", 1), ("high", "critical", 0), ("info", "info", 1),
     ("low", "medium", 0), ("critical", "never", 0)],
)
def test_fail_on_exit_code(monkeypatch, severity: str, fail_on: str, code: int) -> None:
    report = make_report(findings_frame([syn_flood_finding(severity)]))
    assert fails(report, fail_on) is bool(code)
    r = _cli_with(monkeypatch, report, ["--fail-on", fail_on, "--format", "json"])
    assert r.exit_code == code, r.output


def test_fail_on_without_findings(monkeypatch) -> None:
    r = _cli_with(monkeypatch, make_report(), ["--fail-on", "info"])
    assert r.exit_code == 0 and r.output.startswith("OK:")


def test_unknown_table_with_odd_name_and_evil_process_in_markdown() -> None:
    import pandas as pd

    report = make_report(tables={"weird|name`": pd.DataFrame({"p": [EVIL_PROCESS]})})
    md = render(report, "markdown")
    assert "### Weird\\|name\\`" in md and "\x1b" not in md


def test_cli_end_to_end_strips_escapes_from_a_dump(tmp_path) -> None:
    dump = tmp_path / "ss.txt"
    dump.write_text(
        "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n"
        'LISTEN 0      128        127.0.0.1:8080       0.0.0.0:*     users:(("\x1b]0;owned\x07ev\x1b[2Jil",pid=7,fd=3))\n'
        'ESTAB  0      0          127.0.0.1:8080     127.0.0.1:5555  users:(("\x1b]0;owned\x07ev\x1b[2Jil",pid=7,fd=4))\n',
        encoding="utf-8",
    )
    for fmt in ("table", "markdown", "csv"):
        r = runner.invoke(app, ["analyze", str(dump), "--format", fmt])
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output and "\x07" not in r.output


def test_fail_on_with_plain_string_severities() -> None:
    # severities as plain strings sort alphabetically ("medium" > "critical"): ranks must be used
    report = make_report(findings_frame([syn_flood_finding("critical"), syn_flood_finding("medium")]))
    report.findings["severity"] = report.findings["severity"].astype(str)
    assert fails(report, "critical") and fails(report, "high") and not fails(report, "never")


def test_long_tables_are_cut_for_people_but_whole_in_csv(monkeypatch, tmp_path) -> None:
    import pandas as pd

    big = pd.DataFrame({"remote_host": [f"127.0.{i // 256}.{i % 256}" for i in range(120)], "sockets": range(120)})
    report = make_report(tables={"remotes": big})
    text = render(report, "table")
    assert "127.0.0.19" in text and "127.0.0.20 " not in text and "... 100 more rows" in text
    md = render(report, "markdown")
    assert "127.0.0.49" in md and "127.0.0.50 " not in md and "70 more rows" in md
    r = _cli_with(monkeypatch, report, ["-f", "csv", "-o", f"{tmp_path}/"])
    assert r.exit_code == 0
    assert len((tmp_path / "remotes.csv").read_text().splitlines()) == 121


def test_every_report_format_is_offered_by_the_cli() -> None:
    from tcpforensics.cli import ReportFormat
    from tcpforensics.report.render import FORMATS

    assert [f.value for f in ReportFormat] == list(FORMATS)
