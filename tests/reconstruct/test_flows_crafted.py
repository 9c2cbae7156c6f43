"""Crafted captures (tests/fixtures/flows/make_fixtures.py) for cases the Zeek corpus lacks."""

from __future__ import annotations

import pytest

import tcpforensics
from tcpforensics.reconstruct.flows import FlowConfig, flows
from tests.conftest import FIXTURES

FLOWS = FIXTURES / "flows"

# capture -> expected rows (conn_state, history, orig_states, resp_states, orig_final, resp_final, close).
# Each expectation is worked out by hand from Zeek's rules (docs/flows.md), not copied from output.
EXPECTED = {
    # orig FIN acked, responder never closes: Zeek S2 (orig CLOSED, resp ESTABLISHED)
    "s2.pcap": [("S2", "ShADaF", "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2",
                 "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT", "FIN_WAIT_2", "CLOSE_WAIT", "half_closed_orig")],
    # ten zero-window ACKs from the responder: 'w' at the 1st and the 10th (scaled letter);
    # the responder's FIN-ACK acknowledges the orig's FIN, so FIN_WAIT_1 goes straight to TIME_WAIT
    "zero_window.pcap": [("SF", "ShADawwFf", "SYN_SENT>ESTABLISHED>FIN_WAIT_1>TIME_WAIT",
                          "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED", "TIME_WAIT", "CLOSED", "graceful")],
    # SYN+FIN gives Q; the SYN then FIN leaves the orig CLOSED, the RST-ACK resets the responder:
    # rs RESET with os not inactive -> RSTR
    "syn_fin.pcap": [("RSTR", "Qr", "SYN_SENT>CLOSED", "CLOSED", "CLOSED", "CLOSED", "reset_by_resp")],
    # FIN+RST gives I; RST wins over FIN in an established endpoint -> RSTO
    "fin_rst.pcap": [("RSTO", "ShADaI", "SYN_SENT>ESTABLISHED>CLOSED", "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSED",
                      "CLOSED", "CLOSED", "reset_by_orig")],
    # crossing SYNs: 'S' then 's'; the SYN-ACKs share the SYN history slot with the same
    # relative sequence, so no H/h; crossing FINs: both FIN_WAIT_1 > CLOSING > TIME_WAIT
    "simultaneous.pcap": [("SF", "SsDaFfA", "SYN_SENT>SYN_RECEIVED>ESTABLISHED>FIN_WAIT_1>CLOSING>TIME_WAIT",
                           "SYN_SENT>SYN_RECEIVED>ESTABLISHED>FIN_WAIT_1>CLOSING>TIME_WAIT", "TIME_WAIT", "TIME_WAIT", "graceful")],
    # a new SYN 2 s after a full close (inside tcp_connection_linger) is port reuse: two rows;
    # the first row's TIME_WAIT socket was recycled by the second, so netstat shows it CLOSED
    "time_wait_reuse.pcap": [
        ("SF", "ShADdFf", "SYN_SENT>ESTABLISHED>FIN_WAIT_1>TIME_WAIT",
         "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED", "CLOSED", "CLOSED", "graceful"),
        ("SF", "ShADdFf", "SYN_SENT>ESTABLISHED>FIN_WAIT_1>TIME_WAIT",
         "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED", "TIME_WAIT", "CLOSED", "graceful"),
    ],
    # the responder's FIN (retransmitted with the same sequence: no second f) is never acked
    "lost_final_ack.pcap": [("SF", "ShADaFf", "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>TIME_WAIT",
                             "LISTEN>SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT>LAST_ACK", "TIME_WAIT", "LAST_ACK", "lost_final_ack")],
    # SYN, SYN-ACK, no final ACK: Zeek S1 (the SYN-ACK establishes both endpoints), RFC half open
    "half_open.pcap": [("S1", "Sh", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECEIVED", "ESTABLISHED", "SYN_RECEIVED", "half_open")],
}

COLS = ["conn_state", "history", "orig_states", "resp_states", "orig_final", "resp_final", "close"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_crafted_flow(name: str) -> None:
    got = flows(tcpforensics.read(str(FLOWS / name)))
    rows = [tuple(str(v) for v in r) for r in got[COLS].itertuples(index=False)]
    assert rows == EXPECTED[name]
    assert (got["orig_addr"].astype(str) == "192.0.2.1").all()


def test_simultaneous_open_zeek_strict() -> None:
    # Zeek's IsReuse() takes the responder's bare SYN (a new ISN) for a new connection: the
    # first row is the lone SYN (S0), the second starts with the peer's SYN as originator.
    got = flows(tcpforensics.read(str(FLOWS / "simultaneous.pcap")), FlowConfig(split_simultaneous_open=True))
    assert got[["conn_state", "history"]].values.tolist() == [["S0", "S"], ["SF", "ShdAfFa"]]
    assert got["orig_addr"].astype(str).tolist() == ["192.0.2.1", "192.0.2.2"]


def test_counts_and_duration_stop_at_close() -> None:
    got = flows(tcpforensics.read(str(FLOWS / "lost_final_ack.pcap"))).iloc[0]
    assert (got.orig_pkts, got.resp_pkts, got.orig_bytes, got.resp_bytes) == (4, 5, 100, 0)
    # the FIN retransmitted 0.5 s after both sides closed is not "productive" (Zeek's last_time)
    assert got.duration == pytest.approx(0.07)


def test_bad_checksums_give_c_only_unless_ignored() -> None:
    ev = tcpforensics.read(str(FLOWS / "s2.pcap"))
    ev["checksum"] = ev["checksum"].where(ev["src_addr"].astype(str) != "192.0.2.2", "bad")
    got = flows(ev).iloc[0]
    # responder packets dropped: no h/a, the SYN-ACK's bad checksum is the first 'c'
    assert (got.history, got.resp_pkts, got.conn_state) == ("ScADF", 0, "SH")
    assert flows(ev, {"ignore_checksums": True}).iloc[0].history == "ShADaF"


def test_empty_and_non_tcp_input() -> None:
    ev = tcpforensics.read(str(FLOWS / "s2.pcap")).iloc[:0]
    got = flows(ev)
    assert got.empty and "conn_state" in got.columns


def _one_tuple(flags, seq, ack, from_client):
    import numpy as np
    import pandas as pd

    from tcpforensics import schema

    n = len(flags)
    c = np.asarray(from_client)
    df = pd.DataFrame({
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 1e-3, unit="s"), "kind": "packet", "proto": "tcp",
        "src_addr": np.where(c, "10.0.0.1", "10.0.0.2"), "src_port": np.where(c, 1234, 80),
        "dst_addr": np.where(c, "10.0.0.2", "10.0.0.1"), "dst_port": np.where(c, 80, 1234),
        "flags": flags, "seq": seq, "ack": ack, "payload_len": 0, "window": 512, "checksum": "ok", "frame": np.arange(1, n + 1),
    })
    return schema.conform(df, "packet")


def test_syn_floods_on_one_tuple() -> None:
    import numpy as np

    i = np.arange(60)
    # every SYN has a new ISN: each starts a connection (IsReuse: seq differs from the ISN)
    got = flows(_one_tuple(np.full(60, 0x02), i * 7919, np.zeros(60), np.ones(60, bool)))
    assert len(got) == 60 and set(got["history"]) == {"S"} and set(got["conn_state"]) == {"S0"}
    # SYN / SYN-ACK pairs, the next SYN with a new ISN before any close: 30 half-open rows
    syn = i % 2 == 0
    got = flows(_one_tuple(np.where(syn, 0x02, 0x12), np.where(syn, (i // 2) * 7919, 5000 + i), np.where(syn, 0, (i // 2) * 7919 + 1), syn))
    assert len(got) == 30 and set(got["history"]) == {"Sh"} and set(got["close"]) == {"half_open"}
    # SYN / RST-ACK: every SYN after the RST is a new connection (pop3's REJ rows)
    got = flows(_one_tuple(np.where(syn, 0x02, 0x14), np.where(syn, 1000, 0), np.where(syn, 0, 1001), syn))
    assert len(got) == 30 and set(got["history"]) == {"Sr"} and set(got["conn_state"]) == {"REJ"}
