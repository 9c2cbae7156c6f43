"""Content gaps (Zeek's G/g letters and missed_bytes): acknowledged bytes the capture never saw."""

from __future__ import annotations

import numpy as np

from tcpforensics.groups import cumcount, cummax, prev_cummax, run_starts
from tcpforensics.reconstruct import zeek_rules as zr


def gaps(m, cid, d, has_data, data_start, data_end, ack_value, ack_ok, post, post_prev):
    """Per packet: gap bytes reported at this ACK, and whether a scaled G/g letter is recorded.

    For each data direction, the holes are the stretches of sequence space that no data
    segment covers (segments sorted by sequence; the stream starts at relative 1), below the
    highest acknowledgement (capped at the FIN by the caller), including the stretch between
    the last data byte and that acknowledgement. A real receiver acknowledges only what it
    got, so such a hole is capture loss; Zeek's reassembler reports it (content_gap, G) at
    the first ACK that passes its start, when both endpoints are ESTABLISHED or cleanly
    closing (TCP_Reassembler::AckReceived / report_gap).
    """
    size = np.zeros(m, dtype=np.int64)
    letter = np.zeros(m, dtype=bool)
    est = (post == zr.ESTABLISHED) | ((post == zr.CLOSED) & (post_prev == zr.ESTABLISHED))
    both = est[:, 0] & est[:, 1]
    n = int(cid.max()) + 1 if m else 0
    for x in (0, 1):
        a = np.flatnonzero((d != x) & ack_ok)  # the peer's ACKs, in time order per connection
        if not len(a):
            continue
        ac, av = cid[a], ack_value[a]
        seg = np.flatnonzero((d == x) & has_data & (data_end > data_start))
        hc, h0, h1 = _holes(n, ac, av, cid[seg], data_start[seg], data_end[seg])
        if not len(hc):
            continue
        pkt, found = _reporting_acks(n, a, ac, av, hc, h0)
        ok = found & both[pkt]
        _record(size, letter, pkt[ok], (h1 - h0)[ok], hc[ok])
    return size, letter


def _holes(n: int, ac: np.ndarray, av: np.ndarray, sc: np.ndarray, s0: np.ndarray,
           e0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The holes of one data direction as (connection, start, end): between data segments
    (connection ``sc``, sequence ``s0``..``e0``) and after the last one, below the highest of
    the peer's acknowledgements (connection ``ac``, value ``av``)."""
    max_ack = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(max_ack, ac, av)
    if not _grouped_sorted(sc, s0):  # usually in order already (segments sent in order)
        o = np.lexsort((s0, sc))
        sc, s0, e0 = sc[o], s0[o], e0[o]
    prev_end = prev_cummax(e0, sc, 1) if len(sc) else e0
    inner = s0 > prev_end
    max_end = np.ones(n, dtype=np.int64)
    np.maximum.at(max_end, sc, e0)
    tail = np.flatnonzero(max_ack > max_end)
    hc = np.r_[sc[inner], tail]
    h0 = np.r_[prev_end[inner], max_end[tail]]
    h1 = np.minimum(np.r_[s0[inner], max_ack[tail]], max_ack[hc])
    keep = h1 > h0
    return hc[keep], h0[keep], h1[keep]


def _reporting_acks(n: int, a: np.ndarray, ac: np.ndarray, av: np.ndarray, hc: np.ndarray,
                    h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per hole (connection ``hc``, start ``h0``): the packet of the first ACK of its
    connection whose running maximum passes the hole's start, and whether there is one."""
    # only the ACKs of connections with a hole matter from here on
    with_hole = np.zeros(n, dtype=bool)
    with_hole[hc] = True
    pick = with_hole[ac]
    a, ac, av = a[pick], ac[pick], av[pick]
    run = cummax(av, ac)  # highest acknowledgement so far, per connection
    # first ACK of the connection whose running maximum passes the hole's start
    lo = np.searchsorted(ac, hc, side="left")
    hi = np.searchsorted(ac, hc, side="right")
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        below = active & (run[np.minimum(mid, len(run) - 1)] <= h0)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    found = lo < np.searchsorted(ac, hc, side="right")
    return a[np.minimum(lo, len(a) - 1)], found


def _record(size: np.ndarray, letter: np.ndarray, pkt: np.ndarray, sz: np.ndarray, hcc: np.ndarray) -> None:
    """Add the reported holes' bytes (``sz``) to ``size`` at their packets, and mark the
    packets whose report is the 1st, 10th, 100th... of its connection (``hcc``) in ``letter``."""
    order = np.argsort(pkt, kind="stable")
    ps = pkt[order]
    first = run_starts(ps)
    size[ps[first]] += np.add.reduceat(sz[order], first)  # one direction: packets distinct from the other's
    k = cumcount(hcc[order]) + 1
    lg = np.log10(k)
    mark = np.isclose(lg, np.round(lg))
    letter[pkt[order][mark]] = True


def _grouped_sorted(g: np.ndarray, v: np.ndarray) -> bool:
    """True when (g, v) pairs are already in ascending lexicographic order."""
    if len(g) < 2:
        return True
    dg = g[1:] - g[:-1]
    return bool((dg >= 0).all() and ((dg > 0) | (v[1:] >= v[:-1])).all())
