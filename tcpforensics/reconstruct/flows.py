"""Flow reconstruction from packet events: Zeek-exact conn_state and history, RFC 9293 endpoint states.

Pipeline (all column-wise; see docs/flows.md):
  prepare      sort packets by canonical 4-tuple, time, frame (packets.py)
  split        one 4-tuple -> connections (``_reconstruct``): inactivity gaps first, then passes
               that each find the earliest reuse SYN / expired timer per pending connection
               until none is left; each pass analyzes blocks of about BLOCK_PACKETS packets of
               whole connections (``_analyze``), step by step over one ``flow_block.Block``:
  orient       originator = first packet's sender, flipped by Zeek's likely-server-port and
               SYN-ACK-first rules (flow_orient.py)
  control      Zeek's endpoint states over the few state-changing packets (flow_control.py,
               machine.py); where a new connection starts (splitting.py)
  sequence     relative sequence numbers, retransmissions, zero windows, content gaps, sizes
               (flow_sequence.py)
  summarize    history strings (history.py), counts, conn_state (zeek_rules.py), RFC 9293
               endpoint state sequences and the close category (endpoint_states.py), one row
               per connection (flow_summary.py)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tcpforensics import heap
from tcpforensics.groups import ranges
from tcpforensics.reconstruct import flow_block, flow_control, flow_orient, flow_sequence, splitting
from tcpforensics.reconstruct.flow_summary import flow_table, history_strings
from tcpforensics.reconstruct.packets import ACK, FIN, RST, SYN, SortedPackets, prepare
from tcpforensics.reconstruct.partition_hashes import address_hashes, mix64, tuple_hashes
from tcpforensics.reconstruct.parts import Parts, frame
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
    return _in_start_order(_conformed(table))


#: The address columns of a flow table; merged, they share one set of categories (one code
#: per address whichever the column).
ADDRESS_COLUMNS = ("orig_addr", "resp_addr")


def merge_flows(parts: Iterable[pd.DataFrame] | Parts) -> pd.DataFrame:
    """Flow tables of the partitions of one event table as ``flows`` gives it for the whole.

    Each part is ``flows(partition, config, capture_end=...)`` of partitions that keep every
    4-tuple whole (``reconstruct.partition``); categories are united (the two address columns
    over one set), rows put in start order.
    Spilled ``Parts`` are assembled a column at a time.
    """
    parts = parts if isinstance(parts, Parts) else Parts.of(list(parts))
    if not parts.rows:
        return conform_flows(pd.DataFrame())
    order = _start_order(parts.column("start"), parts.column("first_frame"), lambda: parts.column("uid"))
    heap.give_back()  # (the sort's working arrays go back before the columns are built; the same below)
    addresses = [c for c in ADDRESS_COLUMNS if isinstance(parts.dtypes.get(c), pd.CategoricalDtype)]
    shared = dict(zip(addresses, parts.categoricals(addresses) if len(addresses) > 1 else [], strict=False))
    heap.give_back()
    return frame({c: _taken(shared.pop(c) if c in shared else parts.column(c), order) for c in parts.columns})


def _taken(values: Any, order: np.ndarray) -> Any:
    return values[order] if isinstance(values, np.ndarray) else values.take(order)


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
            yield _conformed(table[done])
        idx, _ = ranges(s[~done], e[~done])
        carry = events.iloc[np.sort(P.row[idx])] if len(idx) else None
        del events, P, table, chunk_ts  # before the next chunk is read
    if carry is not None:
        yield flows(carry, cfg, capture_end)


# --- splitting a 4-tuple into connections -------------------------------------------------


def _reconstruct(P: SortedPackets, cfg: FlowConfig,
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


# --- per-pass analysis ------------------------------------------------------------------------

#: packets per block of connections analyzed together (connections are independent; blocks of
#: this size keep the per-packet temporaries small enough to stay in cache and be reused)
BLOCK_PACKETS = 1 << 18


def _analyze_blocks(P: SortedPackets, s: np.ndarray, e: np.ndarray, cfg: FlowConfig,
                    cap_end: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``_analyze`` over consecutive blocks of whole connections of about BLOCK_PACKETS packets."""
    lengths = e - s
    block = (np.cumsum(lengths) - lengths) // BLOCK_PACKETS
    bounds = np.r_[0, np.flatnonzero(block[1:] != block[:-1]) + 1, len(s)]
    tables, cuts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # a loop over blocks, not packets
        table, cut = _analyze(P, s[lo:hi], e[lo:hi], cfg, cap_end[s[lo:hi]])
        tables.append(table)
        cuts.append(cut)
    if len(tables) == 1:
        return tables[0], cuts[0]
    return pd.concat(tables, ignore_index=True), np.concatenate(cuts)


