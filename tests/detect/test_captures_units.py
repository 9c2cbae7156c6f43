"""Capture detectors on hand-built packets and flows: probe typing, TRW, floods, closes, dedup."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tcpforensics import detect, schema
from tcpforensics.config import Config
from tcpforensics.detect import captures, closes, findings, floods, flowjoin, scans, trw
from tcpforensics.detect.time_windows import burst_rate, window_counts
from tcpforensics.ingest.base import Ingested
from tcpforensics.reconstruct import evidence, offload
from tcpforensics.reconstruct.conversations import conversations

S, A, F, R, P, U = 0x02, 0x10, 0x01, 0x04, 0x08, 0x20
T0 = pd.Timestamp("2024-01-01 00:00:00")
NMAP = {"window": 1024, "opt_mss": True, "opt_sack_perm": False, "opt_ts": False, "wscale": None}
LINUX = {"window": 64240, "opt_mss": True, "opt_sack_perm": True, "opt_ts": True, "wscale": 7}
BARE = {"window": 1024, "opt_mss": False, "opt_sack_perm": False, "opt_ts": False, "wscale": None}


class Capture:
    """Builds a packet event table one segment at a time (frames numbered in order)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, t: float, src: str, sport: int, dst: str, dport: int, flags: int, payload: int = 0,
            shape: dict | None = None, ttl: int = 64) -> Capture:
        opts = shape if shape is not None else {"window": 65535, "opt_mss": False, "opt_sack_perm": False,
                                                "opt_ts": False, "wscale": None}
        self.rows.append({"ts": T0 + pd.Timedelta(seconds=t), "input": "t.pcap", "kind": "packet", "proto": "tcp",
                          "family": "ipv4", "src_addr": src, "src_port": sport, "dst_addr": dst, "dst_port": dport,
                          "frame": len(self.rows) + 1, "flags": flags, "payload_len": payload, "ttl": ttl,
                          "seq": 1000, "ack": 0, **opts})
        return self

    def events(self) -> pd.DataFrame:
        return schema.conform(pd.DataFrame(self.rows), "packet")


def evidence_of(cap: Capture, name: str = "t.pcap") -> evidence.CaptureEvidence:
    return evidence.capture_evidence(name, cap.events(), Config(), evidence.Options())


def run(inputs: list[Ingested]) -> pd.DataFrame:
    """Findings of these inputs as analyze gives them (deduplicated)."""
    return detect.run(evidence.build(inputs, Config()), Config())[0]


def conv_of(cap: Capture) -> pd.DataFrame:
    return conversations(cap.events())


# --- probe typing (nmap / masscan wire shapes from detection.md) -------------------------------

@pytest.mark.parametrize(
    "packets, probe, outcome, failed",
    [
        # -sS open: SYN (win 1024, MSS only), SYN-ACK, bare RST from the scanner
        ([(S, NMAP, "c"), (S | A, LINUX, "s"), (R, BARE, "c")], "syn_half_open", "open", True),
        # -sS closed: RST-ACK from the target
        ([(S, NMAP, "c"), (R | A, BARE, "s")], "syn_half_open", "closed", True),
        # -sT open: OS SYN, SYN-ACK, final ACK, RST-ACK from the scanner, no data
        ([(S, LINUX, "c"), (S | A, LINUX, "s"), (A, LINUX, "c"), (R | A, LINUX, "c")], "connect", "open", True),
        # OS SYN unanswered: connect or half-open cannot be told
        ([(S, LINUX, "c")], "syn", "filtered", True),
        # masscan: SYN without options
        ([(S, BARE, "c")], "stateless_syn", "filtered", True),
        ([(F, BARE, "c"), (R | A, BARE, "s")], "fin", "closed", True),
        ([(0, BARE, "c")], "null", "open|filtered", True),
        ([(F | P | U, BARE, "c")], "xmas", "open|filtered", True),
        ([(F | A, BARE, "c"), (R, BARE, "s")], "maimon", "closed", True),
        ([(A, BARE, "c"), (R, BARE, "s")], "ack", "unfiltered", True),
        ([(A, BARE, "c")], "ack", "filtered", True),
        # a SYN-ACK nobody asked for is an answer, never a probe
        ([(S | A, LINUX, "s")], "unsolicited", "", False),
        # SYN, SYN-ACK, then nothing: the handshake was answered and left open (Zeek: not failed)
        ([(S, LINUX, "c"), (S | A, LINUX, "s")], "syn", "open", False),
    ],
)
def test_probe_type_and_port_state(packets, probe, outcome, failed) -> None:
    cap = Capture()
    for i, (flags, shape, who) in enumerate(packets):
        if who == "c":
            cap.add(i * 0.001, "10.0.0.1", 40000, "10.0.0.2", 80, flags, shape=shape)
        else:
            cap.add(i * 0.001, "10.0.0.2", 80, "10.0.0.1", 40000, flags, shape=shape)
    c = conv_of(cap)
    assert len(c) == 1
    row = c.iloc[0]
    assert (row["probe"], row["outcome"], bool(row["failed"])) == (probe, outcome, failed)


