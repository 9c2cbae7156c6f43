"""The rule tables that complete a flow from a log record (``reconstruct/flowlogs.py``).

A flow log tells less than packets: Zeek's conn.log keeps ``conn_state`` and the first
occurrence of each history letter, Suricata and VPC logs only the TCP flags each side sent,
OR-ed over the record. These ordered tables (first match wins; docs/flows.md shows them,
``python docs/gen_rules.py``) say what each can prove:

- ``FLAG_LETTERS``: history letters from OR-ed flags (Suricata ``tcp_flags_ts``/``_tc``, VPC
  ``tcp-flags``); the order of the letters is then unknown.
- ``CONN_STATE_RULES``: Zeek's ``conn_state`` from the history letters, for logs that lack it
  (``zeek-cut`` subsets, flag-derived histories); an approximation of Zeek's endpoint rules.
- ``ENDPOINT_RULES``: the RFC 9293 paths and final states of both endpoints from conn_state
  and history; only the steps the log proves, ``UNKNOWN`` where it cannot tell (which FIN came
  first when the letters are not ordered, whether the last FIN was acknowledged).

The close kind then comes from ``endpoint_states.CLOSE_RULES``, as for packets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.packets import ACK, FIN, PSH, RST, SYN
from tcpforensics.reconstruct.rules import Row, always, which

# --- history letters from OR-ed TCP flags ----------------------------------------------------

#: (originator's letter/responder's letter, condition on a side's OR-ed flags ``fl``, its
#: packets ``pkts`` and IP bytes ``bytes``, ``vpc``: a VPC record, ``resp``: the responder's side).
#: Every row that holds adds its letter ("-": none); a history is written S h H A a D d F f R r.
def _synack_sent(f: pd.DataFrame) -> pd.Series:
    """SYN and ACK from one packet: VPC reports ACK only within a SYN-ACK (18); OR-ed Suricata
    flags of a single packet."""
    return ((f["fl"] & (SYN | ACK)) == (SYN | ACK)) & (f["vpc"] | (f["pkts"] == 1))


FLAG_LETTERS: tuple[Row, ...] = (
    Row("S/h", lambda f: ((f["fl"] & SYN) != 0) & (f["resp"] | ~_synack_sent(f)),
        "SYN sent: the originator's SYN (S), the responder's SYN-ACK (h)"),
    Row("H/-", lambda f: ~f["resp"] & _synack_sent(f),
        "a SYN-ACK from the originator (VPC's 18, or SYN and ACK in a record of one packet): an "
        "answer to a SYN the log does not hold (backscatter, or the SYN in another file)"),
    Row("A/a", lambda f: ((f["fl"] & ACK) != 0) & ~f["vpc"]
        & ((~f["resp"] & ~_synack_sent(f)) | (f["resp"] & (f["pkts"] > 1))),
        "ACK sent beyond a SYN-ACK (Suricata; a VPC log never shows a pure ACK)"),
    Row("D/d", lambda f: ((f["fl"] & PSH) != 0) | (f["bytes"] > 100 * f["pkts"]),
        "PSH sent, or more than 100 IP bytes a packet (headers are at most 100): data"),
    Row("F/f", lambda f: (f["fl"] & FIN) != 0, "FIN sent"),
    Row("R/r", lambda f: (f["fl"] & RST) != 0, "RST sent"),
)

# --- conn_state from history letters ---------------------------------------------------------

#: Zeek's conn_state from the letters alone (first match wins); for logs without conn_state.
CONN_STATE_RULES: tuple[Row, ...] = (
    Row("SF", lambda f: f["fins_then_reset"],
        "both FINs (F, f) before any RST letter: both sides had closed; a later RST does not change it"),
    Row("REJ", lambda f: f["S"] & f["r"] & ~f["h"] & ~f["data"], "SYN answered by a RST (Sr), no SYN-ACK, no data"),
    Row("RSTOS0", lambda f: f["S"] & f["R"] & ~f["h"] & ~f["data"], "SYN then the originator's RST, no SYN-ACK"),
    Row("RSTR", lambda f: f["r"] & f["S"] & f["h"], "the responder reset after a handshake"),
    Row("RSTRH", lambda f: f["r"] & f["h"] & ~f["S"], "the responder reset after its SYN-ACK, no SYN seen"),
    Row("RSTO", lambda f: f["R"], "the originator reset"),
    Row("RSTR", lambda f: f["r"], "the responder reset (no handshake seen)"),
    Row("SF", lambda f: f["F"] & f["f"], "both sides sent FIN"),
    Row("S0", lambda f: f["S"] & ~f["h"] & ~f["F"] & ~f["resp_any"], "SYN, nothing from the responder"),
    Row("SH", lambda f: f["S"] & ~f["h"] & f["F"], "SYN and FIN from the originator, no SYN-ACK"),
    Row("SH", lambda f: f["F"] & ~f["resp_any"], "a FIN from the originator, nothing from the responder"),
    Row("SHR", lambda f: f["h"] & ~f["S"] & f["f"], "SYN-ACK and FIN from the responder, no SYN"),
    Row("S2", lambda f: f["S"] & f["h"] & f["F"], "handshake, then only the originator's FIN"),
    Row("S3", lambda f: f["S"] & f["h"] & f["f"], "handshake, then only the responder's FIN"),
    Row("S1", lambda f: f["S"] & f["h"], "handshake, no FIN nor RST"),
    Row("OTH", always, "anything else (no SYN seen: mid-stream)"),
)

# --- endpoint paths and finals ---------------------------------------------------------------


class Ends(NamedTuple):
    """What a rule gives: each endpoint's path and its final state."""

    orig_states: str
    resp_states: str
    orig_final: str
    resp_final: str

    def __str__(self) -> str:
        return (f"orig {self.orig_states or '-'} ({self.orig_final}); "
                f"resp {self.resp_states or '-'} ({self.resp_final})")


