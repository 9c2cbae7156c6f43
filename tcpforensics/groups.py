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


def _sorted_view(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """(stable order that groups ``g`` or None when it is already grouped, run starts flag)."""
    if len(g) < 2 or bool((g[1:] >= g[:-1]).all()):
        order, gs = None, g
    else:
        order = np.argsort(g, kind="stable")
        gs = g[order]
    first = np.empty(len(gs), dtype=bool)
    if len(gs):
        first[0] = True
        np.not_equal(gs[1:], gs[:-1], out=first[1:])
    return order, first


def cumcount(g: np.ndarray) -> np.ndarray:
    """0-based position of each element within its group (any order of ``g``)."""
    order, first = _sorted_view(np.asarray(g))
    pos = np.arange(len(first), dtype=np.int64)
    rank = pos - np.maximum.accumulate(np.where(first, pos, 0)) if len(pos) else pos
    if order is None:
        return rank
    out = np.empty_like(rank)
    out[order] = rank
    return out


def cummax(values: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` within each group, in array order."""
    values = np.asarray(values)
    order, first = _sorted_view(np.asarray(g))
    v = values if order is None else values[order]
    if len(v) == 0:
        return values.copy()
    # shift every group above all earlier ones, so one running maximum never crosses groups
    lo, hi = int(v.min()), int(v.max())
    span = hi - lo + 1
    starts = np.flatnonzero(first)
    if values.dtype.kind not in "iu" or span * len(starts) >= 2**62:
        return pd.Series(values).groupby(g, sort=False).cummax().to_numpy()
    lengths = np.diff(np.append(starts, len(v)))
    off = np.repeat(np.arange(len(starts), dtype=np.int64) * span - lo, lengths)
    cm = v.astype(np.int64) + off
    np.maximum.accumulate(cm, out=cm)
    cm -= off
    cm = cm.astype(values.dtype, copy=False)
    if order is None:
        return cm
    out = np.empty_like(cm)
    out[order] = cm
    return out


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
    return _pick_where(mask, owner, n, values, fill, last=False)


def last_where(mask: np.ndarray, owner: np.ndarray, n: int, values: np.ndarray | None = None, fill=-1):
    """Per group: ``values`` at the last element where ``mask`` holds, else ``fill``."""
    return _pick_where(mask, owner, n, values, fill, last=True)


def _pick_where(mask: np.ndarray, owner: np.ndarray, n: int, values: np.ndarray | None, fill, last: bool):
    vals = np.arange(len(mask)) if values is None else values
    out = np.full(n, fill, dtype=np.asarray(vals).dtype if values is not None else np.int64)
    sel = np.flatnonzero(mask)
    if len(sel):
        o = owner[sel]
        if len(o) < 2 or bool((o[1:] >= o[:-1]).all()):  # owners already grouped: O(k)
            change = o[1:] != o[:-1]
            keep = np.r_[change, True] if last else np.r_[True, change]
            out[o[keep]] = vals[sel[keep]]
        else:
            order = sel[::-1] if last else sel
            u, i = np.unique(owner[order], return_index=True)
            out[u] = vals[order[i]]
    return out


def sdelta32(a: np.ndarray, b) -> np.ndarray:
    """Signed 32-bit sequence difference a - b (RFC 1982 arithmetic), as int64."""
    d = np.asarray(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64))
    # ((a - b + 2**31) mod 2**32) - 2**31 is the same value without a select
    d += 2**31
    d &= 0xFFFFFFFF
    d -= 2**31
    return d


def first_rows(*keys: np.ndarray) -> np.ndarray:
    """Sorted indices of the first row of each distinct tuple of ``keys`` (non-negative integer
    columns of equal length): what ``drop_duplicates(keep="first")`` keeps, without hashing
    tuples."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(keys[::-1])  # (stable: equal tuples keep their row order)
    new = np.ones(len(order), dtype=bool)
    for k in keys:
        ks = np.asarray(k)[order]
        new[1:] &= ks[1:] == ks[:-1]
    new[1:] = ~new[1:]
    return np.sort(order[new])


def rows_of(codes: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """Positions in ``codes`` of each wanted code that occurs, ascending (one sort, whatever
    the number of wanted codes: no pass over the whole array per code)."""
    keep = np.flatnonzero(np.isin(codes, wanted))
    order = keep[np.argsort(codes[keep], kind="stable")]
    if not len(order):
        return {}
    values, starts = np.unique(codes[order], return_index=True)
    return {int(v): part for v, part in zip(values, np.split(order, starts[1:]), strict=True)}
