"""macOS and FreeBSD ``netstat`` (-a -n -A -v -b -T -x -L; dotted ``addr.port`` endpoints).

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, recv_q, send_q, pid and process (-v, -b).

Example::

    Active Internet connections (including servers)
    Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
    tcp4       0      0  192.168.1.5.52144      17.57.146.20.5223      ESTABLISHED
    tcp46      0      0  *.22                   *.*                    LISTEN
    udp4       0      0  *.5353                 *.*

    line 3: tcp ipv4 192.168.1.5:52144 -> 17.57.146.20:5223, state ESTABLISHED, queues 0 0
    line 4: tcp ipv6 (tcp46: dual stack) *:22 -> * (port NA), state LISTEN
    line 5: udp ipv4 *:5353 -> *, state NA

Decisions (tested):

* Sections: rows below "Active Internet connections" (or before any title, e.g. grep output)
  are TCP/UDP rows. Rows of every other section (UNIX domain sockets, kernel control
  modules, kernel event/control sockets, multipath connections) are *skipped* with the
  section kind as reason; ICMP and other non-TCP/UDP rows (``icm4``) are skipped as
  ``non-TCP/UDP protocol: icm4``. Section titles and column headers are structural.
* Each row is read with the layout of the header above it: PCB/Flowhash columns before
  ``Proto`` (-A), Recv-Q/Send-Q (kept) or Rexmit/OOORcv/0-win (-T, not kept) before the
  endpoints, then ``(state)`` and the -v/-b/-x columns; ``pid`` or ``process:pid`` is found
  by its header position (process names may hold spaces: ``Google Chrome He:7187``).
* ``addr.port``: the port is after the last dot (``fe80::1%lo0.123``); ``*.*`` is address
  ``*`` with no port; service names resolve to numbers; truncated names stay as printed.
* ``netstat -L`` ("Current listen queue sizes (qlen/incqlen/maxqlen)"): each row is a
  listening socket: ``state`` LISTEN (implied; ``raw_state`` NA), ``recv_q`` = qlen (accept
  queue now), ``send_q`` = maxqlen (backlog limit), as Linux reports listeners; incqlen (the
  SYN queue) has no column and is not kept; the foreign endpoint is not printed (NA).
* ``tcp4``/``udp4`` are IPv4, ``tcp6``/``tcp46``/``udp46`` IPv6 (dual-stack sockets).
  UDP rows and -T/-x tables print no state: ``state`` and ``raw_state`` are NA.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints, vocab

NAME = "netstat_bsd"
KIND = "text"
DESCRIPTION = "macOS / FreeBSD `netstat` (`-a -n -A -v -b -T -x -L`; `tcp4`/`tcp6`/`tcp46`, `addr.port`, `process:pid`)"
SAVE_WITH = "netstat -an -p tcp > netstat.txt"
FIXTURES = ("macos/*.txt", "freebsd/*.txt")
ORDER = 30

# Section titles, in order; the first match names the section of the lines below it.
# Only "inet" sections hold TCP/UDP rows; rows of the others are skipped with the reason
# given here (they are sockets of other kinds: UNIX domain, kernel control/event, MPTCP).
SECTIONS: tuple[tuple[str, str], ...] = (
    (r"^Active Multipath Internet connections", "multipath connection (MPTCP, not a TCP/UDP row)"),
    (r"^Active Internet6? connections", "inet"),
    (r"^Current listen queue sizes", "listen queue"),
    (r"^Active (?:LOCAL \()?UNIX\)? domain sockets", "unix domain socket"),
    (r"^Registered kernel control modules", "kernel control module"),
    (r"^Active kernel event sockets", "kernel event socket"),
    (r"^Active kernel control sockets", "kernel control socket"),
    (r"^Active .*(?:sockets|connections)", "other socket kind"),
)
# Column header of an Internet section: "[Tcpcb|Socket Flowhash] Proto ... Local Address ...".
_HEADER = r"^\s*(?:\S+\s+){0,3}Proto\s.*Local Address"
# Shell command echoed into the dump ("sudo netstat -anv -p tcp | egrep ...", "$ netstat -an").
_COMMAND = r"^\s*(?:\S*[$%#>]\s*)?(?:sudo\s+)?netstat\b"
_ELISION = r"^\s*(?:\.\.\.|…)\s*$"
# Any socket row: optional PCB columns, a lower-case protocol token, then numbers/endpoints.
_ANY_PROTO = r"^\s*(?:\S+\s+){%d}(?P<proto>[a-z]+\d*)\s"
_DETECT_ROW = (
    r"^\s*(?:[0-9a-f]{6,}\s+){0,2}(?:tcp|udp)(?:4|6|46)?\s+(?:\d+\s+)*"
    r"\S*\.(?:\d+|\*|[A-Za-z][\w-]*)\s+\S*\.(?:\d+|\*|[A-Za-z][\w-]*)(?:\s|$)"
)
# netstat -L: "[tcp4]  qlen/incqlen/maxqlen  local" (macOS prints no Proto column).
_LISTEN_ROW = (
    r"^\s*(?:(?P<proto>(?:tcp|udp)\d*)\s+)?(?P<qlen>\d+)/(?P<incqlen>\d+)/(?P<maxqlen>\d+)"
    r"\s+(?P<local>\S+\.[^\s.]+)\s*$"
)
_DEFAULT_HEADER = "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)"


def _row_regex(n_pre: int) -> str:
    return (
        r"^\s*(?:\S+\s+){" + str(n_pre) + r"}(?P<proto>(?:tcp|udp)\d*)\s+(?P<nums>(?:\d+\s+)*)"
        r"(?P<local>\S+\.[^\s.]+)\s+(?P<foreign>\S+\.[^\s.]+)"
        r"(?:\s+(?P<state>[A-Z][A-Z0-9_]*))?(?:\s+(?P<rest>.*?))?\s*$"
    )


def detect(lines: Lines) -> float:
    """High for tcp4/tcp6/udp4 rows with dotted addr.port endpoints (never Linux addr:port)."""
    text = lines.text.iloc[:2000]
    if text.empty:
        return 0.0
    arr = cols.clean_lines(text)
    titled = cols.matches(arr, r"^Active Internet6? connections|^Active (?:LOCAL \()?UNIX|^Current listen queue sizes")
    row = cols.matches(arr, _DETECT_ROW) | (cols.matches(arr, _LISTEN_ROW) & titled.any())
    if not row.any():
        return 0.0
    versioned = cols.matches(arr, r"^\s*(?:\S+\s+){0,2}(?:tcp|udp)(?:4|6|46)\s")
    blank = cols.blank(arr)
    frac = float(row[~blank].mean()) if (~blank).any() else 0.0
    score = 0.5 + 0.3 * min(1.0, frac * 2) + 0.1 * versioned.any() + 0.1 * titled.any()
    return float(min(1.0, score))


def parse(lines: Lines) -> Parsed:
    """Parse every line; Internet rows become events, other sections are skipped by kind."""
    text = lines.text
    arr = cols.clean_lines(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    section, is_title = _sections(arr)
    inet = section == "inet"
    claimed, header, structural = _structural_lines(arr, is_title, inet)
    reason = np.full(len(text), None, dtype=object)  # why a line is skipped
    frames = _inet_rows(arr, line_no, header, is_title, inet & ~claimed, reason)
    n_inet_frames = len(frames)
    frames += _listen_queue_rows(arr, line_no, (section == "listen queue") & ~claimed, reason)
    not_inet = ~inet & (section != "listen queue") & ~claimed
    reason[not_inet] = section[not_inet]
    bad = np.flatnonzero(pd.notna(reason))
    skipped = skipped_frame(line_no[bad].tolist(), reason[bad].tolist(),
                            arr.take(pa.array(bad, type=pa.int64())).to_pylist())
    return Parsed(rows=_in_line_order(frames, n_inet_frames), skipped=skipped, structural=structural)


def _sections(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(section kind of every line, by the title above it ("inet" before any title), whether
    the line is a title)."""
    title_of = cols.first_match(arr, [pattern for pattern, _ in SECTIONS])
    is_title = title_of >= 0
    section = np.array([kind for _, kind in SECTIONS] + [None], dtype=object)[title_of]  # -1: None
    return pd.Series(section, dtype=object).ffill().fillna("inet").to_numpy(), is_title


