"""Suricata ``eve.json``: its ``flow`` records (and ``netflow``), one JSON object a line; gzip too.

Columns (docs/schema.md): flow records (docs/flows.md#flow-logs): orig_addr, orig_port (the
flow's ``src``), resp_addr, resp_port (``dest``), start, end, duration (``flow.start``/``end``),
orig_pkts, resp_pkts (``pkts_toserver``/``toclient``), orig_ip_bytes, resp_ip_bytes (``bytes_*``:
whole packets, so payload bytes stay NA), orig_flags, resp_flags (``tcp.tcp_flags_ts``/``_tc``,
hex), tool_state (``tcp.state``), tool_reason (``flow.reason``, ``flow.state``), uid
(``flow_id``), line; a ``netflow`` record is one direction (``one_way``).

Example::

    {"timestamp":"2024-01-14T17:40:52.944982+0000","flow_id":1,"event_type":"flow","src_ip":"147.183.77.73","src_port":38212,"dest_ip":"155.166.235.43","dest_port":25,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":0,"bytes_toserver":66,"bytes_toclient":0,"start":"2024-01-14T17:40:52.944982+0000","end":"2024-01-14T17:40:52.944982+0000","age":0,"state":"new","reason":"shutdown","alerted":false},"tcp":{"tcp_flags":"02","tcp_flags_ts":"02","tcp_flags_tc":"00","syn":true,"state":"syn_sent"}}
    {"timestamp":"2024-01-14T17:40:52.944982+0000","event_type":"stats","stats":{"uptime":0}}

    line 1: flow 147.183.77.73:38212 -> 155.166.235.43:25, 1/0 packets, flags 02/00, tcp.state syn_sent
    line 2: structural (event stats)

Fields are read by key, in any order, from the record's ``flow``/``netflow`` and ``tcp``
objects (extra fields and objects are ignored). Flags: ``tcp_flags_ts``/``_tc`` when present;
a ``netflow`` record or one without them takes ``tcp_flags``, else the ``syn``, ``fin``,
``rst``, ``psh``, ``ack`` booleans. How flags become history letters, conn_state, endpoint
states and close kind: docs/flows.md#flow-logs (``tcp.state`` names the responder's state,
the reverse of ``SURICATA_RULES``).

Decisions: other event types (alert, dns, http, stats, ...) are structural, counted by type
(``event alert``); ``flow``/``netflow`` records whose ``proto`` is not TCP are skipped
(``not TCP``), as are lines that are not a JSON object (``unparseable JSON line``) and records
without both addresses (``no endpoint addresses``). Times with an offset are converted to UTC.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols

NAME = "suricata_eve"
KIND = "flowlog"
DESCRIPTION = "Suricata `eve.json` `flow` and `netflow` records (other event types counted); gzip too"
SAVE_WITH = "suricata -r capture.pcap -l out/  # writes out/eve.json"
FIXTURES = ("suricata/*.json",)
ORDER = 71

_EVENT = r'"event_type"\s*:\s*"(?P<v>[^"]*)"'
_FLAG_BITS = (("fin", 0x01), ("syn", 0x02), ("rst", 0x04), ("psh", 0x08), ("ack", 0x10), ("urg", 0x20),
              ("ecn", 0x40), ("cwr", 0x80))


def detect(lines: Lines) -> float:
    arr = cols.strings_or_empty(lines.text)
    if not len(arr):
        return 0.0
    eve = cols.matches(arr, r'^\s*\{.*"event_type"\s*:\s*"[a-z0-9_]+"') & cols.matches(arr, r'"(timestamp|src_ip)"\s*:')
    if not eve.any():
        return 0.0
    return 0.6 + 0.4 * float(eve.mean())


def _value(arr: pa.Array, key: str) -> pa.Array:
    """The value of ``"key": value`` in each string (quotes removed), or null."""
    m = cols.extract(arr, rf'"{key}"\s*:\s*(?P<v>"[^"]*"|[^,}}\]\s]+)', empty_as_null=True)["v"]
    return pc.replace_substring_regex(m, r'^"|"$', "")


def _object(arr: pa.Array, key: str) -> pa.Array:
    """The text of the flat object ``"key": {...}`` in each string (no nested objects), or ""."""
    return cols.extract(arr, rf'"{key}"\s*:\s*\{{(?P<v>[^{{}}]*)\}}', empty_as_null=False)["v"]


def parse(lines: Lines) -> Parsed:
    text = lines.text
    arr = cols.strings_or_empty(text)
    line_no = text.index.to_numpy()
    blank = cols.blank(arr)
    is_json = cols.matches(arr, r"^\s*\{.*\}\s*$")
    event = cols.to_numpy(pc.fill_null(_value(arr, "event_type"), ""))
    etype = np.where(is_json, event, "")
    flowish = is_json & np.isin(etype, ["flow", "netflow"])
    other = is_json & ~flowish
    bad = ~blank & ~is_json
    structural = Counter({"blank": int(blank.sum())})
    if other.any():
        kinds = pd.Series(etype[other]).where(pd.Series(etype[other]).str.fullmatch(r"[a-z0-9_]{1,32}"), "other")
        structural.update({f"event {k}": int(n) for k, n in kinds.value_counts().items()})
    skipped = []
    if bad.any():
        at = np.flatnonzero(bad)
        skipped.append(skipped_frame(line_no[at].tolist(), ["unparseable JSON line"] * len(at),
                                     pc.take(arr, pa.array(at, type=pa.int64())).to_pylist()))
    rows = _records(pc.take(arr, pa.array(np.flatnonzero(flowish), type=pa.int64())), line_no[flowish],
                    etype[flowish] == "netflow")
    rows, dropped = _usable(rows)
    skip = pd.concat(skipped + dropped, ignore_index=True) if skipped or dropped else skipped_frame([], [], [])
    return Parsed(rows=rows, skipped=skip, structural=+structural)


def _records(sub: pa.Array, lines: np.ndarray, netflow: np.ndarray) -> pd.DataFrame:
    """Typed flow-record columns of the flow and netflow lines."""
    flow = _object(sub, "flow")
    nf = _object(sub, "netflow")
    tcp = _object(sub, "tcp")

    def num(a: pa.Array) -> np.ndarray:
        return cols.integers(a, "Int64").to_numpy(dtype="float64", na_value=np.nan)

    def either(key: str, nf_key: str) -> np.ndarray:
        return np.where(netflow, num(_value(nf, nf_key)), num(_value(flow, key)))

    out: dict[str, object] = {"line": pd.array(lines, dtype="Int64")}  # (one frame at the end: cheaper)
    out["uid"] = pd.array(_value(sub, "flow_id").to_pandas(), dtype="string")
    out["orig_addr"] = _address(cols.categorical(_value(sub, "src_ip"), empty_as_na=True))
    out["resp_addr"] = _address(cols.categorical(_value(sub, "dest_ip"), empty_as_na=True))
    out["orig_port"] = cols.integers(_value(sub, "src_port"), "UInt16").array
    out["resp_port"] = cols.integers(_value(sub, "dest_port"), "UInt16").array
    out["proto"] = pd.Series(_value(sub, "proto").to_pandas(), dtype=object).str.lower().to_numpy()
    out["orig_pkts"] = pd.array(either("pkts_toserver", "pkts"), dtype="Int64")
    out["resp_pkts"] = pd.array(np.where(netflow, 0, num(_value(flow, "pkts_toclient"))), dtype="Int64")
    out["orig_ip_bytes"] = pd.array(either("bytes_toserver", "bytes"), dtype="Int64")
    out["resp_ip_bytes"] = pd.array(np.where(netflow, 0, num(_value(flow, "bytes_toclient"))), dtype="Int64")
    out["orig_flags"], out["resp_flags"] = _flags(tcp, netflow)
    out["tool_state"] = cols.categorical(_value(tcp, "state"), empty_as_na=True)
    reason = pd.Series(_value(flow, "reason").to_pandas(), dtype=object)
    state = pd.Series(_value(flow, "state").to_pandas(), dtype=object)
    out["tool_reason"] = (reason.fillna("-") + " (" + state.fillna("-") + ")").where(
        reason.notna() | state.notna()).to_numpy(dtype=object)
    out["one_way"] = netflow
    stamp = _value(sub, "timestamp")
    start = _times(pc.if_else(netflow, _value(nf, "start"), _value(flow, "start")), stamp)
    end = _times(pc.if_else(netflow, _value(nf, "end"), _value(flow, "end")), stamp)
    out["start"], out["end"] = start, end
    both = ~pd.isna(start) & ~pd.isna(end)
    out["duration"] = np.where(both, (end - start).astype("timedelta64[ns]").astype(np.int64) / 1e9, 0.0)
    return pd.DataFrame(out)


def _address(cat: pd.Categorical) -> pd.Categorical:
    """Addresses in their short form (Suricata writes IPv6 in full: ``fe80:0000:...``), one
    conversion per distinct address."""
    short = np.asarray([_short(c) for c in cat.categories] + [None], dtype=object)
    return pd.Categorical(short[np.where(cat.codes < 0, len(short) - 1, cat.codes)])


def _short(text: str) -> str:
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def _flags(tcp: pa.Array, netflow: np.ndarray) -> tuple[pd.arrays.IntegerArray, pd.arrays.IntegerArray]:
    """Each side's flags: tcp_flags_ts / _tc (hex), else tcp_flags (netflow, or one side), else
    the booleans; NA where the record has no tcp object."""
    ts = cols.hex_integers(cols.null_if_empty(_value(tcp, "tcp_flags_ts")), "Int64")
    tc = cols.hex_integers(cols.null_if_empty(_value(tcp, "tcp_flags_tc")), "Int64")
    both = cols.hex_integers(cols.null_if_empty(_value(tcp, "tcp_flags")), "Int64")
    bits = np.zeros(len(tcp), dtype=np.int64)
    any_bool = np.zeros(len(tcp), dtype=bool)
    for name, bit in _FLAG_BITS:
        v = cols.to_numpy(pc.fill_null(_value(tcp, name), ""))
        bits |= np.where(v == "true", bit, 0)
        any_bool |= v != ""
    fallback = both.where(both.notna(), pd.Series(pd.array(np.where(any_bool, bits, 0), dtype="Int64")).where(any_bool))
    orig = ts.where(ts.notna() & ~netflow, fallback)
    resp = tc.where(~netflow, pd.NA)
    return pd.array(orig, dtype="UInt16"), pd.array(resp, dtype="UInt16")


def _times(iso: pa.Array, fallback: pa.Array) -> np.ndarray:
    """ISO 8601 times (any offset) -> UTC datetime64[ns]; the record's timestamp where absent."""
    s = pd.Series(pc.if_else(pc.is_valid(iso), iso, fallback).to_pandas(), dtype=object)
    t = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)
    inside = (t > pd.Timestamp("1678-01-01")) & (t < pd.Timestamp("2262-04-01"))  # what datetime64[ns] holds
    return t.where(inside).dt.as_unit("ns").to_numpy(dtype="datetime64[ns]")


def _usable(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    if not len(rows):
        return rows.drop(columns=["proto"]), []
    not_tcp = (rows["proto"].fillna("") != "tcp").to_numpy(dtype=bool)
    no_addr = (rows["orig_addr"].isna() | rows["resp_addr"].isna()).to_numpy(dtype=bool) & ~not_tcp
    dropped = []
    for mask, reason in ((not_tcp, "not TCP"), (no_addr, "no endpoint addresses")):
        if mask.any():
            bad = rows[mask]
            dropped.append(skipped_frame(bad["line"].astype(int).tolist(), [reason] * len(bad),
                                         ("proto " + bad["proto"].astype(object).fillna("-").astype(str)).tolist()))
    return rows[~not_tcp & ~no_addr].drop(columns=["proto"]).reset_index(drop=True), dropped