def test_session_with_data_is_no_probe_and_midstream_ack_stream_is_no_ack_probe() -> None:
    cap = Capture()
    cap.add(0, "10.0.0.1", 40000, "10.0.0.2", 80, S, shape=LINUX).add(0.01, "10.0.0.2", 80, "10.0.0.1", 40000, S | A)
    cap.add(0.02, "10.0.0.1", 40000, "10.0.0.2", 80, A).add(0.03, "10.0.0.1", 40000, "10.0.0.2", 80, P | A, 100)
    # mid-stream: an ACK opens the 4-tuple, then data follows (a session, not an ACK probe)
    cap.add(0.04, "10.0.0.3", 5000, "10.0.0.2", 22, A).add(0.05, "10.0.0.2", 22, "10.0.0.3", 5000, P | A, 50)
    # mid-stream keep-alive: ACKs both ways, no data; the peer's ACK is no probe answer
    cap.add(0.06, "10.0.0.4", 5001, "10.0.0.2", 22, A).add(0.07, "10.0.0.2", 22, "10.0.0.4", 5001, A)
    c = conv_of(cap).set_index("init_addr")
    assert c.loc["10.0.0.1", "probe"] == "session" and not c.loc["10.0.0.1", "failed"]
    assert c.loc["10.0.0.3", "probe"] == "session" and not c.loc["10.0.0.3", "is_probe"]
    assert c.loc["10.0.0.4", "probe"] == "midstream" and not c.loc["10.0.0.4", "is_probe"]


# --- scans --------------------------------------------------------------------------------------

def vertical(cap: Capture, scanner: str, target: str, ports: range, t0: float = 0.0, shape: dict = NMAP,
             flags: int = S) -> Capture:
    for i, port in enumerate(ports):
        cap.add(t0 + i * 0.001, scanner, 50000, target, port, flags, shape=shape)
        cap.add(t0 + i * 0.001 + 0.0001, target, port, scanner, 50000, R | A, shape=BARE)
    return cap


def test_port_scan_names_scanner_target_probe_type_and_states() -> None:
    cap = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(1, 31))
    cap.add(1, "10.0.0.66", 50000, "10.0.0.5", 443, S, shape=NMAP).add(1.0001, "10.0.0.5", 443, "10.0.0.66", 50000,
                                                                         S | A, shape=LINUX)
    cap.add(1.0002, "10.0.0.66", 50000, "10.0.0.5", 443, R, shape=BARE)
    f, _ = captures.diagnose_one(evidence_of(cap), Config())
    scan = f[0]
    assert (scan["category"], scan["subject"], scan["details"]["target"]) == ("port_scan", "10.0.0.66", "10.0.0.5")
    assert scan["details"]["probe_type"] == "syn_half_open"
    assert scan["details"]["port_states"]["open"] == [443]
    assert scan["details"]["port_state_counts"] == {"open": 1, "closed": 30}
    assert scan["count"] == 31 and scan["severity"] == "medium"
    # the first probes' flow uids, then their first packets (each list capped)
    packets = [e for e in scan["evidence"] if "#" in e]
    assert packets[0] == "t.pcap#1" and len(packets) == findings.EVIDENCE_CAP
    assert len(scan["evidence"]) == 2 * findings.EVIDENCE_CAP


