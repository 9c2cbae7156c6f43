"""Capture detectors against the labeled corpus: expectations derived from the manifest's labels
and the Zeek scan-detector notices shipped with the captures."""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from tcpforensics import detect
from tcpforensics.config import Config
from tcpforensics.detect import scans
from tcpforensics.ingest import ingest
from tcpforensics.reconstruct import evidence
from tcpforensics.reconstruct.conversation_rules import SYN_SHAPES
from tests.conftest import CORPUS, corpus_files, corpus_path

pytestmark = pytest.mark.corpus

LABELED = ("pcap", "labeled")
SCANS = set(scans.SCAN_CATEGORIES)
FLOODS = {"syn_flood", "synack_reflection", "connection_flood", "rst_storm", "fin_storm"}
NMAP_PROBE = {"S": "syn_half_open", "T": "connect", "F": "fin", "N": "null", "X": "xmas", "A": "ack"}


def manifest() -> list[dict]:
    path = CORPUS.joinpath(*LABELED, "manifest.tsv")
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@cache
def analysed(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, packet events) of one capture."""
    item = ingest(path)
    findings, _ = detect.run(evidence.build([item], Config()), Config())
    return findings, item.events


def expectation(label: str) -> dict:
    """What the label says the capture must (and must not) show: an ordered rule table, first
    matching label pattern wins. Keys: category, scanner, target, probe, victim, hosts, why."""
    rules: list[tuple[str, object]] = [
        # nmap as root runs a -sS port scan before version detection / NSE scripts: the label
        # names the later phase, the wire shows the SYN scan (window 1024, MSS only) first.
        (r"nmap -s([VC]) .*attacker (\S+) -> target (\S+);",
         lambda m: {"category": "port_scan", "scanner": m[2], "target": m[3], "probe": "syn_half_open"}),
        (r"nmap -s([STFNXA]) .*attacker (\S+) -> target (\S+);",
         lambda m: {"category": "port_scan", "scanner": m[2], "target": m[3], "probe": NMAP_PROBE[m[1]]}),
        (r"nmap -sU", lambda m: {"category": None, "why": "UDP scan: no TCP at all"}),
        # one port of one host probed a handful of times is below every scan rule (Zeek's and
        # ours): nothing failed more than once per (host, port). Disagreement with the label
        # "scanners" folder, by design (a single probe is not a scan).
        (r"nmap -p 80 ", lambda m: {"category": None, "why": "single-port probe of one host"}),
        (r"Port_Scan (\S+) -> .* on (\S+) ", lambda m: {"category": "port_scan", "scanner": m[1], "target": m[2]}),
        (r"Address_Scan (\S+) .*on (\d+)/tcp",
         lambda m: {"category": "address_scan", "scanner": m[1], "target": f"port {m[2]}"}),
        (r"TCP (SYN|ACK) ping sweep .*1 src -> (\d+) dst IPs",
         lambda m: {"category": "address_scan", "hosts": int(m[2]), "probe": "ack" if m[1] == "ACK" else SYN_SHAPES}),
        (r"SYN flood.*-> ?(\d+\.\d+\.\d+\.\d+:\d+)", lambda m: {"category": "syn_flood", "victim": m[1]}),
        (r"reflection", lambda m: {"category": "synack_reflection"}),
        # "backscatter-like" marks one-sided captures of two connections: too few to tell
        (r"\bbackscatter\b(?!-like)", lambda m: {"category": "backscatter"}),
    ]
    for pattern, make in rules:
        m = re.search(pattern, label)
        if m:
            return make(m)
    return {"category": None, "why": "normal traffic or a TCP corner case"}


ROWS = manifest()


def test_manifest_is_read() -> None:
    corpus_path(*LABELED)
    assert len(ROWS) >= 40


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_labeled_capture(row: dict) -> None:
    path = corpus_path(*LABELED, row["file"])
    exp = expectation(row["label"])
    findings, events = analysed(str(path))
    cats = set(findings["category"])
    scans = findings[findings["category"].isin(SCANS)]
    cat = exp["category"]
    if cat is None:
        assert not cats & (SCANS | FLOODS), f"{exp['why']}: {findings[['category', 'subject']].values.tolist()}"
        return
    mine = findings[findings["category"] == cat]
    assert len(mine), f"expected {cat}, got {sorted(cats)}"
    # a scan is no flood and a flood is no scan (whatever else the capture holds)
    assert not cats & (FLOODS if cat in SCANS else SCANS), sorted(cats)
    if "scanner" in exp:
        hit = mine[(mine["subject"] == exp["scanner"]) & (mine["details"].map(lambda d: d["target"]) == exp["target"])]
        assert len(hit) == 1, mine[["subject", "details"]].values.tolist()
        if "probe" in exp:
            assert hit.iloc[0]["details"]["probe_type"] == exp["probe"]
    if "hosts" in exp:
        (d,) = mine["details"]
        assert d["hosts"] == exp["hosts"]
        assert d["probe_type"] in exp["probe"]
        senders = events.loc[(events["flags"].astype(int) & 0x12) != 0x12, "src_addr"].astype(str)
        assert mine.iloc[0]["subject"] == senders.value_counts().index[0]
    if "victim" in exp:
        assert exp["victim"] in set(mine["subject"])
    answers = events[(events["flags"].astype(int) & 0x12) == 0x12]
    if cat == "synack_reflection":
        # the victim is where the unsolicited SYN-ACKs converge (counted straight from packets)
        assert mine.iloc[0]["subject"] == answers["dst_addr"].astype(str).value_counts().index[0]
    if cat in ("synack_reflection", "backscatter"):
        # whoever sends the SYN-ACKs / RSTs answers forged SYNs: never report them as scanners
        senders = set(answers["src_addr"].astype(str)) | set(
            events.loc[(events["flags"].astype(int) & 0x04) != 0, "src_addr"].astype(str))
        assert not set(scans["subject"]) & senders
        assert scans.empty


def notice_rows() -> list[tuple[str, list[list[str]]]]:
    """(notice file stem, rows: scanner, port, note, message) of each Zeek notice.log."""
    out = []
    for p in corpus_files("*.notice.log", *LABELED, "labels"):
        lines = [ln.split("\t") for ln in p.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
        out.append((p.name.removesuffix(".notice.log"), lines))
    return out


def capture_for_notice(stem: str, lines: list[list[str]]) -> Path:
    """The manifest capture a notice.log belongs to: the one whose label names its scanner, or
    (for an empty notice) the bro-simple-scan capture whose source path stem is in its name."""
    simple = [r for r in ROWS if r["source_repo"] == "ncsa/bro-simple-scan"]
    if lines:
        (row,) = [r for r in simple if lines[0][0] in r["label"]]
    else:
        (row,) = [r for r in simple if Path(r["path"]).stem in stem]
    return corpus_path(*LABELED, row["file"])


@pytest.mark.parametrize("stem, lines", notice_rows(), ids=[n for n, _ in notice_rows()])
def test_zeek_scan_notices_are_matched(stem: str, lines: list[list[str]]) -> None:
    findings, _ = analysed(str(capture_for_notice(stem, lines)))
    scans = findings[findings["category"].isin(SCANS)]
    if not lines:  # backscatter: Zeek raises no scan notice, neither do we
        assert scans.empty
        return
    for scanner, port, note, *_ in lines:  # scanner, port, note, message, local|remote
        cat = {"Scan::Address_Scan": "address_scan", "Scan::Port_Scan": "port_scan"}[note]
        hit = scans[(scans["category"] == cat) & (scans["subject"] == scanner)]
        assert len(hit) == 1
        if cat == "address_scan":
            assert hit.iloc[0]["details"]["target"] == f"port {port}"
        # Zeek reached these with thresholds lowered by the tests (scan_threshold 5) or darknet
        # hits; with the default thresholds (15 ports / 20 hosts) our count rules stay quiet and
        # the threshold random walk catches them after 4 failed first contacts, at low severity.
        assert hit.iloc[0]["details"]["trigger"] == "threshold random walk"
        assert hit.iloc[0]["severity"] == "low"


ZEEK = corpus_files("*.pcap*", "pcap", "zeek")


@pytest.mark.parametrize("path", ZEEK, ids=[p.name for p in ZEEK])
def test_zeek_test_traces_give_no_scan_or_flood(path: Path) -> None:
    corpus_path("pcap", "zeek")
    findings, _ = analysed(str(path))
    assert not set(findings["category"]) & (SCANS | FLOODS | {"backscatter"})
