"""Whole-column helpers of the text formats: pyarrow string columns in, numpy and pandas out.

A text format reads all its lines at once, as one pyarrow string array, with RE2 patterns
(pyarrow compute); these are the helpers every format shares. Where two variants behave
differently, a keyword-only argument says how, and the caller must choose: ``extract``
(``empty_as_null``), ``categorical`` (``empty_as_na``, ``str_categories``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.parsing import vocab

# --- lines as strings -------------------------------------------------------------------------


def strings(text: pd.Series | pa.Array) -> pa.Array:
    """Text as a pyarrow (large) string array; missing values stay null."""
    if isinstance(text, pa.ChunkedArray):
        return text.combine_chunks()
    if isinstance(text, pa.Array):
        return text
    values = pd.Series(text).to_numpy(dtype=object, na_value=None)
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def strings_or_empty(text: pd.Series | pa.Array) -> pa.Array:
    """Text as a pyarrow string array; missing values read as ``""``."""
    return pc.fill_null(strings(text), "")


def clean_lines(text: pd.Series | pa.Array) -> pa.Array:
    """Lines for RE2 (whose ``\\s`` is ASCII): missing -> ``""``, no-break spaces (copies from
    web pages) -> spaces."""
    arr = strings_or_empty(text)
    data = arr.buffers()[2]
    # U+00A0 is C2 A0 in UTF-8: look for the byte before running a string kernel
    if data is not None and (np.frombuffer(data, dtype=np.uint8) == 0xA0).any():
        arr = pc.replace_substring(arr, "\u00a0", " ")
    return arr


def sample(text: pd.Series, lines: int) -> tuple[pa.Array, np.ndarray] | None:
    """The first ``lines`` lines as ``clean_lines`` gives them and the mask of the non-blank
    ones (what a format's ``detect`` scores); None when no line holds anything."""
    arr = clean_lines(text.iloc[:lines])
    nonblank = ~blank(arr)
    return (arr, nonblank) if nonblank.any() else None


def null_if_empty(arr: pa.Array) -> pa.Array:
    """Empty strings -> null."""
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


# --- to numpy ---------------------------------------------------------------------------------


def to_numpy(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A pyarrow array as numpy (a copy where needed; nulls as numpy shows them)."""
    return a.to_numpy(zero_copy_only=False)


def mask(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean pyarrow array as a numpy bool array (null -> False)."""
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def blank(arr: pa.Array) -> np.ndarray:
    """Which strings are empty or only whitespace (Unicode whitespace, not just ASCII)."""
    return mask(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))


# --- RE2 patterns over a column ---------------------------------------------------------------


def matches(arr: pa.Array, pattern: str) -> np.ndarray:
    """Which strings match the RE2 ``pattern`` (searched, anchor it yourself); null -> False."""
    return mask(pc.match_substring_regex(arr, pattern))


def first_match(arr: pa.Array, rules: Sequence[str | np.ndarray]) -> np.ndarray:
    """Per string, the position in ``rules`` of the first rule that claims it, -1 for none.

    A rule is an RE2 pattern (searched, run only on the strings no earlier rule claimed) or a
    boolean mask computed beforehand. Ordered rule tables of line kinds read through this."""
    out = np.full(len(arr), -1, dtype=np.int64)
    todo = np.ones(len(arr), dtype=bool)
    for k, rule in enumerate(rules):
        if not todo.any():
            break
        if isinstance(rule, str):
            idx = np.flatnonzero(todo)
            hit = np.zeros(len(arr), dtype=bool)
            hit[idx] = matches(arr.take(pa.array(idx)), rule)
        else:
            hit = np.asarray(rule, dtype=bool) & todo
        out[hit] = k
        todo &= ~hit
    return out


def labels(arr: pa.Array, table: Sequence[tuple[str, str | np.ndarray]], default: str = "other") -> np.ndarray:
    """Per string, the label of the first (label, rule) row of ``table`` that claims it
    (:func:`first_match`), ``default`` for none: an object array."""
    names = np.array([name for name, _ in table] + [default], dtype=object)
    return names[first_match(arr, [rule for _, rule in table])]


def extract(arr: pa.Array, pattern: str, *, empty_as_null: bool) -> dict[str, pa.Array]:
    """Named groups of the RE2 ``pattern`` per string.

    Where a string does not match (or is null), or a group matched nothing: null with
    ``empty_as_null``, else ``""`` (every value a string). pyarrow cannot tell an empty group
    from one that took no part in the match."""
    m = pc.extract_regex(arr, pattern)
    out: dict[str, pa.Array] = {}
    for i in range(m.type.num_fields):
        name = m.type.field(i).name
        f = pc.struct_field(m, name)
        out[name] = null_if_empty(f) if empty_as_null else pc.fill_null(f, "")
    return out


# --- typed columns ----------------------------------------------------------------------------


def categorical(a: pa.Array | pa.ChunkedArray, *, empty_as_na: bool, str_categories: bool = False) -> pd.Categorical:
    """Strings -> pandas Categorical without Python strings per row; null -> NA.

    ``empty_as_na``: ``""`` is NA too (else a category of its own). Categories are in order of
    first appearance, as an object Index, or with ``str_categories`` as pyarrow converts them
    (pandas' ``str`` dtype)."""
    if empty_as_na:
        a = null_if_empty(a)
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    d = pc.dictionary_encode(a)
    if str_categories:
        return d.to_pandas().array
    codes = np.asarray(pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.Categorical.from_codes(codes, categories=pd.Index(d.dictionary.to_pylist(), dtype=object))


def states(raw: pd.Categorical | pa.Array) -> pd.Categorical:
    """Printed state tokens -> canonical state categorical (``vocab.canonical_codes`` on the
    distinct tokens only); NA stays NA, unknown tokens become UNKNOWN."""
    if not isinstance(raw, pd.Categorical):
        raw = categorical(raw, empty_as_na=False)
    codes = np.asarray(raw.codes, dtype=np.int64)
    if len(raw.categories) == 0:
        return pd.Categorical.from_codes(np.full(len(codes), -1), dtype=vocab.STATE_DTYPE)
    canon_codes = vocab.canonical_codes(list(raw.categories))
    return pd.Categorical.from_codes(np.where(codes >= 0, canon_codes[np.clip(codes, 0, None)], -1),
                                     dtype=vocab.STATE_DTYPE)


def integers(a: pa.Array, dtype: str = "Int64") -> pd.Series:
    """Decimal digit strings -> nullable integers (RangeIndex Series); anything else, or out of
    the dtype's range, -> NA."""
    a = pc.fill_null(a, "")
    digits = pc.match_substring_regex(a, r"^[0-9]{1,18}$")
    num = pc.cast(pc.if_else(digits, a, pa.scalar(None, a.type)), pa.int64())
    values = np.asarray(pc.fill_null(num, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return typed(values, mask(pc.is_valid(num)), dtype)


def hex_integers(a: pa.Array, dtype: str = "Int64") -> pd.Series:
    """Hex digit strings (up to 15 digits) -> nullable integers; anything else -> NA."""
    values, valid = hex_values(null_if_empty(a))
    return typed(values, valid, dtype)


def typed(values: np.ndarray, valid: np.ndarray, dtype: str = "Int64") -> pd.Series:
    """int64 values + validity -> nullable Series of ``dtype`` (out of its range -> NA)."""
    info = np.iinfo(dtype.lower())
    ok = valid & (values >= info.min) & (values <= info.max)
    return pd.Series(pd.arrays.IntegerArray(np.where(ok, values, 0).astype(dtype.lower()), ~ok))


# --- hexadecimal ------------------------------------------------------------------------------

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
