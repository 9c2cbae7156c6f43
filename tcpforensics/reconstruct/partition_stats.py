"""``CaptureStats``: the mergeable per-input state of partitioned packet events (the last packet
time ``flows()`` would see, rows added, rows ``flows()`` ignores), counted chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.partition_hashes import flow_rows


@dataclass
class CaptureStats:
    """Per input (None: rows without one): last packet time ``flows()`` would see, in ns
    (``ends``), rows added (``rows``) and rows ``flows()`` ignores (``other``)."""

    ends: dict[object, int] = field(default_factory=dict)
    rows: dict[object, int] = field(default_factory=dict)
    other: dict[object, int] = field(default_factory=dict)

    def merge(self, other: CaptureStats) -> CaptureStats:
        """The state of both (ends: latest, counts: summed)."""
        return CaptureStats(_combine(self.ends, other.ends, max), _combine(self.rows, other.rows, int.__add__),
                            _combine(self.other, other.other, int.__add__))

    def capture_end(self) -> dict[object, pd.Timestamp]:
        """``ends`` as timestamps: the ``capture_end`` argument of ``flows()``."""
        return {k: pd.Timestamp(v) for k, v in self.ends.items()}

    def add(self, events: pd.DataFrame) -> None:
        """Count the rows of one more chunk."""
        names, codes = _input_codes(events)
        self.count(names, codes, _ts_ns(events), flow_rows(events))

    def count(self, names: list, codes: np.ndarray, ts: np.ndarray | None, counted: np.ndarray) -> None:
        """Count rows given as each one's index into input ``names``, time (ns) and whether
        ``flows()`` reads it."""
        _accumulate(self.rows, names, np.bincount(codes, minlength=len(names)))
        _accumulate(self.other, names, np.bincount(codes[~counted], minlength=len(names)))
        if ts is None or not counted.any():
            return
        last = np.full(len(names), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, codes[counted], ts[counted])
        seen = np.flatnonzero(np.bincount(codes[counted], minlength=len(names)))
        chunk_ends = {names[i]: int(last[i]) for i in seen.tolist()}  # one item per input
        self.ends = _combine(self.ends, chunk_ends, max)


def _ts_ns(events: pd.DataFrame) -> np.ndarray | None:
    return events["ts"].to_numpy("datetime64[ns]").view(np.int64) if "ts" in events.columns else None


def _combine(a: dict, b: dict, op: Callable[[int, int], int]) -> dict:
    """Keys of both; ``op`` of the two values where both have one."""
    return {k: op(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in a.keys() | b.keys()}


def _accumulate(into: dict, names: list, counts: np.ndarray) -> None:
    for name, n in zip(names, counts.tolist(), strict=True):  # one step per input name
        if n:
            into[name] = into.get(name, 0) + n


def _input_codes(events: pd.DataFrame) -> tuple[list, np.ndarray]:
    """Input names (None first, for rows without one) and each row's index into them."""
    if "input" not in events.columns:
        return [None], np.zeros(len(events), dtype=np.int64)
    cat = pd.Categorical(events["input"])
    return [None, *cat.categories.tolist()], cat.codes.astype(np.int64) + 1
