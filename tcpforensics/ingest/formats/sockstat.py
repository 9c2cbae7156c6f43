"""FreeBSD ``sockstat`` (``-4 -6 -c -l -s -n -w``): sockets with their user, command, pid and fd.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state and
raw_state (``-s``), pid, process, user.

Usage::

    sockstat -46 -s > sockstat.txt        # or sockstat -4 -l, sockstat -46c, sockstat -46ls
    tcpforensics analyze sockstat.txt

Example::

    USER     COMMAND    PID   FD PROTO  LOCAL ADDRESS         FOREIGN ADDRESS       PATH STATE   CONN STATE
    root     sshd       45933 4  tcp4   192.168.5.2:22        192.168.5.4:59217                  ESTABLISHED
    root     sshd       815   4  tcp6   *:22                  *:*                                LISTEN
    root     syslogd    751   6  udp6   *:514                 *:*
    root     sshd       45933 8  stream (not connected)

    line 2: tcp ipv4 192.168.5.2:22 -> 192.168.5.4:59217, state ESTABLISHED, user root,
            process sshd, pid 45933
    line 3: tcp ipv6 *:22 -> *, state LISTEN
    line 4: udp ipv6 *:514 -> *, state NA
    line 5: skipped (non-IP socket: stream)

Decisions (tested):

* ``tcp4``/``udp4`` are IPv4, ``tcp6``/``udp6``/``tcp46`` IPv6; sctp rows are skipped
  (``non-TCP/UDP protocol: sctp4``), UNIX sockets (``stream``, ``dgram``, ``seqpac``) too
  (``non-IP socket: stream``).
* Endpoints are ``addr:port`` with the port after the last colon (IPv6 unbracketed:
  ``::1:4045``; brackets are removed when printed); ``*`` stays ``*`` (port NA).
* Without ``-s`` there is no state: ``state`` and ``raw_state`` are NA. With ``-s`` the state
  is the last upper-case word of a TCP row (FreeBSD 13 and later print a ``PATH STATE`` column
  for SCTP and ``CONN STATE`` for TCP; older releases one ``STATE``); it maps like netstat's
  BSD states.
* Sockets of no process (``?  ?  ?  ?``, e.g. kernel-held or dying) are kept with pid,
  process and user NA. ``-n`` prints the uid in USER, kept as printed.
* Headers, blank lines and shell prompts are structural; anything else is skipped as
  ``unparseable line``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints

NAME = "sockstat"
KIND = "text"
DESCRIPTION = "FreeBSD `sockstat` (`-4 -6 -c -l -s`, with or without the state column)"
SAVE_WITH = "sockstat -46s > sockstat.txt"
FIXTURES = ("freebsd/sockstat/*.txt",)
ORDER = 35

_HEADER = r"^[ \t]*USER[ \t]+COMMAND[ \t]+PID[ \t]+FD[ \t]+PROTO[ \t]+LOCAL ADDRESS"
_ROW = (
    r"^[ \t]*(?P<user>\S+)[ \t]+(?P<cmd>\S+)[ \t]+(?P<pid>[0-9]+|\?)[ \t]+(?P<fd>[0-9]+|\?)[ \t]+"
    r"(?P<proto>(?:tcp|udp)(?:4|6|46)?)[ \t]+(?P<local>\S+)[ \t]+(?P<foreign>\S+)"
    r"(?:[ \t]+(?P<s1>[A-Z][A-Z0-9_]*))?(?:[ \t]+(?P<s2>[A-Z][A-Z0-9_]*))?[ \t]*$"
)
_OTHER_ROW = (
    r"^[ \t]*\S+[ \t]+\S+[ \t]+(?:[0-9]+|\?)[ \t]+(?:[0-9]+|\?)[ \t]+(?P<proto>stream|dgram|seqpac|seqpacket|"
    r"sctp(?:4|6|46)?|divert(?:4|6)?|raw(?:4|6)?|[a-z]+[0-9]*)(?:[ \t]|$)"
)
_PROMPT = r"^[ \t]*(?:\[[^\]]*\]|[\w.@:~/-]*)[ \t]?[$#%>][ \t]"
_ENDPOINT = r"^(?:\[(?P<b>[^\]]*)\]|(?P<a>.*?))(?::(?P<p>[^:\]]*))?$"

_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("header", _HEADER),
    ("row", _ROW),
    ("other row", _OTHER_ROW),
    ("command", _PROMPT),
)
_UNIX = ("stream", "dgram", "seqpac", "seqpacket")


def detect(lines: Lines) -> float:
    """High on sockstat's ``USER COMMAND PID FD PROTO LOCAL ADDRESS`` header or its rows."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, nonblank = found
    if cols.matches(arr, _HEADER).any():
        return 0.97
    rows = cols.matches(arr, _ROW) & cols.matches(arr, r":[0-9*]+[ \t]+\S+:[0-9*]+")
    return round(0.4 + 0.5 * float(rows[nonblank].mean()), 3) if rows.any() else 0.0


