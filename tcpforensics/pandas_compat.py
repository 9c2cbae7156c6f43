"""pandas compatibility: object-column fills that keep them object on pandas 2 and 3 alike (no silent downcast)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# pandas 2.x downcasts object columns on fillna/ffill (an all-NA column becomes float64, a
# column of True/False becomes bool) and warns that pandas 3 will not; pandas 3 keeps them
# object. These helpers give pandas 3's result on both, without the warning. Columns of
# any other dtype go through pandas' own method.


def fill(s: pd.Series, other: pd.Series | object) -> pd.Series:
    """``s`` with its missing values taken from ``other`` (a Series aligned on the index, or a scalar)."""
    if s.dtype != object:
        return s.fillna(other)
    v = s.to_numpy(dtype=object)
    o = other.reindex(s.index).to_numpy(dtype=object) if isinstance(other, pd.Series) else other
    return pd.Series(np.where(pd.isna(v), o, v), index=s.index, dtype=object, name=s.name)


def ffill(s: pd.Series) -> pd.Series:
    """``s`` with each missing value replaced by the last present one above it."""
    if s.dtype != object:
        return s.ffill()
    return pd.Series(ffill_values(s.to_numpy(dtype=object)), index=s.index, dtype=object, name=s.name)


def ffill_values(v: np.ndarray) -> np.ndarray:
    """:func:`ffill` of a numpy object array (missing values above the first present one stay)."""
    pos = np.maximum.accumulate(np.where(pd.isna(v), -1, np.arange(len(v))))
    return np.where(pos >= 0, v[np.maximum(pos, 0)], v)