_OPEN_O, _OPEN_R = "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECEIVED>ESTABLISHED"


def _cs(*states: str):
    return lambda f: f["conn_state"].isin(states)


#: RFC 9293 paths and finals from conn_state and history (first match wins). ``ordered``: the
#: letters are in the order Zeek first saw them (not so when made from OR-ed flags);
#: ``closer_orig``: the originator's F comes before the responder's f.
ENDPOINT_RULES: tuple[Row, ...] = (
    Row(Ends("SYN_SENT>CLOSED", "CLOSED", "CLOSED", "CLOSED"), _cs("REJ"),
        "REJ: the SYN was refused by a RST"),
    Row(Ends("SYN_SENT", "", "SYN_SENT", "UNKNOWN"), _cs("S0"), "S0: a SYN and no answer"),
    Row(Ends("SYN_SENT>CLOSED", "", "CLOSED", "UNKNOWN"), _cs("RSTOS0"),
        "RSTOS0: the originator gave up with a RST; the responder never answered"),
    Row(Ends(f"{_OPEN_O}>CLOSED", f"{_OPEN_R}>CLOSED", "CLOSED", "CLOSED"),
        lambda f: f["conn_state"].isin(["RSTO", "RSTR"]) & f["S"] & f["h"],
        "RSTO or RSTR after a handshake: both closed by the reset (the FIN steps before it, if "
        "any, are not known from a log)"),
    Row(Ends("CLOSED", "SYN_RECEIVED>CLOSED", "CLOSED", "CLOSED"), _cs("RSTRH"),
        "RSTRH: the responder reset after its SYN-ACK, no SYN seen"),
    Row(Ends("ESTABLISHED>CLOSED", "ESTABLISHED>CLOSED", "CLOSED", "CLOSED"), _cs("RSTO", "RSTR"),
        "RSTO or RSTR without a handshake in the log: mid-stream, then reset"),
    Row(Ends(f"{_OPEN_O}>FIN_WAIT_1>TIME_WAIT", f"{_OPEN_R}>CLOSE_WAIT>LAST_ACK", "TIME_WAIT", "UNKNOWN"),
        lambda f: (f["conn_state"] == "SF") & f["S"] & f["h"] & f["ordered"] & f["closer_orig"],
        "SF after a handshake, the originator's F before the responder's f: the originator closed "
        "first (whether the last ACK arrived, CLOSED or LAST_ACK, is not in the log)"),
    Row(Ends(f"{_OPEN_O}>CLOSE_WAIT>LAST_ACK", f"{_OPEN_R}>FIN_WAIT_1>TIME_WAIT", "UNKNOWN", "TIME_WAIT"),
        lambda f: (f["conn_state"] == "SF") & f["S"] & f["h"] & f["ordered"],
        "SF after a handshake, the responder's f first: the responder closed first"),
    Row(Ends(_OPEN_O, _OPEN_R, "UNKNOWN", "UNKNOWN"), lambda f: (f["conn_state"] == "SF") & f["S"] & f["h"],
        "SF from unordered flags: both closed, who first is unknown"),
    Row(Ends("ESTABLISHED", "ESTABLISHED", "UNKNOWN", "UNKNOWN"), _cs("SF"),
        "SF without a handshake: mid-stream, both closed, in an order the log does not prove"),
    Row(Ends(_OPEN_O, _OPEN_R, "ESTABLISHED", "ESTABLISHED"), lambda f: (f["conn_state"] == "S1") & f["S"] & f["h"],
        "S1: established, open when the log was written"),
    Row(Ends(f"{_OPEN_O}>FIN_WAIT_1", f"{_OPEN_R}>CLOSE_WAIT", "UNKNOWN", "CLOSE_WAIT"),
        lambda f: (f["conn_state"] == "S2") & f["S"] & f["h"],
        "S2: only the originator closed (FIN_WAIT_1 or FIN_WAIT_2: its ACK is not in the log)"),
    Row(Ends(f"{_OPEN_O}>CLOSE_WAIT", f"{_OPEN_R}>FIN_WAIT_1", "CLOSE_WAIT", "UNKNOWN"),
        lambda f: (f["conn_state"] == "S3") & f["S"] & f["h"],
        "S3: only the responder closed"),
    Row(Ends("SYN_SENT", "", "UNKNOWN", "UNKNOWN"), _cs("SH"), "SH: SYN and FIN from the originator, no answer"),
    Row(Ends("", "", "UNKNOWN", "UNKNOWN"), always, "anything else (OTH, SHR, mid-stream): unknown"),
)


