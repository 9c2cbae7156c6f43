"""RFC 9293 state sequences of both endpoints, and the close category, from per-direction event times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.groups import first_where, sdelta32
from tcpforensics.reconstruct.flow_block import Block
from tcpforensics.reconstruct.rules import Predicate, Row, always, first_match

INF = np.iinfo(np.int64).max

#: candidate steps of an endpoint's path, in tie-break order (same time -> this order)
STEPS = (
    "SYN_SENT", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "CLOSE_WAIT",
    "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT", "CLOSED",
)


def infer(b: Block, is_orig: np.ndarray, end_of_capture: np.ndarray, time_wait_ns: int) -> dict[str, np.ndarray]:
    """orig_states, resp_states, orig_final, resp_final for every connection of the block
    (``is_orig``: per packet, sent by the originator; ``end_of_capture``: per connection, ns).

    Each endpoint's path is built from the times of a few events seen in the capture (the
    packet time stands for both sending and receiving): its own and the peer's SYN, SYN-ACK,
    FIN, RST, the ACK that covers each FIN, and the first ACK after a SYN-ACK.
    """
    t = np.where(b.valid, b.ts, INF)
    roles = {name: _times(b, t, mine) for name, mine in (("orig", is_orig), ("resp", ~is_orig))}
    out = {}
    for name, peer in (("orig", "resp"), ("resp", "orig")):
        path, final = _path(roles[name], roles[peer], end_of_capture, time_wait_ns)
        out[f"{name}_states"] = path
        out[f"{name}_final"] = final
    return out


def _times(b: Block, t: np.ndarray, mine: np.ndarray) -> dict[str, np.ndarray]:
    """First-occurrence times of one endpoint's events, and of the peer's packets that matter."""
    n, cid, pos, syn, fin, rst, ackf, seq, ack, plen = (
        b.n, b.cid, b.pos, b.syn, b.fin, b.rst, b.ackf, b.seq, b.ack, b.plen)
    real = t < INF
    m = mine & real
    p = ~mine & real

    def first(mask, vals=None):
        return first_where(mask, cid, n, t if vals is None else vals, fill=INF if vals is None else -1)

    out = {
        "first": first(m),
        "syn": first(m & syn & ~ackf & ~rst),
        "synack": first(m & syn & ackf & ~rst),
        "fin": first(m & fin & ~rst & ~syn),
        "rst": first(m & rst),
        "ack_after_syn": INF,
        "nonsyn": INF,
    }
    fin_pos = first(m & fin & ~rst & ~syn, pos)
    fp = np.maximum(fin_pos, 0)
    fin_end = (seq[fp] + plen[fp] + 1) & 0xFFFFFFFF
    # the peer's ACK covering this endpoint's FIN
    cand = np.flatnonzero(p & ackf & (fin_pos >= 0)[cid])  # only where a FIN exists to cover
    cc = cid[cand]
    covers = np.zeros(len(cid), dtype=bool)
    covers[cand[(pos[cand] > fin_pos[cc]) & (sdelta32(ack[cand], fin_end[cc]) >= 0)]] = True
    out["fin_acked"] = first(covers)
    out["fin_end"] = np.where(fin_pos >= 0, fin_end, -1)
    out["fin_pos"] = fin_pos
    # does my FIN acknowledge the peer's FIN (then I had received it: a passive close)?
    out["fin_ack"] = np.where(fin_pos >= 0, ack[fp], -1)
    out["fin_ackf"] = np.where(fin_pos >= 0, ackf[fp], False)
    # first ACK-bearing non-SYN packet of mine after my own SYN (the handshake completed)
    syn_pos = first(m & syn & ~rst, pos)
    after_syn = pos > np.where(syn_pos >= 0, syn_pos, INF)[cid]
    out["ack_after_syn"] = first(m & ackf & ~syn & after_syn)
    out["nonsyn"] = first(m & ~syn & ~rst)
    out["syn_pos"] = syn_pos
    return out


def _path(x: dict, y: dict, eoc: np.ndarray, tw: int) -> tuple[np.ndarray, np.ndarray]:
    """Endpoint ``x``'s path (``A>B>C``, STEPS in time order) and final state, from its own
    and its peer ``y``'s event times; a TIME_WAIT older than ``tw`` at ``eoc`` is CLOSED."""
    opening, passive = _opening(x, y)
    t_fw1, t_cw, t_fw2, t_closing, t_la, t_tw, t_closed = _closing(x, y)
    t_rst = np.minimum(x["rst"], y["rst"])  # a reset ends the path wherever it is
    # rejected SYN: the endpoint answered a SYN with a RST only
    t_rst = np.where(passive & (x["rst"] < INF) & (x["synack"] == INF), np.minimum(t_rst, x["rst"]), t_rst)
    times = np.stack([*opening, t_fw1, t_cw, t_fw2, t_closing, t_la, t_tw, t_closed], axis=1)
    # nothing after a reset; CLOSED at the reset (unless already CLOSED/TIME_WAIT before it)
    times = np.where(times > t_rst[:, None], INF, times)
    done_before = (np.minimum(t_closed, t_tw) <= t_rst)
    t_closed2 = np.where((t_rst < INF) & ~done_before, t_rst, times[:, 10])
    times[:, 10] = np.minimum(times[:, 10], t_closed2)
    path, last = _spell(times)
    tw_at = np.where(last == "TIME_WAIT", times[:, 9], INF)
    final = np.where((tw_at < INF) & (eoc - tw_at >= tw), "CLOSED", last)
    final = np.where(final == "", "UNKNOWN", final)
    return path, final


