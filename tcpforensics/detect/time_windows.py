"""Sliding-window counts and burst rates over sorted timestamps, per group (searchsorted)."""

from __future__ import annotations

import numpy as np


def window_counts(groups: np.ndarray, ns: np.ndarray, width_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """For every event, how many events of its group fall in [t, t + width), exactly.

    ``ns`` and ``width_ns`` are integer nanoseconds (capture timestamps). Returns (order,
    counts): ``order`` sorts the inputs by (group, time); ``counts`` is in that order. Groups
    are laid end to end on one integer time axis (each from its own start), spaced so windows
    never overlap; callers pass few groups (the candidates), so the axis fits in int64.
    """
    order = np.lexsort((ns, groups))
    g = np.asarray(groups)[order]
    t = np.asarray(ns, dtype=np.int64)[order]
    if len(t) == 0:
        return order, np.zeros(0, dtype=np.int64)
    _, first, gi = np.unique(g, return_index=True, return_inverse=True)
    t = t - t[first][gi]  # each group from its own start
    axis = gi.astype(np.int64) * (int(t.max()) + 2 * int(width_ns) + 1) + t
    start = np.searchsorted(axis, axis, side="left")  # ties: count every event at time t
    end = np.searchsorted(axis, axis + int(width_ns), side="left")
    return order, end - start


def burst_rate(groups: np.ndarray, seconds: np.ndarray, k: int, resolution: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Rate (events per second) of the k consecutive events starting at each event, per group.

    Returns (order, rates) like :func:`window_counts`; NaN where fewer than k events remain in
    the group. Spans shorter than ``resolution`` (1 us, the usual capture timestamp unit)
    count as ``resolution`` so bursts stamped with one time get a finite rate.
    """
    order = np.lexsort((seconds, groups))
    g = np.asarray(groups)[order]
    t = np.asarray(seconds, dtype="float64")[order]
    n = len(t)
    rates = np.full(n, np.nan)
    if k < 2 or n < k:
        return order, rates
    j = np.arange(n - k + 1)
    same = g[j] == g[j + k - 1]
    span = np.maximum(t[j + k - 1] - t[j], resolution)
    rates[j] = np.where(same, (k - 1) / span, np.nan)
    return order, rates
