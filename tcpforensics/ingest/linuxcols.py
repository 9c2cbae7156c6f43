"""Whole-column helpers of the ss and /proc/net/tcp ingestors: RE2 extraction, hex, typed columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import arrowcols as ac
from tcpforensics.ingest.arrowcols import mask, matches, states, typed

__all__ = ["blank_to_null", "categorical", "extract", "hex_digits", "hex_values", "integers",
           "mask", "matches", "states", "strings", "typed"]


def strings(text: pd.Series) -> pa.Array:
    """The lines of a text Series as one pyarrow large_string array (None for missing)."""
    values = text.to_numpy(dtype=object, na_value=None)
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def extract(arr: pa.Array, pattern: str) -> dict[str, pa.Array]:
    """RE2 named-group extraction over a whole column: {group: array}; null where no match.

    Groups that did not take part in a match come back as "" (RE2 semantics), not null.
    """
    res = pc.extract_regex(arr, pattern)
    return {res.type.field(i).name: res.field(i) for i in range(res.type.num_fields)}


def blank_to_null(arr: pa.Array) -> pa.Array:
    """Empty strings -> null."""
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def integers(arr: pa.Array, dtype: str = "Int64", base: int = 10) -> pd.Series:
    """Decimal (or hex with ``base=16``) digit strings -> nullable integer Series; bad -> NA."""
    arr = blank_to_null(arr)
    if base != 16:
        return ac.integers(arr, dtype)
    values, valid = hex_values(arr)
    return typed(values, valid, dtype)


_HEX = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def hex_digits(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-width hex strings -> (n x width matrix of nibble values, valid rows); numpy only.

    Reads the bytes straight from the Arrow buffer (one copy by ``ascii_upper``), maps each
    byte through a 256-entry table; rows of another length or with a non-hex byte are invalid.
    """
    n = len(arr)
    up = pc.ascii_upper(pc.fill_null(arr, "")).cast(pa.large_string())
    if isinstance(up, pa.ChunkedArray):
        up = up.combine_chunks()
    offsets = np.frombuffer(up.buffers()[1], dtype=np.int64)[up.offset: up.offset + n + 1]
    lengths = np.diff(offsets)
    data = np.frombuffer(up.buffers()[2], dtype=np.uint8) if n else np.zeros(0, np.uint8)
    if n and (lengths == width).all():
        raw = data[offsets[0]: offsets[0] + n * width].reshape(n, width)
    else:  # ragged: gather each row's first ``width`` bytes (short rows padded, then invalid)
        idx = offsets[:-1, None] + np.arange(width)[None, :]
        raw = np.where(idx < offsets[1:, None], data[np.clip(idx, 0, max(len(data) - 1, 0))] if len(data) else 0, 0)
    mat = _HEX[raw.astype(np.uint8)]
    valid = (lengths == width) & (mat >= 0).all(axis=1)
    return np.where(mat < 0, 0, mat), valid


def hex_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Hex strings of up to 15 digits -> (int64 values, valid); right-aligned, vectorized."""
    filled = pc.fill_null(arr, "")
    lengths = np.asarray(pc.utf8_length(filled).to_numpy(zero_copy_only=False))
    width = max(1, min(int(lengths.max()) if len(lengths) else 1, 15))
    mat, ok = hex_digits(pc.utf8_lpad(filled, width=width, padding="0"), width)
    values = mat @ (16 ** np.arange(width - 1, -1, -1, dtype=np.int64))
    return values, ok & (lengths > 0) & (lengths <= 15)


def categorical(arr: pa.Array) -> pd.Categorical:
    """Strings -> pandas Categorical without a Python loop (empty strings and nulls -> NA)."""
    enc = pc.dictionary_encode(blank_to_null(arr))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    cats = pd.Index(enc.dictionary.to_pylist(), dtype=object)
    return pd.Categorical.from_codes(codes, categories=cats)


