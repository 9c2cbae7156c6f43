"""Records of the collectors' exports, whole-column: delimited tables (CSV, ``;``, tab) under a
header line (JSON records: ``json_records``), ``Key : Value`` blocks
(PowerShell ``Format-List``), fixed-width tables under a dashes line (PowerShell's table view),
their time stamps and their state words.

The formats that read what incident responders collect (PowerShell, Sysinternals,
Velociraptor, Volatility) share these; each one says which names its columns have.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints

DELIMITERS = (",", ";", "\t")
#: Most fields a delimited line is split into (longer headers keep their first fields only).
MAX_FIELDS = 64

# --- delimited tables -------------------------------------------------------------------------


def header_fields(line: str, delimiter: str) -> list[str]:
    """The field names of one header line (quotes removed, blanks trimmed)."""
    row = next(csv.reader([line.replace("\x00", " ")], delimiter=delimiter), [])
    return [f.strip().strip("\ufeff").strip() for f in row][:MAX_FIELDS]


def sniff_delimiter(line: str, names: Iterable[str]) -> str:
    """The delimiter that splits a header line into the most of ``names`` (case-insensitive)."""
    wanted = {n.casefold() for n in names}

    def hits(d: str) -> int:
        return sum(f.casefold() in wanted for f in header_fields(line, d))

    return max(DELIMITERS, key=lambda d: (hits(d), -DELIMITERS.index(d)))


def _field(delimiter: str) -> str:
    d = {"\t": r"\t"}.get(delimiter, delimiter)
    return rf'("(?:[^"]|"")*"|[^{d}"]*)'


def delimited(arr: pa.Array, delimiter: str, n: int) -> tuple[list[pa.Array], np.ndarray]:
    """The ``n`` fields of each line that has exactly ``n`` (RFC 4180 quoting: ``"a,b"``,
    ``""`` inside quotes), unquoted and trimmed; and which lines had. Other lines' fields are null."""
    if n < 1 or not len(arr):
        return [pa.nulls(len(arr), pa.large_string()) for _ in range(max(n, 0))], np.zeros(len(arr), dtype=bool)
    d = {"\t": r"\t"}.get(delimiter, delimiter)
    pattern = "^" + d.join(f"(?P<f{i}>{_field(delimiter)[1:-1]})" for i in range(n)) + r"\s*$"
    found = cols.extract(arr, pattern, empty_as_null=False)
    ok = cols.matches(arr, pattern)
    out = []
    for i in range(n):
        f = pc.utf8_trim_whitespace(found[f"f{i}"])
        quoted = pc.and_(pc.starts_with(f, '"'), pc.greater_equal(pc.utf8_length(f), 2))
        inner = pc.replace_substring(pc.utf8_slice_codeunits(f, 1, -1), '""', '"')
        value = pc.if_else(quoted, inner, f)
        out.append(pc.if_else(pa.array(ok), value, pa.scalar(None, value.type)))
    return out, ok