def parse(lines: Lines) -> Parsed:
    """Internet rows become events; UNIX and other rows are skipped by kind."""
    text = lines.text
    arr = cols.clean_lines(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    names = np.array([name for name, _ in _KIND_RULES] + ["other"], dtype=object)
    kind = names[cols.first_match(arr, [pattern for _, pattern in _KIND_RULES])]
    pos = np.flatnonzero(kind == "row")
    rows = _rows(cols.extract(arr.take(pa.array(pos, type=pa.int64())), _ROW, empty_as_null=True))
    rows.insert(0, "line", line_no[pos])

    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    for k in ("row", "other row", "other"):
        structural.pop(k, None)
    other_pos = np.flatnonzero(kind == "other row")
    proto = cols.extract(arr.take(pa.array(other_pos, type=pa.int64())), _OTHER_ROW, empty_as_null=False)["proto"]
    proto = np.asarray(proto.to_pylist(), dtype=object)
    other_reason = np.where(np.isin(proto, _UNIX), "non-IP socket: " + proto.astype(str),
                            "non-TCP/UDP protocol: " + proto.astype(str)) if len(proto) else np.array([], dtype=object)
    bad = np.flatnonzero(kind == "other")
    skip_pos = np.concatenate([other_pos, bad])
    reasons = np.concatenate([other_reason.astype(object), np.full(len(bad), "unparseable line", dtype=object)])
    order = np.argsort(skip_pos, kind="stable")
    skip_pos = skip_pos[order]
    skipped = skipped_frame([int(x) for x in line_no[skip_pos]], [str(r) for r in reasons[order]],
                            arr.take(pa.array(skip_pos, type=pa.int64())).to_pylist())
    return Parsed(rows=rows, skipped=skipped, structural=structural)


def _rows(f: dict[str, pa.Array]) -> pd.DataFrame:
    tok = pc.fill_null(f["proto"], "")
    proto = pc.utf8_slice_codeunits(tok, 0, 3)
    version = pc.utf8_slice_codeunits(tok, 3)
    laddr, lport = _endpoint(f["local"])
    faddr, fport = _endpoint(f["foreign"])
    is_tcp = cols.mask(pc.equal(proto, "tcp"))
    state = pc.coalesce(f["s2"], f["s1"])
    raw = cols.categorical(pc.if_else(pa.array(is_tcp), state, pa.scalar(None, state.type)), empty_as_na=True)
    v = np.asarray(pc.fill_null(version, "").to_pylist(), dtype=object)
    told = np.where(v == "4", 0, np.where(np.isin(v, ["6", "46"]), 1, -1))
    owned = cols.mask(pc.not_equal(pc.fill_null(f["pid"], "?"), "?"))
    keep = pa.array(owned)

    def owner(a: pa.Array) -> pa.Array:
        return pc.if_else(keep, a, pa.scalar(None, a.type))

    return pd.DataFrame({
        **endpoints.socket_columns(proto, laddr, lport, faddr, fport, told),
        "state": cols.states(raw),
        "raw_state": raw,
        "pid": cols.integers(owner(f["pid"])).array,
        "process": cols.categorical(owner(f["cmd"]), empty_as_na=True),
        "user": cols.categorical(owner(f["user"]), empty_as_na=True),
    })


def _endpoint(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``addr:port`` (port after the last colon, IPv6 unbracketed or bracketed)."""
    e = cols.extract(pc.fill_null(text, ""), _ENDPOINT, empty_as_null=True)
    return pc.coalesce(e["b"], e["a"]), e["p"]
