"""``lsof -i`` network files: the column listing (``-i -n -P``, ``-nPi``, ``+c 0``, ``-l``) and ``-F`` field output.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, pid, process, user, inode (Linux: the socket inode lsof prints as DEVICE), recv_q
and send_q (``-F`` with ``-T qs``: ``TQR=``/``TQS=``).

Usage::

    lsof -i -n -P > lsof.txt              # or lsof -nPi tcp, lsof +c 0 -i, lsof -nPli
    lsof -i -n -P -F pcuftPnT > lsof.txt  # field output
    tcpforensics analyze lsof.txt

Example::

    COMMAND     PID USER   FD   TYPE DEVICE SIZE/OFF NODE NAME
    sshd        812 root    3u  IPv4  21004      0t0  TCP *:22 (LISTEN)
    nginx      1999 www    12u  IPv6  31337      0t0  TCP [::1]:8082->[::1]:57722 (ESTABLISHED)
    chronyd     640 _chrony 5u  IPv4  17211      0t0  UDP 127.0.0.1:323

    line 2: tcp ipv4 *:22 -> NA, state LISTEN, pid 812, process sshd, user root, inode 21004
    line 3: tcp ipv6 ::1:8082 -> ::1:57722, state ESTABLISHED, pid 1999, process nginx
    line 4: udp ipv4 127.0.0.1:323, state NA

Field output (``-F``) is one field per line, its letter first: ``p`` (pid), ``c`` (command),
``u`` (uid) and ``L`` (login) belong to the process above, ``f`` starts a file and ``t``,
``P``, ``n``, ``TST=``, ``TQR=``, ``TQS=`` describe it. A file is one row (at its ``f`` line);
the process and file field lines are structural (``field line``).

Decisions (tested):

* Only network files are rows: TYPE ``IPv4``/``IPv6`` with protocol TCP or UDP. Other files
  (lsof without ``-i``: REG, DIR, unix, sock...) are skipped as ``non-IP file: TYPE``.
* NAME is ``local[->remote] [(STATE)]``; IPv6 addresses are in brackets (removed), ``*`` stays
  ``*`` (port NA); service names (without ``-P``) resolve to numbers and host names (without
  ``-n``) stay as printed. The state words are netstat's (``FIN_WAIT2``, ``CLOSE_WAIT``,
  ``SYN_SENT``; macOS ``SYN_RECEIVED``, ``FIN_WAIT_1``), ``raw_state`` keeps them; UDP rows have
  no state.
* COMMAND is as printed: lsof cuts it at 9 characters unless ``+c 0`` (then the kernel's 15);
  ``\\x20`` escapes are kept. USER is a name or, with ``-l``, a uid. The ``TID`` and
  ``TASKCMD`` columns (threads) are read and dropped. DEVICE is the socket's inode on Linux
  (digits: kept as ``inode``; a ``0x`` kernel address on macOS and FreeBSD is not).
* Headers, blank lines, shell prompts and ``lsof: WARNING ...`` lines are structural; any
  other line is skipped as ``unparseable line``.
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

NAME = "lsof"
KIND = "text"
DESCRIPTION = "`lsof -i` (`-i -n -P`, `-nPi`, `+c 0`, `-l`) and its `-F` field output"
SAVE_WITH = "lsof -i -n -P > lsof.txt"
FIXTURES = ("linux/lsof/*.txt", "macos/lsof/*.txt")
ORDER = 45

_HEADER = r"^[ \t]*COMMAND[ \t]+PID[ \t]+(?:TID[ \t]+(?:TASKCMD[ \t]+)?)?USER[ \t]+FD[ \t]+TYPE[ \t]+DEVICE"
_ROW = (
    r"^(?P<cmd>\S.*?)[ \t]+(?P<pid>[0-9]+)[ \t]+(?:[0-9]+[ \t]+(?:\S+[ \t]+)?)?(?P<user>\S+)[ \t]+"
    r"(?P<fd>[0-9]+[rwu]?[A-Za-z]?|[a-z]{2,4}|DEL|NOFD)[ \t]+(?P<type>\S+)[ \t]+(?P<dev>\S+)[ \t]+(?:(?P<size>\S+)[ \t]+)?"
    r"(?P<node>TCP|UDP|[A-Za-z0-9]+)[ \t]+(?P<name>\S.*?)[ \t]*$"
)
_IP_ROW = (
    r"^\S.*?[ \t]+[0-9]+[ \t]+(?:[0-9]+[ \t]+(?:\S+[ \t]+)?)?\S+[ \t]+[0-9]+[rwu]?[A-Za-z]?[ \t]+IPv[46][ \t]+\S+[ \t]+(?:\S+[ \t]+)?"
    r"(?:TCP|UDP)[ \t]+\S"
)
_NAME = r"^(?P<local>[^ \t>]+?)(?:->(?P<remote>[^ \t]+))?(?:[ \t]+\((?P<state>[A-Za-z0-9_]+)\))?[ \t]*$"
_ENDPOINT = r"^(?:\[(?P<b>[^\]]*)\]|(?P<a>[^\[\]]*?))(?::(?P<p>[^:\]]*))?$"
_FIELD = r"^(?:[pgRcuLfatlwDKsinoPSTd0]).*$"
#: -F fields of the process (the others describe a file).
_PROCESS_FIELDS = ["p", "c", "u", "L", "g", "R"]
_PROMPT = r"^[ \t]*(?:\[[^\]]*\]|[\w.@:~/-]*)[ \t]?[$#%>][ \t]"

# Ordered line-kind rules for the column listing (first match wins).
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("header", _HEADER),
    ("row", _ROW),
    ("warning", r"^lsof: "),
    ("command", _PROMPT),
)


def detect(lines: Lines) -> float:
    """High on the ``COMMAND PID USER FD TYPE DEVICE`` header or IPv4/IPv6 rows, or on ``-F``
    output (``p`` then ``f`` lines and ``n`` names with ``->``)."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, nonblank = found
    if cols.matches(arr, _HEADER).any():
        return 0.97
    rows = cols.matches(arr, _IP_ROW)
    if rows.any():
        return round(0.5 + 0.45 * float(rows[nonblank].mean()), 3)
    if _is_field_output(arr):
        return 0.9
    return 0.0


