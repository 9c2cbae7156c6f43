"""Runs Zeek's endpoint state machine over the state-changing packets of many connections at once.

The machine is sequential within a connection, so it is advanced one *rank* at a time: step k
applies the rule table (zeek_rules.transition, np.select) to the k-th state-changing packet of
every connection together. The loop is over ranks (a handful: SYN, SYN-ACK, first packets,
FIN, RST, after dropping repeats that cannot change a state), never over packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.reconstruct import zeek_rules as zr


@dataclass
class Trace:
    """Per control event: both endpoints' states (physical directions 0/1) before and after it."""

    pre: np.ndarray        # (m, 2) int8
    post: np.ndarray       # (m, 2) int8
    prev: np.ndarray       # (m, 2) int8 previous state after the event
    did_close: np.ndarray  # (m, 2) bool after the event
    close_complete: np.ndarray  # (m,) bool: ConnectionClosed found the close complete
    close_partial: np.ndarray   # (m,) bool: ConnectionClosed, not complete, sender was active
    attempt: np.ndarray    # (m,) bool: the attempt timer was started here
    final: np.ndarray      # (n, 2) int8 states at the end
    final_prev: np.ndarray  # (n, 2) int8
    final_did_close: np.ndarray  # (n, 2) bool
    steps: int


def run(cid, d, io, syn, fin, rst, ack, plen, n: int) -> Trace:
    """Advance every connection's two endpoints through its events (given in connection order)."""
    m = len(cid)
    st = np.zeros((n, 2), dtype=np.int8)
    pv = np.zeros((n, 2), dtype=np.int8)
    dc = np.zeros((n, 2), dtype=bool)
    pre = np.zeros((m, 2), dtype=np.int8)
    post = np.zeros((m, 2), dtype=np.int8)
    prev = np.zeros((m, 2), dtype=np.int8)
    dca = np.zeros((m, 2), dtype=bool)
    cc = np.zeros(m, dtype=bool)
    cp = np.zeros(m, dtype=bool)
    att = np.zeros(m, dtype=bool)
    rank = np.arange(m) - np.searchsorted(cid, cid, side="left")  # events come grouped by connection
    order = np.argsort(rank, kind="stable")
    steps = int(rank.max()) + 1 if m else 0
    bounds = np.searchsorted(rank[order], np.arange(steps + 1))
    dd_all = d.astype(np.int64)
    for k in range(steps):
        sel = order[bounds[k]:bounds[k + 1]]
        c = cid[sel]
        dd = dd_all[sel]
        od = 1 - dd
        e = st[c, dd]
        p = st[c, od]
        dce = dc[c, dd]
        dcp = dc[c, od]
        pre[sel, dd] = e
        pre[sel, od] = p
        ne, np_, do_close, a = zr.transition(e, pv[c, od], p, io[sel], syn[sel], fin[sel], rst[sel], ack[sel], plen[sel], dce)
        pv[c, dd] = np.where(ne != e, e, pv[c, dd])
        pv[c, od] = np.where(np_ != p, p, pv[c, od])
        st[c, dd] = ne
        st[c, od] = np_
        newclose = do_close & ~dce
        dc[c, dd] = dce | newclose
        complete = newclose & ((ne == zr.RESET) | dcp | (np_ == zr.INACTIVE))
        cc[sel] = complete
        cp[sel] = newclose & ~complete & (e != zr.INACTIVE)
        att[sel] = a
        post[sel] = st[c]
        prev[sel] = pv[c]
        dca[sel] = dc[c]
    return Trace(pre, post, prev, dca, cc, cp, att, st, pv, dc, steps)
