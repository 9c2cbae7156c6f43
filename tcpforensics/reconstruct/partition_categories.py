"""The categories of a categorical column kept across the chunks a ``Partitioner`` stores
(``reconstruct.partition``): a value keeps its code for good, so a partition comes back with
one set of categories however the chunks' categories differed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.packets import _equals  # the same row test as prepare()
from tcpforensics.reconstruct.partition_hashes import NA_ADDRESS_HASH, _texts, address_hashes


class _Categories:
    """The categories one column (or the two address columns) took over all chunks, in order
    of first appearance; a value keeps its code for good. A chunk whose categories extend the
    previous chunk's (the capture reader's address book only grows) costs a look-up of the new
    ones only; a look-up probes the known texts against a hash table of the new ones."""

    def __init__(self, dtype: pd.CategoricalDtype) -> None:
        self.values = np.zeros(0, dtype=object)   # by code
        self._texts = np.zeros(0, dtype=object)   # str of each value, by code
        self._hashes = np.array([NA_ADDRESS_HASH], dtype=np.uint64)  # see hashes()
        self._matches: dict[tuple[str, bool, int], np.ndarray] = {}  # see matches()
        self._last: tuple[pd.Index, np.ndarray] | None = None  # last categories, their codes (then -1)
        self.index_dtype = dtype.categories.dtype
        self.ordered = bool(dtype.ordered)

    def codes(self, col: pd.Series) -> np.ndarray:
        """The column's values as int32 codes into ``values`` (-1 for NA), new values added."""
        cat = col.array if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col)
        cats = cat.categories
        if not len(self.values) and len(cats):  # (an empty chunk's may be untyped)
            self.index_dtype = cats.dtype
        if self._last is None or not cats.equals(self._last[0]):  # (most chunks repeat them)
            self._last = cats, np.r_[self._codes_of(cats), -1].astype(np.int32)
        return self._last[1][cat.codes]

    def _codes_of(self, cats: pd.Index) -> np.ndarray:
        """Codes of these categories: the previous chunk's for a prefix they repeat."""
        known = 0
        if self._last is not None:
            prev = self._last[0]
            if len(prev) <= len(cats) and cats[: len(prev)].equals(prev):
                known = len(prev)
        head = self._last[1][:known] if known else np.zeros(0, dtype=np.int32)
        return np.r_[head, self._lookup(cats[known:].to_numpy(dtype=object))].astype(np.int32)

    def _lookup(self, values: np.ndarray) -> np.ndarray:
        """Codes of distinct ``values``; the ones never seen get new codes."""
        keys = _texts(values)
        at = pd.Index(keys).get_indexer(self._texts)  # per known text: its place among keys, or -1
        out = np.full(len(keys), -1, dtype=np.int64)
        seen = at >= 0
        out[at[seen]] = np.flatnonzero(seen)
        new = np.flatnonzero(out < 0)
        out[new] = len(self.values) + np.arange(len(new))
        self.values = np.concatenate([self.values, values[new]])
        self._texts = np.concatenate([self._texts, keys[new]])
        return out.astype(np.int32)

    def matches(self, value: str, lower: bool = False) -> np.ndarray:
        """``packets._equals`` of every value by code, then False (for code -1)."""
        key = (value, lower, len(self.values))  # (values are only ever added)
        if key not in self._matches:
            every = pd.Categorical.from_codes(np.arange(len(self.values)), dtype=self.dtype(self.values))
            self._matches[key] = np.r_[_equals(pd.Series(every), value, lower), False]
        return self._matches[key]

    def hashes(self) -> np.ndarray:
        """``address_hashes`` of every value by code, then NA_ADDRESS_HASH (for code -1)."""
        done = len(self._hashes) - 1
        if done < len(self.values):
            self._hashes = np.r_[self._hashes[:done], address_hashes(self.values[done:]), NA_ADDRESS_HASH]
        return self._hashes

    def categorical(self, codes: np.ndarray, used: np.ndarray | None = None) -> pd.Categorical:
        """A categorical of ``codes``; categories ``values[used]`` (default: every value)."""
        if used is None:
            return pd.Categorical.from_codes(codes, dtype=self.dtype(self.values))
        remap = np.full(len(self.values) + 1, -1, dtype=np.int32)  # (last slot: NA stays -1)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return pd.Categorical.from_codes(remap[codes], dtype=self.dtype(self.values[used]))

    def dtype(self, values: np.ndarray) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(pd.Index(values, dtype=self.index_dtype), ordered=self.ordered)