def _is_field_output(arr: pa.Array) -> bool:
    """Field output: a ``p<pid>`` line, file lines and every non-blank line a field."""
    field = cols.matches(arr, r"^(?:p[0-9]+|f\S+|[tP]\S+|n\S.*|c.*|u[0-9]+|L.*|TST=\S+|TQ[RS]=[0-9]+)$")
    nonblank = ~cols.blank(arr)
    return bool(cols.matches(arr, r"^p[0-9]+$").any() and cols.matches(arr, r"^f\S+$").any()
                and field[nonblank].mean() > 0.9)


def parse(lines: Lines) -> Parsed:
    """Rows of the column listing or of ``-F`` output; the rest structural or skipped."""
    text = lines.text
    arr = cols.clean_lines(text)
    if _is_field_output(arr):
        return _parse_fields(arr, text.index.to_numpy(dtype=np.int64))
    line_no = text.index.to_numpy(dtype=np.int64)
    names = np.array([name for name, _ in _KIND_RULES] + ["other"], dtype=object)
    kind = names[cols.first_match(arr, [pattern for _, pattern in _KIND_RULES])]
    pos = np.flatnonzero(kind == "row")
    f = cols.extract(arr.take(pa.array(pos, type=pa.int64())), _ROW, empty_as_null=True)
    ip = _is_ip(f["type"], f["node"])
    dev = f["dev"]
    inode = cols.integers(pc.if_else(pc.match_substring_regex(pc.fill_null(dev, ""), r"^[0-9]+$"), dev, ""))
    rows = _rows(f["node"], f["type"], f["name"], f["pid"], f["cmd"], f["user"]).assign(inode=inode.array)
    rows.insert(0, "line", line_no[pos])
    reason = np.where(ip, "", _non_ip(f["type"]))
    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    structural.pop("row", None)
    structural.pop("other", None)
    other = np.flatnonzero(kind == "other")
    skip_pos = np.sort(np.concatenate([pos[~ip], other]))
    reasons = pd.Series("unparseable line", index=skip_pos, dtype=object)
    reasons[pos[~ip]] = reason[~ip]
    skipped = skipped_frame([int(x) for x in line_no[skip_pos]], reasons.tolist(),
                            arr.take(pa.array(skip_pos, type=pa.int64())).to_pylist())
    return Parsed(rows=rows[ip].reset_index(drop=True), skipped=skipped, structural=structural)


def _is_ip(typ: pa.Array, node: pa.Array) -> np.ndarray:
    return (cols.mask(pc.is_in(typ, pa.array(["IPv4", "IPv6"], type=typ.type)))
            & cols.mask(pc.is_in(node, pa.array(["TCP", "UDP"], type=node.type))))


def _non_ip(typ: pa.Array) -> np.ndarray:
    t = np.asarray(pc.fill_null(typ, "?").to_pylist(), dtype=object)
    return np.array(["non-IP file: " + x for x in t], dtype=object) if len(t) else np.array([], dtype=object)


