"""Sequence space of a block's connections: relative sequence numbers and acknowledgements,
retransmissions and zero windows (history letters T, W), content gaps (G, ``missed_bytes``)
and each endpoint's size (``orig_bytes``/``resp_bytes``, Zeek's ``TCP_Endpoint::Size``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.groups import prev_cummax, sdelta32
from tcpforensics.reconstruct import gaps
from tcpforensics.reconstruct import zeek_rules as zr
from tcpforensics.reconstruct.flow_block import Block
from tcpforensics.reconstruct.flow_control import Control

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


@dataclass
class SequenceSpace:
    """Each direction's sequence numbers relative to its ISN, unwrapped with 32-bit deltas."""

    isn: np.ndarray        # (2n,) the ISN of each (connection, direction)
    isn_first: np.ndarray  # (2n,) the packet that set it (-1: none)
    counted: np.ndarray    # (m,) bool: valid and at or after its direction's ISN packet
    rel: np.ndarray        # (m,) int64: seq relative to the ISN (0 where not counted)
    end_seq: np.ndarray    # (m,) int64: relative end of the segment (SYN and FIN count one)
    prior_end: np.ndarray  # (m,) int64: highest end_seq of the direction's earlier counted packets (I64_MIN: none)
    peer_cd: np.ndarray    # (m,) the (connection, direction) of the packet's receiver
    rel_ack: np.ndarray    # (m,) int64: ack relative to the receiver's ISN
    ack_ok: np.ndarray     # (m,) bool: a valid ACK sent after the receiver's ISN packet


def sequence_space(b: Block) -> SequenceSpace:
    """The ISN of each direction, and the relative sequence and acknowledgement numbers.

    The ISN is a direction's first SYN (it re-initializes the sequence space, init_endpoint),
    else its first valid packet's seq - 1 (partial); packets before it do not count.
    """
    syn, seq, cd = b.syn, b.seq, b.cd
    first_syn = b.first_in_direction(b.valid & syn & ~b.rst)
    isn_first = np.where(first_syn >= 0, first_syn, b.first_valid)
    fpos = np.where(isn_first >= 0, isn_first, 0)
    isn = np.where(syn[fpos], seq[fpos], seq[fpos] - 1) & 0xFFFFFFFF
    counted = b.valid & (b.pos >= np.where(isn_first >= 0, isn_first, b.m)[cd])
    # the counted packets by (connection, direction), in time order within each
    so = np.flatnonzero(counted)
    so = so[np.argsort(cd[so], kind="stable")]
    g = cd[so]
    rel = np.zeros(b.m, dtype=np.int64)
    rel[so] = _unwrapped(seq[so], g, isn)
    end_seq = rel + (b.plen + syn + b.fin - np.where(b.rst, b.plen, 0))
    prior_end = np.full(b.m, I64_MIN, dtype=np.int64)
    prior_end[so] = prev_cummax(end_seq[so], g, I64_MIN)
    del so, g
    peer_cd = b.cid.astype(np.int64) * 2 + (1 - b.direction)
    peer_first = isn_first[peer_cd]
    ack_ok = b.valid & b.ackf & ~b.rst & (peer_first >= 0) & (b.pos > peer_first)
    return SequenceSpace(isn=isn, isn_first=isn_first, counted=counted, rel=rel, end_seq=end_seq,
                         prior_end=prior_end, peer_cd=peer_cd, rel_ack=sdelta32(b.ack, isn[peer_cd]), ack_ok=ack_ok)


def _unwrapped(sq: np.ndarray, g: np.ndarray, isn: np.ndarray) -> np.ndarray:
    """Sequence numbers ``sq`` (grouped by ``g``, in time order within a group) relative to
    their group's ISN: running sums of the 32-bit deltas from the previous one."""
    stp = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    dl = sdelta32(sq, np.r_[0, sq[:-1]] if len(sq) else np.zeros(0, np.int64))
    dl[stp] = sdelta32(sq[stp], isn[g[stp]])
    grp_start = np.maximum.accumulate(np.where(stp, np.arange(len(sq)), 0)) if len(sq) else np.zeros(0, np.int64)
    cs = np.cumsum(dl)
    return cs - (cs - dl)[grp_start]  # running sum since the group's start


def retransmitted(b: Block, c: Control, sp: SequenceSpace) -> np.ndarray:
    """(m,) bool: data that ends at or before data the sender already sent (the T letter)."""
    prior = sp.prior_end
    return (sp.counted & (b.plen > 0) & (sp.end_seq <= prior) & (prior > I64_MIN)
            & (c.sender_pre != zr.RESET))


def zero_window(b: Block, c: Control) -> np.ndarray:
    """(m,) bool: a zero window advertised while the peer is not closed (the W letter)."""
    return b.valid & (b.window == 0) & ~b.rst & (c.peer_pre != zr.CLOSED) & (c.sender_pre != zr.RESET)


def content_gaps(b: Block, c: Control, sp: SequenceSpace) -> tuple[np.ndarray, np.ndarray]:
    """(missed bytes per connection, per packet: a scaled G/g letter is recorded at this ACK).

    What TCP_Reassembler reports: acknowledged bytes never seen. It sees data only: a FIN
    fills no hole, and an ACK of the FIN reaches it only (acknowledgements are capped there).
    """
    syn, plen, rel, pos, peer_cd = b.syn, b.plen, sp.rel, b.pos, sp.peer_cd
    fin_first = b.first_in_direction(b.valid & b.fin & ~b.rst)
    ff = np.maximum(fin_first, 0)
    fin_rel = np.where(fin_first >= 0, rel[ff] + syn[ff] + plen[ff], I64_MAX)
    capped = np.where(pos > np.where(fin_first >= 0, fin_first, b.m)[peer_cd],
                      np.minimum(sp.rel_ack, fin_rel[peer_cd]), sp.rel_ack)
    data_end = rel + syn + np.where(b.rst, 0, plen)
    gap_sz, letter = gaps.gaps(b.m, b.cid, b.direction, sp.counted & ~b.rst, rel + syn, data_end, capped,
                               sp.ack_ok, c.post, c.post_prev)
    return np.bincount(b.cid, weights=gap_sz, minlength=b.n).astype(np.int64), letter


def sizes(b: Block, c: Control, sp: SequenceSpace) -> np.ndarray:
    """(n, 2) bytes each endpoint sent (``TCP_Endpoint::Size``): the highest relative sequence
    end or acknowledgement of it, less the SYN and the FIN; 0 for an endpoint still INACTIVE."""
    n, cd = b.n, b.cd
    last_seq = np.full(2 * n, 0, dtype=np.int64)
    trust = sp.counted & (c.sender_pre != zr.RESET)
    np.maximum.at(last_seq, cd[trust], sp.end_seq[trust])
    ack_max = np.zeros(2 * n, dtype=np.int64)
    np.maximum.at(ack_max, sp.peer_cd[sp.ack_ok], sp.rel_ack[sp.ack_ok])
    size = np.maximum(np.maximum(last_seq, ack_max), 0)
    fin_cnt = np.bincount(cd[b.valid & b.fin], minlength=2 * n)
    size = size - (size != 0)
    size = size - ((fin_cnt > 0) & (size != 0))
    return np.where(c.trace.final.reshape(-1) == zr.INACTIVE, 0, size).reshape(n, 2)
