"""conntrack: -L (default, extended, id, ktimestamp), /proc/net/nf_conntrack, -E events, -S/-C
counters; both tuples, NAT, flags, states; the table-fill finding; jc agreement."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.config import Config
from tcpforensics.detect import socket_rows
from tcpforensics.detect.socket_conntrack import conntrack_fill
from tcpforensics.detect.socket_rows import Context
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import conntrack
from tcpforensics.ingest.formats.conntrack import entries
from tcpforensics.reconstruct.counters import deltas
from tests.conftest import FIXTURES

CT = FIXTURES / "linux" / "conntrack"
LISTINGS = ["conntrack-L.txt", "conntrack-L-extended.txt", "conntrack-L-id-timestamp.txt",
            "conntrack-L-extended-id.txt", "conntrack-L-ktimestamp.txt", "proc-net-nf_conntrack.txt"]


def _ingest(path: Path, fmt: str | None = None):
    r = ingest(str(path), fmt)
    assert r.format == "conntrack"
    assert r.accounting["unaccounted"] == 0
    return r


def _na(v: object) -> object:
    return None if pd.isna(v) else v


@pytest.mark.parametrize("name", LISTINGS)
def test_every_listing_form_reads_the_same_26_entries(name: str) -> None:
    """Counted by hand with grep: 15 SYN_SENT [UNREPLIED] (12 IPv4, 3 IPv6), 4 ESTABLISHED,
    2 CLOSE_WAIT, 3 TIME_WAIT, 2 CLOSE; 11 [ASSURED]; 3 through the NAT (dport 8080)."""
    r = _ingest(CT / name)
    e = r.events
    assert len(e) == 26 and r.accounting["skipped"] == {} and r.accounting["structural"] == {}
    counts = e["raw_state"].astype(str).value_counts().to_dict()
    assert counts == {"SYN_SENT": 15, "ESTABLISHED": 4, "TIME_WAIT": 3, "CLOSE_WAIT": 2, "CLOSE": 2}
    assert (e["ct_status"] == "UNREPLIED").sum() == 15 and (e["ct_status"] == "ASSURED").sum() == 11
    assert e.loc[e["ct_status"] == "UNREPLIED", "raw_state"].eq("SYN_SENT").all()
    assert e["family"].value_counts().to_dict() == {"ipv4": 19, "ipv6": 7}
    assert set(e["src_addr"].astype(str)) == {"127.0.0.1", "::1"}  # /proc's 0000:...:0001 compressed
    assert e["proto"].eq("tcp").all()
    # ct_mark everywhere but /proc prints zone too; -o id prints the id
    assert e["ct_mark"].eq(0).all()
    assert e["ct_zone"].notna().all() == (name == "proc-net-nf_conntrack.txt")
    assert e["ct_id"].notna().all() == ("id" in name or "ktimestamp" in name)
    assert e["ts"].isna().all()  # a listing has no per-line time (ktimestamp's start is not kept)


def test_states_map_to_the_common_vocabulary_with_the_raw_word_kept() -> None:
    e = _ingest(CT / "conntrack-L.txt").events
    pairs = set(zip(e["raw_state"].astype(str), e["state"].astype(str), strict=True))
    assert pairs == {("SYN_SENT", "SYN_SENT"), ("ESTABLISHED", "ESTABLISHED"), ("TIME_WAIT", "TIME_WAIT"),
                     ("CLOSE_WAIT", "CLOSE_WAIT"), ("CLOSE", "CLOSED")}


def test_conntrack_words_not_recorded_here() -> None:
    """SYN_SENT2 (simultaneous open), FIN_WAIT, LAST_ACK, NONE and the old LISTEN spelling,
    on lines written from nf_conntrack_proto_tcp.c's state names."""
    line = "tcp      6 100 {} src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=1000\n"
    words = ["SYN_SENT2", "FIN_WAIT", "LAST_ACK", "NONE", "LISTEN", "SYN_RECV", "BOGUS"]
    r = ingest_text("".join(line.format(w) for w in words).encode(), "mem", "conntrack")
    got = r.events["state"].astype(str).tolist()
    assert got == ["SYN_SENT", "FIN_WAIT_1", "LAST_ACK", "UNKNOWN", "SYN_SENT", "SYN_RECEIVED", "UNKNOWN"]
    assert r.events["raw_state"].astype(str).tolist() == words
    assert {w for w, _, _ in entries.STATES} >= set(words) - {"BOGUS"}


def test_both_tuples_and_nat() -> None:
    """The NAT rule maps 127.0.0.1:8080 to :8081: the reply comes from port 8081."""
    e = _ingest(CT / "conntrack-L.txt").events
    nat = e[e["dst_port"] == 8080]
    assert len(nat) == 3
    assert (nat["reply_src_port"] == 8081).all() and (nat["reply_dst_port"] == nat["src_port"]).all()
    plain = e[e["dst_port"] != 8080]
    swapped = (plain["reply_src_addr"].astype(str) == plain["dst_addr"].astype(str)) \
        & (plain["reply_src_port"] == plain["dst_port"]) & (plain["reply_dst_port"] == plain["src_port"])
    assert swapped.all()