def test_released_conversations_change_no_finding() -> None:
    """``release``: the conversation tables are emptied once the scan and flood detectors have
    read them; the findings and tables are those of a run that keeps them."""
    cap = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(1, 31))
    kept, released = evidence_of(cap), evidence_of(cap)
    want = captures.diagnose_one(kept, Config())
    got = captures.diagnose_one(released, Config(), release=True)
    assert got[0] == want[0] and got[1].keys() == want[1].keys()
    for name in want[1]:
        pd.testing.assert_frame_equal(got[1][name], want[1][name])
    assert len(kept.conversations) > 0 and len(released.conversations) == 0 and len(released.conv_packets) == 0
    assert list(released.conversations.columns) == list(kept.conversations.columns)


def test_busy_client_with_successful_connections_is_no_scanner() -> None:
    """Many successful connections to many hosts (a NAT gateway, a crawler) never count."""
    cap = Capture()
    for i in range(60):
        host, t = f"10.1.0.{i}", i * 0.01
        cap.add(t, "10.0.0.9", 40000 + i, host, 443, S, shape=LINUX).add(t + 0.001, host, 443, "10.0.0.9", 40000 + i,
                                                                           S | A, shape=LINUX)
        cap.add(t + 0.002, "10.0.0.9", 40000 + i, host, 443, A).add(t + 0.003, "10.0.0.9", 40000 + i, host, 443,
                                                                     P | A, 200)
    # three dead servers among them: failures, but the walk stays benign
    for i in range(3):
        cap.add(1 + i, "10.0.0.9", 41000 + i, f"10.2.0.{i}", 443, S, shape=LINUX)
    f, tables = captures.diagnose_one(evidence_of(cap), Config())
    assert [r for r in f if r["category"] in scans.SCAN_CATEGORIES] == []


def test_address_scan_by_count_and_block_scan() -> None:
    cap = Capture()
    for i in range(25):
        cap.add(i * 0.01, "10.9.9.9", 60000, f"10.3.0.{i}", 445, S, shape=BARE)
    rows, _ = scans.detect(conv_of(cap), Config(), "t.pcap")
    assert [(r["category"], r["subject"], r["details"]["target"], r["details"]["probe_type"]) for r in rows] == [
        ("address_scan", "10.9.9.9", "port 445", "stateless_syn")]
    cap = Capture()
    for h in range(6):
        vertical(cap, "10.9.9.8", f"10.4.0.{h}", range(20, 26), t0=h)
    rows, _ = scans.detect(conv_of(cap), Config(), "t.pcap")
    assert [(r["category"], r["details"]["target"]) for r in rows] == [("block_scan", "6 hosts x 6 ports")]


def test_trw_flags_small_scan_below_count_thresholds() -> None:
    cap = Capture()
    for port in (21, 22, 23, 25, 80):  # five ports, no answer: below 15, caught by the walk
        cap.add(port * 0.001, "10.7.7.7", 50000, "10.0.0.5", port, S, shape=LINUX)
    rows, walks = scans.detect(conv_of(cap), Config(), "t.pcap")
    assert [(r["category"], r["severity"], r["details"]["trigger"]) for r in rows] == [
        ("port_scan", "low", "threshold random walk")]
    assert rows[0]["details"]["trw"]["contacts_to_decision"] == 4  # 4**4 = 256 >= 99


def test_distributed_scan_many_sources_each_below_bar() -> None:
    cap = Capture()
    for s in range(6):
        for j, port in enumerate(range(100 + s * 4, 104 + s * 4)):
            cap.add(s + j * 0.01, f"10.8.0.{s}", 40000, "10.0.0.5", port, S, shape=NMAP)
    # without TRW each source (4 failures -> 4**4 = 256 >= 99) would be flagged alone; raise eta1
    conf = Config(thresholds={"trw.p_d": 0.999999, "trw.p_f": 0.000001})
    rows, _ = scans.detect(conv_of(cap), conf, "t.pcap")
    assert [(r["category"], r["subject"], r["details"]["target"], r["details"]["n_scanners"]) for r in rows] == [
        ("distributed_scan", "6 sources", "10.0.0.5", 6)]