def _structural_lines(arr: pa.Array, is_title: np.ndarray, inet: np.ndarray) -> tuple[np.ndarray, np.ndarray, Counter]:
    """(lines claimed as structural, the Internet column headers, counts by kind).

    Each line takes the first class that claims it, so no line is counted twice (a command
    line right after a title is a command, not a header). The line right after a non-inet
    title is that section's column header."""
    n = len(arr)
    blank = cols.blank(arr)
    after_title = np.concatenate(([False], is_title[:-1])) if n else is_title
    claimed = blank | is_title
    header = _claim(cols.matches(arr, _HEADER) & inet, claimed)
    command = _claim(cols.matches(arr, _COMMAND), claimed)
    elision = _claim(cols.matches(arr, _ELISION), claimed)
    other_header = _claim(after_title & ~inet, claimed)
    structural = Counter({
        "blank": int(blank.sum()),
        "title": int(is_title.sum()),
        "header": int((header | other_header).sum()),
        "command line": int(command.sum()),
        "elision": int(elision.sum()),
    })
    return claimed, header, Counter({k: v for k, v in structural.items() if v})


def _inet_rows(arr: pa.Array, line_no: np.ndarray, header: np.ndarray, is_title: np.ndarray,
               candidate: np.ndarray, reason: np.ndarray) -> list[pd.DataFrame]:
    """Event rows of the Internet row ``candidate`` lines, each read with the layout of the
    closest header above it (in its section); the reason of each line that is not a row is
    set in ``reason``."""
    n = len(arr)
    pos = np.arange(n)
    header_id = np.maximum.accumulate(np.where(header | is_title, pos, -1)) if n else pos
    header_id = np.where((header_id >= 0) & header[np.clip(header_id, 0, None)], header_id, -1)
    frames = []
    # one pass per distinct layout (a handful), not per header: a netstat run in a loop
    # repeats one header per run
    by_layout: dict[tuple, list[int]] = {}
    for hid in np.unique(header_id[candidate]):
        by_layout.setdefault(_layout(arr[int(hid)].as_py() if hid >= 0 else _DEFAULT_HEADER), []).append(int(hid))
    for layout, hids in by_layout.items():
        n_pre = layout[0]
        sel = np.flatnonzero(candidate & np.isin(header_id, hids))
        sub = arr.take(pa.array(sel, type=pa.int64()))
        m = pc.extract_regex(sub, _row_regex(n_pre))
        ok = cols.mask(pc.is_valid(m))
        if ok.any():
            frames.append(_rows(m.filter(pa.array(ok)), line_no[sel[ok]], layout))
        bad = sel[~ok]
        if len(bad):
            proto = cols.extract(arr.take(pa.array(bad, type=pa.int64())), _ANY_PROTO % n_pre, empty_as_null=True)["proto"]
            proto = np.asarray(proto.to_pylist(), dtype=object)
            other = pd.notna(proto) & ~pd.Series(proto, dtype=object).str.match(r"(?:tcp|udp)\d*$", na=False).to_numpy(bool)
            reason[bad] = np.where(other, "non-TCP/UDP protocol: " + proto.astype(str), "unparseable line")
    return frames