def _opening(x: dict, y: dict) -> tuple[list[np.ndarray], np.ndarray]:
    """Times of SYN_SENT, LISTEN, SYN_RECEIVED and ESTABLISHED (ordered rules), and whether
    the endpoint opened passively."""
    active = x["syn"] < INF
    simul = active & (y["syn"] < INF)  # both sent a bare SYN: the SYNs crossed
    passive = ~active & ((x["synack"] < INF) | (y["syn"] < INF))
    answered_y = np.minimum(y["ack_after_syn"], y["nonsyn"])   # peer acted after its SYN
    est = np.select(
        [
            simul,
            active,
            passive & (x["synack"] < INF),
            passive & (x["rst"] < INF),
            passive & (x["first"] == INF) & (answered_y < INF),
            passive,
        ],
        [
            np.minimum(y["synack"], x["ack_after_syn"]),
            np.minimum(np.where(y["synack"] > x["syn"], y["synack"], INF), x["ack_after_syn"]),
            np.minimum(_after(y["ack_after_syn"], x["synack"]), _after(x["nonsyn"], x["synack"])),
            INF,
            answered_y,
            INF,
        ],
        default=np.minimum(x["first"], y["first"]),  # midstream: established when first seen
    )
    t_syn_sent = np.where(active, x["syn"], INF)
    t_listen = np.where(passive & ~((x["rst"] < INF) & (x["synack"] == INF)), np.minimum(y["syn"], x["synack"]), INF)
    t_listen = np.where(passive & (x["first"] == INF) & (answered_y == INF), INF, t_listen)  # never answered
    t_syn_rcvd = np.select([simul, passive & (x["synack"] < INF)], [np.maximum(y["syn"], x["syn"]), x["synack"]], INF)
    t_syn_rcvd = np.where(passive & (x["first"] == INF) & (answered_y < INF), y["syn"], t_syn_rcvd)
    return [t_syn_sent, t_listen, t_syn_rcvd, est], passive


