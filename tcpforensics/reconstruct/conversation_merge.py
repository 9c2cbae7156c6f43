"""The conversations of a whole event table from those of its partitions by 4-tuple
(``reconstruct.partition``): conversations renumbered by their first packet, address codes by
where each address first appears, rows and packets in the order the whole gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tcpforensics import heap
from tcpforensics.reconstruct.conversation_columns import ADDRESS_COLUMNS, _empty, _empty_packets
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
    first_ts, first_frame = convs.column("first_ts"), convs.column("first_frame").astype(np.int64)
    order = np.lexsort((first_frame, first_ts))  # row of the merged table -> row of the parts
    del first_ts, first_frame
    new_id = np.empty_like(order)
    new_id[order] = np.arange(len(order))
    heap.give_back()  # (each step's working arrays go back before the next step's; the same below)
    addresses = dict(zip(ADDRESS_COLUMNS, convs.categoricals(list(ADDRESS_COLUMNS)), strict=True))  # (one code an address)
    merged_codes = _address_codes(addresses["init_addr"].codes[order], addresses["peer_addr"].codes[order])
    codes = _part_maps(convs, merged_codes, new_id)
    heap.give_back()

    def conv_column(c: str) -> Any:
        if c == "conv":
            return np.arange(len(order), dtype=np.int64)
        if c in addresses:
            return addresses.pop(c).take(order)
        if c in merged_codes:
            return merged_codes[c]
        values = convs.column(c)
        return values[order] if isinstance(values, np.ndarray) else values.take(order)

    conv = frame({c: conv_column(c) for c in convs.columns})
    return conv, _merged_packets(pks, np.split(new_id, np.cumsum(convs.lengths)[:-1]), codes)


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


def _address_codes(init: np.ndarray, peer: np.ndarray) -> dict[str, np.ndarray]:
    """init_code and peer_code of the merged table from its rows' address codes (any codes, one
    per address, in merged row order): numbered as ``conversation_columns._address_codes``
    numbers the whole, by first appearance, a row's initiator before its peer (a conversation's
    first packet is the first to hold its two addresses, and rows are in first-packet order)."""
    both = np.empty(2 * len(init), dtype=np.int64)
    both[0::2], both[1::2] = init, peer
    new = pd.factorize(both)[0]
    return {"init_code": new[0::2].copy(), "peer_code": new[1::2].copy()}


def _part_maps(convs: Parts, merged: dict[str, np.ndarray], new_id: np.ndarray) -> list[np.ndarray]:
    """Per part: the merged code of each of its own address codes (for its packet table)."""
    bounds = np.cumsum(convs.lengths)[:-1]
    own = {c: np.split(np.asarray(convs.column(c), dtype=np.int64), bounds) for c in merged}
    rows = np.split(new_id, bounds)
    maps = []
    for i, at in enumerate(rows):
        k = int(max((own[c][i].max() for c in merged if len(own[c][i])), default=-1)) + 1
        m = np.zeros(k, dtype=np.int64)
        for c in merged:
            m[own[c][i]] = merged[c][at]
        maps.append(m)
    return maps
