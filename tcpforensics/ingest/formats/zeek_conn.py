"""Zeek ``conn.log``: TSV with its ``#fields`` header, JSON lines, ``zeek-cut`` output; gzip too.

Columns (docs/schema.md): flow records (docs/flows.md#flow-logs): uid, orig_addr, orig_port,
resp_addr, resp_port, start (``ts``), duration, end, orig_pkts, resp_pkts, orig_bytes,
resp_bytes, conn_state, history, missed_bytes, line; orig_states, resp_states, orig_final,
resp_final and close when the log carries them (``tcpforensics flows --format zeek``).

Example::

    #separator \\x09
    #fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	duration	orig_bytes	resp_bytes	conn_state	history	orig_pkts	resp_pkts
    #types	time	string	addr	port	addr	port	enum	interval	count	count	string	string	count	count
    1700000000.000000	C1	10.0.0.9	51234	10.0.0.5	22	tcp	1.5	100	200	SF	ShADadFf	8	6
    1700000001.000000	C2	10.0.0.9	53	10.0.0.5	53	udp	-	-	-	S0	D	1	0

    line 4: flow C1 10.0.0.9:51234 -> 10.0.0.5:22, conn_state SF, history ShADadFf, 8/6 packets
    line 5: skipped (not TCP: udp)

Fields are found by name, in any order, with any extra fields (``service``, ``local_orig``,
``tunnel_parents``, ...): each data line takes the field list of the last ``#fields`` line
before it (``cat`` of several logs, ``zeek-cut -c`` output), or of the last ``zeek-cut -m``
name line (a tab-separated line of field names). A log with neither is read in Zeek's
default conn.log field order when its lines have 21 or 22 fields. ``#separator`` is honoured.
JSON lines (``LogAscii::use_json=T``) are read by key, in any order; ``ts`` is epoch seconds
or ISO 8601. ``-`` (unset) and ``(empty)`` are NA, except that an unset ``duration`` is 0
(Zeek leaves it unset for a connection of one packet) and unset byte counts are 0 where the
history shows no data from that side.

Decisions: rows whose ``proto`` is not ``tcp`` are skipped (``not TCP``); a log without a
``proto`` field is taken as TCP. A row without both addresses (``id.orig_h``, ``id.resp_h``)
is skipped (``no endpoint addresses``), and one whose field count differs from its header's
(``wrong field count``). A ``ts`` that cannot be read (masked ``XXXXXXXXXX.XXXXXX`` in test
baselines) leaves start and end NaT and the flow is kept. Headers, ``#close`` and comment lines
are structural. The record's line number is its ``first_frame`` (findings cite ``log#line``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols

NAME = "zeek_conn"
KIND = "flowlog"
DESCRIPTION = "Zeek `conn.log` (TSV with `#fields`, JSON lines, `zeek-cut -c`/`-m` output; gzip-rotated `conn.*.log.gz`)"
SAVE_WITH = "zeek -r capture.pcap  # writes conn.log"
FIXTURES = ("zeek/*.log", "zeek/*.log.gz", "zeek/*.json")
ORDER = 70

#: Zeek's default conn.log fields (a headerless log with 21 or 22 fields is read this way).
DEFAULT_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
                  "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
                  "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
                  "tunnel_parents", "ip_proto")

#: conn.log field -> flow-record column.
FIELD_COLUMNS = {
    "ts": "start", "uid": "uid", "id.orig_h": "orig_addr", "id.orig_p": "orig_port", "id.resp_h": "resp_addr",
    "id.resp_p": "resp_port", "proto": "proto", "duration": "duration", "orig_bytes": "orig_bytes",
    "resp_bytes": "resp_bytes", "conn_state": "conn_state", "missed_bytes": "missed_bytes", "history": "history",
    "orig_pkts": "orig_pkts", "resp_pkts": "resp_pkts", "orig_states": "orig_states", "resp_states": "resp_states",
    "orig_final": "orig_final", "resp_final": "resp_final", "close": "close", "orig_ip_bytes": "orig_ip_bytes",
    "resp_ip_bytes": "resp_ip_bytes",
}
_NAME_LINE = r"^(ts|uid|id\.orig_h)(\t[a-z_.]+)*\t(id\.orig_h|id\.resp_h|history|conn_state)(\t[a-z_.]+)*$"
_UNSET = ("-", "(empty)", "")


def detect(lines: Lines) -> float:
    arr = cols.strings_or_empty(lines.text)
    if not len(arr):
        return 0.0
    if cols.matches(arr, r"^#fields\t.*id\.orig_h.*\t(conn_state|history)(\t|$)").any() or \
            cols.matches(arr, r"^#path\tconn$").any():
        return 1.0
    json = cols.matches(arr, r'^\{.*"id\.orig_h"\s*:.*"(conn_state|history)"\s*:')
    if json.any():
        return 0.95 * float(json.mean()) + 0.05
    if cols.matches(arr, _NAME_LINE).any():
        return 0.9
    tsv = cols.matches(arr, r"^[^\t]+\t[^\t]+\t[0-9a-fA-F.:]+\t[0-9]+\t[0-9a-fA-F.:]+\t[0-9]+\t(tcp|udp|icmp)\t")
    return 0.8 * float(tsv.mean())


def parse(lines: Lines) -> Parsed:
    text = lines.text
    arr = cols.strings_or_empty(text)
    line_no = text.index.to_numpy()
    blank = cols.blank(arr)
    comment = cols.matches(arr, r"^#")
    fields_line = cols.matches(arr, r"^#fields\t")
    name_line = cols.matches(arr, _NAME_LINE) & ~comment
    json = cols.matches(arr, r"^\s*\{.*\}\s*$") & ~comment
    bad_json = cols.matches(arr, r"^\s*\{") & ~json & ~comment  # a cut or broken JSON line
    data = ~blank & ~comment & ~name_line & ~json & ~bad_json
    sep = _separator(arr, comment)
    parts: list[pd.DataFrame] = []
    skipped: list[pd.DataFrame] = []
    if json.any():
        parts.append(_json_rows(arr, np.flatnonzero(json), line_no))
    if data.any():
        got, bad = _tsv_rows(arr, data, fields_line | name_line, sep, line_no)
        parts += got
        skipped += bad
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"line": pd.Series(dtype="Int64")})
    rows, dropped = _usable(rows)
    skipped += dropped
    if bad_json.any():
        at = np.flatnonzero(bad_json)
        skipped.append(skipped_frame(line_no[at].tolist(), ["unparseable JSON line"] * len(at),
                                     pc.take(arr, pa.array(at, type=pa.int64())).to_pylist()))
    skip = pd.concat(skipped, ignore_index=True) if skipped else skipped_frame([], [], [])
    structural = Counter({"header": int((comment | name_line).sum()), "blank": int(blank.sum())})
    return Parsed(rows=rows.sort_values("line", kind="stable").reset_index(drop=True), skipped=skip,
                  structural=+structural)


def _separator(arr: pa.Array, comment: np.ndarray) -> str:
    """The field separator of the log (``#separator \\x09`` header; a tab without one)."""
    heads = cols.extract(arr, r"^#separator (?P<sep>\S+)$", empty_as_null=True)["sep"]
    found = [s for s in pc.drop_null(heads).to_pylist()[:1]]
    if not found:
        return "\t"
    raw = found[0]
    if raw.startswith("\\x") and len(raw) == 4:
        try:
            return chr(int(raw[2:], 16))
        except ValueError:
            return "\t"
    return raw[:1] or "\t"


def _tsv_rows(arr: pa.Array, data: np.ndarray, header: np.ndarray, sep: str,
              line_no: np.ndarray) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """The data lines, each split by the field list of the last header line before it (the
    lines of one field list at a time: a handful, whatever the number of lines)."""
    heads = np.flatnonzero(header)
    owner = np.searchsorted(heads, np.arange(len(arr)), side="right") - 1  # -1: before any header
    names_of = pc.replace_substring_regex(pc.take(arr, pa.array(heads, type=pa.int64())), r"^#fields\t", "") \
        if len(heads) else pa.array([], pa.string())
    keys = np.asarray(names_of.to_pylist() + [None], dtype=object)  # the field list of each header
    lists, which = np.unique(np.where(pd.isna(keys), "", keys).astype(str), return_inverse=True)
    block = np.where(owner >= 0, which[np.maximum(owner, 0)], -1)
    got, bad = [], []
    for b in np.unique(block[data]):
        names = lists[b].split("\t") if b >= 0 and lists[b] else None
        rows = np.flatnonzero(data & (block == b))
        split = pc.split_pattern(pc.take(arr, pa.array(rows, type=pa.int64())), sep)
        width = cols.to_numpy(pc.list_value_length(split))
        if names is None:  # no header: Zeek's default order, when the width fits
            names = list(DEFAULT_FIELDS[:22]) if (width == 22).any() else list(DEFAULT_FIELDS[:21])
        ok = width == len(names)
        if (~ok).any():
            wrong = rows[~ok]
            bad.append(skipped_frame(line_no[wrong].tolist(), ["wrong field count"] * len(wrong),
                                     pc.take(arr, pa.array(wrong, type=pa.int64())).to_pylist()))
        if ok.any():
            keep = pc.filter(split, pa.array(ok))
            values = {FIELD_COLUMNS[f]: pc.list_element(keep, i) for i, f in enumerate(names) if f in FIELD_COLUMNS}
            got.append(_typed(values, line_no[rows[ok]], iso_ts=False))
    return got, bad


def _json_rows(arr: pa.Array, rows: np.ndarray, line_no: np.ndarray) -> pd.DataFrame:
    """JSON records read by key (RE2 per key over the whole column; flat Zeek keys)."""
    sub = pc.take(arr, pa.array(rows, type=pa.int64()))
    values = {}
    for field, column in FIELD_COLUMNS.items():
        if not cols.mask(pc.match_substring(sub, f'"{field}"')).any():
            continue  # no line has this key
        key = field.replace(".", r"\.")
        m = cols.extract(sub, rf'"{key}"\s*:\s*(?P<v>"[^"]*"|[^,}}\s]+)', empty_as_null=True)["v"]
        values[column] = pc.replace_substring_regex(m, r'^"|"$', "")
    return _typed(values, line_no[rows], iso_ts=True)


def _typed(values: dict[str, pa.Array], lines: np.ndarray, iso_ts: bool) -> pd.DataFrame:
    """String columns of the records -> typed record columns."""
    n = len(lines)

    def text(name: str) -> pa.Array:
        a = values.get(name)
        if a is None:
            return pa.nulls(n, pa.string())
        return pc.if_else(pc.is_in(a, pa.array(_UNSET)), pa.scalar(None, a.type), a)

    out: dict[str, object] = {"line": pd.array(lines, dtype="Int64")}  # (one frame at the end: cheaper)
    for name in ("uid", "history"):
        out[name] = pd.array(text(name).to_pandas(), dtype="string")
    for name in ("conn_state", "orig_states", "resp_states", "orig_final", "resp_final", "close", "orig_addr",
                 "resp_addr", "proto"):
        if name in values or name.endswith("addr"):  # (a field the log lacks is left to the schema: NA)
            out[name] = cols.categorical(text(name), empty_as_na=True)
    for name, dtype in (("orig_port", "UInt16"), ("resp_port", "UInt16"), ("orig_pkts", "Int64"),
                        ("resp_pkts", "Int64"), ("orig_bytes", "Int64"), ("resp_bytes", "Int64"),
                        ("missed_bytes", "Int64"), ("orig_ip_bytes", "Int64"), ("resp_ip_bytes", "Int64")):
        if name in values or name.endswith("bytes"):
            out[name] = cols.integers(text(name), dtype).array
    hist = pc.fill_null(text("history"), "")
    for side, letter in (("orig_bytes", "D"), ("resp_bytes", "d")):
        unset_no_data = out[side].isna() & ~cols.mask(pc.match_substring(hist, letter))
        out[side] = pd.arrays.IntegerArray(out[side].to_numpy(dtype=np.int64, na_value=0),
                                           out[side].isna() & ~unset_no_data)
    duration = pd.to_numeric(pd.Series(text("duration").to_pandas(), dtype=object), errors="coerce")
    duration = duration.to_numpy(dtype="float64", na_value=np.nan)
    out["duration"] = np.where(np.isfinite(duration) & (duration >= 0) & (duration < 1e9), duration, 0.0)
    out["start"] = _times(text("start"), iso_ts)
    start_ns, dur_ns = out["start"].view(np.int64), np.round(out["duration"] * 1e9).astype(np.int64)
    fits = ~np.isnat(out["start"]) & (start_ns <= np.iinfo(np.int64).max - dur_ns)
    out["end"] = np.where(fits, start_ns + np.where(fits, dur_ns, 0), np.datetime64("NaT").view(np.int64)) \
        .view("datetime64[ns]")
    return pd.DataFrame(out)


def _times(ts: pa.Array, iso: bool) -> np.ndarray:
    """Epoch seconds (or ISO 8601 in JSON) -> datetime64[ns]; unreadable -> NaT."""
    s = pd.Series(ts.to_pandas(), dtype=object)
    secs = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(secs) & (np.abs(secs) < 9e9)
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
    whole = np.floor(np.where(ok, secs, 0))
    frac = np.round((np.where(ok, secs, 0) - whole) * 1e6).astype(np.int64) * 1000  # microseconds, as logged
    out[ok] = (whole.astype(np.int64) * 1_000_000_000 + frac)[ok].astype("datetime64[ns]")
    if iso and (~ok).any():
        parsed = pd.to_datetime(s[~ok], errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)
        inside = (parsed > pd.Timestamp("1678-01-01")) & (parsed < pd.Timestamp("2262-04-01"))  # datetime64[ns]
        out[~ok] = parsed.where(inside).dt.as_unit("ns").to_numpy(dtype="datetime64[ns]")
    return out


def _usable(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The TCP rows with both addresses; the others as skipped lines by reason."""
    if not len(rows):
        return rows, []
    proto = rows["proto"].astype(object) if "proto" in rows else pd.Series(pd.NA, index=rows.index, dtype=object)
    not_tcp = (proto.notna() & (proto.astype(str).str.lower() != "tcp")).to_numpy(dtype=bool)
    no_addr = (rows["orig_addr"].isna() | rows["resp_addr"].isna()).to_numpy(dtype=bool) & ~not_tcp
    dropped = []
    if not_tcp.any():
        bad = rows[not_tcp]
        dropped.append(skipped_frame(bad["line"].astype(int).tolist(), ["not TCP"] * len(bad),
                                     ("proto " + bad["proto"].astype(object).fillna("-").astype(str)).tolist()))
    if no_addr.any():
        bad = rows[no_addr]
        dropped.append(skipped_frame(bad["line"].astype(int).tolist(), ["no endpoint addresses"] * len(bad),
                                     ("uid " + bad["uid"].astype(object).fillna("-").astype(str)).tolist()))
    return rows[~not_tcp & ~no_addr].drop(columns=["proto"], errors="ignore"), dropped
