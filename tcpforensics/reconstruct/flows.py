"""Flow reconstruction from packet events: Zeek-exact conn_state and history, RFC 9293 endpoint states.

Pipeline (all column-wise; see docs/flows.md):
  prepare      sort packets by canonical 4-tuple, time, frame (packets.py)
  (each pass analyzes blocks of about BLOCK_PACKETS packets of whole connections)
  split        one 4-tuple -> connections: inactivity gaps first, then passes that each find the
               earliest reuse SYN / expired timer per pending connection until none is left
  orient       originator = first packet's sender, flipped by Zeek's likely-server-port and
               SYN-ACK-first rules
  machine      Zeek's endpoint states over the few state-changing packets (machine.py)
  history      letters per packet, scaled letters, joined per connection (history.py)
  summarize    counts, sizes from sequence numbers, conn_state (zeek_rules.py), RFC 9293
               endpoint state sequences and the close category (endpoint_states.py)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tcpforensics.groups import (
    first_where,
    last_where,
    prev_cummax,
    ranges,
    sdelta32,
)
from tcpforensics.reconstruct import endpoint_states, gaps, history, machine, splitting
from tcpforensics.reconstruct import zeek_rules as zr
from tcpforensics.reconstruct.packets import ACK, FIN, RST, SYN, Packets, prepare
from tcpforensics.reconstruct.partition import address_hashes, mix64, tuple_hashes
from tcpforensics.schema import conform_flows

#: Zeek's likely_server_ports with its default scripts loaded (reference: zeek-conn-semantics.md §4).
DEFAULT_SERVER_PORTS: frozenset[int] = frozenset(
    [21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585, 587,
     614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222,
     5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000]
)

NS = 1_000_000_000


@dataclass(frozen=True)
class FlowConfig:
    """Timers (seconds), port lists and checksum handling; defaults are Zeek's (init-bare.zeek)."""

    likely_server_ports: frozenset[int] = DEFAULT_SERVER_PORTS
    ignore_checksums: bool = False                 # zeek -C
    ignore_checksums_nets: tuple[str, ...] = ()    # ignore_checksums_nets (CIDR strings)
    attempt_delay: float = 5.0                     # tcp_attempt_delay
    close_delay: float = 5.0                       # tcp_close_delay
    connection_linger: float = 5.0                 # tcp_connection_linger
    syn_timeout: float = 5.0                       # tcp_SYN_timeout (first ExpireTimer)
    session_timer: float = 6.0                     # tcp_session_timer (ExpireTimer period)
    inactivity_timeout: float = 300.0              # tcp_inactivity_timeout
    long_inactivity_timeout: float = 3600.0        # conn/inactivity.zeek port_inactivity_timeouts
    long_inactivity_ports: frozenset[int] = field(default_factory=lambda: frozenset({21, 22, 23, 513}))
    time_wait: float = 60.0                        # TIME_WAIT lifetime for orig/resp_final
    control_packets_per_direction: int = 4         # first packets per direction fed to the machine
    split_simultaneous_open: bool = False          # Zeek treats the peer's SYN as a new connection

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> FlowConfig:
        """Build from a plain mapping (config file / CLI), ignoring unknown keys."""
        if not values:
            return cls()
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for k in ("likely_server_ports", "long_inactivity_ports"):
            if k in known:
                known[k] = frozenset(int(p) for p in known[k])
        if "ignore_checksums_nets" in known:
            known["ignore_checksums_nets"] = tuple(known["ignore_checksums_nets"])
        return cls(**known)


def flows(events: pd.DataFrame, config: FlowConfig | dict | None = None,
          capture_end: Mapping[object, Any] | None = None) -> pd.DataFrame:
    """One row per TCP connection of the packet events (see schema.FLOW_COLUMNS).

    ``capture_end`` maps an input name (None: rows without one) to the time its capture
    ends (anything ``pd.Timestamp`` takes), where ``orig_final``/``resp_final`` are read; by
    default, and for inputs it leaves out, the input's last packet among ``events``. Give it
    when ``events`` are part of a capture (a partition: ``Partitioner.capture_end()``).
    """
    cfg = config if isinstance(config, FlowConfig) else FlowConfig.from_mapping(config)
    P = prepare(events, cfg.ignore_checksums, cfg.ignore_checksums_nets)
    if len(P) == 0:
        return conform_flows(pd.DataFrame())
    table, _, _ = _reconstruct(P, cfg, capture_end)
    return _in_start_order(conform_flows(table))


