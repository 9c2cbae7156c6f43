"""Where Zeek's session manager starts a new connection inside one 4-tuple: reuse SYNs and timers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.groups import first_where, ranges
from tcpforensics.reconstruct import zeek_rules as zr

NS = 1_000_000_000


@dataclass
class Conns:
    """Packets of a set of connections, concatenated (each connection contiguous, in time order)."""

    n: int
    idx: np.ndarray     # global packet index
    cid: np.ndarray     # connection of each packet
    first: np.ndarray   # position of each connection's first packet in the concatenation
    end: np.ndarray     # position one past its last packet
    lengths: np.ndarray  # packets per connection

    def rep(self, values: np.ndarray) -> np.ndarray:
        """Per-connection ``values`` broadcast to their packets (``values[cid]``, faster)."""
        return np.repeat(values, self.lengths)


def gather(s: np.ndarray, e: np.ndarray) -> Conns:
    idx, cid = ranges(s, e)
    lengths = e - s
    first = np.cumsum(lengths) - lengths
    return Conns(len(s), idx, cid, first, first + lengths, lengths)


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


def cut_points(P, C, cfg, tr, cpos, ts, d, syn, ackf, rst, valid, seq, fl, od, hflip, p2c, pos, pre, pre_dc, post, post_dc, rows, vfirst):
    """Earliest packet (global index) that Zeek would put in a new connection, per connection; -1 if none.

    Candidates, earliest wins: a reuse SYN (IsReuse), the first packet after the attempt timer
    fired with the originator still unanswered, after the close delete timer, or after an
    ExpireTimer firing on a quiet half-closed / reset / one-sided connection.
    """
    n, cid = C.n, C.cid
    m = len(cid)
    INF = np.iinfo(np.int64).max

    def orig_at(i):
        """Physical direction of the originator (as the machine sees it) at packets ``i``."""
        c = cid[i]
        return (od[c] ^ (hflip[c] & (pos[i] <= p2c[c]))).astype(np.int64)

    cut = np.full(n, INF, dtype=np.int64)
    # 1. reuse: a SYN (or a SYN-ACK while the originator is inactive) on an existing connection
    vf = np.maximum(vfirst, 0)
    start_seq = np.where(syn[vf], seq[vf], seq[vf] - 1) & 0xFFFFFFFF
    cand = np.flatnonzero(syn & (pos > C.rep(C.first)))  # only SYNs can be reuses
    if len(cand):
        c = cid[cand]
        op = orig_at(cand)
        o_pre, r_pre = pre[cand, op], pre[cand, 1 - op]
        a = ackf[cand]
        so_idx = c.astype(np.int64) * 2 + np.where(a, 1 - op, op)
        known = (vfirst[so_idx] >= 0) & (vfirst[so_idx] < pos[cand])
        closed = pre_dc[cand, 0] | pre_dc[cand, 1]
        reuse = ~(a & (o_pre != zr.INACTIVE))
        reuse &= closed | ~known | (seq[cand] != start_seq[so_idx])
        if not cfg.split_simultaneous_open:
            simul = ~a & (d[cand] != op) & (o_pre == zr.SYN_SENT) & (r_pre == zr.INACTIVE)
            reuse &= ~simul
        rs = cand[reuse]
        rp = first_where(np.ones(len(rs), dtype=bool), cid[rs], n, rs)
        cut = np.where(rp >= 0, np.minimum(cut, rp), cut)
    # 2. attempt timer: originator still SYN_SENT/SYN_ACK_SENT and responder INACTIVE
    att_ev = np.flatnonzero(tr.attempt)
    if len(att_ev):
        ac = cid[cpos[att_ev]]
        u, i = np.unique(ac, return_index=True)
        t = ts[cpos[att_ev[i]]] + int(cfg.attempt_delay * NS)
        q = first_at_or_after(C, ts, u, t)
        inside = q < C.end[u]
        qq = np.minimum(q, m - 1)
        oq = orig_at(qq)
        hit = inside & np.isin(pre[qq, oq], [zr.SYN_SENT, zr.SYN_ACK_SENT]) & (pre[qq, 1 - oq] == zr.INACTIVE)
        cut[u[hit]] = np.minimum(cut[u[hit]], q[hit])
    # 3. close complete -> deleted tcp_close_delay after (unless another close moves it)
    cc_ev = np.flatnonzero(tr.close_complete)
    if len(cc_ev):
        cc_c = cid[cpos[cc_ev]]
        cc_t = ts[cpos[cc_ev]]
        dead = cc_t + int(cfg.close_delay * NS)
        nxt = np.r_[cc_t[1:], INF]
        nxt_same = np.r_[cc_c[1:] == cc_c[:-1], False]
        final_one = ~nxt_same | (nxt >= dead)
        sel = np.flatnonzero(final_one)
        c2 = cc_c[sel]
        u, i = np.unique(c2, return_index=True)
        q = first_at_or_after(C, ts, u, dead[sel[i]])
        inside = q < C.end[u]
        cut[u[inside]] = np.minimum(cut[u[inside]], q[inside])
    # 4. ExpireTimer: quiet for tcp_connection_linger with a half-closed / reset / one-sided state
    has_next = np.r_[cid[1:] == cid[:-1], False]
    dc0, dc1 = post_dc[:, 0], post_dc[:, 1]
    anyreset = (post[:, 0] == zr.RESET) | (post[:, 1] == zr.RESET)
    anyinact = (post[:, 0] == zr.INACTIVE) | (post[:, 1] == zr.INACTIVE)
    bothinact = (post[:, 0] == zr.INACTIVE) & (post[:, 1] == zr.INACTIVE)
    cond = ((dc0 | dc1) & ((dc0 & dc1) | anyreset | anyinact)) | bothinact
    w = np.flatnonzero(has_next & cond)  # the timer's firing time matters only here
    cw = cid[w]
    tw = ts[w]
    start = ts[C.first][cw]
    S, T, L = (int(x * NS) for x in (cfg.syn_timeout, cfg.session_timer, cfg.connection_linger))
    k = np.maximum(0, (tw + L - start - S) // T + 1)
    fire = start + S + T * k
    cp_ev = np.flatnonzero(tr.close_partial)
    if len(cp_ev):
        tc = np.full(n, -1, dtype=np.int64)
        tc[cid[cpos[cp_ev]]] = ts[cpos[cp_ev]]  # the latest one per connection
        tcc = tc[cw]
        k2 = np.maximum(1, (tw + L - tcc) // T + 1)
        fire = np.where((tcc >= 0) & (tcc <= tw), np.minimum(fire, tcc + T * k2), fire)
    ew = w[fire <= ts[w + 1]]  # w has a next packet of the same connection
    ep = first_where(np.ones(len(ew), dtype=bool), cid[ew], n, ew)
    cut = np.where(ep >= 0, np.minimum(cut, ep + 1), cut)
    # back to global packet indices
    found = cut < INF
    out = np.full(n, -1, dtype=np.int64)
    out[found] = C.idx[cut[found]]
    return out
