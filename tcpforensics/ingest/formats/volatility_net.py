"""Volatility 3 ``windows.netscan``, ``windows.netstat`` and ``linux.sockstat`` (text, ``-r csv``, ``-r json``); Volatility 2 ``netscan`` and ``connscan`` text.

Columns (docs/schema.md): proto, family (``TCPv4``/``UDPv6``; sockstat's ``Family``),
src_addr, src_port (``LocalAddr``, ``LocalPort``; ``Source Addr``, ``Source Port``), dst_addr,
dst_port (``ForeignAddr``, ``ForeignPort``; ``Destination Addr``, ``Destination Port``), state,
raw_state, pid (``PID``), process (``Owner``, ``Process Name``) and ts (``Created``: the
socket's creation time in the memory image, UTC).

Usage::

    vol -f memory.raw windows.netscan > netscan.txt      # or -r csv, -r json
    vol -f memory.lime linux.sockstat > sockstat.txt
    tcpforensics analyze netscan.txt

Example::

    Volatility 3 Framework 2.4.2
    Progress:  100.00		PDB scanning finished
    Offset	Proto	LocalAddr	LocalPort	ForeignAddr	ForeignPort	State	PID	Owner	Created

    0x8186882a7a20	TCPv4	10.0.2.15	49836	192.168.1.106	443	CLOSE_WAIT	6808	brave.exe	2023-04-17 17:16:51.000000
    0x818687574d10	UDPv4	10.0.2.15	137	*	0		4	System	2023-04-17 17:16:09.000000

    line 5: tcp ipv4 10.0.2.15:49836 -> 192.168.1.106:443, state CLOSE_WAIT, pid 6808, process brave.exe, ts 2023-04-17 17:16:51
    line 6: udp ipv4 10.0.2.15:137 -> *:0, state NA

Decisions (tested):

* Memory carving finds sockets that are gone (``CLOSED``) and the same socket more than once;
  every row is kept as printed (``Offset`` tells copies apart; the socket table counts a socket
  once per snapshot). ``linux.sockstat`` prints a socket once per file descriptor: each is a row.
* ``Created`` is UTC (``... UTC``, ``UTC+0000`` or no zone, as Volatility 3 prints it without
  one); ``N/A``, ``-`` and unreadable times are NaT. Owners are the kernel's image names,
  cut to 14 characters by Windows (``CompatTelRunne``).
* ``linux.sockstat`` rows of other families (``AF_UNIX``, ``AF_NETLINK``, ``AF_PACKET``...) are
  skipped (``non-IP socket: AF_UNIX``), and so are rows of other protocols; sockstat's state
  words are the kernel's (``LISTEN``, ``ESTABLISHED``, ``CLOSE``...).
* Volatility 2 ``netscan`` splits ``address:port`` at the last colon (``-:49164``: address
  unknown, ``:::0``); ``connscan`` rows are TCP connections without a state (NA).
* Banner (``Volatility 3 Framework``, ``Progress:``), blank, echoed command and elision lines
  (``[REDACTED]``, ``<--SNIP-->``, ``...``) are structural; a row whose field count differs from its
  header's is skipped (``wrong field count``), any other line ``unparseable line``; JSON records
  as in the other collectors' formats.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import json_records, records

NAME = "volatility_net"
KIND = "text"
DESCRIPTION = ("Volatility 3 `windows.netscan`, `windows.netstat`, `linux.sockstat` (text, `-r csv`, `-r json`) "
               "and Volatility 2 `netscan`/`connscan`, with creation times")
SAVE_WITH = "vol -f memory.raw windows.netscan > netscan.txt"
FIXTURES = ("windows/volatility/*.txt", "windows/volatility/*.csv", "windows/volatility/*.json",
            "linux/volatility/*.txt", "linux/volatility/*.csv", "linux/volatility/*.json")
ORDER = 44

#: Schema field <- the column names that fill it (first present wins).
FIELDS: dict[str, tuple[str, ...]] = {
    "proto": ("Proto",), "local": ("LocalAddr", "Source Addr"), "lport": ("LocalPort", "Source Port"),
    "remote": ("ForeignAddr", "Destination Addr"), "rport": ("ForeignPort", "Destination Port"),
    "state": ("State",), "pid": ("PID", "Pid"), "process": ("Owner", "Process Name"), "ts": ("Created",),
    "family": ("Family",),
}
_NAMES = tuple(n for names in FIELDS.values() for n in names)
_HEADER = r"(?i)^\s*\x{feff}?(?:\"?[\w ()]*\"?[,\t])*\"?(?:LocalAddr|Source Addr)\"?[,\t]"
_V2_NETSCAN = (r"^\s*0x[0-9a-fA-F]+\s+(?P<proto>[TU][CD]Pv[46])\s+(?P<local>\S+)\s+(?P<remote>\S+)\s+"
               r"(?:(?P<state>[A-Z][A-Z_0-9]{3,})\s+)?(?P<pid>-?\d+)\s+(?P<process>.*?)"
               r"(?:\s+(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: UTC[+-]\d{4})?))?\s*$")
_V2_CONNSCAN = r"^\s*0x[0-9a-fA-F]+\s+(?P<local>\S+:\S+)\s+(?P<remote>\S+:\S+)\s+(?P<pid>\d+)\s*$"
_V2_HEADER = r"^\s*Offset\((?:P|V)\)\s+(?:Proto\s+)?Local Address"
_ADDR_PORT = r"^(?:\[(?P<b>[^\]]*)\]|(?P<a>.*)):(?P<p>[^:]*)$"
_STRUCTURAL = (
    ("blank", r"^\s*$"),
    ("banner", r"^\s*(?:Volatility 3 Framework|Volatility Foundation Volatility Framework|Progress:)"),
    ("elision", r"^\s*(?:\[REDACTED\]|<--SNIP-->|\.\.\.|…|\S*--- ?SNIP ?---\S*)\s*$"),
    ("command line", r"^\s*(?:\S*[$#>%]\s*)?(?:sudo\s+)?(?:python3?\s+\S*vol(?:\.py)?|vol(?:\.py|3)?|volatility\S*)\s+.*$"
     r"|^\s*\S*[$#>%]\s*(?:cat|grep|type|more|less|head)\s.*$"),
    ("header", _V2_HEADER),
    ("underline", r"^\s*-{4,}(?:\s+-{2,})*\s*$"),
)


def detect(lines: Lines) -> float:
    """High on a Volatility netscan/netstat/sockstat header (tab, CSV or Volatility 2), JSON
    records with ``LocalAddr`` and ``ForeignAddr`` (or ``Source Addr``) keys, or netscan rows."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, nonblank = found
    header = cols.matches(arr, _HEADER)
    if header.any() and cols.matches(arr.filter(pa.array(header)), r"(?i)ForeignAddr|Destination Addr").any():
        return 0.97
    if cols.matches(arr, r'"(?:LocalAddr|Source Addr)"\s*:').any() and \
            cols.matches(arr, r'"(?:ForeignAddr|Destination Addr)"\s*:').any():
        return 0.96
    rows = cols.matches(arr, _V2_NETSCAN) | cols.matches(arr, _V2_CONNSCAN)
    if cols.matches(arr, _V2_HEADER).any() and rows.any():
        return 0.96
    share = float(rows[nonblank].mean())
    return round(0.5 + 0.4 * share, 3) if share > 0.5 else 0.0