def test_later_scan_of_another_target_is_its_own_finding() -> None:
    """zeek/zeek#1167: suppression must not hide a later scan of another target."""
    cap = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(1, 21))
    vertical(cap, "10.0.0.66", "10.0.0.6", range(1, 21), t0=3600)
    f = run(_ingested(cap))
    assert sorted(f["details"].map(lambda d: d["target"])) == ["10.0.0.5", "10.0.0.6"]


def _ingested(cap: Capture) -> list:
    return [Ingested(input="t.pcap", format="pcap", events=cap.events())]


def test_thresholds_are_configurable() -> None:
    cap = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(1, 21))
    conv = conv_of(cap)
    rows, _ = scans.detect(conv, Config(), "t.pcap")
    assert rows[0]["details"]["trigger"] == "count threshold"
    rows, _ = scans.detect(conv, Config(thresholds={"scan.port_min_ports": 25}), "t.pcap")
    assert rows[0]["details"]["trigger"] == "threshold random walk"


# --- TRW arithmetic -------------------------------------------------------------------------------

def test_trw_thresholds_from_the_paper() -> None:
    fail, ok, up, down = trw.thresholds(Config())
    assert math.exp(fail) == pytest.approx(4.0) and math.exp(ok) == pytest.approx(0.25)
    assert math.exp(up) == pytest.approx(99.0) and math.exp(down) == pytest.approx(0.01 / 0.99)


def test_trw_floor_keeps_watching_after_benign() -> None:
    seq = [False] * 10 + [True] * 7  # ten successes reach the benign floor, seven failures climb out
    contacts = pd.DataFrame({"actor": "h", "ts": pd.date_range(T0, periods=len(seq), freq="s"), "failed": seq})
    out = trw.walk(contacts, Config()).iloc[0]
    # from log(eta0) = -4.595, the walk needs ceil((4.595 + 4.595) / log 4) = 7 failures
    assert out["decision"] == "scanner" and out["contacts_to_decision"] == 17
    four = pd.DataFrame({"actor": "s", "ts": pd.date_range(T0, periods=3, freq="s"), "failed": [True] * 3})
    assert trw.walk(four, Config()).iloc[0]["decision"] == "pending"  # 4**3 = 64 < 99


def test_trw_walks_in_batches_of_whole_actors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk's table does not depend on how many contacts are walked at a time."""
    rng = np.random.default_rng(7)
    n = 3000
    contacts = pd.DataFrame({"actor": pd.Categorical(rng.integers(0, 200, n).astype(str)),
                             "ts": T0 + pd.to_timedelta(rng.integers(0, 10**6, n), unit="ms"),
                             "failed": rng.random(n) < 0.6})
    coded = contacts.assign(code=contacts["actor"].cat.codes.astype(np.int64))
    whole = trw.walk(coded, Config()), trw.walk(contacts, Config())
    assert set(whole[0]["decision"]) == {"scanner", "pending", "benign"}
    for rows in (1, 7, 1000):
        monkeypatch.setattr(trw, "BATCH_ROWS", rows)
        pd.testing.assert_frame_equal(trw.walk(coded, Config()), whole[0])
        pd.testing.assert_frame_equal(trw.walk(contacts, Config()), whole[1])


# --- floods -------------------------------------------------------------------------------------

def test_syn_flood_spoofed_sources_and_ratio() -> None:
    cap = Capture()
    rng = np.random.default_rng(1)
    for i in range(300):
        src = f"198.{rng.integers(1, 250)}.{rng.integers(1, 250)}.{i % 250}"
        cap.add(i * 0.001, src, 1024 + i, "10.0.0.80", 80, S, shape=BARE, ttl=int(rng.integers(30, 250)))
    rows = floods.detect(*conversations(cap.events(), packets=True), Config(), "t.pcap")
    (r,) = rows
    assert (r["category"], r["subject"]) == ("syn_flood", "10.0.0.80:80")
    assert r["details"]["syn_synack_ack"] == "300:0:0" and r["details"]["spoofing_likelihood"] == "high"
    assert r["details"]["peak_in_window"] == 300


