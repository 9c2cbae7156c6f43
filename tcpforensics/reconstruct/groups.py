"""Group-wise numpy helpers over contiguous runs (sorted group ids): starts, cumulative ops, firsts."""

from __future__ import annotations

import numpy as np
import pandas as pd


def run_starts(g: np.ndarray) -> np.ndarray:
    """Indices where a new run of equal values starts in the sorted array ``g``."""
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, g[1:] != g[:-1]])


def ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(s, e)`` for each pair, and the pair index of every element."""
    lengths = (ends - starts).astype(np.int64)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.cumsum(lengths) - lengths
    idx = np.arange(total, dtype=np.int64) + (starts - offsets)[owner]
    return idx, owner


def cumcount(g: np.ndarray) -> np.ndarray:
    """0-based position of each element within its group (any order of ``g``)."""
    return pd.Series(g).groupby(g, sort=False).cumcount().to_numpy()


def cummax(values: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` within each group, in array order."""
    return pd.Series(values).groupby(g, sort=False).cummax().to_numpy()


def prev_cummax(values: np.ndarray, g: np.ndarray, fill) -> np.ndarray:
    """Running maximum over the *earlier* elements of each group (``fill`` for the first)."""
    cm = cummax(values, g)
    out = np.empty_like(cm)
    out[1:] = cm[:-1]
    first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    out[first] = fill
    return out


def first_where(mask: np.ndarray, owner: np.ndarray, n: int, values: np.ndarray | None = None, fill=-1):
    """Per group id 0..n-1: ``values`` at the first element (array order) where ``mask`` holds, else ``fill``."""
    vals = np.arange(len(mask)) if values is None else values
    out = np.full(n, fill, dtype=np.asarray(vals).dtype if values is not None else np.int64)
    sel = np.flatnonzero(mask)
    if len(sel):
        o = owner[sel]
        if len(o) < 2 or bool((o[1:] >= o[:-1]).all()):  # owners already grouped: O(k)
            keep = np.r_[True, o[1:] != o[:-1]]
            out[o[keep]] = vals[sel[keep]]
        else:
            u, i = np.unique(o, return_index=True)
            out[u] = vals[sel[i]]
    return out


def last_where(mask: np.ndarray, owner: np.ndarray, n: int, values: np.ndarray | None = None, fill=-1):
    """Per group: ``values`` at the last element where ``mask`` holds, else ``fill``."""
    vals = np.arange(len(mask)) if values is None else values
    out = np.full(n, fill, dtype=np.asarray(vals).dtype if values is not None else np.int64)
    sel = np.flatnonzero(mask)
    if len(sel):
        o = owner[sel]
        if len(o) < 2 or bool((o[1:] >= o[:-1]).all()):
            keep = np.r_[o[1:] != o[:-1], True]
            out[o[keep]] = vals[sel[keep]]
        else:
            rev = sel[::-1]
            u, i = np.unique(owner[rev], return_index=True)
            out[u] = vals[rev[i]]
    return out


def sdelta32(a: np.ndarray, b) -> np.ndarray:
    """Signed 32-bit sequence difference a - b (RFC 1982 arithmetic), as int64."""
    d = (np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)) & 0xFFFFFFFF
    return np.where(d >= 2**31, d - 2**32, d)
