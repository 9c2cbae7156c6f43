"""Text columns as categoricals over one sorted set of categories, united and looked up by
Arrow: a code per row instead of a Python string object per distinct value, and no hash table
of Python strings built (or left cached on the categories) to find them.

    dtype, codes = united([pa.array(["b", "a"]), pa.array(["c", None])])
    # dtype.categories: ['a', 'b', 'c']; codes: [1, 0], [2, -1]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def united(texts: Sequence[pa.Array]) -> tuple[pd.CategoricalDtype, list[np.ndarray]]:
    """One set of categories (the sorted distinct non-null values of all the arrays, as the
    default string dtype) and each array's codes into it (int32; null: -1).

    Found by sorting all the values once: equal neighbours share a code. No hash table of
    the values is built (one of a million addresses costs more than the addresses)."""
    wide = len({t.type for t in texts}) > 1 or sum(t.nbytes for t in texts) >= 1 << 30  # (concat wants one type)
    texts = [t.cast(pa.large_string()) if wide or not pa.types.is_string(t.type) else t for t in texts]
    every = pa.concat_arrays(texts) if texts else pa.array([], type=pa.large_string())
    order = pc.sort_indices(every).to_numpy()  # (nulls last)
    valid = len(every) - every.null_count
    ranked = every.take(order[:valid])
    del every
    first = np.ones(valid, dtype=bool)  # first of a run of equal values
    if valid > 1:
        first[1:] = pc.not_equal(ranked.slice(1), ranked.slice(0, valid - 1)).to_numpy(zero_copy_only=False)
    codes = np.full(len(order), -1, dtype=np.int32)
    codes[order[:valid]] = np.cumsum(first, dtype=np.int64) - 1
    values = ranked.filter(pa.array(first))
    del ranked, order
    pieces = np.split(codes, np.cumsum([len(t) for t in texts])[:-1]) if texts else []
    return _distinct(pd.Index(values.to_pandas(), dtype="str")), pieces


def categoricals(columns: Sequence[object]) -> list[pd.Categorical]:
    """These text columns (object arrays, Series or categoricals, NA as None) as categoricals
    sharing one sorted set of categories."""
    dtype, codes = united([_arrow_text(c) for c in columns])
    return [pd.Categorical.from_codes(c, dtype=dtype) for c in codes]


def same_categories(a: pd.Series, b: pd.Series) -> bool:
    """Whether two categorical columns have the same categories in the same order, so that
    equal codes mean equal values (dtype equality ignores the order of unordered categories)."""
    if not (isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype)):
        return False
    cats_a, cats_b = a.cat.categories, b.cat.categories
    return cats_a is cats_b or (len(cats_a) == len(cats_b) and cats_a.equals(cats_b))


def isin(col: pd.Series, values: Iterable[object]) -> np.ndarray:
    """Mask of the rows of a text column whose value is one of ``values``. For a categorical,
    the values are looked up among its categories by Arrow: pandas' own isin (or ==) would
    build a hash table of every category as Python strings and keep it on the categories."""
    wanted = list(values)
    if not isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_string_dtype(col.cat.categories):
        return col.isin(wanted).to_numpy(dtype=bool)
    cats = _arrow_text(col.cat.categories)
    hit = pc.is_in(cats, value_set=pa.array([str(v) for v in wanted], type=cats.type)).to_numpy(zero_copy_only=False)
    return np.append(hit, False)[col.cat.codes.to_numpy()]  # (code -1, NA: last)


def _distinct(categories: pd.Index) -> pd.CategoricalDtype:
    """The dtype of categories known to be distinct, without pandas' check, which hashes every
    category into a lookup table of Python strings that stays on the index."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    return fast(categories, False) if fast is not None else pd.CategoricalDtype(categories)


def _arrow_text(values: object) -> pa.Array:
    if isinstance(values, pd.Series | pd.Index):
        values = values.array
    if isinstance(values, pd.arrays.ArrowStringArray):
        return pa.array(values).cast(pa.large_string())
    if isinstance(values, pd.Categorical):
        return _arrow_text(values.categories.to_numpy(dtype=object)).take(pa.array(values.codes, mask=values.codes < 0))
    return pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
