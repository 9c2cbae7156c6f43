"""Where Zeek's session manager starts a new connection inside one 4-tuple: reuse SYNs and timers.

Four rules each give, per connection of a block, the earliest packet that Zeek would put in a
new connection; the earliest of them all is the cut (``cut_points``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tcpforensics.groups import first_where
from tcpforensics.reconstruct import zeek_rules as zr
from tcpforensics.reconstruct.flow_block import Block, Conns
from tcpforensics.reconstruct.flow_control import Control
from tcpforensics.reconstruct.flow_orient import Orientation

if TYPE_CHECKING:  # (flows imports this module)
    from tcpforensics.reconstruct.flows import FlowConfig

NS = 1_000_000_000
INF = np.iinfo(np.int64).max


def first_at_or_after(C: Conns, ts: np.ndarray, conn: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Position of the first packet of connection ``conn`` with ts >= ``t`` (its end if none).

    A binary search run for all queries at once (times are sorted within a connection):
    about log2(longest connection) vectorized steps.
    """
    lo = C.first[conn].astype(np.int64)
    hi = C.end[conn].astype(np.int64)
    t = np.asarray(t, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        below = active & (ts[np.minimum(mid, len(ts) - 1)] < t)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)


def cut_points(b: Block, o: Orientation, c: Control, cfg: FlowConfig) -> np.ndarray:
    """Earliest packet (global index) that Zeek would put in a new connection, per connection; -1 if none.

    Candidates, earliest wins: a reuse SYN (IsReuse), the first packet after the attempt timer
    fired with the originator still unanswered, after the close delete timer, or after an
    ExpireTimer firing on a quiet half-closed / reset / one-sided connection.
    """
    cut = np.minimum.reduce([
        _reuse(b, o, c, cfg.split_simultaneous_open),
        _attempt_timer(b, o, c, int(cfg.attempt_delay * NS)),
        _close_timer(b, c, int(cfg.close_delay * NS)),
        _expire_timer(b, c, cfg),
    ])
    found = cut < INF
    out = np.full(b.n, -1, dtype=np.int64)
    out[found] = b.conns.idx[cut[found]]  # back to global packet indices
    return out


def _reuse(b: Block, o: Orientation, c: Control, split_simultaneous_open: bool) -> np.ndarray:
    """A SYN (or a SYN-ACK while the originator is inactive) on an existing connection that
    Zeek takes for a new one: the connection closed, the sender's start unknown, or another ISN."""
    syn, seq, vfirst, cid = b.syn, b.seq, b.first_valid, b.cid
    vf = np.maximum(vfirst, 0)
    start_seq = np.where(syn[vf], seq[vf], seq[vf] - 1) & 0xFFFFFFFF
    cand = np.flatnonzero(syn & (b.pos > b.conns.rep(b.conns.first)))  # only SYNs can be reuses
    if not len(cand):
        return np.full(b.n, INF, dtype=np.int64)
    op = o.orig_at(b, cand)
    o_pre, r_pre = c.pre[cand, op], c.pre[cand, 1 - op]
    a = b.ackf[cand]
    so_idx = cid[cand].astype(np.int64) * 2 + np.where(a, 1 - op, op)
    known = (vfirst[so_idx] >= 0) & (vfirst[so_idx] < b.pos[cand])
    closed = c.pre_closed[cand, 0] | c.pre_closed[cand, 1]
    reuse = ~(a & (o_pre != zr.INACTIVE))
    reuse &= closed | ~known | (seq[cand] != start_seq[so_idx])
    if not split_simultaneous_open:
        simul = ~a & (b.direction[cand] != op) & (o_pre == zr.SYN_SENT) & (r_pre == zr.INACTIVE)
        reuse &= ~simul
    rs = cand[reuse]
    rp = first_where(np.ones(len(rs), dtype=bool), cid[rs], b.n, rs)
    return np.where(rp >= 0, rp, INF)


