"""Who is the originator of each connection, as Zeek decides it (docs/flows.md, orientation).

Two rules, applied in turn: at creation the first packet's sender, flipped when its source port
is a likely server port and its destination port is not (``TCPAnalyzer::WantConnection``);
later, a connection whose history starts with exactly a SYN-ACK ("H") from the creator followed
by a pure ACK or data is flipped (Zeek's SYN-ACK-first rule, the ``^`` of the history).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcpforensics.groups import first_where
from tcpforensics.reconstruct import history
from tcpforensics.reconstruct.flow_block import Block
from tcpforensics.reconstruct.packets import ACK, SYN, SortedPackets


@dataclass
class Orientation:
    """Per connection (``n``) and per packet (``m``): the originator and the history letters."""

    flipped_at_start: np.ndarray  # (n,) bool: the server-port rule flipped the first sender
    creator: np.ndarray           # (n,) int64: the direction the connection was created with
    flipped_later: np.ndarray     # (n,) bool: the SYN-ACK-first rule flipped it
    flip_at: np.ndarray           # (n,) position of the packet that flipped it (0 if none)
    orig: np.ndarray              # (n,) int64: the originator's direction, final
    letters: np.ndarray           # (m,) uint8: the state-free history letter of each packet (0: none)
    machine_orig: np.ndarray      # (m,) bool: sent by the originator as the state machine saw it then
    is_orig: np.ndarray           # (m,) bool: sent by the final originator

    @property
    def flipped(self) -> np.ndarray:
        """(n,) bool: the history starts with ``^``."""
        return self.flipped_at_start | self.flipped_later

    def orig_at(self, b: Block, i: np.ndarray) -> np.ndarray:
        """The originator's direction as the machine sees it at packets ``i`` (before a later flip)."""
        c = b.cid[i]
        return (self.orig[c] ^ (self.flipped_later[c] & (b.pos[i] <= self.flip_at[c]))).astype(np.int64)


def creator(P: SortedPackets, s: np.ndarray, likely_server_ports: frozenset[int]) -> tuple[np.ndarray, np.ndarray]:
    """(flipped, direction) of each connection at creation (first packets ``s`` of ``P``):
    the first sender, unless it is not a bare SYN and its source port is a likely server port
    while the destination port is not (or both are and the packet has no SYN and the lower source port)."""
    f_fl = P.flags[s]
    bare_syn = ((f_fl & SYN) != 0) & ((f_fl & ACK) == 0)
    sp, dp = P.sport[s], P.dport[s]
    ports = np.fromiter(likely_server_ports, dtype=np.int64) if likely_server_ports else np.zeros(0, np.int64)
    ls, ld = np.isin(sp, ports), np.isin(dp, ports)
    flipped = ~bare_syn & ls & (~ld | (((f_fl & SYN) == 0) & (sp < dp)))
    return flipped, P.dirb[s].astype(np.int64) ^ flipped


def orient(P: SortedPackets, s: np.ndarray, b: Block, likely_server_ports: frozenset[int]) -> Orientation:
    """The :class:`Orientation` of the block's connections (first packets ``s`` of ``P``).

    The SYN-ACK-first flip looks at the first two packets that record a history letter (or
    a bad checksum, or a zero window): a valid SYN-ACK from the creator with a non-zero window,
    then a valid pure ACK or data packet.
    """
    flip0, cod = creator(P, s, likely_server_ports)
    C, cid, d, valid, win = b.conns, b.cid, b.direction, b.valid, b.window
    ml = history.main_letters(cid, d, valid, b.syn, b.fin, b.rst, b.ackf, b.plen, b.seq)
    lettered = ~valid | (ml != 0) | ((win == 0) & ~b.rst)
    p1 = first_where(lettered, cid, b.n)
    later = lettered & (b.pos > C.rep(np.where(p1 >= 0, p1, b.m)))
    p2 = first_where(later, cid, b.n)
    ok1 = p1 >= 0
    first = np.where(ok1, p1, 0)
    second = np.where(p2 >= 0, p2, 0)
    hflip = (ok1 & valid[first] & (ml[first] == ord("H")) & (d[first] == cod) & ~flip0 & (win[first] != 0)
             & (p2 >= 0) & valid[second] & np.isin(ml[second], [ord("A"), ord("D")]))
    od = cod ^ hflip
    after_flip = C.rep(hflip) & (b.pos > C.rep(second))
    return Orientation(
        flipped_at_start=flip0, creator=cod, flipped_later=hflip, flip_at=second, orig=od, letters=ml,
        machine_orig=(d == C.rep(cod)) ^ after_flip, is_orig=d == C.rep(od),
    )