def table_under_headers(arr: pa.Array, is_header: np.ndarray, delimiter_names: Iterable[str],
                        data: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The fields of the ``data`` lines, each split by the header line closest above it (its
    delimiter sniffed from ``delimiter_names``), by the header's field names (lower case).

    Returns a frame indexed by line position (string columns; a name only some headers have is
    null elsewhere) and the mask of the data lines whose field count differed from their
    header's (lines with no header above them are neither)."""
    pos = np.arange(len(arr))
    owner = np.maximum.accumulate(np.where(is_header, pos, -1)) if len(arr) else pos
    names = list(delimiter_names)
    texts = {int(h): arr[int(h)].as_py() for h in np.flatnonzero(is_header)}
    parts, bad = [], np.zeros(len(arr), dtype=bool)
    layouts: dict[str, list[int]] = {}
    for h in np.flatnonzero(is_header):
        layouts.setdefault(str(texts[h]), []).append(int(h))
    for text, heads in layouts.items():
        at = np.flatnonzero(data & np.isin(owner, heads))
        if not len(at):
            continue
        d = sniff_delimiter(text, names)
        fields = [f.casefold() for f in header_fields(text, d)]
        values, ok = delimited(arr.take(pa.array(at, type=pa.int64())), d, len(fields))
        bad[at[~ok]] = True
        keep = pa.array(ok)
        first = {f: v for f, v in reversed(list(zip(fields, values, strict=True)))}  # a repeated name: the first wins
        parts.append(pd.DataFrame({f: cols.to_numpy(v.filter(keep)) for f, v in first.items()}, index=at[ok]))
    if not parts:
        return pd.DataFrame(index=np.zeros(0, dtype=np.int64)), bad
    return pd.concat(parts).sort_index(), bad


# --- Format-List blocks and fixed-width tables --------------------------------------------------

_PAIR = r"^(?P<k>[A-Za-z_][\w.]*)\s*:(?: (?P<v>.*?))?\s*$"


def key_value_blocks(arr: pa.Array, first_key: str) -> tuple[np.ndarray, dict[str, pa.Array], np.ndarray]:
    """``Key : Value`` lines grouped into records: a record starts at each ``first_key`` line.

    Returns the record of each line (-1: not in one), the key and value of every line
    (null where not a pair) and which lines are pairs."""
    f = cols.extract(arr, _PAIR, empty_as_null=True)
    is_pair = cols.mask(pc.is_valid(f["k"]))
    start = is_pair & cols.mask(pc.equal(pc.utf8_lower(pc.fill_null(f["k"], "")), first_key.casefold()))
    rec = np.cumsum(start) - 1
    return np.where(is_pair & (rec >= 0), rec, -1), {"key": f["k"], "value": f["v"]}, is_pair


def pivot_pairs(record: np.ndarray, pairs: dict[str, pa.Array], keys: Iterable[str]) -> pd.DataFrame:
    """Wide records from ``key_value_blocks``: one row per record, a column per wanted key
    (lower case); the first value of a key repeated within a record wins."""
    wanted = [k.casefold() for k in keys]
    at = np.flatnonzero(record >= 0)
    take = pa.array(at, type=pa.int64())
    k = pc.utf8_lower(pairs["key"].take(take)).to_pandas()
    long = pd.DataFrame({"rec": record[at], "key": k.to_numpy(dtype=object),
                         "value": pairs["value"].take(take).to_pandas().to_numpy(dtype=object)})
    long = long[long["key"].isin(wanted)].drop_duplicates(["rec", "key"])
    n = int(record.max()) + 1 if len(at) else 0
    wide = long.pivot(index="rec", columns="key", values="value") if len(long) else pd.DataFrame(index=[])
    return wide.reindex(index=range(n), columns=wanted)


def dash_runs(dashes: str) -> list[tuple[int, int]]:
    """(start, end) of each run of dashes in a table view's underline row."""
    runs, i = [], 0
    while i < len(dashes):
        if dashes[i] == "-":
            j = i
            while j < len(dashes) and dashes[j] == "-":
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


#: Widest table view read (characters); rows of blanks are found in chunks of this many lines.
TABLE_WIDTH, TABLE_CHUNK = 4096, 4096


def _blank_columns(arr: pa.Array, width: int) -> np.ndarray:
    """Per character position (up to ``width``): whether every line has a blank there."""
    blank = np.ones(width, dtype=bool)
    for k in range(0, len(arr), TABLE_CHUNK):
        part = pc.utf8_slice_codeunits(pc.fill_null(arr.slice(k, TABLE_CHUNK), ""), 0, width)
        text = np.asarray(cols.to_numpy(part), dtype=f"<U{width}")
        mat = text.view(np.uint32).reshape(len(text), width)
        blank &= ((mat == 32) | (mat == 0) | (mat == 9)).all(axis=0)
    return blank


def fixed_width(arr: pa.Array, dashes: str) -> list[pa.Array]:
    """The text of each column of a table view (PowerShell ``Format-Table``) in each line,
    trimmed, null where empty.

    A dashes run underlines each header; values are left-aligned at its start or (numbers)
    right-aligned at its end, and may be wider than it. Columns are split, between two runs,
    at the first position where every line has a blank (the separator PowerShell prints), so
    no value is cut, whichever its alignment; the last column runs to the end of the line."""
    runs = dash_runs(dashes)
    if not runs or not len(arr):
        return [pa.nulls(len(arr), pa.large_string()) for _ in runs]
    blank = _blank_columns(arr, min(max(runs[-1][1], 1), TABLE_WIDTH))
    cuts = [0]
    for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
        gap = np.flatnonzero(blank[min(end, len(blank)):min(start, len(blank))])
        cuts.append(end + int(gap[0]) if len(gap) else start)
    bounds = zip(cuts, cuts[1:] + [None], strict=True)
    return [cols.null_if_empty(pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(pc.fill_null(arr, ""), a, b)))
            for a, b in bounds]


