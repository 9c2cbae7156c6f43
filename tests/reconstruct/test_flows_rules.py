"""The ordered rule tables on their own: Zeek's conn_state() and endpoint transitions."""

from __future__ import annotations

import numpy as np
import pytest

from tcpforensics.reconstruct import zeek_rules as zr
from tcpforensics.reconstruct.endpoint_states import suricata_state

IN, SS, SA, P, E, C, R = zr.INACTIVE, zr.SYN_SENT, zr.SYN_ACK_SENT, zr.PARTIAL, zr.ESTABLISHED, zr.CLOSED, zr.RESET

# (orig state, resp state, orig size, resp size, history) -> conn_state, one case per rule of
# main.zeek conn_state(), in its order, plus the cases the reference lists from the corpus
CASES = [
    (SS, R, 0, 0, "Sr", "REJ"),
    (R, R, 0, 0, "SRr", "REJ"),
    (R, R, 5, 0, "SDRr", "RSTR"),
    (IN, R, 0, 0, "^r", "RSTRH"),
    (P, R, 0, 0, "Dr", "RSTRH"),
    (E, R, 10, 10, "ShADadr", "RSTR"),
    (R, IN, 0, 0, "SR", "RSTOS0"),
    (R, IN, 0, 0, "^SR", "RSTOS0"),
    (R, IN, 0, 0, "SaFR", "OTH"),
    (R, IN, 0, 0, "R", "OTH"),
    (R, E, 10, 0, "ShADR", "RSTO"),
    (C, C, 1, 1, "ShADadFf", "SF"),
    (C, C, 0, 0, "DaFfA", "SF"),  # ssh.pcap: a partial connection closed normally
    (C, IN, 5, 0, "SADF", "SH"),
    (C, E, 5, 0, "ShADaF", "S2"),
    (P, C, 0, 0, "^fA", "SHR"),
    (E, C, 5, 5, "ShADadf", "S3"),
    (SS, IN, 0, 0, "S", "S0"),
    (E, E, 5, 5, "ShAD", "S1"),
    (IN, IN, 0, 0, "C", "OTH"),
    (SA, IN, 0, 0, "H", "OTH"),
]


@pytest.mark.parametrize("os_, rs, osz, rsz, hist, expected", CASES)
def test_conn_state_rules(os_, rs, osz, rsz, hist, expected) -> None:
    got = zr.conn_state(np.array([os_]), np.array([rs]), np.array([osz]), np.array([rsz]), np.array([hist], dtype=object))
    assert got[0] == expected


def _step(e, p, io, flags, plen=0, prev_p=IN, dc=False):
    f = {c: np.array([c in flags]) for c in "SFRA"}
    return zr.transition(np.array([e], np.int8), np.array([prev_p], np.int8), np.array([p], np.int8), np.array([io]),
                         f["S"], f["F"], f["R"], f["A"], np.array([plen]), np.array([dc]))


@pytest.mark.parametrize(
    "e, p, io, flags, plen, prev_p, sender, peer",
    [
        (IN, IN, True, "S", 0, IN, SS, IN),       # orig SYN
        (IN, IN, True, "SA", 0, IN, SA, IN),      # orig SYN-ACK first
        (IN, SS, False, "SA", 0, IN, E, E),     # responder's SYN-ACK establishes both
        (IN, SS, False, "S", 0, IN, E, E),      # simultaneous open: the peer's bare SYN
        (IN, SS, False, "A", 0, IN, IN, SS),     # responder's ACK before its SYN-ACK: ignored
        (IN, SS, False, "A", 5, IN, P, SS),     # ... unless it carries data
        (IN, E, True, "A", 0, IN, E, E),        # missed SYN: peer established
        (IN, IN, True, "A", 10, IN, P, IN),       # midstream
        (IN, IN, True, "SF", 0, IN, C, IN),       # SYN+FIN: SYN then FIN
        (IN, IN, True, "FR", 0, IN, R, IN),       # FIN+RST: RST wins
        (SS, IN, True, "A", 10, IN, SS, IN),     # data does not move SYN_SENT
        (E, E, True, "F", 0, IN, C, E),
        (E, R, True, "F", 0, C, C, C),        # FIN after the peer's FIN+RST: peer back to CLOSED
        (C, C, True, "R", 0, IN, C, C),        # RST after both FINs: stays CLOSED (SF)
        (C, E, True, "R", 0, IN, R, E),
        (P, IN, True, "S", 0, IN, SS, IN),       # SYN after partial
        (R, E, True, "F", 0, IN, R, E),        # nothing changes a RESET endpoint
    ],
)
def test_transitions(e, p, io, flags, plen, prev_p, sender, peer) -> None:
    ne, np_, _, _ = _step(e, p, io, flags, plen, prev_p)
    assert (int(ne[0]), int(np_[0])) == (sender, peer)


def test_suricata_mapping() -> None:
    got = suricata_state(
        np.array(["SYN_SENT", "ESTABLISHED", "FIN_WAIT_2", "CLOSE_WAIT", "TIME_WAIT"], dtype=object),
        np.array(["UNKNOWN", "SYN_RECEIVED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSED"], dtype=object),
    )
    assert got.tolist() == ["syn_sent", "syn_recv", "close_wait", "fin_wait1", "closed"]


def test_suricata_closes_a_time_wait_session_on_the_last_ack() -> None:
    """Suricata's StreamTcpPacketStateTimeWait moves the session to TCP_CLOSED on the ACK that
    follows; the responder's TIME_WAIT is Suricata's time_wait only while that ACK is unseen
    (the originator still in LAST_ACK, or CLOSING after a simultaneous close)."""
    got = suricata_state(np.array(["CLOSED", "TIME_WAIT", "LAST_ACK", "CLOSING"], dtype=object),
                         np.array(["TIME_WAIT"] * 4, dtype=object))
    assert got.tolist() == ["closed", "closed", "time_wait", "time_wait"]