def merge_flows(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Flow tables of the partitions of one event table as ``flows`` gives it for the whole.

    Each part is ``flows(partition, config, capture_end=...)`` of partitions that keep every
    4-tuple whole (``reconstruct.partition``); categories are united, rows put in start order.
    """
    tables = [t for t in parts if len(t)]
    if not tables:
        return conform_flows(pd.DataFrame())
    return _in_start_order(_concat_united(tables))


def _concat_united(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` keeping categorical columns categorical (categories united, sorted as
    ``astype("category")`` sorts them)."""
    if len(tables) == 1:
        return tables[0]
    for c in tables[0].columns:
        dtypes = [t[c].dtype for t in tables]
        if isinstance(dtypes[0], pd.CategoricalDtype) and any(d != dtypes[0] for d in dtypes):
            cats = dtypes[0].categories
            for d in dtypes[1:]:
                cats = cats.union(d.categories)
            tables = [t.assign(**{c: t[c].cat.set_categories(cats)}) for t in tables]
    return pd.concat(tables, ignore_index=True)


def flows_stream(chunks: Iterable[pd.DataFrame], config: FlowConfig | dict | None = None,
                 capture_end: Mapping[object, Any] | None = None) -> Iterator[pd.DataFrame]:
    """Flows of a capture read in chunks (consecutive event tables), yielded as they finish.

    After each chunk, connections that can no longer change (a later connection exists on the
    same 4-tuple, or the tuple has been quiet for longer than every timeout at the chunk's
    last packet time) are summarized and yielded; the packets of the others are carried into
    the next chunk. For a capture in time order (as written by a capture tool) the union of
    the yielded tables equals ``flows`` of the whole capture; merged captures whose time
    goes backwards need ``flows`` (or their packets sorted by time first). ``capture_end`` as
    for :func:`flows` (the end of each input, which the chunks read so far may not have reached).
    """
    cfg = config if isinstance(config, FlowConfig) else FlowConfig.from_mapping(config)
    carry: pd.DataFrame | None = None
    for chunk in chunks:
        chunk_ts = chunk["ts"] if "ts" in chunk.columns else None
        events = chunk if carry is None else pd.concat([carry, chunk], ignore_index=True)
        del chunk, carry  # (only ``events`` is needed from here on: less memory held)
        P = prepare(events, cfg.ignore_checksums, cfg.ignore_checksums_nets)
        if len(P) == 0:
            carry = None
            continue
        table, s, e = _reconstruct(P, cfg, capture_end)
        next_same = np.r_[P.key[s[1:]] == P.key[s[:-1]], False]
        now = _last_time(chunk_ts, P)
        quiet = now - P.ts[e - 1] > max(cfg.long_inactivity_timeout, cfg.inactivity_timeout) * NS
        done = next_same | quiet
        if done.any():
            yield conform_flows(table[done])
        idx, _ = ranges(s[~done], e[~done])
        carry = events.iloc[np.sort(P.row[idx])] if len(idx) else None
        del events, P, table, chunk_ts  # before the next chunk is read
    if carry is not None:
        yield flows(carry, cfg, capture_end)


# --- splitting a 4-tuple into connections -------------------------------------------------


def _reconstruct(P: Packets, cfg: FlowConfig,
                 capture_end: Mapping[object, Any] | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Connections of P as Zeek's session manager would cut them, summarized; (table, starts, ends).

    A 4-tuple is first cut at inactivity gaps; then each pass analyzes the pending
    connections, keeps those with no later cut (reuse SYN, expired timer), and re-queues the
    two parts of the others, until none is left (as many passes as reuses in a row on one
    tuple: two or three in practice).
    """
    n = len(P)
    gap = np.r_[0, np.diff(P.ts)]
    long_port = _port_in(P.sport, cfg.long_inactivity_ports) | _port_in(P.dport, cfg.long_inactivity_ports)
    timeout = np.where(long_port, cfg.long_inactivity_timeout, cfg.inactivity_timeout) * NS
    new = np.r_[True, P.key[1:] != P.key[:-1]] | (gap > timeout)
    # reuses that need no state: a bare SYN right after a RST on the tuple (the connection
    # is closed), or a bare SYN with another ISN than the tuple's previous bare SYN, sent by
    # the same side (that SYN's connection has this side as originator with that ISN).
    # Cutting them up front keeps SYN floods on one 4-tuple from needing one pass per SYN.
    bare = ((P.flags & SYN) != 0) & ((P.flags & (ACK | RST | FIN)) == 0)
    same = np.r_[False, P.key[1:] == P.key[:-1]]
    prev_rst = np.r_[False, ((P.flags[:-1] & RST) != 0) & P.valid[:-1]]
    new |= same & bare & prev_rst
    b = np.flatnonzero(bare)
    if len(b) > 1:
        k, dr, sq = P.key[b], P.dirb[b], P.seq[b]
        again = (k[1:] == k[:-1]) & (dr[1:] == dr[:-1]) & (sq[1:] != sq[:-1])
        new[b[1:][again]] = True
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], n]
    tables, done_s, done_e = [], [], []
    cap_end = _capture_end(P, capture_end)
    while len(starts):
        table, cut = _analyze_blocks(P, starts, ends, cfg, cap_end)
        whole = cut < 0
        tables.append(table[whole])
        done_s.append(starts[whole])
        done_e.append(ends[whole])
        starts, ends = np.r_[starts[~whole], cut[~whole]], np.r_[cut[~whole], ends[~whole]]
    s = np.concatenate(done_s)
    e = np.concatenate(done_e)
    o = np.argsort(s, kind="stable")
    table = pd.concat(tables, ignore_index=True).iloc[o].reset_index(drop=True)
    s, e = s[o], e[o]
    # a later connection on the same 4-tuple recycled a TIME_WAIT socket: it is gone
    reused = np.r_[P.key[s[1:]] == P.key[s[:-1]], False]
    for k in ("orig_final", "resp_final"):
        table[k] = np.where(reused & (table[k].to_numpy(object) == "TIME_WAIT"), "CLOSED", table[k].to_numpy(object))
    return table, s, e


def split(P: Packets, cfg: FlowConfig) -> tuple[np.ndarray, np.ndarray]:
    """Connection boundaries [start, end) in P's order."""
    _, s, e = _reconstruct(P, cfg)
    return s, e


# --- per-pass analysis ------------------------------------------------------------------------

#: packets per block of connections analyzed together (connections are independent; blocks of
#: this size keep the per-packet temporaries small enough to stay in cache and be reused)
BLOCK_PACKETS = 1 << 18


def _analyze_blocks(P: Packets, s: np.ndarray, e: np.ndarray, cfg: FlowConfig,
                    cap_end: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``_analyze`` over consecutive blocks of whole connections of about BLOCK_PACKETS packets."""
    lengths = e - s
    block = (np.cumsum(lengths) - lengths) // BLOCK_PACKETS
    bounds = np.r_[0, np.flatnonzero(block[1:] != block[:-1]) + 1, len(s)]
    tables, cuts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # a loop over blocks, not packets
        table, cut = _analyze(P, s[lo:hi], e[lo:hi], cfg, final=True, end_of_capture=cap_end[s[lo:hi]])
        tables.append(table)
        cuts.append(cut)
    if len(tables) == 1:
        return tables[0], cuts[0]
    return pd.concat(tables, ignore_index=True), np.concatenate(cuts)



def _analyze(P: Packets, s: np.ndarray, e: np.ndarray, cfg: FlowConfig, final: bool,
             end_of_capture: int | None = None):
    C = splitting.gather(s, e)
    n, cid, ix = C.n, C.cid, C.idx
    m = len(ix)
    pos = np.arange(m)
    # consecutive connections (the first pass): P's columns are sliced, not gathered (read only)
    span = slice(int(s[0]), int(e[-1])) if len(s) and bool((s[1:] == e[:-1]).all()) else None

    def take(col):
        return col[ix] if span is None else col[span]

    d = take(P.dirb)  # int8 0/1 (read only)
    fl = take(P.flags)
    syn, fin, rst, ackf = (fl & SYN) != 0, (fl & FIN) != 0, (fl & RST) != 0, (fl & ACK) != 0
    valid = take(P.valid)
    ts = take(P.ts)
    plen = take(P.plen)
    seq = take(P.seq)
    ack = take(P.ack)
    win = take(P.window)

    # -- originator at creation (TCPAnalyzer::WantConnection) --
    f_fl = P.flags[s]
    bare_syn = ((f_fl & SYN) != 0) & ((f_fl & ACK) == 0)
    sp, dp = P.sport[s], P.dport[s]
    ports = np.fromiter(cfg.likely_server_ports, dtype=np.int64) if cfg.likely_server_ports else np.zeros(0, np.int64)
    ls, ld = np.isin(sp, ports), np.isin(dp, ports)
    flip0 = ~bare_syn & ls & (~ld | (((f_fl & SYN) == 0) & (sp < dp)))
    cod = P.dirb[s].astype(np.int64) ^ flip0

    # -- state-free letters, and the SYN-ACK-first flip (history exactly "H", then A or D) --
    ml = history.main_letters(cid, d, valid, syn, fin, rst, ackf, plen, seq)
    lettered = ~valid | (ml != 0) | ((win == 0) & ~rst)
    p1 = first_where(lettered, cid, n)
    later = lettered & (pos > C.rep(np.where(p1 >= 0, p1, m)))
    p2 = first_where(later, cid, n)
    ok1 = p1 >= 0
    p1c = np.where(ok1, p1, 0)
    p2c = np.where(p2 >= 0, p2, 0)
    hflip = (ok1 & valid[p1c] & (ml[p1c] == ord("H")) & (d[p1c] == cod) & ~flip0 & (win[p1c] != 0)
             & (p2 >= 0) & valid[p2c] & np.isin(ml[p2c], [ord("A"), ord("D")]))
    od = cod ^ hflip  # final originator direction
    after_flip = C.rep(hflip) & (pos > C.rep(p2c))
    io_machine = (d == C.rep(cod)) ^ after_flip
    is_orig = d == C.rep(od)

    # -- control events for the state machine --
    cd = cid.astype(np.int64) * 2 + d

    def dfirst(mask):
        """Per (connection, direction): position of the first packet where mask holds (-1 if none)."""
        out = np.full(2 * n, -1, dtype=np.int64)
        sel = np.flatnonzero(mask)
        ds = d[sel]
        for x in (0, 1):
            sx = sel[ds == x]
            if len(sx):
                c = cid[sx]
                keep = sx[np.r_[True, c[1:] != c[:-1]]]  # packets are grouped by connection
                out[cid[keep].astype(np.int64) * 2 + x] = keep
        return out

    # the first few valid packets of each direction (rank by a running count per direction)
    early = np.zeros(m, dtype=bool)
    for x in (0, 1):
        mx = valid & (d == x)
        cx = np.cumsum(mx.astype(np.int64))  # (a bool cumsum is several times slower)
        if m:
            cx -= C.rep(cx[C.first] - mx[C.first]) + 1
        early |= mx & (cx < cfg.control_packets_per_direction)
        del mx, cx
    ctrl = valid & ((syn | fin | rst) | early)
    del early
    cpos = np.flatnonzero(ctrl)
    cls_ = (fl[cpos] & (SYN | FIN | RST | ACK)) * 4 + (plen[cpos] > 0) * 2 + io_machine[cpos]
    if len(cpos):
        same = np.r_[False, (cid[cpos][1:] == cid[cpos][:-1]) & (d[cpos][1:] == d[cpos][:-1]) & (cls_[1:] == cls_[:-1])]
        cpos = cpos[~same]
    ctrl = np.zeros(m, dtype=bool)
    ctrl[cpos] = True
    tr = machine.run(cid[cpos], d[cpos], io_machine[cpos], syn[cpos], fin[cpos], rst[cpos], ackf[cpos], plen[cpos], n)

    # state of both endpoints before / after every packet (from the last control event of
    # the same connection; events are in packet order, so it is one when the connection's
    # count of earlier events is passed)
    cnt = np.cumsum(ctrl.astype(np.int64))
    before = C.rep(cnt[C.first] - ctrl[C.first]) if m else cnt
    k_ev = len(cpos)
    cnt -= 1  # the last event at or before the packet
    at_incl = np.where(cnt >= before, cnt, k_ev)
    cnt -= ctrl  # the last event before it
    at_excl = np.where(cnt >= before, cnt, k_ev)

    def _at(at, arr, fill):
        """``arr`` (one row of two endpoints per event) at event ``at`` (``fill`` past the end)."""
        ext = np.empty((k_ev + 1, 2), dtype=arr.dtype)
        ext[:k_ev] = arr
        ext[k_ev] = fill
        # both endpoints of a row move together as one 16-bit item
        return ext.view(np.int16).reshape(-1)[at].view(arr.dtype).reshape(-1, 2)

    post = _at(at_incl, tr.post, 0)
    pre = _at(at_excl, tr.post, 0)
    post_prev = _at(at_incl, tr.prev, 0)
    pre_dc = _at(at_excl, tr.did_close, False)
    post_dc = _at(at_incl, tr.did_close, False)
    del cnt, before, at_incl, at_excl
    rows = pos

    valid_first = dfirst(valid)
    cut = splitting.cut_points(P, C, cfg, tr, cpos, ts, d, syn, ackf, rst, valid, seq, fl, od, hflip, p2c, pos, pre, pre_dc, post, post_dc, rows, valid_first)
    if not final:
        return cut

    # -- history --
    sender_pre = pre[rows, d]
    peer_pre = pre[rows, 1 - d]
    # sequence space per direction (relative to the ISN, unwrapped with 32-bit deltas)
    # the ISN: a direction's first SYN (it re-initializes the sequence space, init_endpoint),
    # else its first packet's seq - 1 (partial); packets before it do not count
    first_syn = dfirst(valid & syn & ~rst)
    isn_first = np.where(first_syn >= 0, first_syn, valid_first)
    has = isn_first >= 0
    fpos = np.where(has, isn_first, 0)
    isn = np.where(syn[fpos], seq[fpos], seq[fpos] - 1) & 0xFFFFFFFF
    counted = valid & (pos >= np.where(isn_first >= 0, isn_first, m)[cd])
    # the counted packets by (connection, direction), in time order within each
    so = np.flatnonzero(counted)
    so = so[np.argsort(cd[so], kind="stable")]
    g = cd[so]
    stp = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    sq = seq[so]
    dl = sdelta32(sq, np.r_[0, sq[:-1]] if len(so) else np.zeros(0, np.int64))
    dl[stp] = sdelta32(sq[stp], isn[g[stp]])
    del sq
    grp_start = np.maximum.accumulate(np.where(stp, np.arange(len(so)), 0)) if len(so) else np.zeros(0, np.int64)
    cs = np.cumsum(dl)
    rel_sorted = cs - (cs - dl)[grp_start]  # running sum since the group's start
    rel = np.zeros(m, dtype=np.int64)
    rel[so] = rel_sorted
    del dl, grp_start, cs, rel_sorted, stp
    end_seq = rel + (plen + syn + fin - np.where(rst, plen, 0))
    prior_max = np.full(m, np.iinfo(np.int64).min, dtype=np.int64)
    prior_max[so] = prev_cummax(end_seq[so], g, np.iinfo(np.int64).min)
    del so, g
    retx = counted & (plen > 0) & (end_seq <= prior_max) & (prior_max > np.iinfo(np.int64).min) & (sender_pre != zr.RESET)
    del prior_max
    zero_win = valid & (win == 0) & ~rst & (peer_pre != zr.CLOSED) & (sender_pre != zr.RESET)

    # acks relative to the peer's ISN; content gaps (TCP_Reassembler: acked bytes never seen)
    peer_cd = cid.astype(np.int64) * 2 + (1 - d)
    rel_ack = sdelta32(ack, isn[peer_cd])
    peer_first = isn_first[peer_cd]
    ack_ok = valid & ackf & ~rst & (peer_first >= 0) & (pos > peer_first)
    del peer_first
    # the reassembler sees data only: a FIN fills no hole, and an ACK of the FIN reaches it only
    fin_first = dfirst(valid & fin & ~rst)
    ff = np.maximum(fin_first, 0)
    fin_rel = np.where(fin_first >= 0, rel[ff] + syn[ff] + plen[ff], np.iinfo(np.int64).max)
    capped = np.where(pos > np.where(fin_first >= 0, fin_first, m)[peer_cd], np.minimum(rel_ack, fin_rel[peer_cd]), rel_ack)
    data_end = rel + syn + np.where(rst, 0, plen)
    gap_sz, gap_letter_mask = gaps.gaps(m, cid, d, counted & ~rst, rel + syn, data_end, capped, ack_ok, post, post_prev)
    del capped, data_end, rel
    missed = np.bincount(cid, weights=gap_sz, minlength=n).astype(np.int64)

    letters = [ml, np.where(history.scaled(zero_win, cid, d), ord("W"), 0),
               np.where(history.scaled(retx, cid, d), ord("T"), 0),
               np.where(history.scaled(~valid, cid, d), ord("C"), 0)]
    gd = 1 - d  # a gap belongs to the data sender, the peer of the acking packet
    gl = np.where(history.scaled(gap_letter_mask, cid, gd), ord("G"), 0)
    parts = []
    for sub, codes, orig_side in zip((0, 1, 2, 0, 3), letters + [gl], [is_orig] * 4 + [gd == C.rep(od)], strict=True):
        k = np.flatnonzero(codes)
        parts.append((cid[k], pos[k], np.full(len(k), sub), codes[k].astype(np.uint8), orig_side[k]))
    hist = history.assemble(n, *(np.concatenate(col) for col in zip(*parts, strict=True)), flip0 | hflip)

    # -- sizes (TCP_Endpoint::Size) --
    last_seq = np.full(2 * n, 0, dtype=np.int64)
    trust = counted & (sender_pre != zr.RESET)
    np.maximum.at(last_seq, cd[trust], end_seq[trust])
    ack_max = np.zeros(2 * n, dtype=np.int64)
    np.maximum.at(ack_max, peer_cd[ack_ok], rel_ack[ack_ok])
    size = np.maximum(np.maximum(last_seq, ack_max), 0)
    fin_cnt = np.bincount(cd[valid & fin], minlength=2 * n)
    size = size - (size != 0)
    size = size - ((fin_cnt > 0) & (size != 0))
    fs = tr.final.reshape(-1)
    size = np.where(fs == zr.INACTIVE, 0, size).reshape(n, 2)

    # -- per-connection summary --
    o = od.astype(np.int64)
    r = 1 - o
    ar = np.arange(n)
    os_, rs = tr.final[ar, o], tr.final[ar, r]
    osz, rsz = size[ar, o], size[ar, r]
    cstate = zr.conn_state(os_, rs, osz, rsz, hist)
    pk = np.bincount(cd[valid], minlength=2 * n).reshape(n, 2)
    j0 = s
    first_is_orig = P.dirb[j0] == od
    o_addr = np.where(first_is_orig, P.saddr[j0], P.daddr[j0])
    r_addr = np.where(first_is_orig, P.daddr[j0], P.saddr[j0])
    o_port = np.where(first_is_orig, P.sport[j0], P.dport[j0])
    r_port = np.where(first_is_orig, P.dport[j0], P.sport[j0])
    both_closed_before = pre_dc[:, 0] & pre_dc[:, 1]
    lt = last_where(valid & ~both_closed_before, cid, n, ts, fill=-1)
    start = P.ts[j0]
    end = np.where(lt >= 0, np.maximum(lt, start), start)
    states = endpoint_states.infer(
        n, cid, pos, ts, d, od, valid, syn, fin, rst, ackf, seq, ack, plen, end_of_capture=_capture_end(P)[j0] if end_of_capture is None else end_of_capture,
        time_wait_ns=int(cfg.time_wait * NS),
    )
    close = endpoint_states.close_category(cstate, hist, states)
    out = pd.DataFrame(
        {
            "uid": _uids(P, j0),
            "orig_addr": P.addrs[o_addr],
            "orig_port": o_port,
            "resp_addr": P.addrs[r_addr],
            "resp_port": r_port,
            "start": start.view("datetime64[ns]"),
            "end": end.view("datetime64[ns]"),
            "duration": (end - start) / NS,
            "orig_pkts": pk[ar, o],
            "resp_pkts": pk[ar, r],
            "orig_bytes": osz,
            "resp_bytes": rsz,
            "conn_state": cstate,
            "history": hist,
            "missed_bytes": missed,
            "orig_states": states["orig_states"],
            "resp_states": states["resp_states"],
            "orig_final": states["orig_final"],
            "resp_final": states["resp_final"],
            "close": close,
            "zeek_orig_state": np.asarray(zr.ENDPOINT_STATE_NAMES, dtype=object)[os_],
            "zeek_resp_state": np.asarray(zr.ENDPOINT_STATE_NAMES, dtype=object)[rs],
            "first_frame": P.frame[j0],
            "last_frame": P.frame[e - 1],
            "input": P.inputs[j0],
        }
    )
    return out, cut


def _port_in(ports: np.ndarray, members: frozenset[int]) -> np.ndarray:
    """``np.isin(ports, members)``, by a 64 Ki lookup table when every value is a port number."""
    if len(ports) and 0 <= ports.min() and ports.max() < 65536 and all(0 <= p < 65536 for p in members):
        table = np.zeros(65536, dtype=bool)
        table[list(members)] = True
        return table[ports]
    return np.isin(ports, list(members))


def _last_time(chunk_ts: pd.Series | None, P: Packets) -> int:
    """Reading position in time: the chunk's last packet time (captures come in time order)."""
    ts = chunk_ts.dropna() if chunk_ts is not None else pd.Series(dtype="datetime64[ns]")
    return int(ts.iloc[-1].value) if len(ts) else int(P.ts.max())


def _capture_end(P: Packets, given: Mapping[object, Any] | None = None) -> np.ndarray:
    """Per packet: the time of the last packet of the same input (capture end for *_final),
    or the later time ``given`` for that input."""
    codes = np.asarray(P.inputs.codes, dtype=np.int64) + 1  # NA input -> 0
    names = [None, *P.inputs.categories.tolist()]
    last = np.full(len(names), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, codes, P.ts)
    for i, name in enumerate(names if given else []):  # one step per input name
        if name in given:
            last[i] = max(last[i], pd.Timestamp(given[name]).value)
    return last[codes]


def _uids(P: Packets, first: np.ndarray) -> np.ndarray:
    """Zeek-like connection ids, 'C' + 11 base-62 characters of a hash of the connection's
    canonical 4-tuple (address texts, ports) and start ns: the same in every run and process,
    whichever other packets are analysed with it."""
    addr = address_hashes(P.addrs)  # (each distinct address once)
    t = tuple_hashes(addr[P.saddr[first]], P.sport[first], addr[P.daddr[first]], P.dport[first])
    h = mix64(t ^ mix64(P.ts[first].view(np.uint64)))
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    digits = []
    x = h.copy()
    for _ in range(11):  # 62**11 > 2**64
        digits.append(alphabet[(x % np.uint64(62)).astype(np.int64)])
        x //= np.uint64(62)
    chars = np.stack(digits[::-1], axis=1)
    return np.char.add("C", chars.view(f"<U{chars.shape[1]}").ravel()).astype(object)


__all__ = ["DEFAULT_SERVER_PORTS", "FlowConfig", "flows", "flows_stream", "merge_flows", "split"]


def _in_start_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by start time, then first frame, then uid (ties of start and frame: packets of
    several inputs), as a reader expects them; the same order however the rows were split."""
    if table.empty:
        return table
    start = table["start"].to_numpy("datetime64[ns]").view(np.int64)
    frame = table["first_frame"].to_numpy(dtype=np.int64, na_value=-1)
    order = np.lexsort((frame, start))
    s, f = start[order], frame[order]
    if ((s[1:] == s[:-1]) & (f[1:] == f[:-1])).any():
        uid = pd.factorize(table["uid"].to_numpy(dtype=object), sort=True)[0]
        order = np.lexsort((uid, frame, start))
    return table.take(order).reset_index(drop=True)
