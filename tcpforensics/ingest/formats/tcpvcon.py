"""Sysinternals ``tcpvcon`` (``-a -c``, ``-a -c -n``, the ``-a`` listing) and TCPView's saved tables.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, pid, process; ts (TCPView's ``Create Time``).

Usage::

    tcpvcon -a -n -c -accepteula > tcpvcon.csv     # what KAPE's SysInternals_Tcpvcon module runs
    tcpforensics analyze tcpvcon.csv

Example::

    TCP,svchost.exe,924,LISTENING,0.0.0.0,0.0.0.0
    TCP,firefox.exe,13116,ESTABLISHED,127.0.0.1,127.0.0.1
    UDP,svchost.exe,4108,*,0.0.0.0,*
    TCPV6,svchost.exe,924,LISTENING,[0:0:0:0:0:0:0:0],[0:0:0:0:0:0:0:0]

    line 1: tcp ipv4 0.0.0.0 -> 0.0.0.0 (ports NA), state LISTEN (raw_state LISTENING), pid 924, process svchost.exe
    line 3: udp ipv4 0.0.0.0, state NA
    line 4: tcp ipv6 0:0:0:0:0:0:0:0 -> 0:0:0:0:0:0:0:0, state LISTEN

The forms:

* ``-c`` CSV, no header: ``protocol,process,pid,state,local,remote``. tcpvcon 4.x prints
  addresses without ports (ports NA: the sockets of one address and process cannot be told
  apart); older releases print ``address:port`` (``[v6]:port`` for IPv6), read as such. Rows of
  eight fields (``protocol,process,pid,state,local address,local port,remote address,remote
  port``), as some builds print, are read too. Names (without ``-n``) stay as printed.
* the ``-a`` listing without ``-c``: a ``[TCP] process`` line, then ``PID:``, ``State:``,
  ``Local:`` and ``Remote:`` lines (structural ``record line``).
* TCPView's saved table (File > Save: comma or tab separated, with its header line
  ``Process Name, Process ID, Protocol, State, Local Address, Local Port, Remote Address,
  Remote Port, Create Time, ...``), columns found by name; ``Create Time`` is the row's time
  (naive, as printed).

Decisions (tested): protocols ``TCPV6``/``UDPV6`` give the family (``ipv6``); brackets around
IPv6 addresses are removed; UDP rows (state ``*``) keep no state. Banner lines (``TCPView
v4.19``, ``Copyright ...``, ``Sysinternals - www.sysinternals.com``), blank lines and echoed
commands are structural; a line of the CSV shape with another field count is skipped
(``wrong field count``), anything else ``unparseable line``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import records

NAME = "tcpvcon"
KIND = "text"
DESCRIPTION = "Sysinternals `tcpvcon -a -c` CSV (4.x without ports, older with ports; `-n`), its `-a` listing, TCPView's saved tables"
SAVE_WITH = "tcpvcon -a -n -c -accepteula > tcpvcon.csv"
FIXTURES = ("windows/tcpvcon/*.csv", "windows/tcpvcon/*.txt")
ORDER = 42

_PROTO = r"(?i:TCP|UDP|TCPV6|UDPV6)"
_CSV_ROW = rf'^\s*"?{_PROTO}"?,'
_BLOCK = rf"^\[(?P<proto>{_PROTO})\]\s+(?P<process>.*?)\s*$"
_PAIR = r"^\s+(?P<k>PID|State|Local|Remote):\s*(?P<v>.*?)\s*$"
_HEADER = r"(?i)^\s*\x{feff}?\"?Process(?: Name)?\"?[,\t].*Local Address"
_ENDPOINT = r"^(?:\[(?P<b>[^\]]*)\](?::(?P<bp>[^:\]]*))?|(?P<a>[^:\[\]]*)(?::(?P<ap>[^:]*))?|(?P<v6>.*))$"
_STRUCTURAL = (
    ("blank", r"^\s*$"),
    ("banner", r"(?i)^\s*(?:TCPView v[\d.]+.*|TCPVcon v[\d.]+.*|Copyright .*|Sysinternals - www\.sysinternals\.com\s*)$"),
    ("command line", r"(?i)^\s*(?:PS [^>]*>|[A-Za-z]:\\[^>]*>)?\s*tcpvcon(?:64)?(?:\.exe)?(?:\s.*)?$|^\s*(?:PS [^>]*>|[A-Za-z]:\\[^>]*>).*$"),
)
#: TCPView's state words (``Close Wait``, ``Time Wait``: matched without their blanks).
STATES: dict[str, str] = {
    "Listen": "LISTEN", "Syn Sent": "SYN_SENT", "Syn Received": "SYN_RECEIVED", "Syn Rcvd": "SYN_RECEIVED",
    "Established": "ESTABLISHED", "Fin Wait 1": "FIN_WAIT_1", "Fin Wait 2": "FIN_WAIT_2", "Close Wait": "CLOSE_WAIT",
    "Closing": "CLOSING", "Last Ack": "LAST_ACK", "Time Wait": "TIME_WAIT", "Closed": "CLOSED", "Delete TCB": "CLOSED",
    "Bound": "BOUND",
}
#: TCPView's column names -> the fields they fill.
TCPVIEW_FIELDS: dict[str, tuple[str, ...]] = {
    "process": ("Process Name", "Process"), "pid": ("Process ID", "PID"), "proto": ("Protocol",),
    "state": ("State",), "local": ("Local Address",), "lport": ("Local Port",), "remote": ("Remote Address",),
    "rport": ("Remote Port",), "ts": ("Create Time",),
}


def detect(lines: Lines) -> float:
    """High when most lines are ``TCP,process,pid,...`` rows, ``[TCP] process`` blocks or under
    a TCPView header."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, nonblank = found
    rows = cols.matches(arr, _CSV_ROW + r"[^,]*,\s*\d+\s*,")
    blocks = cols.matches(arr, _BLOCK) | cols.matches(arr, _PAIR)
    if cols.matches(arr, _HEADER).any():
        return 0.95
    share = float((rows | blocks)[nonblank].mean())
    return round(0.5 + 0.45 * share, 3) if share > 0.3 else 0.0


