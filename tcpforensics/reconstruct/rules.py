"""Ordered rule tables evaluated over whole columns: the first rule that holds names the row."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

Predicate = Callable[[pd.DataFrame], object]
Rule = tuple[object, Predicate]  # (label or callable giving labels, predicate)


def first_match(frame: pd.DataFrame, rules: Sequence[Rule], default: object = "") -> np.ndarray:
    """Label every row of ``frame`` with the first rule whose predicate holds (vectorized).

    A label may be a constant or a callable returning one label per row (e.g. a column).
    """
    n = len(frame)
    out = np.full(n, default, dtype=object)
    done = np.zeros(n, dtype=bool)
    for label, predicate in rules:
        hit = np.asarray(predicate(frame))
        hit = np.broadcast_to(hit.astype(bool), (n,)) if hit.ndim == 0 else _bool(hit)
        take = hit & ~done
        if not take.any():
            continue
        values = label(frame) if callable(label) else label
        if callable(label):
            out[take] = np.asarray(values, dtype=object)[take]
        else:
            out[take] = values
        done |= take
    return out


def _bool(values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return values
    return pd.array(values, dtype="boolean").fillna(False).to_numpy(dtype=bool)