# --- time stamps and states -------------------------------------------------------------------

#: Culture-formatted date patterns tried in turn (PowerShell's ``DateTime.ToString()``: en-US,
#: en-GB/fr, de, ISO-like; Volatility's ``YYYY-MM-DD HH:MM:SS.ffffff``).
_FORMATS = (
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AaPp][Mm]$", "%m/%d/%Y %I:%M:%S %p"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$", "%d/%m/%Y %H:%M:%S"),
    (r"^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}:\d{2}$", "%d.%m.%Y %H:%M:%S"),
    (r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$", "ISO8601"),
)
_OFFSET = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$"
_NAT = np.datetime64("NaT", "ns")
#: Earlier times are the tools' "no time" (1970-01-01 from Velociraptor, 1601-01-01 FILETIME zero).
_LOW, _HIGH = pd.Timestamp("1980-01-01"), pd.Timestamp("2262-04-01")


def timestamps(values: pa.Array) -> np.ndarray:
    """Printed times -> datetime64[ns]: ``/Date(ms)/`` (UTC epoch milliseconds), ISO 8601 with
    an offset or ``Z`` or `` UTC`` (converted to UTC), times without a zone as printed (naive),
    in the culture patterns of ``_FORMATS``; anything else NaT."""
    t = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
    t = pc.replace_substring_regex(t, r"\s*UTC(?:\+0+)?$", "Z")
    out = np.full(len(t), _NAT)
    ms = cols.extract(t, r"^\\?/Date\((?P<ms>-?\d{1,15})(?:[+-]\d{4})?\)\\?/$", empty_as_null=True)["ms"]
    has_ms = cols.mask(pc.is_valid(ms))
    if has_ms.any():
        num = pd.to_numeric(pd.Series(ms.filter(pa.array(has_ms)).to_pandas()), errors="coerce").to_numpy(dtype=float)
        stamp = pd.to_datetime(num, unit="ms", errors="coerce")
        out[has_ms] = _inside(pd.Series(stamp))
    for pattern, fmt in ((_OFFSET, "ISO8601"),) + _FORMATS:
        hit = cols.matches(t, pattern) & np.isnat(out) & ~has_ms
        if not hit.any():
            continue
        s = pd.Series(t.filter(pa.array(hit)).to_pandas(), dtype=object)
        if pattern == _OFFSET:
            got = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)
        else:
            got = pd.to_datetime(s, errors="coerce", format=fmt)
        out[hit] = _inside(got)
    return out


def _inside(stamps: pd.Series) -> np.ndarray:
    s = pd.Series(stamps)
    return s.where((s > _LOW) & (s < _HIGH)).astype("datetime64[ns]").to_numpy(dtype="datetime64[ns]")