def _attempt_timer(b: Block, o: Orientation, c: Control, delay_ns: int) -> np.ndarray:
    """The first packet after the attempt timer fired while the originator was still
    SYN_SENT/SYN_ACK_SENT and the responder INACTIVE."""
    out = np.full(b.n, INF, dtype=np.int64)
    att_ev = np.flatnonzero(c.trace.attempt)
    if not len(att_ev):
        return out
    cpos, ts = c.events, b.ts
    u, i = np.unique(b.cid[cpos[att_ev]], return_index=True)
    q = first_at_or_after(b.conns, ts, u, ts[cpos[att_ev[i]]] + delay_ns)
    inside = q < b.conns.end[u]
    qq = np.minimum(q, b.m - 1)
    oq = o.orig_at(b, qq)
    hit = inside & np.isin(c.pre[qq, oq], [zr.SYN_SENT, zr.SYN_ACK_SENT]) & (c.pre[qq, 1 - oq] == zr.INACTIVE)
    out[u[hit]] = q[hit]
    return out


def _close_timer(b: Block, c: Control, delay_ns: int) -> np.ndarray:
    """The first packet ``tcp_close_delay`` after the close completed (unless another close
    within that delay moved the timer)."""
    out = np.full(b.n, INF, dtype=np.int64)
    cc_ev = np.flatnonzero(c.trace.close_complete)
    if not len(cc_ev):
        return out
    cc_c = b.cid[c.events[cc_ev]]
    cc_t = b.ts[c.events[cc_ev]]
    dead = cc_t + delay_ns
    nxt = np.r_[cc_t[1:], INF]
    nxt_same = np.r_[cc_c[1:] == cc_c[:-1], False]
    sel = np.flatnonzero(~nxt_same | (nxt >= dead))
    u, i = np.unique(cc_c[sel], return_index=True)
    q = first_at_or_after(b.conns, b.ts, u, dead[sel[i]])
    inside = q < b.conns.end[u]
    out[u[inside]] = q[inside]
    return out


def _expire_timer(b: Block, c: Control, cfg: FlowConfig) -> np.ndarray:
    """The packet after an ExpireTimer firing (tcp_SYN_timeout, then every tcp_session_timer;
    after a partial close every tcp_session_timer from it) on a connection quiet for
    tcp_connection_linger in a half-closed / reset / one-sided state."""
    cid, ts, post, post_dc = b.cid, b.ts, c.post, c.post_closed
    has_next = np.r_[cid[1:] == cid[:-1], False]
    dc0, dc1 = post_dc[:, 0], post_dc[:, 1]
    anyreset = (post[:, 0] == zr.RESET) | (post[:, 1] == zr.RESET)
    anyinact = (post[:, 0] == zr.INACTIVE) | (post[:, 1] == zr.INACTIVE)
    bothinact = (post[:, 0] == zr.INACTIVE) & (post[:, 1] == zr.INACTIVE)
    cond = ((dc0 | dc1) & ((dc0 & dc1) | anyreset | anyinact)) | bothinact
    w = np.flatnonzero(has_next & cond)  # the timer's firing time matters only here
    cw = cid[w]
    tw = ts[w]
    start = ts[b.conns.first][cw]
    S, T, L = (int(x * NS) for x in (cfg.syn_timeout, cfg.session_timer, cfg.connection_linger))
    k = np.maximum(0, (tw + L - start - S) // T + 1)
    fire = start + S + T * k
    cp_ev = np.flatnonzero(c.trace.close_partial)
    if len(cp_ev):
        tc = np.full(b.n, -1, dtype=np.int64)
        tc[cid[c.events[cp_ev]]] = ts[c.events[cp_ev]]  # the latest one per connection
        tcc = tc[cw]
        k2 = np.maximum(1, (tw + L - tcc) // T + 1)
        fire = np.where((tcc >= 0) & (tcc <= tw), np.minimum(fire, tcc + T * k2), fire)
    ew = w[fire <= ts[w + 1]]  # w has a next packet of the same connection
    ep = first_where(np.ones(len(ew), dtype=bool), cid[ew], b.n, ew)
    return np.where(ep >= 0, ep + 1, INF)