def test_fast_legitimate_clients_are_no_syn_flood() -> None:
    """ntopng#8631: many *successful* connections (wget -r) are not a SYN flood."""
    cap = Capture()
    for i in range(300):
        t = i * 0.001
        cap.add(t, "10.0.0.9", 30000 + i, "10.0.0.80", 80, S, shape=LINUX).add(t, "10.0.0.80", 80, "10.0.0.9",
                                                                                 30000 + i, S | A, shape=LINUX)
        cap.add(t, "10.0.0.9", 30000 + i, "10.0.0.80", 80, A).add(t, "10.0.0.9", 30000 + i, "10.0.0.80", 80,
                                                                   P | A, 80)
    assert floods.detect(*conversations(cap.events(), packets=True), Config(), "t.pcap") == []


def test_backscatter_and_reflection() -> None:
    cap = Capture()
    for i in range(30):  # a flood victim answers forged sources
        cap.add(i, "10.0.0.80", 80, f"172.16.{i}.1", 2000 + i, S | A, shape=LINUX)
    for i in range(30):  # reflectors answer SYNs forged with 10.0.0.99 as source
        cap.add(100 + i * 0.001, f"192.0.2.{i}", 443, "10.0.0.99", 5000 + i, S | A, shape=LINUX)
    conv, pk = conversations(cap.events(), packets=True)
    got = {(r["category"], r["subject"]) for r in floods.detect(conv, pk, Config(), "t.pcap")}
    assert got == {("backscatter", "10.0.0.80"), ("synack_reflection", "10.0.0.99")}
    assert scans.detect(conv, Config(), "t.pcap")[0] == []


def test_rst_storm_in_established_connections() -> None:
    cap = Capture()
    cap.add(0, "10.0.0.1", 40000, "10.0.0.2", 80, S, shape=LINUX).add(0, "10.0.0.2", 80, "10.0.0.1", 40000, S | A)
    cap.add(0, "10.0.0.1", 40000, "10.0.0.2", 80, P | A, 10)
    for i in range(1000):
        cap.add(0.001 * (i + 1), "10.0.0.2", 80, "10.0.0.1", 40000, R)
    rows = floods.detect(*conversations(cap.events(), packets=True), Config(), "t.pcap")
    assert [(r["category"], r["subject"], r["count"]) for r in rows] == [("rst_storm", "10.0.0.2", 1000)]


def test_connection_flood_of_empty_connections() -> None:
    cap = Capture()
    for i in range(150):
        t = i * 0.005
        cap.add(t, "10.0.0.7", 20000 + i, "10.0.0.80", 80, S, shape=LINUX).add(t, "10.0.0.80", 80, "10.0.0.7",
                                                                                20000 + i, S | A, shape=LINUX)
        cap.add(t, "10.0.0.7", 20000 + i, "10.0.0.80", 80, A).add(t, "10.0.0.7", 20000 + i, "10.0.0.80", 80, F | A)
        cap.add(t, "10.0.0.80", 80, "10.0.0.7", 20000 + i, F | A)
    rows = floods.detect(*conversations(cap.events(), packets=True), Config(), "t.pcap")
    assert [(r["category"], r["subject"], r["details"]["target"]) for r in rows] == [
        ("connection_flood", "10.0.0.7", "10.0.0.80:80")]


def test_windows_helpers() -> None:
    g = np.array([0, 0, 0, 1, 1])
    t = np.array([0.0, 0.5, 1.2, 0.1, 0.2])
    order, counts = window_counts(g, (t * 1e9).astype(np.int64), 10**9)
    assert counts.tolist() == [2, 2, 1, 2, 1]
    _, rates = burst_rate(g, t, 2)
    assert rates[:2].tolist() == pytest.approx([2.0, 1 / 0.7])


# --- flows: abnormal closes, failed attempts from conn_state -----------------------------------