def _closing(x: dict, y: dict) -> tuple[np.ndarray, ...]:
    """Times of FIN_WAIT_1, CLOSE_WAIT, FIN_WAIT_2, CLOSING, LAST_ACK, TIME_WAIT and CLOSED."""
    fin_x, fin_y = x["fin"], y["fin"]
    ax = x["fin_acked"]
    # I received the peer's FIN before sending mine when my FIN acknowledges it
    my_fin_acks_peer = x["fin_ackf"] & (y["fin_end"] >= 0) & (sdelta32(x["fin_ack"], y["fin_end"]) >= 0)
    first_closer = (fin_x < INF) & ((fin_x < fin_y) | ((fin_y < INF) & ~my_fin_acks_peer & (fin_x > fin_y)))
    passive_close = (fin_y < INF) & ~first_closer
    t_fw1 = np.where(first_closer, fin_x, INF)
    t_fw2 = np.where(first_closer & (ax < INF) & (ax < fin_y), ax, INF)
    t_closing = np.where(first_closer & (fin_y < INF) & (fin_y < ax), np.maximum(fin_y, fin_x), INF)
    t_tw = np.where(first_closer & (fin_y < INF), np.maximum(fin_y, np.where(fin_y < ax, ax, fin_y)), INF)
    t_tw = np.where(first_closer & (fin_y < ax) & (ax == INF), INF, t_tw)
    t_cw = np.where(passive_close, fin_y, INF)
    t_la = np.where(passive_close & (fin_x < INF), fin_x, INF)
    t_closed = np.where(passive_close & (fin_x < INF) & (ax < INF), ax, INF)
    return t_fw1, t_cw, t_fw2, t_closing, t_la, t_tw, t_closed


