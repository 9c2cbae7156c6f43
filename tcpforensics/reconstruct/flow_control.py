"""Zeek's endpoint state machine over a block: which packets it is fed, and both endpoints' state
before and after every packet.

Only packets that can change a state are fed to the machine (``machine.run``): every valid SYN,
FIN or RST, and the first ``control_packets_per_direction`` valid packets of each direction,
less repeats of the same kind in a row from the same side (they cannot change anything). Every
other packet sees the state left by the last of these before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.reconstruct import machine
from tcpforensics.reconstruct.flow_block import Block
from tcpforensics.reconstruct.packets import ACK, FIN, RST, SYN


@dataclass
class Control:
    """The machine's run over a block: its events and both endpoints' states at every packet.

    The per-packet arrays are (m, 2), one column per physical direction.
    """

    events: np.ndarray        # positions of the packets fed to the machine, in packet order
    trace: machine.Trace      # the machine's record of those events and the final states
    pre: np.ndarray           # (m, 2) int8: states before the packet
    post: np.ndarray          # (m, 2) int8: states after it
    post_prev: np.ndarray     # (m, 2) int8: the state each endpoint had before its current one, after it
    pre_closed: np.ndarray    # (m, 2) bool: the endpoint had closed (did_close) before the packet
    post_closed: np.ndarray   # (m, 2) bool: ... after it
    sender_pre: np.ndarray    # (m,) int8: the sender's state before the packet
    peer_pre: np.ndarray      # (m,) int8: the receiver's state before the packet


def _early(b: Block, count: int) -> np.ndarray:
    """The first ``count`` valid packets of each direction of each connection."""
    C = b.conns
    early = np.zeros(b.m, dtype=bool)
    for x in (0, 1):
        mx = b.valid & (b.direction == x)
        cx = np.cumsum(mx.astype(np.int64))  # a running count per direction (a bool cumsum is several times slower)
        if b.m:
            cx -= C.rep(cx[C.first] - mx[C.first]) + 1
        early |= mx & (cx < count)
        del mx, cx
    return early


def event_positions(b: Block, machine_orig: np.ndarray, count: int) -> np.ndarray:
    """Positions of the packets fed to the machine: valid SYN/FIN/RST and the first ``count``
    valid packets per direction, without repeats of one kind (flags, payload or not, side)
    in a row from one direction."""
    cpos = np.flatnonzero(b.valid & ((b.syn | b.fin | b.rst) | _early(b, count)))
    kind = (b.flags[cpos] & (SYN | FIN | RST | ACK)) * 4 + (b.plen[cpos] > 0) * 2 + machine_orig[cpos]
    if len(cpos):
        cid, d = b.cid[cpos], b.direction[cpos]
        same = np.r_[False, (cid[1:] == cid[:-1]) & (d[1:] == d[:-1]) & (kind[1:] == kind[:-1])]
        cpos = cpos[~same]
    return cpos


def control_events(b: Block, machine_orig: np.ndarray, count: int) -> Control:
    """Run the machine over the block's events (``machine_orig``: per packet, sent by the
    originator as the machine sees it) and read both endpoints' states at every packet."""
    cpos = event_positions(b, machine_orig, count)
    tr = machine.run(b.cid[cpos], b.direction[cpos], machine_orig[cpos], b.syn[cpos], b.fin[cpos],
                     b.rst[cpos], b.ackf[cpos], b.plen[cpos], b.n)
    at_incl, at_excl = _last_event(b, cpos)
    k = len(cpos)
    pre = _at(at_excl, tr.post, 0, k)
    d = b.direction
    return Control(
        events=cpos, trace=tr, pre=pre, post=_at(at_incl, tr.post, 0, k), post_prev=_at(at_incl, tr.prev, 0, k),
        pre_closed=_at(at_excl, tr.did_close, False, k), post_closed=_at(at_incl, tr.did_close, False, k),
        sender_pre=pre[b.pos, d], peer_pre=pre[b.pos, 1 - d],
    )


def _last_event(b: Block, cpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per packet: the index (into ``cpos``) of the connection's last event at or before it,
    and before it; ``len(cpos)`` where there is none.

    Events are in packet order, so it is one less than the running count of events, when that
    passes the connection's count of earlier events.
    """
    C = b.conns
    ctrl = np.zeros(b.m, dtype=bool)
    ctrl[cpos] = True
    cnt = np.cumsum(ctrl.astype(np.int64))
    before = C.rep(cnt[C.first] - ctrl[C.first]) if b.m else cnt
    k = len(cpos)
    cnt -= 1  # the last event at or before the packet
    at_incl = np.where(cnt >= before, cnt, k)
    cnt -= ctrl  # the last event before it
    at_excl = np.where(cnt >= before, cnt, k)
    return at_incl, at_excl


def _at(at: np.ndarray, arr: np.ndarray, fill: object, k: int) -> np.ndarray:
    """``arr`` (one row of two endpoints per event) at event ``at`` (``fill`` past the end, ``k``)."""
    ext = np.empty((k + 1, 2), dtype=arr.dtype)
    ext[:k] = arr
    ext[k] = fill
    # both endpoints of a row move together as one 16-bit item
    return ext.view(np.int16).reshape(-1)[at].view(arr.dtype).reshape(-1, 2)