def flows_table(rows: list[tuple]) -> pd.DataFrame:
    """Hand-built flows: (uid, orig, oport, resp, rport, conn_state, history, obytes, rbytes, close)."""
    df = pd.DataFrame(rows, columns=["uid", "orig_addr", "orig_port", "resp_addr", "resp_port", "conn_state",
                                     "history", "orig_bytes", "resp_bytes", "close"])
    n = len(df)
    start = pd.Series([T0 + pd.Timedelta(seconds=i) for i in range(n)])
    return df.assign(start=start, end=start + pd.Timedelta(seconds=1), duration=1.0, orig_pkts=3, resp_pkts=2,
                     first_frame=np.arange(1, n + 1),
                     orig_states="", resp_states="", orig_final="", resp_final="")


def test_abnormal_closes_by_kind_and_host() -> None:
    rows = [(f"Cr{i}", "10.0.0.1", 40000 + i, "10.0.0.2", 443, "RSTR", "ShADdr", 10, 20, "reset_by_resp")
            for i in range(12)]
    rows += [(f"Cw{i}", "10.0.0.3", 41000 + i, "10.0.0.2", 8080, "S2", "ShADadF", 5, 5, "half_closed_orig")
             for i in range(3)]
    rows += [("Cok", "10.0.0.1", 42000, "10.0.0.2", 443, "SF", "ShADadFf", 10, 10, "graceful")]
    fl = flows_table(rows)
    found = closes.detect(fl, Config())
    got = {(r["subject"], r["details"]["target"], r["severity"], r["count"]) for r in found}
    assert got == {("10.0.0.2", "reset_by_resp", "low", 12), ("10.0.0.2", "half_closed_orig", "info", 3)}
    reset = next(r for r in found if r["details"]["close"] == "reset_by_resp")
    assert reset["details"]["after_data"] == 12 and reset["evidence"][0] == "Cr0"
    t = closes.tables(fl)
    assert set(t) == {"flows_by_state", "top_talkers", "abnormal_closes"}
    assert t["flows_by_state"]["connections"].sum() == 16
    assert t["abnormal_closes"].set_index("close").loc["reset_by_resp", "after_data"] == 12


def test_flow_conn_state_decides_failed_for_syn_probes() -> None:
    cap = Capture()
    cap.add(0, "10.0.0.1", 40000, "10.0.0.2", 80, S, shape=LINUX).add(0.1, "10.0.0.2", 80, "10.0.0.1", 40000, S | A)
    cap.add(0.2, "10.0.0.1", 40000, "10.0.0.2", 80, R)
    conv = conv_of(cap)
    assert bool(conv.iloc[0]["failed"])
    as_zeek = flows_table([("C1", "10.0.0.1", 40000, "10.0.0.2", 80, "RSTO", "ShR", 0, 0, "reset_by_orig")])
    assert bool(flowjoin.attach(conv, as_zeek).iloc[0]["failed"])
    graceful = flows_table([("C1", "10.0.0.1", 40000, "10.0.0.2", 80, "SF", "ShAFf", 0, 0, "graceful")])
    assert not bool(flowjoin.attach(conv, graceful).iloc[0]["failed"])
    # a bad-checksum letter: the flow dropped the SYN-ACK the wire carried; packets decide
    offload = flows_table([("C1", "10.0.0.1", 40000, "10.0.0.2", 80, "OTH", "ScR", 0, 0, "midstream")])
    joined = flowjoin.attach(conv, offload).iloc[0]
    assert bool(joined["failed"]) and joined["uid"] == "C1"


def test_dedup_merges_same_key_only() -> None:
    def row(target: str, count: int) -> dict:
        return findings.finding("low", "port_scan", "10.0.0.66", target, count, {}, [f"t#{count}"], "x", "y", T0, T0)

    out = findings.dedup(findings.to_frame([row("10.0.0.5", 3), row("10.0.0.5", 4), row("10.0.0.6", 5)]))
    assert sorted(zip(out["details"].map(lambda d: d["target"]), out["count"], strict=True)) == [
        ("10.0.0.5", 7), ("10.0.0.6", 5)]
    assert list(out.columns) == list(schema.FINDING_COLUMNS)


