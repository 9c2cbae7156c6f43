"""JSON records of the collectors' exports, whole-column: JSON lines, or one pretty-printed
document (an array of objects or one object), read into a frame of the wanted keys. Nested
objects are flattened to dotted keys (``Laddr.IP``); a line holding several records, or a
record that never closes, is a skipped line with its reason (``records`` and the format
modules use this).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.parsing import columns as cols

_STRING = r'"(?:[^"\\]|\\.)*"'


def json_records(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which record each line belongs to (-1: none) and which lines start a record.

    JSON lines (the first non-blank line a whole object): every line starting with ``{`` is one
    record. A document (``[ {...}, {...} ]`` or one object, pretty-printed): a record is an
    object at the top level of the array (or the document), from its ``{`` line to the line
    closing it; brackets inside strings do not count."""
    n = len(arr)
    nonblank = ~cols.blank(arr)
    if not nonblank.any():
        return np.full(n, -1), np.zeros(n, dtype=bool)
    first = arr[int(np.flatnonzero(nonblank)[0])].as_py().strip()
    starts_obj = cols.matches(arr, r"^\s*\{")
    if first.startswith("{") and first.endswith("}"):
        return np.where(starts_obj, np.cumsum(starts_obj) - 1, -1), starts_obj
    bare = pc.replace_substring_regex(arr, _STRING, '""')
    opens = np.asarray(pc.add(pc.count_substring(bare, "{"), pc.count_substring(bare, "[")), dtype=np.int64)
    closes = np.asarray(pc.add(pc.count_substring(bare, "}"), pc.count_substring(bare, "]")), dtype=np.int64)
    after = np.cumsum(opens - closes)
    before = after - opens + closes
    level = 1 if first.startswith("[") else 0
    start = ((before == level) & (opens > 0) & cols.matches(bare, r"^\s*\{")) | \
        ((before == level - 1) & cols.matches(bare, r"^\s*\[\s*\{"))  # "[{": the array opens on the record's line
    rec = np.cumsum(start) - 1
    inside = start | ((before > level) & (rec >= 0))
    return np.where(inside, rec, -1), start


def record_texts(arr: pa.Array, record: np.ndarray) -> pa.Array:
    """The text of every record (its lines joined by a blank), in record order (a record's
    lines are consecutive)."""
    at = np.flatnonzero(record >= 0)
    if not len(at):
        return pa.array([], type=pa.large_string())
    lines = arr.take(pa.array(at, type=pa.int64())).cast(pa.large_string())
    last = np.r_[record[at][1:] != record[at][:-1], True]
    seps = pa.array(np.where(last, "\n", " ").astype(object), type=pa.large_string())
    joined = "".join(cols.to_numpy(pc.binary_join_element_wise(lines, seps, pa.scalar("", pa.large_string()))).tolist())
    return pa.array(joined.split("\n")[:-1], type=pa.large_string())


def flatten_json(texts: pa.Array, rounds: int = 6) -> pa.Array:
    """Record texts with their nested objects and arrays emptied (``{}``, ``[]``), so that a key
    is read at the record's top level only (``Authenticode.Timestamp`` is not ``Timestamp``)."""
    inner = r'(?:[^{}\[\]"]|' + _STRING + r'|\{\}|\[\])*'
    out = pc.utf8_trim_whitespace(texts)
    out = pc.replace_substring_regex(out, r'^\[\s*(\{.*\})\s*\]$', r"\1")  # "[{...}]" on one line
    body = pc.replace_substring_regex(out, r'^\{|\}\s*,?$', "")  # the record's own braces
    # strings are matched whole (and put back) so that brackets inside them are not taken
    for _ in range(rounds):
        if not cols.matches(pc.replace_substring_regex(body, _STRING, ""), r"\{[^}]|\[[^\]]").any():
            break  # nothing nested left to empty
        body = pc.replace_substring_regex(body, "(" + _STRING + r')|(\{)' + inner + r'(\})', r"\1\2\3")
        body = pc.replace_substring_regex(body, "(" + _STRING + r')|(\[)' + inner + r'(\])', r"\1\2\3")
    return body


def complete(texts: pa.Array) -> np.ndarray:
    """Which record texts close their object (a record cut short, as the last line of a
    collection interrupted while writing, does not)."""
    return cols.matches(texts, r"\}\s*\]?\s*,?\s*$")


def several_records(flat: pa.Array) -> np.ndarray:
    """Which flattened record texts hold more than one object (``[{...},{...}]`` on one line,
    ``ConvertTo-Json -Compress``): a line is one record, so these cannot be read."""
    return cols.matches(flat, r"\}\s*,\s*\{")


def json_values(flat: pa.Array, keys: Iterable[str]) -> dict[str, pa.Array]:
    """The value of each of ``keys`` in every (flattened) record: strings unquoted and
    unescaped, numbers, ``true``/``false`` as printed, ``null`` as null. Keys match
    case-insensitively; a key absent from every record is left out."""
    out: dict[str, pa.Array] = {}
    for key in keys:
        if not cols.mask(pc.match_substring(flat, f'"{key}"', ignore_case=True)).any():
            continue
        k = "".join(c if c.isalnum() else "\\" + c for c in key)
        m = cols.extract(flat, rf'(?i)(?:^|[,{{]|\s)"{k}"\s*:\s*(?P<v>{_STRING}|[^,}}\]\s]+)', empty_as_null=True)["v"]
        if not cols.mask(pc.is_valid(m)).any():
            continue
        quoted = pc.fill_null(pc.starts_with(m, '"'), False)
        text = pc.replace_substring_regex(pc.utf8_slice_codeunits(m, 1, -1), r"\\(.)", r"\1")
        value = pc.if_else(quoted, text, m)
        out[key] = pc.if_else(pc.equal(pc.fill_null(m, ""), "null"), pa.scalar(None, value.type), value)
    return out


def json_table(arr: pa.Array, keys: Iterable[str], required: Iterable[str]
               ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pa.Array]:
    """The JSON records of the lines as a frame (a column per key found, lower case), by key.

    Returns the frame of the readable records (those closing their object, one a line at most,
    with one of the ``required`` keys), the line position of each, the kind of every line
    (``row``, ``record line``, ``bracket``, the reason of a record that cannot be read, or
    ``""`` for lines outside any record) and the texts of the kept records."""
    record, start = json_records(arr)
    texts = record_texts(arr, record)
    flat = flatten_json(texts)
    got = json_values(flat, keys)
    frame = pd.DataFrame({k.casefold(): cols.to_numpy(v) for k, v in got.items()}, index=range(len(flat)))
    has = [k.casefold() for k in required if k.casefold() in frame]
    several = several_records(flat)
    ok = (frame[has].notna().any(axis=1).to_numpy() if has else np.zeros(len(flat), dtype=bool)) \
        & ~several & complete(texts)
    at = np.clip(record, 0, None)
    kind = np.full(len(arr), "", dtype=object)
    if len(flat):
        reason = np.where(several[at], "several JSON records on one line", "unreadable JSON record")
        kind = np.where((record >= 0) & ~ok[at], reason, np.where((record >= 0) & ~start, "record line", kind))
    kind = np.where(cols.matches(arr, r"^\s*[\[\]],?\s*$") & (record < 0), "bracket", kind)
    starts = np.flatnonzero(start)
    kind[starts[ok]] = "row"
    return frame[ok].reset_index(drop=True), starts[ok], kind, texts.filter(pa.array(ok))