def _analyze(P: SortedPackets, s: np.ndarray, e: np.ndarray, cfg: FlowConfig,
             end_of_capture: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Summarize the candidate connections ``[s[i], e[i])`` of ``P``; (table, cut) where ``cut``
    is, per connection, the first packet Zeek would put in a new connection (-1: none).

    The steps, each over the block's per-packet columns (``flow_block.Block``): orient (the
    originator), control events (Zeek's endpoint machine and the states at every packet), the
    cut points, the sequence space (relative numbers, retransmissions, zero windows, content
    gaps, sizes), the history strings and the summary row. ``end_of_capture`` is the time
    (ns) of each connection's capture end, where TIME_WAIT is aged for ``*_final``.
    """
    b = flow_block.gather(P, s, e)
    o = flow_orient.orient(P, s, b, cfg.likely_server_ports)
    c = flow_control.control_events(b, o.machine_orig, cfg.control_packets_per_direction)
    cut = splitting.cut_points(b, o, c, cfg)
    sp = flow_sequence.sequence_space(b)
    missed, gap_letter = flow_sequence.content_gaps(b, c, sp)
    hist = history_strings(b, o, flow_sequence.zero_window(b, c), flow_sequence.retransmitted(b, c, sp), gap_letter)
    size = flow_sequence.sizes(b, c, sp)
    table = flow_table(P, s, e, b, o, c, hist, size, missed, end_of_capture, int(cfg.time_wait * NS), _uids(P, s))
    return table, cut


def _port_in(ports: np.ndarray, members: frozenset[int]) -> np.ndarray:
    """``np.isin(ports, members)``, by a 64 Ki lookup table when every value is a port number."""
    if len(ports) and 0 <= ports.min() and ports.max() < 65536 and all(0 <= p < 65536 for p in members):
        table = np.zeros(65536, dtype=bool)
        table[list(members)] = True
        return table[ports]
    return np.isin(ports, list(members))


def _last_time(chunk_ts: pd.Series | None, P: SortedPackets) -> int:
    """Reading position in time: the chunk's last packet time (captures come in time order)."""
    ts = chunk_ts.dropna() if chunk_ts is not None else pd.Series(dtype="datetime64[ns]")
    return int(ts.iloc[-1].value) if len(ts) else int(P.ts.max())


def _capture_end(P: SortedPackets, given: Mapping[object, Any] | None = None) -> np.ndarray:
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


def _uids(P: SortedPackets, first: np.ndarray) -> np.ndarray:
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


__all__ = ["DEFAULT_SERVER_PORTS", "FlowConfig", "flows", "flows_stream", "merge_flows"]


def _conformed(table: pd.DataFrame) -> pd.DataFrame:
    """The flow table with the schema's columns and dtypes, its two address columns over one
    set of categories (the sorted union of theirs, as ``merge_flows`` gives them)."""
    table = conform_flows(table)
    cats = [table[c].cat.categories for c in ADDRESS_COLUMNS]
    if cats[0].equals(cats[1]):
        return table
    union = cats[0].union(cats[1])
    return table.assign(**{c: table[c].cat.set_categories(union) for c in ADDRESS_COLUMNS})


def _in_start_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of :func:`_start_order`."""
    if table.empty:
        return table
    order = _start_order(table["start"].array, table["first_frame"].array, lambda: table["uid"].array)
    return table.take(order).reset_index(drop=True)


def _start_order(start: Any, first_frame: Any, uid: Callable[[], Any]) -> np.ndarray:
    """Rows by start time, then first frame, then uid (ties of start and frame: packets of
    several inputs), as a reader expects them; the same order however the rows were split."""
    start = np.asarray(start, dtype="datetime64[ns]").view(np.int64)
    frame = pd.array(first_frame).to_numpy(dtype=np.int64, na_value=-1)
    order = np.lexsort((frame, start))
    s, f = start[order], frame[order]
    if ((s[1:] == s[:-1]) & (f[1:] == f[:-1])).any():
        order = np.lexsort((pd.factorize(np.asarray(uid(), dtype=object), sort=True)[0], frame, start))
    return order