def states(raw: pd.Categorical, words: dict[str, str]) -> pd.Categorical:
    """Printed states -> canonical states: ``words`` (the tool's own words and numbers, matched
    upper case, blanks removed) first, then the shared vocabulary (``columns.states``); unknown
    -> UNKNOWN."""
    table = {k.upper().replace(" ", ""): v for k, v in words.items()}
    renamed = [table.get(str(c).strip().upper().replace(" ", ""), str(c)) for c in raw.categories]
    names, at = np.unique(np.array(renamed, dtype=object), return_inverse=True)
    codes = np.append(at, -1)[np.asarray(raw.codes, dtype=np.int64)]  # (code -1, NA: stays -1)
    return cols.states(pd.Categorical.from_codes(codes, names))


# --- the socket rows --------------------------------------------------------------------------


def bare_address(a: pa.Array) -> pa.Array:
    """Addresses with their brackets removed (``[::1]`` -> ``::1``); blanks -> null."""
    return cols.null_if_empty(pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.fill_null(a, ""), r"^\[(.*)\]$", r"\1")))


def socket_rows(line: np.ndarray, fields: dict[str, pa.Array], words: dict[str, str],
                told: np.ndarray | None = None) -> pd.DataFrame:
    """Socket table rows from the text of their fields: ``proto`` (lower case, e.g. ``tcp``),
    ``local``, ``lport``, ``remote``, ``rport``, ``state`` (mapped through ``words``, then the
    shared vocabulary; UDP rows keep none) and, where the input has them, ``pid``, ``process``,
    ``user``, ``inode`` and ``ts`` (datetime64 values)."""
    n = len(line)

    def text(name: str) -> pa.Array:
        a = fields.get(name)
        return pa.nulls(n, pa.large_string()) if a is None else a.cast(pa.large_string())

    proto = pc.utf8_lower(pc.fill_null(text("proto"), ""))
    is_tcp = pc.equal(proto, "tcp")
    raw = cols.categorical(pc.if_else(is_tcp, cols.null_if_empty(pc.utf8_trim_whitespace(text("state"))),
                                      pa.scalar(None, pa.large_string())), empty_as_na=True)
    out = {"line": line, **endpoints.socket_columns(proto, bare_address(text("local")), pc.utf8_trim_whitespace(text("lport")),
                                                    bare_address(text("remote")), pc.utf8_trim_whitespace(text("rport")), told),
           "state": states(raw, words), "raw_state": raw}
    for name in ("pid", "inode"):
        if name in fields:
            out[name] = cols.integers(pc.utf8_trim_whitespace(text(name))).array
    for name in ("process", "user"):
        if name in fields:
            out[name] = cols.categorical(pc.utf8_trim_whitespace(text(name)), empty_as_na=True)
    if "ts" in fields:
        out["ts"] = timestamps(text("ts"))
    return pd.DataFrame(out)


#: ``Parsed.meta`` of an input whose row times (``ts``) are the sockets' creation times
#: (Get-NetTCPConnection, Velociraptor, Volatility, TCPView), not the time of a snapshot or an event.
CREATED = {"row_times": "created"}


def creation_meta(rows: pd.DataFrame) -> dict[str, str]:
    """``CREATED`` when any row carries a creation time, else nothing."""
    return dict(CREATED) if "ts" in rows and bool(rows["ts"].notna().any()) else {}


def parsed(rows: pd.DataFrame, kind: np.ndarray, arr: pa.Array, line_no: np.ndarray, structural: list[str],
           meta: dict | None = None) -> Parsed:
    """A socket-table parser's result from each line's kind: "row" lines gave ``rows``, the
    ``structural`` kinds are counted, every other line is skipped with its kind as the reason
    ("other": unparseable line); the meta says whether the rows carry creation times."""
    bad = np.flatnonzero(~np.isin(kind, ["row", *structural]))
    reasons = np.where(kind[bad] == "other", "unparseable line", kind[bad])
    skipped = skipped_frame(line_no[bad].tolist(), reasons.tolist(), arr.take(pa.array(bad, type=pa.int64())).to_pylist())
    names, counts = np.unique(kind[np.isin(kind, structural)], return_counts=True)
    return Parsed(rows=rows, skipped=skipped, structural=Counter(dict(zip(names.tolist(), counts.tolist(), strict=True))),
                  meta={**creation_meta(rows), **(meta or {})})