def _listen_queue_rows(arr: pa.Array, line_no: np.ndarray, listen_sec: np.ndarray,
                       reason: np.ndarray) -> list[pd.DataFrame]:
    """netstat -L: listen queue lengths of listening sockets (qlen -> recv_q, maxqlen ->
    send_q), from the lines of its section; the other lines there are unparseable."""
    listen_rows = listen_sec & cols.matches(arr, _LISTEN_ROW)
    reason[listen_sec & ~listen_rows] = "unparseable line"
    if not listen_rows.any():
        return []
    sel = np.flatnonzero(listen_rows)
    listen = cols.extract(arr.take(pa.array(sel, type=pa.int64())), _LISTEN_ROW, empty_as_null=True)
    return [_listen_rows(listen, line_no[sel])]


def _in_line_order(frames: list[pd.DataFrame], n_inet_frames: int) -> pd.DataFrame:
    """The event rows: Internet rows in line order, whatever their layout; -L rows after."""
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"line": pd.Series(dtype="int64")})
    if n_inet_frames > 1:
        n_inet = sum(len(f) for f in frames[:n_inet_frames])
        order = np.argsort(rows["line"].to_numpy()[:n_inet], kind="stable")
        rows = rows.take(np.concatenate([order, np.arange(n_inet, len(rows))])).reset_index(drop=True)
    return rows


def _claim(mask: np.ndarray, claimed: np.ndarray) -> np.ndarray:
    """The lines of ``mask`` not claimed by an earlier class; marks them claimed (in place)."""
    mask = mask & ~claimed
    claimed |= mask
    return mask


def _layout(header: str) -> tuple[int, bool, int | None, bool]:
    """How rows under a header line are read: (PCB columns before Proto, whether Recv-Q and
    Send-Q follow Proto, index of the pid / process:pid column among the columns after the
    endpoints and state or None, whether that column is process:pid). Headers that differ only
    in columns nobody reads (-T counters, -v buffers, a mangled "(state)") give one layout."""
    toks = header.split()
    p = toks.index("Proto") if "Proto" in toks else 0
    try:
        la = toks.index("Local", p)
        fa = toks.index("Address", toks.index("Foreign", la))
    except ValueError:
        la, fa = p + 1, p + 1
    tail = [t for t in toks[fa + 1 :] if t != "(state)"]
    pid_col = next((i for i, t in enumerate(tail) if t.lower() in ("pid", "process:pid")), None)
    queues = [t.lower() for t in toks[p + 1 : la]][:2] == ["recv-q", "send-q"]
    return p, queues, pid_col, pid_col is not None and ":" in tail[pid_col]


