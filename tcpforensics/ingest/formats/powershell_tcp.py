"""PowerShell ``Get-NetTCPConnection``: ``Export-Csv``/``ConvertTo-Csv``, ``ConvertTo-Json``, the table view and ``Format-List``.

Columns (docs/schema.md): proto (tcp, or the ``Protocol`` column collectors add), family,
src_addr, src_port (``LocalAddress``, ``LocalPort``), dst_addr, dst_port (``RemoteAddress``,
``RemotePort``), state, raw_state (``State``), pid (``OwningProcess``), process (a joined
``ProcessName``, ``Process`` or ``Name`` column, as KAPE's ``PowerShell_Network_Connections_Status``
module and hand-written collectors add with ``Get-Process``) and ts (``CreationTime``).

Usage::

    Get-NetTCPConnection | Export-Csv -NoTypeInformation tcp.csv
    Get-NetTCPConnection | Select-Object Local*, Remote*, State, OwningProcess, CreationTime,
        @{n='ProcessName';e={(Get-Process -Id $_.OwningProcess).ProcessName}} | ConvertTo-Json > tcp.json
    Get-NetTCPConnection > tcp.txt          # the table view; | Format-List > tcp.txt
    tcpforensics analyze tcp.csv

Example::

    "LocalAddress","LocalPort","RemoteAddress","RemotePort","State","OwningProcess","CreationTime"
    "0.0.0.0","135","0.0.0.0","0","Listen","1148","8/9/2021 9:07:29 AM"
    "192.168.1.121","50577","5.32.165.224","3389","Established","5120","8/9/2021 9:12:03 AM"

    line 2: tcp ipv4 0.0.0.0:135 -> 0.0.0.0:0, state LISTEN (raw_state Listen), pid 1148, ts 2021-08-09 09:07:29
    line 3: tcp ipv4 192.168.1.121:50577 -> 5.32.165.224:3389, state ESTABLISHED, pid 5120

The four forms:

* CSV: a header line naming ``LocalAddress`` and ``LocalPort`` (any column order, any extra
  columns: the whole CIM instance of a bare ``Export-Csv`` too); ``,``, ``;`` (``-UseCulture``)
  or tab delimiters; with or without the ``#TYPE ...`` line; UTF-16 LE (Windows PowerShell's
  ``Out-File``/``>``) or UTF-8 with a BOM. Several exports concatenated each keep their header.
* JSON (``ConvertTo-Json``): an array of objects (or one object), pretty-printed, or one
  object a line; keys in any case and order; nested objects (``CimClass``,
  ``CimInstanceProperties`` of a bare CIM instance) are ignored. ``State`` is a number there
  (1 Closed, 2 Listen, 3 SynSent, 4 SynReceived, 5 Established, 6 FinWait1, 7 FinWait2,
  8 CloseWait, 9 Closing, 10 LastAck, 11 TimeWait, 12 DeleteTCB, 100 Bound) or a word with
  ``-EnumsAsStrings``; ``raw_state`` keeps what was printed.
* The table view: the ``LocalAddress LocalPort RemoteAddress ...`` header (or any header
  naming ``LocalAddress`` and ``LocalPort``, as ``Select-Object ... | Format-Table`` prints)
  and its dashes line fix the columns (an empty ``AppliedSetting`` is read right, right-aligned
  numbers too); an address PowerShell cut
  to the column width ends in ``...`` (or ``…``) and is kept as printed (family from its colons).
* ``Format-List``: ``Key : Value`` blocks, a record from each ``LocalAddress`` line.

Decisions (tested): ``CreationTime`` becomes the row's time (``ts``): ``/Date(ms)/`` (epoch
milliseconds, UTC) and ISO 8601 with an offset are converted to UTC; culture-formatted times
(``8/9/2021 9:07:29 AM`` en-US, ``09.08.2021 09:07:29`` de, ``09/08/2021 09:07:29`` en-GB/fr)
have no zone and stay naive, as printed (local time of the host). ``DeleteTCB`` is CLOSED and
``Bound`` is BOUND. Rows of another protocol (a ``Protocol`` column saying UDP) are kept with
no state. Lines of a record that cannot be read (wrong field count, a broken JSON record) are
skipped with their reason; headers, dashes lines, ``#TYPE`` lines, shell prompts, ``[...]``
elisions, the JSON brackets and the other lines of a record are structural.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from tcpforensics.ingest.base import Lines, Parsed
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import json_records, records

NAME = "powershell_tcp"
KIND = "text"
DESCRIPTION = ("PowerShell `Get-NetTCPConnection`: `Export-Csv` (any delimiter, UTF-16/UTF-8), `ConvertTo-Json` "
               "(numeric states, `/Date()/`), the table view and `Format-List`; `CreationTime` as the time")
SAVE_WITH = "Get-NetTCPConnection | Export-Csv -NoTypeInformation tcp.csv"
FIXTURES = ("windows/powershell/*.txt", "windows/powershell/*.csv", "windows/powershell/*.json")
ORDER = 41

#: ``MSFT_NetTCPConnection.State``: its numbers (``ConvertTo-Json``) and enum names.
STATES: dict[str, str] = {
    "1": "CLOSED", "2": "LISTEN", "3": "SYN_SENT", "4": "SYN_RECEIVED", "5": "ESTABLISHED", "6": "FIN_WAIT_1",
    "7": "FIN_WAIT_2", "8": "CLOSE_WAIT", "9": "CLOSING", "10": "LAST_ACK", "11": "TIME_WAIT", "12": "CLOSED",
    "100": "BOUND", "Closed": "CLOSED", "Listen": "LISTEN", "SynSent": "SYN_SENT", "SynReceived": "SYN_RECEIVED",
    "Established": "ESTABLISHED", "FinWait1": "FIN_WAIT_1", "FinWait2": "FIN_WAIT_2", "CloseWait": "CLOSE_WAIT",
    "Closing": "CLOSING", "LastAck": "LAST_ACK", "TimeWait": "TIME_WAIT", "DeleteTCB": "CLOSED", "Bound": "BOUND",
}
#: Schema field <- the column names that fill it (first present wins).
FIELDS: dict[str, tuple[str, ...]] = {
    "local": ("LocalAddress",), "lport": ("LocalPort",), "remote": ("RemoteAddress",), "rport": ("RemotePort",),
    "state": ("State",), "pid": ("OwningProcess", "PID", "ProcessId"), "process": ("ProcessName", "Process", "Name"),
    "ts": ("CreationTime",), "proto": ("Protocol", "Proto"),
}
_NAMES = tuple(n for names in FIELDS.values() for n in names)
# a CSV header: delimited names, LocalAddress and LocalPort among them
_CSV_HEADER = r'(?i)^\s*\x{feff}?(?:"?[A-Za-z_.]*"?[,;\t])*"?LocalAddress"?(?:[,;\t]|$)'
# a table view's header: blank-separated names, LocalAddress and LocalPort among them (the
# default view, or Select-Object ... | Format-Table with joined columns)
_TABLE_HEADER = r"^ *(?:[A-Za-z]+ +)*LocalAddress +(?:[A-Za-z]+ +)*?LocalPort(?: +[A-Za-z]+)* *$"
_DASHES = r"^\s*-{4,}(?:\s+-{2,})+\s*$"
_LIST_KEY = r"^LocalAddress\s*: "
_JSON_KEY = r'(?i)"LocalAddress"\s*:'
_STRUCTURAL = (
    ("blank", r"^\s*$"),
    ("type line", r"^\s*\x{feff}?#TYPE "),
    ("command line", r"^\s*(?:PS [^>]*>|[A-Za-z]:\\[^>]*>|[A-Z][a-z]+-[A-Za-z]+(?:\s|$)).*$"),
    ("elision", r"^\s*(?:\[\.\.\.\]|\.\.\.|…|<--SNIP-->)\s*$"),
)


def detect(lines: Lines) -> float:
    """High on a ``LocalAddress``/``LocalPort`` CSV or table header, a JSON ``"LocalAddress":``
    key or a ``LocalAddress :`` list line."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, _ = found
    if cols.matches(arr, _TABLE_HEADER).any() and cols.matches(arr, _DASHES).any():
        return 0.97
    if _csv_header(arr).any():
        return 0.97
    if cols.matches(arr, _JSON_KEY).any() and cols.matches(arr, r'(?i)"RemotePort"\s*:').any():
        return 0.96
    if cols.matches(arr, _LIST_KEY).any() and cols.matches(arr, r"^RemotePort\s*: ").any():
        return 0.95
    return 0.0