def _spell(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's steps in time order, as ``A>B>C`` and its last step ("" when none).

    The order of the present steps is packed into one int64 per row (4 bits a step), and
    only the distinct orders (a handful, whatever the row count) are spelled out.
    """
    assert times.shape[1] == len(STEPS) < 16  # a step index fits in 4 bits
    order = np.argsort(times, axis=1, kind="stable")
    present = np.take_along_axis(times, order, axis=1) < INF  # the present steps sort first
    digits = np.where(present, order + 1, 0).astype(np.int64)  # 0 = no step, k + 1 = STEPS[k]
    key = (digits << (4 * np.arange(times.shape[1], dtype=np.int64))).sum(axis=1)
    keys, inverse = np.unique(key, return_inverse=True)
    one_row = np.zeros(len(keys), dtype=np.int64)
    one_row[inverse] = np.arange(len(key))  # any row of each distinct order: they all spell the same
    spelled = [[STEPS[d - 1] for d in digits[r] if d] for r in one_row]
    path = np.asarray([">".join(steps) for steps in spelled], dtype=object)
    last = np.asarray([steps[-1] if steps else "" for steps in spelled], dtype=object)
    return path[inverse], last[inverse]


def _after(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` where it is later than ``b``, else INF."""
    return np.where((a < INF) & (b < INF) & (a > b), a, INF)


#: FIN never acknowledged: an endpoint's final state when its FIN is still unanswered
UNACKED_FIN = ("LAST_ACK", "CLOSING", "FIN_WAIT_1")

#: The close kind of a connection (column ``close``), first match wins, over the frame that
#: ``close_category`` builds: conn_state, orig_final, resp_final, saw_open (a SYN or SYN-ACK
#: letter in the history) and fin_unacked (an endpoint ends in UNACKED_FIN). docs/flows.md shows this table (python docs/gen_rules.py).
CLOSE_RULES: tuple[Row, ...] = (
    Row("rejected", lambda f: f["conn_state"] == "REJ",
        "conn_state REJ: the responder answered the SYN with a RST"),
    Row("reset_by_resp", lambda f: f["conn_state"].isin(["RSTR", "RSTRH"]),
        "conn_state RSTR or RSTRH: the responder reset the connection"),
    Row("reset_by_orig", lambda f: f["conn_state"] == "RSTO",
        "conn_state RSTO: the originator reset an established connection"),
    Row("no_answer", lambda f: f["conn_state"].isin(["S0", "RSTOS0"]),
        "conn_state S0 or RSTOS0: SYN(s) with no answer (the originator may have given up with a RST)"),
    Row("half_open", lambda f: (f["resp_final"] == "SYN_RECEIVED") & ~f["conn_state"].isin(["SF", "S2", "S3"]),
        "resp_final SYN_RECEIVED, conn_state not SF, S2 or S3: the SYN-ACK was sent but the "
        "handshake's final ACK was never seen"),
    Row("lost_final_ack", lambda f: (f["conn_state"] == "SF") & f["fin_unacked"],
        "conn_state SF, but an endpoint ends LAST_ACK, CLOSING or FIN_WAIT_1: the last FIN was "
        "never acknowledged"),
    Row("graceful", lambda f: f["conn_state"] == "SF",
        "conn_state SF: both sides closed with FIN"),
    Row("half_closed_orig", lambda f: f["conn_state"].isin(["SH", "S2"]),
        "conn_state SH or S2: only the originator closed"),
    Row("half_closed_resp", lambda f: f["conn_state"].isin(["SHR", "S3"]),
        "conn_state SHR or S3: only the responder closed"),
    Row("midstream", lambda f: ~f["saw_open"],
        "no SYN or SYN-ACK in the history: the capture began mid-connection"),
    Row("open_at_end", lambda f: f["conn_state"] == "S1",
        "conn_state S1: established and still open when the capture ended"),
    Row("midstream", always, "anything else (conn_state OTH)"),
)


def close_category(conn_state: np.ndarray, hist: np.ndarray, states: dict) -> np.ndarray:
    """The close kind of each connection (CLOSE_RULES, first match wins)."""
    of = np.asarray(states["orig_final"], dtype=object)
    rf = np.asarray(states["resp_final"], dtype=object)
    h = pd.Series(hist, dtype=object).astype(str)
    frame = pd.DataFrame({
        "conn_state": np.asarray(conn_state, dtype=object),
        "orig_final": of,
        "resp_final": rf,
        "saw_open": h.str.contains(r"[SsHh]", regex=True).to_numpy(bool),
        "fin_unacked": np.isin(of, UNACKED_FIN) | np.isin(rf, UNACKED_FIN),
    })
    return first_match(frame, CLOSE_RULES)


def _resp_final(state: str) -> Predicate:
    return lambda f: f["resp_final"] == state


#: Suricata's session state (flow event ``tcp.state``) from the two endpoint finals: Suricata
#: names the session after the *responder's* state once the SYN was answered, and after the
#: originator's (syn_sent) before that. First match wins; docs/flows.md shows this table.
SURICATA_RULES: tuple[Row, ...] = (
    Row("syn_sent", lambda f: (f["orig_final"] == "SYN_SENT") & f["resp_final"].isin(["UNKNOWN", "LISTEN"]),
        "orig_final SYN_SENT and the responder never answered (resp_final UNKNOWN or LISTEN)"),
    Row("syn_recv", _resp_final("SYN_RECEIVED"), "resp_final SYN_RECEIVED"),
    Row("established", _resp_final("ESTABLISHED"), "resp_final ESTABLISHED"),
    Row("fin_wait1", _resp_final("FIN_WAIT_1"), "resp_final FIN_WAIT_1 (the responder closed first)"),
    Row("fin_wait2", _resp_final("FIN_WAIT_2"), "resp_final FIN_WAIT_2"),
    Row("close_wait", _resp_final("CLOSE_WAIT"), "resp_final CLOSE_WAIT (the originator closed first)"),
    Row("closing", _resp_final("CLOSING"), "resp_final CLOSING"),
    Row("last_ack", _resp_final("LAST_ACK"), "resp_final LAST_ACK"),
    Row("closed", lambda f: (f["resp_final"] == "TIME_WAIT") & f["orig_final"].isin(["CLOSED", "TIME_WAIT"]),
        "resp_final TIME_WAIT and the last ACK seen (orig_final CLOSED, or TIME_WAIT after a simultaneous "
        "close): Suricata closes a session in TIME_WAIT on that ACK"),
    Row("time_wait", _resp_final("TIME_WAIT"), "resp_final TIME_WAIT, the last ACK not seen"),
    Row("closed", _resp_final("CLOSED"), "resp_final CLOSED"),
    Row("none", always, "anything else"),
)


def suricata_state(orig_final, resp_final) -> np.ndarray:
    """Suricata's ``tcp.state`` for each flow (SURICATA_RULES, first match wins)."""
    frame = pd.DataFrame({"orig_final": np.asarray(orig_final, dtype=object),
                          "resp_final": np.asarray(resp_final, dtype=object)})
    return first_match(frame, SURICATA_RULES)
