"""Ingestor for macOS / FreeBSD ``netstat`` (-a -n -A -v -b -T -x; dotted ``addr.port`` endpoints).

Decisions (documented, tested):

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

from tcpforensics.ingest import arrowcols as ac
from tcpforensics.ingest import netstat_cols, vocab
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame

NAME = "netstat_bsd"
DESCRIPTION = "macOS / FreeBSD netstat (-a -n -A -v -b -T -x; tcp4/tcp6/tcp46, addr.port)"

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


def _arrow(text: pd.Series) -> pa.Array:
    return ac.clean_lines(text)


def _blank(arr: pa.Array) -> np.ndarray:
    return ac.mask(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))


def detect(lines: Lines) -> float:
    """High for tcp4/tcp6/udp4 rows with dotted addr.port endpoints (never Linux addr:port)."""
    text = lines.text.iloc[:2000]
    if text.empty:
        return 0.0
    arr = _arrow(text)
    titled = ac.matches(arr, r"^Active Internet6? connections|^Active (?:LOCAL \()?UNIX|^Current listen queue sizes")
    row = ac.matches(arr, _DETECT_ROW) | (ac.matches(arr, _LISTEN_ROW) & titled.any())
    if not row.any():
        return 0.0
    versioned = ac.matches(arr, r"^\s*(?:\S+\s+){0,2}(?:tcp|udp)(?:4|6|46)\s")
    blank = _blank(arr)
    frac = float(row[~blank].mean()) if (~blank).any() else 0.0
    score = 0.5 + 0.3 * min(1.0, frac * 2) + 0.1 * versioned.any() + 0.1 * titled.any()
    return float(min(1.0, score))


def parse(lines: Lines) -> Parsed:
    """Parse every line; Internet rows become events, other sections are skipped by kind."""
    text = lines.text
    arr = _arrow(text)
    n = len(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    blank = _blank(arr)

    section = np.full(n, None, dtype=object)
    is_title = np.zeros(n, dtype=bool)
    for pat, kind in SECTIONS:
        m = ac.matches(arr, pat) & ~is_title
        section[m] = kind
        is_title |= m
    section = pd.Series(section, dtype=object).ffill().fillna("inet").to_numpy()
    inet = section == "inet"

    # Structural lines, in order: each line takes the first class that claims it, so no line
    # is counted twice (a command line right after a title is a command, not a header).
    # The line right after a non-inet title is that section's column header.
    after_title = np.concatenate(([False], is_title[:-1])) if n else is_title
    claimed = blank | is_title
    header = _claim(ac.matches(arr, _HEADER) & inet, claimed)
    command = _claim(ac.matches(arr, _COMMAND), claimed)
    elision = _claim(ac.matches(arr, _ELISION), claimed)
    other_header = _claim(after_title & ~inet, claimed)

    # each Internet row is read with the layout of the closest header above it (in its section)
    pos = np.arange(n)
    header_id = np.maximum.accumulate(np.where(header | is_title, pos, -1)) if n else pos
    header_id = np.where((header_id >= 0) & header[np.clip(header_id, 0, None)], header_id, -1)
    candidate = inet & ~claimed

    frames = []
    reason = np.full(n, None, dtype=object)
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
        ok = ac.mask(pc.is_valid(m))
        if ok.any():
            frames.append(_rows(m.filter(pa.array(ok)), line_no[sel[ok]], layout))
        bad = sel[~ok]
        if len(bad):
            proto = ac.extract(arr.take(pa.array(bad, type=pa.int64())), _ANY_PROTO % n_pre)["proto"]
            proto = np.asarray(proto.to_pylist(), dtype=object)
            other = pd.notna(proto) & ~pd.Series(proto, dtype=object).str.match(r"(?:tcp|udp)\d*$", na=False).to_numpy(bool)
            reason[bad] = np.where(other, "non-TCP/UDP protocol: " + proto.astype(str), "unparseable line")

    n_inet_frames = len(frames)

    # netstat -L: listen queue lengths of listening sockets (qlen -> recv_q, maxqlen -> send_q)
    listen_sec = (section == "listen queue") & ~claimed
    listen_rows = listen_sec & ac.matches(arr, _LISTEN_ROW)
    if listen_rows.any():
        sel = np.flatnonzero(listen_rows)
        frames.append(_listen_rows(ac.extract(arr.take(pa.array(sel, type=pa.int64())), _LISTEN_ROW), line_no[sel]))
    reason[listen_sec & ~listen_rows] = "unparseable line"

    not_inet = ~inet & (section != "listen queue") & ~claimed
    reason[not_inet] = section[not_inet]
    structural = Counter({
        "blank": int(blank.sum()),
        "title": int(is_title.sum()),
        "header": int((header | other_header).sum()),
        "command line": int(command.sum()),
        "elision": int(elision.sum()),
    })
    structural = Counter({k: v for k, v in structural.items() if v})
    bad = np.flatnonzero(pd.notna(reason))
    skipped = skipped_frame(line_no[bad].tolist(), reason[bad].tolist(),
                            arr.take(pa.array(bad, type=pa.int64())).to_pylist())
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"line": pd.Series(dtype="int64")})
    if n_inet_frames > 1:  # Internet rows in line order, whatever their layout; -L rows after
        n_inet = sum(len(f) for f in frames[:n_inet_frames])
        order = np.argsort(rows["line"].to_numpy()[:n_inet], kind="stable")
        rows = rows.take(np.concatenate([order, np.arange(n_inet, len(rows))])).reset_index(drop=True)
    return Parsed(rows=rows, skipped=skipped, structural=structural)


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
    laddr, lport = netstat_cols.split_dot(f["local"])
    faddr, fport = netstat_cols.split_dot(f["foreign"])
    is_tcp = ac.mask(pc.equal(proto, "tcp"))
    raw = ac.categorical(pc.if_else(pa.array(is_tcp), f["state"], pa.scalar(None, f["state"].type)))
    out = pd.DataFrame(
        {
            "line": np.asarray(line, dtype=np.int64),
            "proto": ac.categorical(proto),
            "family": netstat_cols.family(laddr, faddr, _told_family(version)),
            "src_addr": ac.categorical(laddr),
            "src_port": netstat_cols.ports(lport, proto).array,
            "dst_addr": ac.categorical(faddr),
            "dst_port": netstat_cols.ports(fport, proto).array,
            "state": ac.states(raw),
            "raw_state": raw,
        }
    )
    if queues:
        q = ac.extract(pc.fill_null(f["nums"], ""), r"^(?P<r>\d+)\s+(?P<s>\d+)")
        out["recv_q"] = ac.integers(q["r"]).array
        out["send_q"] = ac.integers(q["s"]).array
    if k is not None:
        rest = pc.fill_null(f["rest"], "")
        if named_pid:
            got = ac.extract(rest, _skip(k) + r"(?P<proc>.*):(?P<pid>\d+)(?:\s|$)")
            out["process"] = ac.categorical(pc.utf8_trim_whitespace(got["proc"]))
        else:
            got = ac.extract(rest, _skip(k) + r"(?P<pid>\d+)(?:\s|$)")
        out["pid"] = ac.integers(got["pid"]).array
    return out


def _listen_rows(f: dict[str, pa.Array], line: np.ndarray) -> pd.DataFrame:
    """Rows of ``netstat -L``: listening TCP sockets with their accept-queue length and limit."""
    proto_tok = pc.fill_null(f["proto"], "tcp")
    proto = pc.struct_field(pc.extract_regex(proto_tok, r"^(?P<p>tcp|udp)"), "p")
    version = pc.struct_field(pc.extract_regex(proto_tok, r"^[a-z]+(?P<v>\d*)$"), "v")
    laddr, lport = netstat_cols.split_dot(f["local"])
    return pd.DataFrame({
        "line": np.asarray(line, dtype=np.int64),
        "proto": ac.categorical(proto),
        "family": netstat_cols.family(laddr, laddr, _told_family(version)),
        "src_addr": ac.categorical(laddr),
        "src_port": netstat_cols.ports(lport, proto).array,
        "state": pd.Categorical(["LISTEN"] * len(line), dtype=vocab.STATE_DTYPE),
        "recv_q": ac.integers(f["qlen"]).array,
        "send_q": ac.integers(f["maxqlen"]).array,
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
    f = pc.struct_field(m, name)
    return pc.if_else(pc.equal(f, ""), pa.scalar(None, f.type), f)
