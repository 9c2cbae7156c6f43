"""Velociraptor ``Windows.Network.Netstat``, ``Linux.Network.Netstat``, their ``...Enriched`` forms and ``Generic.Network.Netstat``: JSON lines and CSV results.

Columns (docs/schema.md): proto (``Type``: TCP, UDP, TCP6), family (``Family``), src_addr,
src_port (``Laddr.IP``, ``Laddr.Port``; ``LocalAddr``, ``LocalPort``; ``Laddr``, ``Lport``),
dst_addr, dst_port (``Raddr...``, ``RemoteAddr``, ``RemotePort``, ``Rport``), state, raw_state
(``Status`` or ``State``), pid (``Pid``, or ``ProcessInfo.Pid``), process (``Name``,
``ProcInfo.Name`` or ``ProcessInfo.Command``), user (``Username``, ``uid``), inode (``inode``)
and ts (``Timestamp``: the socket's creation time Windows keeps, UTC).

Usage: the result files of an offline collection (``results/Windows.Network.Netstat.json``)
or of a hunt's download, or the GUI's CSV export::

    tcpforensics analyze Collection-HOST/results/Windows.Network.Netstat.json

Example::

    {"Pid":568,"Name":"svchost.exe","Family":"IPv4","Type":"TCP","Status":"LISTEN","Laddr.IP":"0.0.0.0","Laddr.Port":135,"Raddr.IP":"0.0.0.0","Raddr.Port":0,"Timestamp":"2020-08-01T09:17:02Z"}
    {"Pid":1240,"Name":"svchost.exe","Family":"IPv6","Type":"UDP","Status":"","Laddr.IP":"::","Laddr.Port":5353,"Raddr.IP":"::","Raddr.Port":0,"Timestamp":"2020-08-01T09:17:09Z"}

    line 1: tcp ipv4 0.0.0.0:135 -> 0.0.0.0:0, state LISTEN, pid 568, process svchost.exe, ts 2020-08-01 09:17:02
    line 2: udp ipv6 :::5353 -> :::0, state NA

Velociraptor's state words are its own (``ESTAB``, ``SYN_RCVD``, ``DELETE_TCB`` from the
Windows table; ``Listening``, ``Established``, ``Syn Sent``, ``Time Wait`` from the Linux
artifact's ``/proc/net/tcp`` lookup); ``raw_state`` keeps them.

Decisions (tested):

* Keys are read at the record's top level, in any order (nested objects such as
  ``Authenticode`` and ``Hash`` are ignored), except the Linux artifact's ``ProcessInfo``
  object, whose ``Pid`` and first ``Command`` fill pid and process.
* A result without a ``Type`` column is TCP, except rows whose ``Status`` is ``NONE`` (the
  Linux ``connections()`` plugin's word for UDP sockets), which are UDP.
* The Linux artifacts keep only ``LISTEN|ESTAB`` by default (their ``StateRegex`` and
  ``ConnectionStatusRegex`` parameters): a Linux result whose TCP rows are all LISTEN or
  ESTABLISHED gets a warning (``meta["warnings"]``) that sockets in the other states
  (CLOSE_WAIT, SYN_RECV, TIME_WAIT...) were filtered out at collection time, not absent.
* JSON records that cannot be read are skipped (``unreadable JSON record``), CSV rows with
  another field count (``wrong field count``); blank lines, CSV headers, the brackets of a JSON
  array and the other lines of a multi-line record are structural.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import json_records, records

NAME = "velociraptor_netstat"
KIND = "text"
DESCRIPTION = ("Velociraptor `Windows.Network.Netstat`, `Linux.Network.Netstat` (and `...Enriched`, "
               "`Generic.Network.Netstat`) results, JSON lines and CSV; warns when the default filter hid states")
SAVE_WITH = "velociraptor artifacts collect Windows.Network.Netstat --format jsonl > netstat.json"
FIXTURES = ("windows/velociraptor/*.json", "windows/velociraptor/*.csv", "linux/velociraptor/*.json",
            "linux/velociraptor/*.csv")
ORDER = 43

#: The Linux artifact's /proc state lookup and the words of the netstat()/connections() plugins.
STATES: dict[str, str] = {
    "Listening": "LISTEN", "Established": "ESTABLISHED", "Syn Sent": "SYN_SENT", "Time Wait": "TIME_WAIT",
    "ESTAB": "ESTABLISHED", "SYN_RCVD": "SYN_RECEIVED", "DELETE_TCB": "CLOSED", "SYN_RECV": "SYN_RECEIVED",
}
#: Schema field <- the column names that fill it (first present wins).
FIELDS: dict[str, tuple[str, ...]] = {
    "local": ("Laddr.IP", "LocalAddr", "Laddr"), "lport": ("Laddr.Port", "LocalPort", "Lport"),
    "remote": ("Raddr.IP", "RemoteAddr", "Raddr"), "rport": ("Raddr.Port", "RemotePort", "Rport"),
    "state": ("Status", "State"), "pid": ("Pid",), "process": ("Name",), "proto": ("Type",),
    "family": ("Family",), "ts": ("Timestamp",), "user": ("Username", "uid"), "inode": ("inode",),
}
_NAMES = tuple(n for names in FIELDS.values() for n in names)
_KEYS = r'"(?:Laddr\.IP|LocalAddr|Laddr)"\s*:'
_CSV_HEADER = r'(?i)^\s*\x{feff}?(?:"?[\w.]*"?,)*"?(?:Laddr\.IP|LocalAddr|Laddr)"?(?:,|$)'
_LINUX = r'"_Source"\s*:\s*"Linux\.|"ProcessInfo"\s*:|"ProcInfo"\s*:|"inode"\s*:'


def detect(lines: Lines) -> float:
    """High on JSON records with ``Laddr.IP``/``LocalAddr``/``Laddr`` and ``Status``/``State``
    keys, or a CSV header naming them."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, _ = found
    if cols.matches(arr, _KEYS).any() and cols.matches(arr, r'"(?:Status|State)"\s*:').any() \
            and not cols.matches(arr, r'"ForeignAddr"\s*:').any():
        return 0.96
    header = cols.matches(arr, _CSV_HEADER)
    if header.any() and cols.matches(arr.filter(pa.array(header)), r"(?i)(?:Status|State)").any() \
            and not cols.matches(arr, r"(?i)ForeignAddr").any():
        return 0.95
    return 0.0