def _rows(m: pa.StructArray, line: pd.Index, layout: tuple[int, bool, int | None, bool]) -> pd.DataFrame:
    _, queues, k, named_pid = layout
    f = {name: _field(m, name) for name in ("proto", "nums", "local", "foreign", "state", "rest")}
    proto_tok = f["proto"]
    proto = pc.struct_field(pc.extract_regex(proto_tok, r"^(?P<p>tcp|udp)"), "p")
    version = pc.struct_field(pc.extract_regex(proto_tok, r"^[a-z]+(?P<v>\d*)$"), "v")
    laddr, lport = endpoints.split_dot(f["local"])
    faddr, fport = endpoints.split_dot(f["foreign"])
    is_tcp = cols.mask(pc.equal(proto, "tcp"))
    raw = cols.categorical(pc.if_else(pa.array(is_tcp), f["state"], pa.scalar(None, f["state"].type)), empty_as_na=False)
    out = pd.DataFrame(
        {
            "line": np.asarray(line, dtype=np.int64),
            "proto": cols.categorical(proto, empty_as_na=False),
            "family": endpoints.families(laddr, faddr, _told_family(version)),
            "src_addr": cols.categorical(laddr, empty_as_na=False),
            "src_port": endpoints.port_numbers(lport, proto).array,
            "dst_addr": cols.categorical(faddr, empty_as_na=False),
            "dst_port": endpoints.port_numbers(fport, proto).array,
            "state": cols.states(raw),
            "raw_state": raw,
        }
    )
    if queues:
        q = cols.extract(pc.fill_null(f["nums"], ""), r"^(?P<r>\d+)\s+(?P<s>\d+)", empty_as_null=True)
        out["recv_q"] = cols.integers(q["r"]).array
        out["send_q"] = cols.integers(q["s"]).array
    if k is not None:
        rest = pc.fill_null(f["rest"], "")
        if named_pid:
            got = cols.extract(rest, _skip(k) + r"(?P<proc>.*):(?P<pid>\d+)(?:\s|$)", empty_as_null=True)
            out["process"] = cols.categorical(pc.utf8_trim_whitespace(got["proc"]), empty_as_na=False)
        else:
            got = cols.extract(rest, _skip(k) + r"(?P<pid>\d+)(?:\s|$)", empty_as_null=True)
        out["pid"] = cols.integers(got["pid"]).array
    return out


def _listen_rows(f: dict[str, pa.Array], line: np.ndarray) -> pd.DataFrame:
    """Rows of ``netstat -L``: listening TCP sockets with their accept-queue length and limit."""
    proto_tok = pc.fill_null(f["proto"], "tcp")
    proto = pc.struct_field(pc.extract_regex(proto_tok, r"^(?P<p>tcp|udp)"), "p")
    version = pc.struct_field(pc.extract_regex(proto_tok, r"^[a-z]+(?P<v>\d*)$"), "v")
    laddr, lport = endpoints.split_dot(f["local"])
    return pd.DataFrame({
        "line": np.asarray(line, dtype=np.int64),
        "proto": cols.categorical(proto, empty_as_na=False),
        "family": endpoints.families(laddr, laddr, _told_family(version)),
        "src_addr": cols.categorical(laddr, empty_as_na=False),
        "src_port": endpoints.port_numbers(lport, proto).array,
        "state": pd.Categorical(["LISTEN"] * len(line), dtype=vocab.STATE_DTYPE),
        "recv_q": cols.integers(f["qlen"]).array,
        "send_q": cols.integers(f["maxqlen"]).array,
    })


def _told_family(version: pa.Array) -> np.ndarray:
    """The family a protocol's version suffix names: ``tcp4`` 0 (ipv4), ``tcp6``/``tcp46`` 1
    (ipv6, dual-stack sockets), ``tcp`` -1 (not told: the address decides)."""
    v = np.asarray(pc.fill_null(version, "").to_numpy(zero_copy_only=False), dtype=object)
    return np.where(v == "", -1, np.where(v == "4", 0, 1))


def _skip(k: int) -> str:
    """RE2 prefix that skips ``k`` whitespace-separated columns."""
    return r"^(?:\S+\s+){" + str(k) + "}"


def _field(m: pa.StructArray, name: str) -> pa.Array:
    return cols.null_if_empty(pc.struct_field(m, name))
