"""The per-packet columns of a block of whole connections: what every step of flow analysis reads.

``flows._analyze`` cuts a 4-tuple's packets into candidate connections, gathers them here
(:func:`gather`: one :class:`Block`, the connections laid end to end, each in time order) and
hands the block to the steps in turn: ``flow_orient`` (who is the originator),
``flow_control`` (Zeek's endpoint state machine over the state-changing packets),
``splitting`` (where Zeek would start a new connection), ``flow_sequence`` (sequence space,
content gaps, sizes) and ``flow_summary`` (history strings and the flow table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.groups import ranges
from tcpforensics.reconstruct.packets import ACK, FIN, RST, SYN, SortedPackets


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


def conns(s: np.ndarray, e: np.ndarray) -> Conns:
    """The connections whose packets are ``[s[i], e[i])`` of the sorted packets."""
    idx, cid = ranges(s, e)
    lengths = e - s
    first = np.cumsum(lengths) - lengths
    return Conns(len(s), idx, cid, first, first + lengths, lengths)


@dataclass
class Block:
    """The packets of ``n`` connections, one row per packet (``m`` rows), connections end to end.

    Directions are physical (``direction`` 0 or 1 within the 4-tuple, as ``SortedPackets.dirb``);
    the per-(connection, direction) arrays (``first_valid`` and those of the steps) have
    ``2 * n`` entries, indexed by ``conn * 2 + direction`` (``cd``). Read-only: the columns may
    be slices of the ``SortedPackets`` columns.
    """

    conns: Conns
    n: int                 # connections
    m: int                 # packets
    cid: np.ndarray        # connection of each packet (0 .. n-1, ascending)
    pos: np.ndarray        # 0 .. m-1
    direction: np.ndarray  # int8 0/1
    flags: np.ndarray
    syn: np.ndarray        # bool flag columns
    fin: np.ndarray
    rst: np.ndarray
    ackf: np.ndarray
    valid: np.ndarray      # checksum accepted
    ts: np.ndarray         # int64 ns
    plen: np.ndarray       # payload bytes
    seq: np.ndarray        # uint32 values (int64)
    ack: np.ndarray
    window: np.ndarray
    cd: np.ndarray         # (connection, direction) of each packet: cid * 2 + direction
    first_valid: np.ndarray  # per (connection, direction): first valid packet (-1 if none)

    def first_in_direction(self, mask: np.ndarray) -> np.ndarray:
        """Per (connection, direction): position of the first packet where ``mask`` holds (-1 if none)."""
        out = np.full(2 * self.n, -1, dtype=np.int64)
        sel = np.flatnonzero(mask)
        ds = self.direction[sel]
        for x in (0, 1):
            sx = sel[ds == x]
            if len(sx):
                c = self.cid[sx]
                keep = sx[np.r_[True, c[1:] != c[:-1]]]  # packets are grouped by connection
                out[self.cid[keep].astype(np.int64) * 2 + x] = keep
        return out


def gather(P: SortedPackets, s: np.ndarray, e: np.ndarray) -> Block:
    """The block of the connections ``[s[i], e[i])`` of ``P``.

    Consecutive connections (the first pass over a partition) are sliced out of ``P``'s
    columns, not gathered, so the block's columns are views.
    """
    C = conns(s, e)
    m = len(C.idx)
    span = slice(int(s[0]), int(e[-1])) if len(s) and bool((s[1:] == e[:-1]).all()) else None

    def take(col: np.ndarray) -> np.ndarray:
        return col[C.idx] if span is None else col[span]

    direction = take(P.dirb)
    fl = take(P.flags)
    b = Block(
        conns=C, n=C.n, m=m, cid=C.cid, pos=np.arange(m), direction=direction, flags=fl,
        syn=(fl & SYN) != 0, fin=(fl & FIN) != 0, rst=(fl & RST) != 0, ackf=(fl & ACK) != 0,
        valid=take(P.valid), ts=take(P.ts), plen=take(P.plen), seq=take(P.seq), ack=take(P.ack),
        window=take(P.window), cd=C.cid.astype(np.int64) * 2 + direction,
        first_valid=np.zeros(0, dtype=np.int64),
    )
    b.first_valid = b.first_in_direction(b.valid)
    return b
