"""RFC 9293 state sequences of both endpoints, and the close category, from per-direction event times."""

from __future__ import annotations

import numpy as np

from tcpforensics.groups import first_where, sdelta32

INF = np.iinfo(np.int64).max

#: candidate steps of an endpoint's path, in tie-break order (same time -> this order)
STEPS = (
    "SYN_SENT", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "CLOSE_WAIT",
    "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT", "CLOSED",
)


def infer(n, cid, pos, ts, d, od, valid, syn, fin, rst, ackf, seq, ack, plen, end_of_capture,
          time_wait_ns: int) -> dict[str, np.ndarray]:
    """orig_states, resp_states, orig_final, resp_final for every connection.

    Each endpoint's path is built from the times of a few events seen in the capture (the
    packet time stands for both sending and receiving): its own and the peer's SYN, SYN-ACK,
    FIN, RST, the ACK that covers each FIN, and the first ACK after a SYN-ACK.
    """
    t = np.where(valid, ts, INF)
    is_o = d == od[cid]
    roles = {}
    for name, mine in (("orig", is_o), ("resp", ~is_o)):
        roles[name] = _times(n, cid, pos, t, mine, syn, fin, rst, ackf, seq, ack, plen)
    out = {}
    for name, peer in (("orig", "resp"), ("resp", "orig")):
        path, final = _path(roles[name], roles[peer], end_of_capture, time_wait_ns)
        out[f"{name}_states"] = path
        out[f"{name}_final"] = final
    return out


def _times(n, cid, pos, t, mine, syn, fin, rst, ackf, seq, ack, plen) -> dict[str, np.ndarray]:
    """First-occurrence times of one endpoint's events, and of the peer's packets that matter."""
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


def _path(x: dict, y: dict, eoc: int, tw: int) -> tuple[np.ndarray, np.ndarray]:
    fin_x, fin_y = x["fin"], y["fin"]
    # --- opening: ordered rules ---
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
    t_est = est
    # --- closing ---
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
    t_rst = np.minimum(x["rst"], y["rst"])  # a reset ends the path wherever it is
    # rejected SYN: the endpoint answered a SYN with a RST only
    t_rst = np.where(passive & (x["rst"] < INF) & (x["synack"] == INF), np.minimum(t_rst, x["rst"]), t_rst)
    times = np.stack([t_syn_sent, t_listen, t_syn_rcvd, t_est, t_fw1, t_cw, t_fw2, t_closing, t_la, t_tw, t_closed], axis=1)
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


#: close categories, ordered rules over (conn_state, history, endpoint finals)
CLOSE_RULES = (
    ("rejected", "conn_state REJ: the responder answered the SYN with a RST"),
    ("reset_by_resp", "conn_state RSTR/RSTRH: the responder reset the connection"),
    ("reset_by_orig", "conn_state RSTO: the originator reset an established connection"),
    ("no_answer", "conn_state S0/RSTOS0: SYN(s) with no answer (the originator may have given up with a RST)"),
    ("half_open", "the SYN-ACK was sent but the handshake's final ACK was never seen (responder stays SYN_RECEIVED)"),
    ("lost_final_ack", "both FINs seen but the last FIN was never acknowledged (LAST_ACK/CLOSING/FIN_WAIT_1 at the end)"),
    ("graceful", "conn_state SF: both sides closed with FIN"),
    ("half_closed_orig", "conn_state SH/S2: only the originator closed"),
    ("half_closed_resp", "conn_state SHR/S3: only the responder closed"),
    ("midstream", "no SYN or SYN-ACK seen: the capture began mid-connection"),
    ("open_at_end", "established and still open when the capture ended (S1)"),
)


def close_category(conn_state: np.ndarray, hist: np.ndarray, states: dict) -> np.ndarray:
    """The close category of each connection (CLOSE_RULES, first match wins)."""
    import pandas as pd

    h = pd.Series(hist, dtype=object).astype(str)
    saw_open = h.str.contains(r"[SsHh]", regex=True).to_numpy(bool)
    of, rf = states["orig_final"], states["resp_final"]
    unacked = np.isin(of, ["LAST_ACK", "CLOSING", "FIN_WAIT_1"]) | np.isin(rf, ["LAST_ACK", "CLOSING", "FIN_WAIT_1"])
    cs = np.asarray(conn_state, dtype=object)
    conds = [
        cs == "REJ",
        np.isin(cs, ["RSTR", "RSTRH"]),
        cs == "RSTO",
        np.isin(cs, ["S0", "RSTOS0"]),
        (rf == "SYN_RECEIVED") & ~np.isin(cs, ["SF", "S2", "S3"]),
        (cs == "SF") & unacked,
        cs == "SF",
        np.isin(cs, ["SH", "S2"]),
        np.isin(cs, ["SHR", "S3"]),
        ~saw_open,
        cs == "S1",
    ]
    return np.select(conds, [name for name, _ in CLOSE_RULES], default="midstream").astype(object)


#: Suricata's session state (flow event ``tcp.state``) from the two endpoint finals: Suricata
#: names the session after the *responder's* state once the SYN was answered, and after the
#: originator's (syn_sent) before that. Ordered rules, first match wins.
SURICATA_RULES = (
    ("syn_sent", "orig_final SYN_SENT and the responder never answered"),
    ("syn_recv", "resp_final SYN_RECEIVED"),
    ("established", "resp_final ESTABLISHED"),
    ("fin_wait1", "resp_final FIN_WAIT_1 (the responder closed first)"),
    ("fin_wait2", "resp_final FIN_WAIT_2"),
    ("close_wait", "resp_final CLOSE_WAIT (the originator closed first)"),
    ("closing", "resp_final CLOSING"),
    ("last_ack", "resp_final LAST_ACK"),
    ("time_wait", "resp_final TIME_WAIT"),
    ("closed", "resp_final CLOSED"),
)


def suricata_state(orig_final, resp_final) -> np.ndarray:
    """Suricata's ``tcp.state`` for each flow (SURICATA_RULES); 'none' when nothing applies."""
    of = np.asarray(orig_final, dtype=object)
    rf = np.asarray(resp_final, dtype=object)
    conds = [(of == "SYN_SENT") & np.isin(rf, ["UNKNOWN", "LISTEN"])]
    names = ["SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "CLOSED"]
    conds += [rf == nm for nm in names]
    return np.select(conds, [name for name, _ in SURICATA_RULES], default="none").astype(object)