def parse(lines: Lines) -> Parsed:
    """Read the CSV rows, the ``-a`` listing blocks and TCPView tables of the input."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    kind = cols.labels(arr, _STRUCTURAL)
    parts = []
    header = cols.matches(arr, _HEADER)
    if header.any():
        kind = np.where(header, "header", kind)
        frame, bad = records.table_under_headers(arr, header, [n for v in TCPVIEW_FIELDS.values() for n in v],
                                                 kind == "other")
        kind = np.where(bad, "wrong field count", kind)
        parts.append(_tcpview(frame, line_no))
        kind[frame.index.to_numpy(dtype=np.int64)] = "row"
    csv_rows = cols.matches(arr, _CSV_ROW) & (kind == "other")
    if csv_rows.any():
        got, ok = _csv(arr, np.flatnonzero(csv_rows), line_no)
        parts.append(got)
        kind[np.flatnonzero(csv_rows)] = np.where(ok, "row", "wrong field count")
    if (kind == "other").any():
        got, kind = _blocks(arr, kind, line_no)
        parts.append(got)
    parts = [p for p in parts if len(p)] or [_rows(np.zeros(0, dtype=np.int64), {})]
    rows = pd.concat(parts, ignore_index=True).sort_values("line", kind="stable")
    return _parsed(rows.reset_index(drop=True), kind, arr, line_no)


def _endpoints(a: pa.Array) -> tuple[pa.Array, pa.Array]:
    f = cols.extract(pc.utf8_trim_whitespace(pc.fill_null(a, "")), _ENDPOINT, empty_as_null=True)
    return pc.coalesce(f["b"], f["a"], f["v6"]), pc.coalesce(f["bp"], f["ap"])


def _csv(arr: pa.Array, at: np.ndarray, line_no: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The headerless CSV rows: six fields (endpoints with or without ports) or eight."""
    sub = arr.take(pa.array(at, type=pa.int64()))
    six, ok6 = records.delimited(sub, ",", 6)
    eight, ok8 = records.delimited(sub, ",", 8)
    ok8 &= ~ok6
    local, lport = _endpoints(six[4])
    remote, rport = _endpoints(six[5])

    def pick(a6: pa.Array, a8: pa.Array) -> pa.Array:
        return pc.if_else(pa.array(ok8), a8, a6)

    fields = {"proto": pick(six[0], eight[0]), "process": pick(six[1], eight[1]), "pid": pick(six[2], eight[2]),
              "state": pick(six[3], eight[3]), "local": pick(local, eight[4]), "lport": pick(lport, eight[5]),
              "remote": pick(remote, eight[6]), "rport": pick(rport, eight[7])}
    ok = ok6 | ok8
    keep = pa.array(ok)
    return _rows(line_no[at[ok]], {k: v.filter(keep) for k, v in fields.items()}), ok