def test_event_lines_keep_event_and_time() -> None:
    r = _ingest(CT / "conntrack-E-timestamp.txt")
    e = r.events
    assert len(e) == 70
    assert e["ct_event"].astype(str).value_counts().to_dict() == {"UPDATE": 40, "NEW": 28, "DESTROY": 2}
    assert e["ts"].notna().all() and e["ts"].is_monotonic_increasing
    first = (CT / "conntrack-E-timestamp.txt").read_text().split("]", 1)[0].lstrip("[")
    assert e["ts"].iloc[0] == pd.Timestamp(int(first.split(".")[0]), unit="s") + pd.Timedelta(microseconds=int(first.split(".")[1]))
    destroy = e[e["ct_event"] == "DESTROY"]
    assert destroy["raw_state"].eq("CLOSE").all() and destroy["dst_port"].eq(7).all()  # the refused connects
    assert e.loc[e["ct_event"] == "NEW", "ct_status"].eq("UNREPLIED").all()


def test_published_event_sample_skips_other_protocols() -> None:
    r = _ingest(CT / "published-jc-issue-646-E.txt")
    assert r.accounting["skipped"] == {"non-TCP/UDP entry: unknown": 1}
    e = r.events
    assert e["proto"].astype(str).tolist() == ["udp", "udp", "tcp", "tcp", "tcp", "tcp"]
    assert e.loc[e["proto"] == "udp", "state"].isna().all()
    assert e["state"].astype(str).tolist()[2:] == ["SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1"]
    assert e["ct_timeout"].tolist() == [30, 30, 120, 60, 432000, 120]


def test_statistics_and_count_are_counters() -> None:
    r = _ingest(CT / "conntrack-S.txt")
    c = r.counters
    assert len(r.events) == 0 and r.accounting["counter_lines"] == 1
    assert r.accounting["structural"] == {"conntrack -S cpu line": 1}
    assert set(c["group"].astype(str)) == {"Conntrack"} and c["counter"].nunique() == 10
    r = _ingest(CT / "conntrack-C.txt", "conntrack")
    assert r.counters[["counter", "value"]].astype(object).values.tolist() == [["count", 26]]
    text = ("cpu=0 found=1 invalid=2 insert=0 insert_failed=1 drop=3 early_drop=0 error=0\n"
            "cpu=1 found=1 invalid=0 insert=0 insert_failed=0 drop=4 early_drop=1 error=0\n"
            "net.netfilter.nf_conntrack_max = 262144\n/proc/sys/net/netfilter/nf_conntrack_count:812\n"
            "conntrack v1.4.7 (conntrack-tools): 812 flow entries have been shown.\n")
    r = ingest_text(text.encode(), "mem")
    assert r.format == "conntrack" and r.accounting["unaccounted"] == 0
    got = dict(zip(r.counters["counter"].astype(str), r.counters["value"], strict=True))
    assert (got["drop"], got["early_drop"], got["insert_failed"], got["max"], got["count"]) == (7, 1, 1, 262144, 812)
    assert r.accounting["structural"] == {"summary": 1, "conntrack -S cpu line": 1}


def test_detect_own_forms_high_and_other_formats_low() -> None:
    for p in sorted(CT.glob("*.txt")):
        if p.name != "conntrack-C.txt":
            assert conntrack.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in (FIXTURES / "linux").rglob("*.txt") if "conntrack" not in p.parts]
    for p in others + sorted((FIXTURES / "freebsd").rglob("*.txt")):
        assert conntrack.detect(to_lines(p.read_bytes(), p.name)) == 0.0, p.name


def test_garbage_is_skipped_and_counted() -> None:
    text = (CT / "conntrack-L.txt").read_text() + "nf_conntrack: table full, dropping packet\nsrc=1 dst=2\n\n$ conntrack -L\n"
    r = ingest_text(text.encode(), "mem", "conntrack")
    assert len(r.events) == 26 and r.accounting["unaccounted"] == 0
    assert r.accounting["skipped"] == {"unparseable line": 2}
    assert r.accounting["structural"] == {"blank": 1, "command": 1}


# --- the table-fill finding -------------------------------------------------------------------


def _context(paths: list[Path], **thresholds: float) -> Context:
    results = [ingest(str(p), "conntrack") for p in paths]
    events = pd.concat([r.events for r in results], ignore_index=True)
    counters = [r.counters for r in results if r.counters is not None and len(r.counters)]
    d = deltas(pd.concat(counters, ignore_index=True)) if counters else deltas(None)
    cfg = Config(thresholds=thresholds) if thresholds else Config()
    return Context(df=socket_rows.frame(events), timelines=pd.DataFrame(), counters=d, config=cfg)


