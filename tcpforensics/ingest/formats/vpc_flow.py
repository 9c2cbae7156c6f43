"""AWS VPC flow logs: the default format and custom formats (``tcp-flags``, ``pkt-srcaddr``, ...).

Columns (docs/schema.md): flow records (docs/flows.md#flow-logs), one per log record and one
direction each (``one_way``): orig_addr, orig_port (the record's source), resp_addr,
resp_port, orig_pkts, orig_ip_bytes (``packets``, ``bytes``: IP bytes), start, end,
duration, orig_flags (``tcp-flags``), tool_reason (``action``), tool_state (``log-status``),
interface (``interface-id``), line.

Example::

    version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
    2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK
    2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA

    line 2: record 172.31.16.139:20641 -> 172.31.16.21:22, 20 packets, 4249 bytes, ACCEPT
    line 3: structural (no data)

Fields are found by name from the header line that S3 delivery writes (any order, any
subset, extra fields ignored; a ``cat`` of several files repeats it); lines before any header
are read in the default (version 2) order when they have its 14 fields. Where the record has
``pkt-srcaddr``/``pkt-dstaddr`` (the packet's own addresses, behind a NAT gateway or a
transit gateway), they are the endpoints. ``flow-direction`` (ingress/egress of the
interface) does not change source and destination, which are always the packets'.

Reading the OR-ed ``tcp-flags`` (FIN 1, SYN 2, RST 4, SYN-ACK 18; ACK and PSH are never
reported alone; the flags of a capture window are OR-ed, so 19 is SYN-ACK and FIN, 3 SYN and
FIN): a record with 2 proves a connection attempt from its source, 18 an answer, 1 and 4 a
close or reset. They do not prove the order of events, data (``bytes`` count headers), or
whether the handshake completed (the final ACK is never reported). A reply is another
record (source and destination swapped): ``reconstruct/flowlogs.py`` joins the two directions
of a 4-tuple into one flow, oriented by the bare SYN. A REJECT record without ``tcp-flags``
is read as a refused attempt (history ``S``): security groups are stateful, so a rejected
TCP record starts a connection.

Decisions: ``NODATA`` records are structural (``no data``); ``SKIPDATA`` records are skipped
(``SKIPDATA: records lost``: the log itself says it is incomplete); non-TCP records (protocol
other than 6) are skipped (``not TCP``; ``protocol unknown`` when the format has no
``protocol`` field), as are records without both addresses and ports
(``no endpoints``) and lines whose field count differs from the header's (``wrong field
count``). ``start``/``end`` are epoch seconds (UTC).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols

NAME = "vpc_flow"
KIND = "flowlog"
DESCRIPTION = "AWS VPC flow logs, default (version 2) and custom formats (`tcp-flags`, `pkt-srcaddr`, `flow-direction`); gzip too"
SAVE_WITH = "aws s3 cp s3://BUCKET/AWSLogs/ACCOUNT/vpcflowlogs/REGION/2026/12/07/ . --recursive"
FIXTURES = ("vpc/*.log", "vpc/*.log.gz")
ORDER = 72

#: The default (version 2) fields, in order.
DEFAULT_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
                  "packets", "bytes", "start", "end", "action", "log-status")
_WANTED = ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end", "action",
           "log-status", "tcp-flags", "pkt-srcaddr", "pkt-dstaddr", "interface-id")


def detect(lines: Lines) -> float:
    arr = cols.strings_or_empty(lines.text)
    if not len(arr):
        return 0.0
    header = cols.matches(arr, r"^([a-z0-9-]+ )*(srcaddr|pkt-srcaddr) ([a-z0-9-]+ )*(dstaddr|pkt-dstaddr)( [a-z0-9-]+)*$")
    if header.any():
        return 1.0
    row = cols.matches(arr, r"^[0-9]+ [0-9]+ eni-[0-9a-f]+ \S+ \S+ \S+ \S+ \S+ \S+ \S+ [0-9]+ [0-9]+ \S+ (OK|NODATA|SKIPDATA)$")
    return 0.95 * float(row.mean()) if row.any() else 0.0


def parse(lines: Lines) -> Parsed:
    text = lines.text
    arr = pc.utf8_trim(cols.strings_or_empty(text), " \t\r")
    line_no = text.index.to_numpy()
    blank = cols.blank(arr)
    header = cols.matches(arr, r"^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*$") & \
        cols.matches(arr, r"(^| )(srcaddr|dstaddr|pkt-srcaddr|pkt-dstaddr|srcport|dstport)( |$)")
    data = ~blank & ~header
    heads = np.flatnonzero(header)
    owner = np.searchsorted(heads, np.arange(len(arr)), side="right") - 1
    names_of = pc.take(arr, pa.array(heads, type=pa.int64())).to_pylist() if len(heads) else []
    lists, which = np.unique(np.asarray(names_of + [" ".join(DEFAULT_FIELDS)], dtype=object).astype(str),
                             return_inverse=True)
    default = which[-1]
    block = np.where(owner >= 0, which[np.maximum(owner, 0)] if len(heads) else default, default)
    parts, skipped = [], []
    structural = Counter({"header": int(header.sum()), "blank": int(blank.sum())})
    for b in np.unique(block[data]):
        names = str(lists[b]).split(" ")
        rows = np.flatnonzero(data & (block == b))
        split = pc.split_pattern_regex(pc.take(arr, pa.array(rows, type=pa.int64())), r"\s+")
        width = cols.to_numpy(pc.list_value_length(split))
        ok = width == len(names)
        if (~ok).any():
            bad = rows[~ok]
            skipped.append(skipped_frame(line_no[bad].tolist(), ["wrong field count"] * len(bad),
                                         pc.take(arr, pa.array(bad, type=pa.int64())).to_pylist()))
        if ok.any():
            keep = pc.filter(split, pa.array(ok))
            values = {f: pc.list_element(keep, i) for i, f in enumerate(names) if f in _WANTED}
            got, bad, kinds = _records(values, line_no[rows[ok]], int(ok.sum()))
            parts.append(got)
            skipped += bad
            structural.update(kinds)
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"line": pd.Series(dtype="Int64")})
    skip = pd.concat(skipped, ignore_index=True) if skipped else skipped_frame([], [], [])
    return Parsed(rows=rows.sort_values("line", kind="stable").reset_index(drop=True) if len(rows) else rows,
                  skipped=skip, structural=+structural)


def _epoch(seconds: pd.Series) -> np.ndarray:
    """Epoch seconds as floats; NaN where they do not fit datetime64[ns] (before 1970, after 2262)."""
    v = seconds.to_numpy(dtype="float64", na_value=np.nan)
    return np.where((v >= 0) & (v < 9.2e9), v, np.nan)


def _records(values: dict[str, pa.Array], lines: np.ndarray, n: int) -> tuple[pd.DataFrame, list, Counter]:
    """The TCP records of one field list; NODATA counted, the rest skipped by reason."""
    def text(name: str) -> pa.Array:
        a = values.get(name)
        if a is None:
            return pa.nulls(n, pa.string())
        return pc.if_else(pc.equal(a, "-"), pa.scalar(None, a.type), a)

    status = cols.to_numpy(pc.fill_null(text("log-status"), ""))
    proto = cols.to_numpy(pc.fill_null(text("protocol"), ""))
    src = pc.coalesce(text("pkt-srcaddr"), text("srcaddr"))
    dst = pc.coalesce(text("pkt-dstaddr"), text("dstaddr"))
    sport, dport = cols.integers(text("srcport"), "UInt16"), cols.integers(text("dstport"), "UInt16")
    nodata = status == "NODATA"
    lost = status == "SKIPDATA"
    unknown = ~nodata & ~lost & (proto == "")
    not_tcp = ~nodata & ~lost & ~unknown & (proto != "6")
    no_ends = ~nodata & ~lost & ~not_tcp & ~unknown & (~cols.mask(pc.is_valid(src)) | ~cols.mask(pc.is_valid(dst))
                                             | sport.isna().to_numpy() | dport.isna().to_numpy())
    good = ~nodata & ~lost & ~not_tcp & ~unknown & ~no_ends
    bad = []
    for mask, reason in ((lost, "SKIPDATA: records lost"), (not_tcp, "not TCP"), (unknown, "protocol unknown"),
                         (no_ends, "no endpoints")):
        if mask.any():
            bad.append(skipped_frame(lines[mask].tolist(), [reason] * int(mask.sum()),
                                     [f"protocol {p or '-'}" for p in proto[mask]]))
    take = pa.array(np.flatnonzero(good), type=pa.int64())
    secs = {k: cols.integers(pc.take(text(k), take), "Int64") for k in ("start", "end")}
    times = {k: pd.to_datetime(_epoch(v), unit="s").to_numpy(dtype="datetime64[ns]") for k, v in secs.items()}
    out = pd.DataFrame({
        "line": pd.array(lines[good], dtype="Int64"),
        "orig_addr": cols.categorical(pc.take(src, take), empty_as_na=True),
        "resp_addr": cols.categorical(pc.take(dst, take), empty_as_na=True),
        "orig_port": sport[good].array, "resp_port": dport[good].array,
        "orig_pkts": cols.integers(pc.take(text("packets"), take), "Int64").array,
        "orig_ip_bytes": cols.integers(pc.take(text("bytes"), take), "Int64").array,
        "orig_flags": cols.integers(pc.take(text("tcp-flags"), take), "UInt16").array,
        "tool_reason": cols.categorical(pc.take(text("action"), take), empty_as_na=True),
        "tool_state": cols.categorical(pc.take(text("log-status"), take), empty_as_na=True),
        "interface": cols.categorical(pc.take(text("interface-id"), take), empty_as_na=True),
        "start": times["start"], "end": times["end"], "one_way": True,
    })
    dur = (out["end"] - out["start"]).dt.total_seconds()
    out["duration"] = dur.fillna(0.0).clip(lower=0.0).to_numpy()
    return out, bad, Counter({"no data": int(nodata.sum())})