def _blocks(arr: pa.Array, kind: np.ndarray, line_no: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``-a`` listing: a ``[TCP] process`` line and its indented ``Key: value`` lines."""
    head = cols.extract(arr, _BLOCK, empty_as_null=True)
    start = cols.mask(pc.is_valid(head["proto"])) & (kind == "other")
    pair = cols.extract(arr, _PAIR, empty_as_null=False)
    is_pair = cols.matches(arr, _PAIR) & (kind == "other")
    rec = np.cumsum(start) - 1
    record = np.where((start | is_pair) & (rec >= 0), rec, -1)
    pairs = {"key": pc.if_else(pa.array(is_pair), pair["k"], pa.scalar(None, pa.large_string())), "value": pair["v"]}
    wide = records.pivot_pairs(np.where(is_pair, record, -1), pairs, ["PID", "State", "Local", "Remote"])
    starts = np.flatnonzero(start)
    wide = wide.reindex(range(len(starts)))

    def col(name: str) -> pa.Array:
        return pa.array(wide[name.casefold()].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    take = pa.array(starts, type=pa.int64())
    local, lport = _endpoints(col("Local"))
    remote, rport = _endpoints(col("Remote"))
    fields = {"proto": head["proto"].take(take), "process": head["process"].take(take), "pid": col("PID"),
              "state": col("State"), "local": local, "lport": lport, "remote": remote, "rport": rport}
    kind = np.where(start, "row", np.where(record >= 0, "record line", kind))
    return _rows(line_no[starts], fields), kind


def _tcpview(frame: pd.DataFrame, line_no: np.ndarray) -> pd.DataFrame:
    fields = {}
    for field, names in TCPVIEW_FIELDS.items():
        name = next((n.casefold() for n in names if n.casefold() in frame.columns), None)
        if name is not None:
            fields[field] = pa.array(frame[name].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    for side in ("local", "remote"):  # an address column that holds "addr:port" too
        if side in fields:
            addr, port = _endpoints(fields[side])
            fields[side] = addr
            fields["lport" if side == "local" else "rport"] = pc.coalesce(
                fields.get("lport" if side == "local" else "rport", pa.nulls(len(frame), pa.large_string())), port)
    return _rows(line_no[frame.index.to_numpy(dtype=np.int64)], fields)


def _rows(line: np.ndarray, fields: dict[str, pa.Array]) -> pd.DataFrame:
    proto = pc.utf8_upper(pc.fill_null(fields.get("proto", pa.nulls(len(line), pa.large_string())), "TCP"))
    v6 = cols.mask(pc.ends_with(proto, "V6"))
    fields = dict(fields, proto=pc.utf8_lower(pc.replace_substring(proto, "V6", "")))
    return records.socket_rows(line, fields, STATES, told=np.where(v6, 1, -1))


def _parsed(rows: pd.DataFrame, kind: np.ndarray, arr: pa.Array, line_no: np.ndarray) -> Parsed:
    return records.parsed(rows, kind, arr, line_no, ["blank", "banner", "command line", "header", "record line"])
