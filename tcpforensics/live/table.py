"""One ``/proc/net/tcp`` (or ``tcp6``) file, sample after sample, through the ``proc_net_tcp``
parser, parsing only the lines not seen in the previous sample.

Between two samples of a busy host most lines stay the same but for the slot number and the
timer fields (which count down). A line's key is its fixed-width middle: local and remote
address, state, transmit and receive queues (48 characters in ``tcp``, 96 in ``tcp6``, found
by byte offsets in numpy); a line whose key was in the previous sample reuses that row, the
others are parsed by ``ingest.formats.proc_net_tcp.parse``. The rows carry the parser's event
columns but ``timer`` (dropped: it changes every sample and no detector reads it); the inode
of a reused row is the one first parsed (the same 4-tuple, state and queues under a new inode
between two samples keeps the old inode until its queues or state change).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.ingest.base import Lines
from tcpforensics.ingest.formats import proc_net_tcp

#: Bytes of the key (``LOCAL REMOTE ST TX:RX``) by address width: tcp (8 hex digits), tcp6 (32).
KEY_BYTES = {8: 48, 32: 96}


def _empty() -> pd.DataFrame:
    return schema.conform(pd.DataFrame(), "socket").drop(columns=["timer"])


@dataclass
class LineCache:
    """The previous sample of one socket file: its line keys and their parsed rows."""

    rows: pd.DataFrame = field(default_factory=_empty)
    parsed: Counter = field(default_factory=Counter)  # lines parsed / reused, for the benchmark
    categories: dict[str, int] = field(default_factory=dict)  # categories per column at the last prune
    changed: bool = True  # the last update differed from the sample before it
    raw: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="S1"))  # the last keys, as read

    def update(self, data: bytes) -> pd.DataFrame:
        """The socket rows of this sample of the file (``line``: 1-based line in it)."""
        buf = np.frombuffer(data, dtype=np.uint8)
        starts, ends, key_at = _rows(buf)
        if not len(starts):
            self.changed, self.raw, self.rows = len(self.raw) > 0, np.zeros(0, dtype="S1"), _empty()
            return self.rows
        starts, ends, key_at, raw = _keys(buf, starts, ends, key_at)
        self.changed = not np.array_equal(raw, self.raw)
        found = _lookup(raw, self.raw) if len(self.raw) and self.raw.dtype == raw.dtype else np.full(len(raw), -1)
        hit = found >= 0
        new = _parse(data, starts[~hit], ends[~hit], np.flatnonzero(~hit))
        self.parsed.update({"reused": int(hit.sum()), "parsed": int((~hit).sum())})
        self.rows = self._assemble(found, hit, new)
        self.raw = raw
        return self.rows

    def _assemble(self, found: np.ndarray, hit: np.ndarray, new: pd.DataFrame) -> pd.DataFrame:
        """Reused rows and newly parsed ones, in the file's order, categories pruned."""
        old = self.rows.take(found[hit]).reset_index(drop=True)
        both = _append(old, new) if len(new) else old
        order = np.empty(len(hit), dtype=np.int64)
        order[np.flatnonzero(hit)] = np.arange(int(hit.sum()))
        order[np.flatnonzero(~hit)] = np.arange(int(hit.sum()), len(hit))
        both = both.take(order).reset_index(drop=True).assign(line=np.arange(1, len(hit) + 1))
        return self._prune(both)

    def _prune(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Drop categories no row uses (addresses of sockets long gone) when a column's
        categories have doubled since it was last pruned: memory stays bounded."""
        grown = {c: rows[c] for c in rows.columns if isinstance(rows[c].dtype, pd.CategoricalDtype)
                 and len(rows[c].cat.categories) > 2 * self.categories.get(c, 0) + 64}
        pruned = {c: s.cat.remove_unused_categories() for c, s in grown.items()}
        self.categories.update({c: len(s.cat.categories) for c, s in pruned.items()})
        return rows.assign(**pruned) if pruned else rows


def _hash(raw: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width key (its 8-byte words mixed)."""
    words = raw.view(np.uint64).reshape(len(raw), -1)
    h = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        h = (h * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, j]
    return h


def _lookup(raw: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Position in ``before`` of each key of ``raw`` (-1 when absent): by hash, then checked
    byte for byte, so a collision is a miss, never a wrong row."""
    h, hb = _hash(raw), _hash(before)
    order = np.argsort(hb, kind="stable")
    at = np.minimum(np.searchsorted(hb[order], h), len(order) - 1)
    cand = order[at]
    hit = (hb[cand] == h) & (before[cand] == raw)
    return np.where(hit, cand, -1)


def _append(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` then ``new`` (same columns): categories of ``old`` kept as they are (its codes
    stay valid), the new ones appended."""
    cols = {}
    for c in old.columns:
        a, b = old[c], new[c]
        if isinstance(a.dtype, pd.CategoricalDtype):
            cats = a.cat.categories
            b = b.astype(object) if not isinstance(b.dtype, pd.CategoricalDtype) else b
            extra = pd.Index(b.cat.categories if isinstance(b.dtype, pd.CategoricalDtype) else b.dropna().unique())
            union = cats.append(extra.difference(cats)) if len(extra.difference(cats)) else cats
            codes = union.get_indexer(b.astype(object).where(b.notna(), None))
            b_codes = np.where(b.isna().to_numpy(), -1, codes)
            cols[c] = pd.Categorical.from_codes(np.concatenate([a.cat.codes.to_numpy(), b_codes]),
                                                dtype=pd.CategoricalDtype(union, a.cat.ordered))
        else:
            cols[c] = pd.concat([a, b], ignore_index=True).array
    return pd.DataFrame(cols)


def _rows(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and key offset of every row line (a line with ``N:`` before its first blank
    run ends; the header has no colon)."""
    nl = np.flatnonzero(buf == 10)
    ends = np.append(nl, len(buf)) if not len(nl) or nl[-1] != len(buf) - 1 else nl
    starts = np.concatenate([[0], ends[:-1] + 1])
    colons = np.flatnonzero(buf == 58)
    first = np.searchsorted(colons, starts)
    colon = np.append(colons, len(buf))[first]
    row = (colon < ends) & (colon - starts <= 8)
    return starts[row], ends[row], colon[row] + 2


def _keys(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, key_at: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows long enough to hold their key, and the keys as fixed-width bytes. A row's local
    address has 8 hex digits (tcp) or 32 (tcp6): the key is 48 or 96 bytes; in a file holding
    both (a concatenated dump) every key is 96 bytes, those of tcp rows padded with zeros."""
    v6 = buf[np.minimum(key_at + 8, len(buf) - 1)] != 58
    width = np.where(v6, KEY_BYTES[32], KEY_BYTES[8])
    ok = key_at + width <= ends
    starts, ends, key_at, v6 = starts[ok], ends[ok], key_at[ok], v6[ok]
    size = KEY_BYTES[32] if v6.any() else KEY_BYTES[8]
    padded = np.concatenate([buf, np.zeros(size, dtype=np.uint8)]) if size > KEY_BYTES[8] else buf
    keys = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(padded, size)[key_at])
    keys[~v6, KEY_BYTES[8]:] = 0
    return starts, ends, key_at, keys.view(f"S{size}").ravel()


def _parse(data: bytes, starts: np.ndarray, ends: np.ndarray, positions: np.ndarray) -> pd.DataFrame:
    """The rows of the given lines through the ``proc_net_tcp`` parser (``line``: position + 1)."""
    if not len(starts):
        return _empty()
    texts = [data[s:e].decode("ascii", "replace") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    index = pd.RangeIndex(0, 0) if not texts else pd.Index(positions + 1, name="line")
    frame = pd.DataFrame({"text": pd.Series(texts, index=index, dtype=object), "snapshot": 0,
                          "ts": pd.NaT, "is_marker": False}, index=index)
    parsed = proc_net_tcp.parse(Lines(input="", encoding="ascii", frame=frame))
    rows = parsed.rows.assign(kind="socket")
    return schema.conform(rows, "socket").drop(columns=["timer"])
