"""Plots (``analyze --plot DIR``): every sample and a few corpus captures render readable PNGs."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app
from tcpforensics.pipeline import analyze
from tcpforensics.report import plot_figures, plots
from tests.conftest import SAMPLES, corpus_files, corpus_path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SAMPLE_FILES = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix in (".txt", ".pcap"))


@cache
def report_of(path: Path):
    """The analysis of one input, shared by the tests (render_all only sets report.plots)."""
    return analyze(str(path))


def expected_kinds(path: Path) -> set[str]:
    """The plots a sample must produce, from what kind of evidence it is (see samples/README.md)."""
    if path.name.startswith("counters"):
        return set()  # kernel counters: no sockets, no packets, nothing to draw
    if path.suffix == ".pcap":
        kinds = {"final_states", "rates"}
        if path.name.startswith("nmap_"):
            kinds |= {"scans", "closes"}
        elif "synflood" in str(path):
            kinds |= {"closes"}  # the flood's half-open attempts
        elif path.parent.name in ("close_wait", "loop"):
            kinds |= {"closes"}  # clients closed, the leaky server never did (half-closed)
        elif path.parent.name == "time_wait":
            kinds |= {"closes"}  # the last connections, cut mid-close by tcpdump -c 3000
        return kinds
    return {"states", "snapshots"} if path.parent.name == "loop" else {"states"}


def check_png(path: Path) -> None:
    """A PNG a person can read: right magic, 5 KB..2 MB, 400..3000 pixels a side."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert 5_000 < len(data) < 2_000_000, (path, len(data))
    h, w = mpimg.imread(path).shape[:2]
    assert 400 <= w <= 3000 and 250 <= h <= 3000, (path, w, h)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_plots(path: Path, tmp_path: Path) -> None:
    report = report_of(path)
    written = plots.render_all(report, tmp_path)
    assert {p.stem for p in written} == expected_kinds(path)
    assert sorted(tmp_path.iterdir()) == sorted(written)
    assert set(report.plots) == {p.stem for p in written}
    for p in written:
        check_png(p)


CORPUS_CAPTURES = {
    # file -> plots it must have (and, for the UDP-only capture, nothing at all)
    "em_syn_flood.pcap": {"final_states", "rates", "closes"},
    "sgr_syn_ping_sweep.pcapng": {"final_states", "rates", "scans", "closes"},
    "rs_nmap_sU_udp.pcapng": set(),  # UDP scan: no TCP packet to draw
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_CAPTURES))
def test_corpus_plots(name: str, tmp_path: Path) -> None:
    report = analyze(str(corpus_path("pcap", "labeled", name)))
    written = plots.render_all(report, tmp_path)
    assert {p.stem for p in written} == CORPUS_CAPTURES[name]
    for p in written:
        check_png(p)


def test_flood_windows_are_shaded() -> None:
    """The SYN-flood finding's first_seen..last_seen becomes a shaded span on the rate plot."""
    report = report_of(SAMPLES / "scans" / "hping3_synflood.pcap")
    pk = plots._events(plots.event_tables(report.evidence))
    t0 = pk["ts"].to_numpy(dtype="datetime64[ns]").min()
    span = float((pk["ts"].max() - pk["ts"].min()).total_seconds())
    windows = plot_figures._windows(report.findings, "syn_flood", t0, span)
    assert len(windows) == (report.findings["category"] == "syn_flood").sum() >= 1
    start, end = windows[0]
    assert 0 <= start <= end <= span
    fig = plots.rates(pk, report.findings, "x")
    assert all(len(ax.patches) >= 1 + len(windows) for ax in fig.axes)  # bars + one span per window


def test_scanners_from_findings() -> None:
    findings = pd.DataFrame({
        "category": ["port_scan", "syn_flood", "distributed_scan"],
        "subject": ["10.0.0.1", "10.0.0.9:80", "10.0.0.9"],
        "details": [{"targets": ["10.0.0.9"]}, {"victim": "10.0.0.9:80"},
                    {"scanners": ["10.0.0.2", "10.0.0.3"], "target": "10.0.0.9"}],
    })
    assert plots.scanners(findings) == [("10.0.0.1", ["10.0.0.9"]), ("10.0.0.2", ["10.0.0.9"]),
                                        ("10.0.0.3", ["10.0.0.9"])]


def test_nothing_to_show_draws_nothing(tmp_path: Path) -> None:
    """A normal capture has no scan or abnormal-close plot; one snapshot has no snapshot plot."""
    report = report_of(SAMPLES / "scans" / "normal_http.pcap")
    assert {p.stem for p in plots.render_all(report, tmp_path)} == {"final_states", "rates"}
    one = pd.DataFrame({"ts": pd.NaT, "input": "x", "snapshot": [0, 0], "state": ["CLOSE_WAIT", "TIME_WAIT"]})
    assert plots.snapshot_counts(one, "x") is None
    quiet = pd.DataFrame({"ts": pd.NaT, "input": "x", "snapshot": [0, 1], "state": ["LISTEN", "ESTABLISHED"]})
    assert plots.snapshot_counts(quiet, "x") is None  # several snapshots, but no CLOSE_WAIT/TIME_WAIT