def parse(lines: Lines) -> Parsed:
    """Volatility 3 tables (tab or CSV under their header, or JSON), or Volatility 2 rows."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    kind = cols.labels(arr, _STRUCTURAL)
    header = cols.matches(arr, _HEADER) & (kind == "other")
    if header.any():
        kind = np.where(header, "header", kind)
        frame, bad = records.table_under_headers(arr, header, _NAMES, kind == "other")
        kind = np.where(bad, "wrong field count", kind)
        at = frame.index.to_numpy(dtype=np.int64)
        kind[at] = "row"
        fields = _fields(frame)
    elif cols.matches(arr, r"^\s*[\[{]").any() and not cols.matches(arr, _V2_NETSCAN).any():
        frame, at, json_kind, _ = json_records.json_table(arr, _NAMES, ["LocalAddr", "Source Addr"])
        kind = np.where(json_kind != "", json_kind, kind)
        fields = _fields(frame)
    else:
        at, fields, kind = _volatility2(arr, kind)
    return _parsed(line_no, at, fields, kind, arr)


def _fields(frame: pd.DataFrame) -> dict[str, pa.Array]:
    out = {}
    for field, names in FIELDS.items():
        name = next((n.casefold() for n in names if n.casefold() in frame.columns and frame[n.casefold()].notna().any()),
                    None)
        if name is not None:
            out[field] = pa.array(frame[name].astype(object).to_numpy(), type=pa.large_string(), from_pandas=True)
    return out


def _volatility2(arr: pa.Array, kind: np.ndarray) -> tuple[np.ndarray, dict[str, pa.Array], np.ndarray]:
    """Volatility 2 ``netscan`` (and ``connscan``) rows: endpoints as ``address:port``."""
    scan = cols.extract(arr, _V2_NETSCAN, empty_as_null=True)
    conn = cols.extract(arr, _V2_CONNSCAN, empty_as_null=True)
    is_scan = cols.mask(pc.is_valid(scan["proto"])) & (kind == "other")
    is_conn = cols.mask(pc.is_valid(conn["local"])) & ~is_scan & (kind == "other")
    at = np.flatnonzero(is_scan | is_conn)
    take = pa.array(at, type=pa.int64())
    sel = pa.array(is_scan[at])

    def pick(name: str) -> pa.Array:
        a = scan[name].take(take) if name in scan else pa.nulls(len(at), pa.large_string())
        b = conn[name].take(take) if name in conn else pa.nulls(len(at), pa.large_string())
        return pc.if_else(sel, a, b)

    fields = {"proto": pc.if_else(sel, scan["proto"].take(take), pa.scalar("TCPv4", pa.large_string())),
              "state": pick("state"), "pid": pick("pid"), "process": pick("process"), "ts": pick("ts")}
    for side, port in (("local", "lport"), ("remote", "rport")):
        f = cols.extract(pick(side), _ADDR_PORT, empty_as_null=True)
        addr = pc.coalesce(f["b"], f["a"])
        fields[side] = pc.if_else(pc.equal(pc.fill_null(addr, ""), "-"), pa.scalar(None, pa.large_string()), addr)
        fields[port] = f["p"]
    kind = kind.copy()
    kind[at] = "row"
    return at, fields, kind


def _parsed(line_no: np.ndarray, at: np.ndarray, fields: dict[str, pa.Array], kind: np.ndarray, arr: pa.Array) -> Parsed:
    n = len(at)
    proto = pc.utf8_upper(pc.fill_null(fields.get("proto", pa.nulls(n, pa.large_string())), ""))
    family = pc.utf8_upper(pc.fill_null(fields.get("family", pa.nulls(n, pa.large_string())), ""))
    v6 = cols.mask(pc.ends_with(proto, "V6")) | cols.mask(pc.equal(family, "AF_INET6"))
    v4 = cols.mask(pc.ends_with(proto, "V4")) | cols.mask(pc.equal(family, "AF_INET"))
    base = pc.utf8_lower(pc.replace_substring_regex(proto, "V[46]$", ""))
    ip = cols.mask(pc.is_in(base, pa.array(["tcp", "udp"], type=base.type))) & \
        (cols.mask(pc.equal(family, "")) | v4 | v6)
    reason = _non_ip(family, proto)
    kind = kind.copy()
    kind[at[~ip]] = reason[~ip]
    keep = pa.array(ip)
    fields = {k: v.filter(keep) for k, v in dict(fields, proto=base).items()}
    fields["ts"] = pc.replace_substring_regex(pc.fill_null(fields.get("ts", pa.nulls(int(ip.sum()), pa.large_string())), ""),
                                              r"^(\d{4}-\d\d-\d\d[ T][\d:.]+)\s*$", r"\1Z")
    rows = records.socket_rows(line_no[at[ip]], fields, {}, told=np.where(v6, 1, np.where(v4, 0, -1))[ip])
    return records.parsed(rows, kind, arr, line_no, ["blank", "banner", "elision", "command line", "header",
                                                     "underline", "record line", "bracket"])


def _non_ip(family: pa.Array, proto: pa.Array) -> np.ndarray:
    """Why a row is not kept: its family (``non-IP socket: AF_UNIX``) or its protocol."""
    fam = pd.Series(cols.to_numpy(family), dtype=object).fillna("").astype(str)
    pro = pd.Series(cols.to_numpy(proto), dtype=object).fillna("").astype(str)
    other = (fam != "") & ~fam.isin(["AF_INET", "AF_INET6"])
    return np.where(other, "non-IP socket: " + fam, "not TCP or UDP: " + pro).astype(object)