def parse(lines: Lines) -> Parsed:
    """JSON records or CSV rows, by key, then the socket rows and the filter warning."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    kind = np.where(cols.blank(arr), "blank", "other").astype(object)
    header = cols.matches(arr, _CSV_HEADER)
    if header.any() and not cols.matches(arr, r"^\s*[\[{]").any():
        frame, at, kind = _csv(arr, header, kind)
        linux = bool(frame.columns.isin(["localaddr", "laddr", "inode"]).any())
    else:
        frame, at, kind = _json(arr, kind)
        linux = bool(cols.matches(arr, _LINUX).any())
    rows = records.socket_rows(line_no[at], _fields(frame), STATES, told=_told(frame))
    return _parsed(rows, kind, arr, line_no, linux)


def _csv(arr: pa.Array, header: np.ndarray, kind: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    kind = np.where(header, "header", kind)
    frame, bad = records.table_under_headers(arr, header, _NAMES, kind == "other")
    kind = np.where(bad, "wrong field count", kind)
    at = frame.index.to_numpy(dtype=np.int64)
    kind[at] = "row"
    return frame.reset_index(drop=True), at, kind


def _json(arr: pa.Array, kind: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    frame, at, json_kind, texts = json_records.json_table(arr, _NAMES, ["Laddr.IP", "LocalAddr", "Laddr"])
    nested = cols.extract(texts, r'"Proc(?:ess)?Info"\s*:\s*\{[^{}]*?"Pid"\s*:\s*(?P<pid>\d+)', empty_as_null=True)
    command = cols.extract(texts, r'"ProcessInfo"\s*:\s*\{[^{}]*?"Command"\s*:\s*\[\s*"(?P<c>[^"]*)"', empty_as_null=True)
    name = cols.extract(texts, r'"ProcInfo"\s*:\s*\{[^{}]*?"Name"\s*:\s*"(?P<n>[^"]*)"', empty_as_null=True)
    if "pid" not in frame:
        frame["pid"] = cols.to_numpy(nested["pid"])
    if "name" not in frame:
        frame["name"] = cols.to_numpy(pc.coalesce(command["c"], name["n"]))
    return frame, at, np.where(json_kind != "", json_kind, kind)


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> pa.Array | None:
    name = next((n.casefold() for n in names if n.casefold() in frame.columns and frame[n.casefold()].notna().any()), None)
    if name is None:
        return None
    return pa.array(frame[name].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def _fields(frame: pd.DataFrame) -> dict[str, pa.Array]:
    out = {f: a for f, names in FIELDS.items() if (a := _column(frame, names)) is not None}
    typ = pc.utf8_lower(pc.fill_null(out.get("proto", pa.nulls(len(frame), pa.large_string())), ""))
    status = pc.utf8_upper(pc.fill_null(out.get("state", pa.nulls(len(frame), pa.large_string())), ""))
    guessed = pc.if_else(pc.equal(status, "NONE"), pa.scalar("udp", pa.large_string()), pa.scalar("tcp", pa.large_string()))
    out["proto"] = pc.if_else(pc.equal(typ, ""), guessed, pc.replace_substring_regex(typ, r"[46]$", ""))
    return out


def _told(frame: pd.DataFrame) -> np.ndarray:
    """The family the ``Family`` (IPv4/IPv6) or ``Type`` (TCP6) column states; -1 elsewhere."""
    fam = _column(frame, ("Family",))
    typ = _column(frame, ("Type",))
    v6 = np.zeros(len(frame), dtype=bool)
    v4 = np.zeros(len(frame), dtype=bool)
    if fam is not None:
        v6 |= cols.matches(fam, r"(?i)^ipv6$")
        v4 |= cols.matches(fam, r"(?i)^ipv4$")
    if typ is not None:
        v6 |= cols.matches(typ, r"6$")
    return np.where(v6, 1, np.where(v4, 0, -1))


def _parsed(rows: pd.DataFrame, kind: np.ndarray, arr: pa.Array, line_no: np.ndarray, linux: bool) -> Parsed:
    tcp_states = set(rows.loc[rows["proto"] == "tcp", "state"].dropna().astype(str))
    meta: dict = {}
    if linux and tcp_states and tcp_states <= {"LISTEN", "ESTABLISHED"}:
        meta["warnings"] = ["Linux.Network.Netstat keeps only LISTEN|ESTAB sockets by default (StateRegex): "
                            "sockets in other states (CLOSE_WAIT, SYN_RECV, TIME_WAIT, ...) were filtered out "
                            "when collecting, not absent from the host"]
    return records.parsed(rows, kind, arr, line_no, ["blank", "header", "record line", "bracket"], meta)
