"""Whole-column helpers over pyarrow strings: RE2 matches and extracts to numpy/pandas columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import vocab


def strings(text: pd.Series | pa.Array) -> pa.Array:
    """Text lines as a pyarrow (large) string array; missing values stay null."""
    if isinstance(text, pa.ChunkedArray):
        return text.combine_chunks()
    if isinstance(text, pa.Array):
        return text
    values = pd.Series(text).to_numpy(dtype=object, na_value=None)
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def clean_lines(text: pd.Series) -> pa.Array:
    """Lines as strings for RE2 (whose ``\\s`` is ASCII): missing -> empty, no-break spaces
    (copies from web pages) -> spaces."""
    return pc.replace_substring(pc.fill_null(strings(text), ""), "\u00a0", " ")


def mask(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean pyarrow array as a numpy bool array (null -> False)."""
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def matches(arr: pa.Array, pattern: str) -> np.ndarray:
    """Which strings match the RE2 ``pattern`` (searched, anchor it yourself); null -> False."""
    return mask(pc.match_substring_regex(arr, pattern))


def extract(arr: pa.Array, pattern: str) -> dict[str, pa.Array]:
    """Named groups of the RE2 ``pattern`` per string: null where the string does not match
    or the group matched nothing (pyarrow cannot tell an empty group from an absent one)."""
    m = pc.extract_regex(arr, pattern)
    out: dict[str, pa.Array] = {}
    for i in range(m.type.num_fields):
        name = m.type.field(i).name
        f = pc.struct_field(m, name)
        out[name] = pc.if_else(pc.equal(f, ""), pa.scalar(None, f.type), f)
    return out


def categorical(a: pa.Array | pa.ChunkedArray) -> pd.Categorical:
    """Strings -> pandas Categorical (null -> NA) without building Python strings per row."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    d = pc.dictionary_encode(a)
    codes = np.asarray(pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    cats = d.dictionary.to_pylist()
    return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype=object)) if cats \
        else pd.Categorical([None] * len(a), categories=pd.Index([], dtype=object))


def states(raw: pd.Categorical | pa.Array) -> pd.Categorical:
    """Printed state tokens -> canonical state categorical (``vocab.normalize`` on the distinct
    tokens only); NA stays NA, unknown tokens become UNKNOWN."""
    if not isinstance(raw, pd.Categorical):
        raw = categorical(raw)
    codes = np.asarray(raw.codes, dtype=np.int64)
    if len(raw.categories) == 0:
        return pd.Categorical.from_codes(np.full(len(codes), -1), dtype=vocab.STATE_DTYPE)
    canon_codes = vocab.canonical_codes(list(raw.categories))
    return pd.Categorical.from_codes(np.where(codes >= 0, canon_codes[np.clip(codes, 0, None)], -1),
                                     dtype=vocab.STATE_DTYPE)


def integers(a: pa.Array, dtype: str = "Int64") -> pd.Series:
    """Digit strings -> nullable integers (RangeIndex Series); anything else or out of the
    dtype's range -> NA."""
    a = pc.fill_null(a, "")
    digits = pc.match_substring_regex(a, r"^[0-9]{1,18}$")
    num = pc.cast(pc.if_else(digits, a, pa.scalar(None, a.type)), pa.int64())
    values = np.asarray(pc.fill_null(num, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return typed(values, mask(pc.is_valid(num)), dtype)


def typed(values: np.ndarray, valid: np.ndarray, dtype: str = "Int64") -> pd.Series:
    """int64 values + validity -> nullable Series of ``dtype`` (out of its range -> NA)."""
    info = np.iinfo(dtype.lower())
    ok = valid & (values >= info.min) & (values <= info.max)
    return pd.Series(pd.arrays.IntegerArray(np.where(ok, values, 0).astype(dtype.lower()), ~ok))
