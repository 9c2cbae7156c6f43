"""The conversations of a whole event table from those of its partitions by 4-tuple
(``reconstruct.partition``): conversations renumbered by their first packet, address codes by
where each address first appears, rows and packets in the order the whole gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.conversation_columns import _empty, _empty_packets
from tcpforensics.reconstruct.parts import Parts, frame


def merge_conversations(parts: Iterable[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``conversations(events, packets=True)`` of a whole event table, from the results of its
    partitions (each 4-tuple wholly inside one: ``reconstruct.partition``).

    Conversations are renumbered by their first packet's (ts, frame), address codes by the
    first (ts, frame, source/destination) at which each address appears, rows put in the
    order the whole gives. Exact when (ts, frame) tells any two packets apart (one capture's
    frame numbers do); otherwise ties keep the order of the parts.
    """
    pairs = [(conv, pk) for conv, pk in parts if len(conv)]
    return merge_conversation_parts(Parts.of([c for c, _ in pairs]), Parts.of([p for _, p in pairs]))


def merge_conversation_parts(convs: Parts, pks: Parts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`merge_conversations` of the partitions' conversations and packet tables, part
    ``i`` of ``pks`` belonging to part ``i`` of ``convs``; built a column at a time."""
    if not convs.rows:
        return _empty(), _empty_packets()
    conv_bounds = np.cumsum(convs.lengths)[:-1]
    first_ts, first_frame = convs.column("first_ts"), convs.column("first_frame").astype(np.int64)
    new_id = np.empty(len(first_ts), dtype=np.int64)
    new_id[np.lexsort((first_frame, first_ts))] = np.arange(len(first_ts))
    shared, texts = convs.text_codes(["init_addr", "peer_addr"])  # (one code per distinct address)
    addresses = dict(zip(("init_addr", "peer_addr"), texts, strict=True))
    codes = _merged_codes(*(np.split(np.asarray(a), conv_bounds) for a in (
        convs.column("init_code"), convs.column("peer_code"), addresses["init_addr"], addresses["peer_addr"],
        first_ts, first_frame)))
    del first_ts, first_frame
    order = np.empty_like(new_id)
    order[new_id] = np.arange(len(new_id))  # row of the merged table -> row of the parts

    def conv_column(c: str) -> Any:
        if c == "conv":
            return np.arange(len(order), dtype=np.int64)
        if c in addresses:
            return shared[addresses.pop(c)[order]]
        values = convs.column(c)
        if c in ("init_code", "peer_code"):
            values = _recoded(values, convs.lengths, codes)
        return values[order] if isinstance(values, np.ndarray) else values.take(order)

    conv = frame({c: conv_column(c) for c in convs.columns})
    return conv, _merged_packets(pks, np.split(new_id, conv_bounds), codes)


def _merged_packets(pks: Parts, ids: list[np.ndarray], codes: list[np.ndarray]) -> pd.DataFrame:
    """The parts' packet tables as one, in (ts, frame) order, with merged conversation ids and
    address codes."""
    if not pks.rows:
        return _empty_packets()
    recode = {"conv": ids, "src_code": codes, "dst_code": codes}
    ts, frames = pks.column("ts"), pks.column("frame")
    order = np.lexsort((frames, ts))

    def column(c: str) -> Any:
        values = ts if c == "ts" else frames if c == "frame" else pks.column(c)
        if c in recode:
            values = _recoded(values, pks.lengths, recode[c])
        return values[order] if isinstance(values, np.ndarray) else values.take(order)

    return frame({c: column(c) for c in pks.columns})


def _recoded(values: np.ndarray, lengths: list[int], maps: list[np.ndarray]) -> np.ndarray:
    """Each part's stretch of ``values`` through that part's map."""
    pieces = np.split(np.asarray(values), np.cumsum(lengths)[:-1])
    return np.concatenate([m[v] for m, v in zip(maps, pieces, strict=True)])


def _merged_codes(init_code: list, peer_code: list, init_addr: list, peer_addr: list,
                  first_ts: list, first_frame: list) -> list[np.ndarray]:
    """Per part: new code of each address code, numbered as ``_address_codes`` numbers the
    whole (first appearance by ts, frame, source before destination; equal address = one code).
    Each argument holds one array per part."""
    found = [_first_appearances(*cols) for cols in zip(init_code, peer_code, init_addr, peer_addr,
                                                        first_ts, first_frame, strict=True)]
    addr, ts, frame, side = (np.concatenate(col) for col in zip(*found, strict=True))
    same = pd.factorize(addr if addr.dtype.kind in "iu" else pd.Series(addr, dtype=object), use_na_sentinel=False)[0]
    order = np.lexsort((side, frame, ts))
    new = np.empty(len(same), dtype=np.int64)
    new[order] = pd.factorize(same[order])[0]
    return np.split(new, np.cumsum([len(f[0]) for f in found])[:-1])


def _first_appearances(init_code: np.ndarray, peer_code: np.ndarray, init_addr: np.ndarray, peer_addr: np.ndarray,
                       first_ts: np.ndarray, first_frame: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per address code of one part: the address, and the ts, frame and side (0 source,
    1 destination) of the packet where it first appears. That packet is the first packet of a
    conversation holding the address (each packet of a conversation holds both its
    addresses), so the part's conversations alone tell it."""
    if not len(init_code):
        return init_addr[:0], first_ts[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k = int(max(init_code.max(), peer_code.max())) + 1
    addr = np.empty(k, dtype=init_addr.dtype)
    addr[peer_code] = peer_addr
    addr[init_code] = init_addr
    code = np.concatenate([init_code, peer_code])
    ts = np.tile(first_ts, 2)
    frame = np.tile(first_frame, 2)
    side = np.repeat(np.array([0, 1], dtype=np.int64), len(init_code))
    order = np.lexsort((side, frame, ts, code))
    first = order[np.r_[True, code[order][1:] != code[order][:-1]]]  # earliest row of each code
    at = np.empty(k, dtype=np.int64)
    at[code[first]] = first
    return addr, ts[at], frame[at], side[at]