def _csv_header(arr: pa.Array) -> np.ndarray:
    return cols.matches(arr, _CSV_HEADER) & cols.matches(arr, r'(?i)"?LocalPort"?(?:[,;\t]|$)')


def parse(lines: Lines) -> Parsed:
    """Read the form the lines are in (table, CSV, JSON, list), then the socket rows."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    kind = np.array([name for name, _ in _STRUCTURAL] + ["other"], dtype=object)[
        cols.first_match(arr, [rule for _, rule in _STRUCTURAL])]
    if cols.matches(arr, _TABLE_HEADER).any():
        values, kind = _table(arr, kind)
    elif _csv_header(arr).any():
        values, kind = _csv(arr, kind)
    elif cols.matches(arr, _JSON_KEY).any() or cols.matches(arr, r"^\s*[\[{]").any():
        values, kind = _json(arr, kind)
    else:
        values, kind = _list(arr, kind)
    return _parsed(values, kind, arr, line_no)


def _pick(frame: pd.DataFrame) -> dict[str, pa.Array]:
    """The schema fields from a frame of columns named as printed (lower case)."""
    out = {}
    for field, names in FIELDS.items():
        name = next((n.casefold() for n in names if n.casefold() in frame.columns
                     and frame[n.casefold()].notna().any()), None)
        if name is not None:
            out[field] = pa.array(frame[name].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    if "proto" not in out:
        out["proto"] = pa.array(np.full(len(frame), "tcp", dtype=object), type=pa.large_string())
    return out


def _csv(arr: pa.Array, kind: np.ndarray) -> tuple[tuple[np.ndarray, dict[str, pa.Array]], np.ndarray]:
    header = _csv_header(arr)
    kind = np.where(header, "header", kind)
    frame, bad = records.table_under_headers(arr, header, _NAMES, kind == "other")
    kind = np.where(bad, "wrong field count", kind)
    kind[frame.index.to_numpy(dtype=np.int64)] = "row"
    return (frame.index.to_numpy(dtype=np.int64), _pick(frame)), kind


def _table(arr: pa.Array, kind: np.ndarray) -> tuple[tuple[np.ndarray, dict[str, pa.Array]], np.ndarray]:
    header = cols.matches(arr, _TABLE_HEADER)
    dashes = cols.matches(arr, _DASHES)
    kind = np.where(header, "header", np.where(dashes & (kind == "other"), "header", kind))
    pos = np.arange(len(arr))
    owner = np.maximum.accumulate(np.where(header, pos, -1))
    parts = []
    for h in np.flatnonzero(header):
        if h + 1 >= len(arr) or not dashes[h + 1]:
            continue
        at = np.flatnonzero((owner == h) & (kind == "other"))
        values = records.fixed_width(arr.take(pa.array(np.r_[h, at], type=pa.int64())), arr[int(h) + 1].as_py())
        names = [(v[0].as_py() or "").casefold() for v in values]  # the header, cut where the rows are
        parts.append(pd.DataFrame({n: cols.to_numpy(v)[1:] for n, v in zip(names, values, strict=True)}, index=at))
    frame = pd.concat(parts).sort_index() if parts else pd.DataFrame(index=np.zeros(0, dtype=np.int64))
    ok = frame["localport"].notna().to_numpy() if "localport" in frame else np.zeros(len(frame), dtype=bool)
    frame = frame[ok]
    kind[frame.index.to_numpy(dtype=np.int64)] = "row"
    return (frame.index.to_numpy(dtype=np.int64), _pick(frame)), kind


def _json(arr: pa.Array, kind: np.ndarray) -> tuple[tuple[np.ndarray, dict[str, pa.Array]], np.ndarray]:
    frame, at, json_kind, _ = json_records.json_table(arr, _NAMES, ["LocalAddress"])
    return (at, _pick(frame)), np.where(json_kind != "", json_kind, kind)


def _list(arr: pa.Array, kind: np.ndarray) -> tuple[tuple[np.ndarray, dict[str, pa.Array]], np.ndarray]:
    record, pairs, is_pair = records.key_value_blocks(arr, "LocalAddress")
    frame = records.pivot_pairs(record, pairs, _NAMES)
    inside = np.flatnonzero(record >= 0)
    starts = inside[np.unique(record[inside], return_index=True)[1]]
    kind = np.where((record >= 0) & (kind == "other"), "record line", kind)
    kind[starts] = "row"
    return (starts, _pick(frame)), kind


def _parsed(values: tuple[np.ndarray, dict[str, pa.Array]], kind: np.ndarray, arr: pa.Array,
            line_no: np.ndarray) -> Parsed:
    at, fields = values
    rows = records.socket_rows(line_no[at], fields, STATES)
    return records.parsed(rows, kind, arr, line_no, ["blank", "type line", "command line", "elision", "header",
                                                     "record line", "bracket"])