def test_two_captures_of_one_scan_merge_under_one_key() -> None:
    first = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(1, 21))
    second = vertical(Capture(), "10.0.0.66", "10.0.0.5", range(21, 41), t0=60)
    inputs = [Ingested(input=name, format="pcap", events=cap.events().assign(input=name))
              for name, cap in (("a.pcap", first), ("b.pcap", second))]
    f = run(inputs)
    (row,) = f.itertuples()
    assert (row.category, row.subject, row.count) == ("port_scan", "10.0.0.66", 40)
    assert {e.split("#")[0] for e in row.evidence if "#" in e} == {"a.pcap", "b.pcap"}


def test_offloaded_checksums_are_recognised() -> None:
    ev = Capture().add(0, "127.0.0.1", 1, "127.0.0.1", 2, S).add(0, "127.0.0.1", 2, "127.0.0.1", 1, S | A).events()
    def offloaded(checksums: list[str]) -> bool:
        return offload.decide(offload.tally(ev.assign(checksum=pd.Categorical(checksums))), Config()).ignore_all

    assert not offloaded(["ok", "ok"])
    assert offloaded(["bad", "ok"])
    assert not offloaded(["unverifiable"] * 2)


# --- vectorized arithmetic against plain loops (hypothesis) --------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=40))
def test_trw_closed_form_matches_the_recursion(seq) -> None:
    fail, ok, up, down = trw.thresholds(Config())
    contacts = pd.DataFrame({"actor": [a for a, _ in seq], "failed": [f for _, f in seq],
                             "ts": pd.date_range(T0, periods=len(seq), freq="s")})
    got = trw.walk(contacts, Config()).set_index("actor")
    for actor in got.index:
        s, hit_at = 0.0, None
        steps = [f for a, f in seq if a == actor]
        for i, failed in enumerate(steps, 1):
            s = max(down, s + (fail if failed else ok))
            if hit_at is None and s >= up:
                hit_at = i
        assert got.loc[actor, "llr"] == pytest.approx(s)
        assert (got.loc[actor, "decision"] == "scanner") == (hit_at is not None)
        if hit_at is not None:
            assert got.loc[actor, "contacts_to_decision"] == hit_at


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000_000)), min_size=1, max_size=60),
       st.integers(1, 3_000_000))
def test_window_counts_match_brute_force(events, width_us) -> None:
    """Capture timestamps are integer nanoseconds: draw microseconds from the epoch."""
    g = np.array([e[0] for e in events])
    t = np.array([e[1] for e in events], dtype=np.int64) * 1000 + 1_700_000_000 * 10**9
    width = width_us * 1000
    order, counts = window_counts(g, t, width)
    for pos, i in enumerate(order):
        expect = int(((g == g[i]) & (t >= t[i]) & (t < t[i] + width)).sum())
        assert counts[pos] == expect


def test_half_closed_flows_cut_by_capture_end_are_not_leaks() -> None:
    """A server that closes its other connections gracefully is not leaking the last ones the
    capture cut off; a server that closes none of them is reported however short the capture."""
    from tcpforensics.detect.closes import cut_by_capture_end

    t0 = pd.Timestamp("2026-01-01")
    ms = pd.Timedelta(milliseconds=1)
    flows = pd.DataFrame({
        "orig_addr": ["10.0.0.1"] * 4 + ["10.0.0.9"],
        "resp_addr": ["10.0.0.2"] * 3 + ["10.0.0.3", "10.0.0.2"],
        "resp_port": [80, 80, 80, 8080, 80],
        "close": ["graceful", "half_closed_orig", "half_closed_orig", "half_closed_orig", "half_closed_resp"],
        "end": [t0, t0 + 10 * ms, t0 - pd.Timedelta(seconds=60), t0 + 10 * ms, t0 + 9 * ms],
    })
    mask = cut_by_capture_end(flows, grace_s=5.0)
    # row 1: near the end, server 10.0.0.2:80 closed another connection -> cut off
    # row 2: half-closed a minute before the end -> a real leak
    # row 3: near the end but server :8080 never closed anything -> reported
    # row 4: client 10.0.0.9 never closed anything gracefully -> reported
    assert mask.tolist() == [False, True, False, False, False]