def test_bin_width() -> None:
    assert plots.bin_width(0.0) == 0.001
    assert plots.bin_width(0.025) == 0.001
    assert plots.bin_width(1.0) == 0.01
    assert plots.bin_width(86_400) == 1800  # 48 bins over a day
    assert np.isclose(plots.bin_width(1e9), 1e9 / plots.MAX_BINS)


def test_markdown_links() -> None:
    links = plots.markdown_links({"states": "out/plots/states.png", "rates-a.pcap": "out/plots/rates-a.pcap.png",
                                  "closes": "out/plots/my closes.png"}, relative_to="out")
    assert links == {
        "histogram": "![Socket states](plots/states.png)",
        "findings": "![SYN, SYN-ACK and RST rates (a.pcap)](plots/rates-a.pcap.png)",
        "abnormal_closes": "![Abnormal closes over time](plots/my%20closes.png)",
    }
    assert plots.markdown_links(["p/snapshots.png"]) == {"timelines": "![CLOSE_WAIT and TIME_WAIT over snapshots](p/snapshots.png)"}


def test_cli_plot_option(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    res = CliRunner().invoke(app, ["analyze", str(SAMPLES / "scans" / "nmap_sS.pcap"), "--plot", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["closes.png", "final_states.png", "rates.png", "scans.png"]
    two = tmp_path / "two"
    loop = SAMPLES / "loop"
    res = CliRunner().invoke(app, ["analyze", str(loop / "ss-loop.txt"), str(loop / "netstat-loop.txt"),
                                   "--plot", str(two), "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in two.iterdir()) == ["snapshots-netstat-loop.txt.png", "snapshots-ss-loop.txt.png",
                                                     "states.png"]


def test_cli_plot_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(app, ["analyze", str(SAMPLES / "loop" / "ss-loop.txt"), "--plot", str(blocker / "d"), "-q"])
    assert res.exit_code == 2
    assert "cannot write" in res.output


def test_corpus_file_list_is_not_empty() -> None:
    """The corpus parametrization above names files that exist (when the corpus is present)."""
    base = corpus_path("pcap", "labeled")
    present = {p.name for p in corpus_files("*", "pcap", "labeled")}
    assert set(CORPUS_CAPTURES) <= present, base


def test_findings_of_one_capture() -> None:
    """Scan and flood findings are drawn on the capture their evidence points into."""
    findings = pd.DataFrame({
        "category": ["port_scan", "syn_flood", "syn_flood", "port_scan"],
        "subject": ["10.0.0.1", "10.0.0.9:80", "127.0.0.1:80", "10.0.0.2"],
        "evidence": [["Cabc", "a.pcap#3"], ["b.pcap#7"], ["ss.txt:12"], ["Cuid1"]],
    })
    flows = pd.DataFrame({"uid": ["Cuid1", "Cuid2"], "input": ["b.pcap", "a.pcap"]})
    assert plots.findings_of(findings, "a.pcap", flows, several=True)["subject"].tolist() == ["10.0.0.1"]
    assert plots.findings_of(findings, "b.pcap", flows, several=True)["subject"].tolist() == ["10.0.0.9:80", "10.0.0.2"]
    alone = findings.assign(evidence=[["Cx"], ["Cy"], ["ss.txt:1"], []])
    assert plots.findings_of(alone, "a.pcap", None, several=False)["subject"].tolist() == ["10.0.0.1", "10.0.0.9:80", "10.0.0.2"]
    assert plots.findings_of(alone, "a.pcap", None, several=True).empty


def test_markdown_report_links_plots_beside_their_tables(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(SAMPLES / "scans" / "nmap_sS.pcap"), "--plot", str(out / "plots"),
                                   "--format", "markdown", "-o", str(out / "report.md"), "-q"])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(links) == sorted(f"plots/{p.name}" for p in (out / "plots").iterdir())
    assert all((out / link).is_file() for link in links)  # relative to the Markdown file
    sections = md.split("\n### ")
    beside = {s.split("\n", 1)[0]: s for s in sections}
    assert "](plots/scans.png)" in beside["Scan candidates"]
    assert "](plots/closes.png)" in beside["Abnormal closes"]
    assert "](plots/rates.png)" in next(s for s in sections if s.startswith("Findings"))
    plain = CliRunner().invoke(app, ["analyze", str(SAMPLES / "scans" / "nmap_sS.pcap"), "--format", "markdown", "-q"])
    assert "![" not in plain.output  # no --plot, no image links