def test_fill_finding_on_the_recorded_unreplied_pile(tmp_path: Path) -> None:
    """26 entries against nf_conntrack_max 28 read from another input: 92.9% full (high); 15
    [UNREPLIED] SYN_SENT of 26 name the pattern, the top destination is the dropped port."""
    sysctl = tmp_path / "sysctl.txt"
    sysctl.write_text("net.netfilter.nf_conntrack_max = 28\n")
    f = conntrack_fill(_context([CT / "conntrack-L.txt", sysctl]), "conntrack_fill")
    assert len(f) == 1
    row = f.iloc[0]
    d = row["details"]
    assert row["count"] == 26 and row["severity"] == "high"
    assert (d["conntrack_max"], d["fill"], d["max_source"]) == (28, 0.9286, "nf_conntrack_max of another input")
    assert d["unreplied"] == 15 and d["nat"] == 3 and d["pattern"] == "unreplied"
    assert d["states"] == {"SYN_SENT": 15, "ESTABLISHED": 4, "TIME_WAIT": 3, "CLOSED": 2, "CLOSE_WAIT": 2}
    assert next(iter(d["top_destinations"])) == "127.0.0.1:9999"
    assert len(row["evidence"]) == 20 and d["evidence_total"] == 26


def test_fill_threshold_and_just_below() -> None:
    at = conntrack_fill(_context([CT / "conntrack-L.txt"], conntrack_max=52), "conntrack_fill")  # 26/52 = 0.5
    assert at.iloc[0]["severity"] == "low"
    below = conntrack_fill(_context([CT / "conntrack-L.txt"], conntrack_max=53), "conntrack_fill")
    assert below.empty
    default = conntrack_fill(_context([CT / "conntrack-L.txt"]), "conntrack_fill")  # 26 of 65536
    assert default.empty


def test_drops_counted_by_the_kernel_raise_the_finding_to_high(tmp_path: Path) -> None:
    stats = tmp_path / "stats.txt"
    stats.write_text("cpu=0 found=0 invalid=0 insert=0 insert_failed=0 drop=5 early_drop=2 error=0\n"
                     "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 100000\n")
    f = conntrack_fill(_context([stats]), "conntrack_fill")
    assert f.iloc[0]["severity"] == "high" and f.iloc[0]["details"]["drops"] == 7 and f.iloc[0]["count"] == 10


def test_event_streams_are_not_a_listing() -> None:
    assert conntrack_fill(_context([CT / "conntrack-E-timestamp.txt"], conntrack_max=10), "conntrack_fill").empty


def test_socket_piles_read_conntrack_entries_as_the_socket_their_state_describes() -> None:
    df = _context([CT / "conntrack-L.txt"]).df
    syn = df[df["state"] == "SYN_SENT"]
    assert len(syn) == 15 and syn["remote"].str.endswith(":9999").all()  # the originator's view
    est = df[df["state"] == "ESTABLISHED"]
    assert est["src_port"].isin([8080, 8081, 8082]).all()  # the responder's view: local = server
    assert (df["state"] == "-").sum() == 4  # CLOSE_WAIT and CLOSE: no side to blame


# --- jc and properties --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["conntrack-L.txt", "conntrack-L-extended-id.txt", "conntrack-E-timestamp.txt",
                                  "published-jc-issue-646-E.txt"])
def test_agrees_with_jc(name: str) -> None:
    if subprocess.run(["jc", "-h"], capture_output=True, text=True).stdout.find("--conntrack") < 0:
        pytest.skip("this jc has no conntrack parser")
    path = CT / name
    rows = json.loads(subprocess.run(["jc", "--conntrack"], input=path.read_text(), capture_output=True,
                                     text=True, check=True).stdout)
    rows = [r for r in rows if r["protocol"] in ("tcp", "udp")]
    e = _ingest(path).events
    assert len(e) == len(rows)
    for j, (_, ours) in zip(rows, e.iterrows(), strict=True):
        assert (ours["src_addr"], ours["dst_addr"], ours["src_port"], ours["dst_port"]) == \
            (j["orig_src"], j["orig_dst"], j["orig_sport"], j["orig_dport"])
        assert (ours["reply_src_addr"], ours["reply_dst_addr"], ours["reply_src_port"], ours["reply_dst_port"]) == \
            (j["reply_src"], j["reply_dst"], j["reply_sport"], j["reply_dport"])
        assert _na(ours["raw_state"]) == j["state"]
        assert (_na(ours["ct_status"]) or "") == " ".join(j["status"])
        assert _na(ours["ct_timeout"]) == j["timeout"] and _na(ours["ct_event"]) == j["event"]
        assert _na(ours["ct_id"]) == j.get("id") and _na(ours["ct_mark"]) == j.get("mark")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(list("srcdtpo=[]:.0123456789 \tABCDEFNSYU_")), max_size=120),
    st.sampled_from((CT / "conntrack-L.txt").read_text().splitlines()[:3]
                    + (CT / "conntrack-E-timestamp.txt").read_text().splitlines()[:3]
                    + (CT / "conntrack-S.txt").read_text().splitlines() + ["12", "nf_conntrack_max = 5", ""]),
), min_size=1, max_size=12))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "conntrack")
    assert r.accounting["unaccounted"] == 0
    assert len(r.events) + len(r.skipped) + sum(r.accounting["structural"].values()) + r.accounting["counter_lines"] \
        == r.accounting["records_read"]
