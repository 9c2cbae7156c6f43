"""The last steps of flow analysis: each connection's history string and its row of the flow table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.groups import last_where
from tcpforensics.reconstruct import endpoint_states, history
from tcpforensics.reconstruct import zeek_rules as zr
from tcpforensics.reconstruct.flow_block import Block
from tcpforensics.reconstruct.flow_control import Control
from tcpforensics.reconstruct.flow_orient import Orientation
from tcpforensics.reconstruct.packets import SortedPackets

NS = 1_000_000_000


def history_strings(b: Block, o: Orientation, zero_win: np.ndarray, retx: np.ndarray,
                    gap_letter: np.ndarray) -> np.ndarray:
    """Zeek's history of each connection: the state-free letters of each packet, then the
    scaled letters W (zero window), T (retransmission), C (bad checksum) of its sender and
    G (content gap) of the data sender, the peer of the acking packet; in packet order, upper
    case for the originator, ``^`` first when flipped."""
    cid, d, pos = b.cid, b.direction, b.pos
    gap_sender = 1 - d
    #    order within the packet, letter codes (0: none), recorded for the originator
    rows = (
        (0, o.letters, o.is_orig),
        (1, np.where(history.scaled(zero_win, cid, d), ord("W"), 0), o.is_orig),
        (2, np.where(history.scaled(retx, cid, d), ord("T"), 0), o.is_orig),
        (0, np.where(history.scaled(~b.valid, cid, d), ord("C"), 0), o.is_orig),
        (3, np.where(history.scaled(gap_letter, cid, gap_sender), ord("G"), 0), gap_sender == b.conns.rep(o.orig)),
    )
    parts = []
    for sub, codes, orig_side in rows:
        k = np.flatnonzero(codes)
        parts.append((cid[k], pos[k], np.full(len(k), sub), codes[k].astype(np.uint8), orig_side[k]))
    return history.assemble(b.n, *(np.concatenate(col) for col in zip(*parts, strict=True)), o.flipped)


def flow_table(P: SortedPackets, s: np.ndarray, e: np.ndarray, b: Block, o: Orientation, c: Control,
               hist: np.ndarray, size: np.ndarray, missed: np.ndarray, end_of_capture: np.ndarray,
               time_wait_ns: int, uids: np.ndarray) -> pd.DataFrame:
    """One row per connection (the packets ``[s, e)`` of ``P``): endpoints, times, counts,
    sizes, Zeek's conn_state and endpoint states, RFC 9293 endpoint states and the close kind."""
    n = b.n
    ar = np.arange(n)
    o_dir = o.orig.astype(np.int64)
    r_dir = 1 - o_dir
    os_, rs = c.trace.final[ar, o_dir], c.trace.final[ar, r_dir]
    osz, rsz = size[ar, o_dir], size[ar, r_dir]
    cstate = zr.conn_state(os_, rs, osz, rsz, hist)
    pk = np.bincount(b.cd[b.valid], minlength=2 * n).reshape(n, 2)
    start, end = _times(P, s, b, c)
    states = endpoint_states.infer(b, o.is_orig, end_of_capture, time_wait_ns)
    names = np.asarray(zr.ENDPOINT_STATE_NAMES, dtype=object)
    return pd.DataFrame({
        "uid": uids,
        **_endpoints(P, s, o.orig),
        "start": start.view("datetime64[ns]"),
        "end": end.view("datetime64[ns]"),
        "duration": (end - start) / NS,
        "orig_pkts": pk[ar, o_dir],
        "resp_pkts": pk[ar, r_dir],
        "orig_bytes": osz,
        "resp_bytes": rsz,
        "conn_state": cstate,
        "history": hist,
        "missed_bytes": missed,
        "orig_states": states["orig_states"],
        "resp_states": states["resp_states"],
        "orig_final": states["orig_final"],
        "resp_final": states["resp_final"],
        "close": endpoint_states.close_category(cstate, hist, states),
        "zeek_orig_state": names[os_],
        "zeek_resp_state": names[rs],
        "first_frame": P.frame[s],
        "last_frame": P.frame[e - 1],
        "input": P.inputs[s],
    })


def _endpoints(P: SortedPackets, s: np.ndarray, orig: np.ndarray) -> dict[str, np.ndarray]:
    """Originator and responder address and port, from each connection's first packet ``s``."""
    first_is_orig = P.dirb[s] == orig
    o_addr = np.where(first_is_orig, P.saddr[s], P.daddr[s])
    r_addr = np.where(first_is_orig, P.daddr[s], P.saddr[s])
    return {
        "orig_addr": P.addrs[o_addr],
        "orig_port": np.where(first_is_orig, P.sport[s], P.dport[s]),
        "resp_addr": P.addrs[r_addr],
        "resp_port": np.where(first_is_orig, P.dport[s], P.sport[s]),
    }


def _times(P: SortedPackets, s: np.ndarray, b: Block, c: Control) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) ns of each connection: its first packet, and its last valid packet sent
    before both endpoints had closed (not before the start)."""
    both_closed_before = c.pre_closed[:, 0] & c.pre_closed[:, 1]
    lt = last_where(b.valid & ~both_closed_before, b.cid, b.n, b.ts, fill=-1)
    start = P.ts[s]
    return start, np.where(lt >= 0, np.maximum(lt, start), start)