def _rows(node: pa.Array, typ: pa.Array, name: pa.Array, pid: pa.Array, cmd: pa.Array,
          user: pa.Array, state: pa.Array | None = None) -> pd.DataFrame:
    """Event columns from the NODE (protocol), TYPE (family) and NAME fields (the state in
    NAME's parentheses, or ``state``: -F's TST field)."""
    proto = pc.utf8_lower(pc.fill_null(node, ""))
    n = cols.extract(pc.fill_null(name, ""), _NAME, empty_as_null=True)
    laddr, lport = _endpoint(n["local"])
    raddr, rport = _endpoint(n["remote"])
    is_tcp = cols.mask(pc.equal(proto, "tcp"))
    told_state = n["state"] if state is None else pc.coalesce(n["state"], state.cast(n["state"].type))
    raw = cols.categorical(pc.if_else(pa.array(is_tcp), told_state, pa.scalar(None, n["state"].type)),
                           empty_as_na=True)
    told = np.where(cols.mask(pc.equal(typ, "IPv6")), 1, np.where(cols.mask(pc.equal(typ, "IPv4")), 0, -1))
    return pd.DataFrame({
        **endpoints.socket_columns(proto, laddr, lport, raddr, rport, told),
        "state": cols.states(raw),
        "raw_state": raw,
        "pid": cols.integers(pid).array,
        "process": cols.categorical(cmd, empty_as_na=True),
        "user": cols.categorical(user, empty_as_na=True),
    })


def _endpoint(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``addr:port`` / ``[v6]:port`` / ``*:*`` -> (address without brackets, port text)."""
    e = cols.extract(pc.fill_null(text, ""), _ENDPOINT, empty_as_null=True)
    addr = pc.coalesce(e["b"], e["a"])
    return addr, e["p"]


# --- -F field output ------------------------------------------------------------------------


def _parse_fields(arr: pa.Array, line_no: np.ndarray) -> Parsed:
    """One row per file (``f`` line) with its process's p/c/u/L fields and its own t/P/n/T."""
    first = pc.utf8_slice_codeunits(arr, 0, 1)
    letter = np.asarray(pc.fill_null(first, "").to_pylist(), dtype=object)
    value = pc.utf8_slice_codeunits(arr, 1)
    blank = cols.blank(arr)
    is_tst = cols.matches(arr, r"^TST=")
    is_tqr = cols.matches(arr, r"^TQR=")
    is_tqs = cols.matches(arr, r"^TQS=")
    tvalue = pc.utf8_slice_codeunits(arr, 4)
    field = np.where(is_tst, "TST", np.where(is_tqr, "TQR", np.where(is_tqs, "TQS", letter)))
    n = len(arr)
    is_p, is_f = field == "p", field == "f"
    proc_id = np.cumsum(is_p)  # the process above each line (0: none)
    pos = np.arange(n)
    # the file above each line, when no process line came between (0: none)
    last_f = np.maximum.accumulate(np.where(is_f, pos, -1)) if n else pos
    last_p = np.maximum.accumulate(np.where(is_p, pos, -1)) if n else pos
    file_id = np.where(last_f > last_p, np.cumsum(is_f), 0)
    val = np.asarray(pc.if_else(pa.array(is_tst | is_tqr | is_tqs), tvalue, value).to_pylist(), dtype=object)
    frame = pd.DataFrame({"proc": proc_id, "file": file_id, "field": field, "value": val})
    procs = frame[np.isin(field, _PROCESS_FIELDS)]
    pf = procs.drop_duplicates(["proc", "field"]).pivot(index="proc", columns="field", values="value")
    files = frame[(frame["file"] > 0) & ~np.isin(field, _PROCESS_FIELDS)]
    ff = files.drop_duplicates(["file", "field"]).pivot(index="file", columns="field", values="value")
    f_pos = np.flatnonzero(is_f)
    rec = pd.DataFrame({"file": file_id[f_pos], "proc": proc_id[f_pos]})
    rec = rec.join(ff, on="file").join(pf, on="proc")

    def col(name: str) -> pa.Array:
        s = rec[name] if name in rec else pd.Series([None] * len(rec), dtype=object)
        return pa.array(s.astype(object).where(s.notna(), None).tolist(), type=pa.large_string())

    ip = _is_ip(col("t"), col("P"))
    user = pc.coalesce(col("L"), col("u"))
    rows = _rows(col("P"), col("t"), col("n"), col("p"), col("c"), user, col("TST"))
    rows = rows.assign(recv_q=cols.integers(col("TQR")).array, send_q=cols.integers(col("TQS")).array)
    rows.insert(0, "line", line_no[f_pos])
    in_file = ~is_f & ~blank & (file_id > 0) & (proc_id > 0)
    in_proc = ~is_f & ~blank & ~in_file & (proc_id > 0) | is_p
    other = ~blank & ~is_f & ~in_file & ~in_proc
    skip_pos = np.sort(np.concatenate([f_pos[~ip], np.flatnonzero(other)]))
    reasons = pd.Series("unparseable line", index=skip_pos, dtype=object)
    reasons[f_pos[~ip]] = _non_ip(col("t").filter(pa.array(~ip))) if (~ip).any() else []
    skipped = skipped_frame([int(x) for x in line_no[skip_pos]], reasons.tolist(),
                            arr.take(pa.array(skip_pos, type=pa.int64())).to_pylist())
    structural = Counter({"field line": int((in_file | in_proc).sum()), "blank": int(blank.sum())})
    return Parsed(rows=rows[ip].reset_index(drop=True), skipped=skipped,
                  structural=Counter({k: v for k, v in structural.items() if v}))
