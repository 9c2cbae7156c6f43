"""iproute2 ``ss -s`` summaries: socket totals by state and transport, read as counters.

Columns: no socket events; the counter table (docs/schema.md, "Kernel counters"), group
``SsSummary``: ``total``, ``kernel`` (old ss), ``tcp``, ``estab``, ``closed``, ``orphaned``,
``synrecv`` (old ss), ``timewait``, ``ports`` (old ss) and the transport table as
``TRANSPORT_COLUMN`` (``TCP_total``, ``TCP_IP``, ``TCP_IPv6``, ``UDP_total`` ...).

Usage::

    ss -s > ss-s.txt
    while sleep 10; do date; ss -s; done > ss-s-loop.txt     # readings over time
    tcpforensics analyze ss-s.txt

Example::

    Total: 31
    TCP:   33 (estab 10, closed 4, orphaned 0, timewait 3)

    Transport Total     IP        IPv6
    RAW	  0         0         0
    TCP	  29        21        8

    reading 0: total 31, tcp 33, estab 10, closed 4, orphaned 0, timewait 3, RAW_total 0,
               RAW_IP 0, RAW_IPv6 0, TCP_total 29, TCP_IP 21, TCP_IPv6 8

The ``TCP:`` line counts TCP sockets by state from /proc/net/sockstat (``estab`` is the
established count, ``closed`` the sockets in CLOSE (unbound or never connected), ``orphaned``
the sockets no process holds any more (closed by the application, still finishing their
close), ``timewait`` the TIME_WAIT sockets (old ss: ``timewait N/M``, the second number the
TIME_WAIT buckets); the table counts sockets per transport and family. A ``-`` in the table is
no value. Each ``Total:`` line starts a new reading (a loop of ``ss -s``); the snapshot markers
of a loop (``date`` lines) give their times.

Decisions: the header line (``Transport Total IP IPv6``), blank lines, shell prompts and table
lines of ``-`` only are structural; a line whose numbers are all too large for a counter (more
than 18 digits) is skipped as ``number out of range``; any other line is skipped as
``unparseable line``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics import schema
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols

NAME = "ss_summary"
KIND = "text"
DESCRIPTION = "iproute2 `ss -s` summaries (socket totals by state and transport; counters)"
SAVE_WITH = "ss -s > ss-s.txt"
FIXTURES = ("linux/ss-s/*.txt",)
ORDER = 58

GROUP = "SsSummary"
_TOTAL = r"^[ \t]*Total:[ \t]+(?P<total>[0-9]+)(?:[ \t]+\(kernel[ \t]+(?P<kernel>[0-9]+)\))?[ \t]*$"
_TCP = (
    r"^[ \t]*TCP:[ \t]+(?P<tcp>[0-9]+)[ \t]+\(estab[ \t]+(?P<estab>[0-9]+),[ \t]+closed[ \t]+(?P<closed>[0-9]+),"
    r"[ \t]+orphaned[ \t]+(?P<orphaned>[0-9]+),(?:[ \t]+synrecv[ \t]+(?P<synrecv>[0-9]+),)?"
    r"[ \t]+timewait[ \t]+(?P<timewait>[0-9]+)(?:/[0-9]+)?\)(?:,[ \t]+ports[ \t]+(?P<ports>[0-9]+))?[ \t]*$"
)
_HEADER = r"^[ \t]*Transport[ \t]+Total[ \t]+IP[ \t]+IPv6[ \t]*$"
_TABLE = r"^[ \t]*(?P<t>RAW|UDP|TCP|INET|FRAG|\*)[ \t]+(?P<total>[0-9]+|-)[ \t]+(?P<ip>[0-9]+|-)[ \t]+(?P<ip6>[0-9]+|-)[ \t]*$"
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("total", _TOTAL),
    ("tcp", _TCP),
    ("header", _HEADER),
    ("table", _TABLE),
    ("command", r"^[ \t]*(?:\[[^\]]*\]|[\w.@:~/-]*)[ \t]?[$#%>][ \t]"),
)


def detect(lines: Lines) -> float:
    """High on the ``TCP: N (estab N, closed N, orphaned N, ...`` line with the table header."""
    text = lines.text.iloc[:4000]
    if text.empty:
        return 0.0
    arr = cols.clean_lines(text)
    tcp, header = cols.matches(arr, _TCP).any(), cols.matches(arr, _HEADER).any()
    if not (tcp or header):
        return 0.0
    known = cols.first_match(arr, [p for _, p in _KIND_RULES]) >= 0
    return round(min(1.0, 0.5 + 0.25 * tcp + 0.15 * header + 0.1 * float(known.mean())), 3)


def parse(lines: Lines) -> Parsed:
    """Counter rows into ``meta['counters']`` (schema.COUNTER_COLUMNS); no socket events."""
    text = lines.text
    arr = cols.clean_lines(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    kind = cols.labels(arr, _KIND_RULES)
    parts = [_named(arr, kind, line_no, "total", _TOTAL, ("total", "kernel")),
             _named(arr, kind, line_no, "tcp", _TCP, ("tcp", "estab", "closed", "orphaned", "synrecv", "timewait", "ports"))]
    pos = np.flatnonzero(kind == "table")
    f = cols.extract(arr.take(pa.array(pos, type=pa.int64())), _TABLE, empty_as_null=True)
    transport = np.asarray(pc.fill_null(f["t"], "").to_pylist(), dtype=object)
    transport = np.where(transport == "*", "ALL", transport)
    for col, label in (("total", "total"), ("ip", "IP"), ("ip6", "IPv6")):
        parts.append(pd.DataFrame({"line": line_no[pos], "counter": transport + "_" + label if len(pos) else [],
                                   "value": cols.integers(f[col]).array}))
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows["value"].notna()].sort_values("line", kind="stable").reset_index(drop=True)
    counters = _counters(rows, kind, line_no, lines)
    structural = Counter({k: int((kind == k).sum()) for k in ("blank", "header", "command") if (kind == k).any()})
    # a line of counters that gave none: a table line of '-' only (structural), or numbers too
    # large for a counter (skipped)
    valueless = np.isin(kind, ["total", "tcp", "table"]) & ~np.isin(line_no, rows["line"].to_numpy(dtype=np.int64))
    dashes = valueless & cols.matches(arr, r"^[ \t]*\S+(?:[ \t]+-)+[ \t]*$")
    if dashes.any():
        structural["table line without values"] = int(dashes.sum())
    reason = np.where(kind == "other", "unparseable line", np.where(valueless & ~dashes, "number out of range", None))
    bad = np.flatnonzero(pd.notna(reason))
    skipped = skipped_frame([int(x) for x in line_no[bad]], [str(r) for r in reason[bad]],
                            arr.take(pa.array(bad, type=pa.int64())).to_pylist())
    return Parsed(rows=pd.DataFrame({"line": pd.Series(dtype="Int64")}), skipped=skipped,
                  structural=structural, meta={"counters": counters})


def _named(arr: pa.Array, kind: np.ndarray, line_no: np.ndarray, which: str, pattern: str,
           names: tuple[str, ...]) -> pd.DataFrame:
    """One counter row per named group of ``pattern`` on the lines of kind ``which``."""
    pos = np.flatnonzero(kind == which)
    f = cols.extract(arr.take(pa.array(pos, type=pa.int64())), pattern, empty_as_null=True)
    return pd.concat([pd.DataFrame({"line": line_no[pos], "counter": name, "value": cols.integers(f[name]).array})
                      for name in names], ignore_index=True)


def _counters(rows: pd.DataFrame, kind: np.ndarray, line_no: np.ndarray, lines: Lines) -> pd.DataFrame:
    """The counter table: a reading per ``Total:`` line (or per snapshot when there is none)."""
    frame = lines.frame
    line = rows["line"].to_numpy(dtype=np.int64)
    at = line - 1
    total_lines = line_no[kind == "total"]
    reading = np.searchsorted(total_lines, line, side="right")
    snap = frame["snapshot"].to_numpy(dtype=np.int64, na_value=0)[at]
    # the reading's snapshot: that of its first line (a Total: line and its table stay together)
    first = pd.Series(snap).groupby(reading).transform("first").to_numpy(dtype=np.int64) if len(rows) else snap
    key = np.unique(first * (len(total_lines) + 2) + reading, return_inverse=True)[1].ravel() if len(rows) else first
    return pd.DataFrame({
        "ts": frame["ts"].to_numpy(dtype="datetime64[ns]")[at],
        "input": schema.single_category(lines.input, len(rows)),
        "snapshot": pd.array(key, dtype="Int32"),
        "group": pd.Categorical([GROUP] * len(rows)),
        "counter": pd.Categorical(rows["counter"].astype(object)),
        "value": pd.array(rows["value"], dtype="Int64"),
        "line": pd.array(line, dtype="Int64"),
    })[list(schema.COUNTER_COLUMNS)]