#: The responder's final state from Suricata's ``tcp.state`` (column ``tool_state``): Suricata
#: names the session after the responder's state once the SYN was answered (the reverse of
#: ``endpoint_states.SURICATA_RULES``); it overrides the state derived from the flags.
def _said(word: str):
    return lambda f: f["tool_state"] == word


SURICATA_FINALS: tuple[Row, ...] = tuple(
    Row(final, _said(word), f"tcp.state {word}")
    for word, final in (("syn_recv", "SYN_RECEIVED"), ("established", "ESTABLISHED"), ("fin_wait1", "FIN_WAIT_1"),
                        ("fin_wait2", "FIN_WAIT_2"), ("close_wait", "CLOSE_WAIT"), ("closing", "CLOSING"),
                        ("last_ack", "LAST_ACK"), ("time_wait", "TIME_WAIT"), ("closed", "CLOSED"))
) + (Row("", always, "syn_sent, none or anything else: the derived state stands"),)


def suricata_finals(tool_state: pd.Series) -> np.ndarray:
    """The responder's final state Suricata's tcp.state names ("" where it names none)."""
    frame = pd.DataFrame({"tool_state": tool_state.astype(object).to_numpy()})
    idx = which(frame, SURICATA_FINALS)
    return np.asarray([r.label for r in SURICATA_FINALS] + [""], dtype=object)[idx]


def letters(history: pd.Series) -> pd.DataFrame:
    """The facts the tables read from history strings (NA = ""): each side's letters, data,
    and whether the originator's F precedes the responder's f."""
    h = history.astype("string").fillna("")
    out = {c: h.str.contains(c, regex=False).to_numpy(dtype=bool) for c in "SHRFADQshrfadq"}
    pos_f = h.str.find("F").to_numpy(dtype=np.int64)
    pos_lf = h.str.find("f").to_numpy(dtype=np.int64)
    out["closer_orig"] = (pos_f >= 0) & ((pos_lf < 0) | (pos_f < pos_lf))
    resets = [h.str.find(c).to_numpy(dtype=np.int64) for c in "Rr"]
    first_reset = np.min([np.where(r < 0, np.iinfo(np.int64).max, r) for r in resets], axis=0)
    out["fins_then_reset"] = (pos_f >= 0) & (pos_lf >= 0) & (first_reset > np.maximum(pos_f, pos_lf))
    out["data"] = out["D"] | out["d"]
    out["resp_any"] = h.str.contains("[a-z]", regex=True).to_numpy(dtype=bool)
    return pd.DataFrame(out, index=history.index)


def conn_states(history: pd.Series) -> np.ndarray:
    """conn_state of each history (CONN_STATE_RULES)."""
    idx = which(letters(history), CONN_STATE_RULES)
    labels = np.asarray([r.label for r in CONN_STATE_RULES] + [None], dtype=object)
    return labels[idx]


def ends(conn_state: pd.Series, history: pd.Series, ordered: np.ndarray) -> dict[str, np.ndarray]:
    """orig_states, resp_states, orig_final, resp_final of each flow (ENDPOINT_RULES)."""
    frame = letters(history).assign(conn_state=conn_state.astype(object).to_numpy(), ordered=ordered)
    idx = which(frame, ENDPOINT_RULES)
    table = np.asarray([tuple(r.label) for r in ENDPOINT_RULES] + [("", "", "UNKNOWN", "UNKNOWN")], dtype=object)
    got = table[idx]
    return {name: got[:, i] for i, name in enumerate(Ends._fields)}


def flag_history(orig: dict[str, np.ndarray], resp: dict[str, np.ndarray], vpc: np.ndarray) -> np.ndarray:
    """History letters from each side's OR-ed flags, packets and IP bytes (FLAG_LETTERS), in
    the order S h H A a D d F f R r (the order they happened in is not known)."""
    sides = []
    for side, is_resp in ((orig, False), (resp, True)):
        frame = pd.DataFrame({"fl": side["flags"], "pkts": side["pkts"], "bytes": side["bytes"], "vpc": vpc,
                              "resp": is_resp})
        sides.append([np.asarray(r.when(frame), dtype=bool) & side["known"] for r in FLAG_LETTERS])
    out = np.full(len(vpc), "", dtype=object)
    for k, row in enumerate(FLAG_LETTERS):
        upper, lower = row.label.split("/")
        out = np.where(sides[0][k], out + upper, out)
        out = np.where(sides[1][k], out + lower.replace("-", ""), out)
    return out
