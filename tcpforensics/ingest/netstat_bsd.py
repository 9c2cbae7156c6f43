"""Ingestor for macOS / FreeBSD ``netstat`` (-a -n -A -v -b -T -x; dotted ``addr.port`` endpoints)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import arrowcols as ac
from tcpforensics.ingest import netstat_cols
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame

NAME = "netstat_bsd"
DESCRIPTION = "macOS / FreeBSD netstat (-a -n -A -v -b -T -x; tcp4/tcp6/tcp46, addr.port)"

# Section titles, in order; the first match names the section of the lines below it.
# Only "inet" sections hold TCP/UDP rows; rows of the others are skipped with the reason
# given here (they are sockets of other kinds: UNIX domain, kernel control/event, MPTCP).
SECTIONS: tuple[tuple[str, str], ...] = (
    (r"^Active Multipath Internet connections", "multipath connection (MPTCP, not a TCP/UDP row)"),
    (r"^Active Internet6? connections", "inet"),
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
_DEFAULT_HEADER = "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)"


def _row_regex(n_pre: int) -> str:
    return (
        r"^\s*(?:\S+\s+){%d}(?P<proto>(?:tcp|udp)\d*)\s+(?P<nums>(?:\d+\s+)*)"
        r"(?P<local>\S+)\s+(?P<foreign>\S+)"
        r"(?:\s+(?P<state>[A-Z][A-Z0-9_]*))?(?:\s+(?P<rest>.*?))?\s*$"
    ) % n_pre


def _arrow(text: pd.Series) -> pa.Array:
    return pa.array(text.astype(object).fillna("").to_numpy(), type=pa.large_string())


def _np(a: pa.Array) -> np.ndarray:
    return a.to_numpy(zero_copy_only=False)


def detect(lines: Lines) -> float:
    """High for tcp4/tcp6/udp4 rows with dotted addr.port endpoints (never Linux addr:port)."""
    text = lines.text.head(2000)
    if text.empty:
        return 0.0
    arr = _arrow(text)
    row = _np(pc.match_substring_regex(
        arr,
        r"^\s*(?:[0-9a-f]{6,}\s+){0,2}(?:tcp|udp)(?:4|6|46)?\s+(?:\d+\s+)*"
        r"\S*\.(?:\d+|\*|[A-Za-z][\w-]*)\s+\S*\.(?:\d+|\*|[A-Za-z][\w-]*)(?:\s|$)",
    ))
    if not row.any():
        return 0.0
    versioned = _np(pc.match_substring_regex(arr, r"^\s*(?:\S+\s+){0,2}(?:tcp|udp)(?:4|6|46)\s"))
    titled = _np(pc.match_substring_regex(arr, r"^Active Internet6? connections|^Active (?:LOCAL \()?UNIX"))
    blank = _np(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))
    frac = float(row[~blank].mean()) if (~blank).any() else 0.0
    score = 0.5 + 0.3 * min(1.0, frac * 2) + (0.1 if versioned.any() else 0.0) + (0.1 if titled.any() else 0.0)
    return min(1.0, score)


def parse(lines: Lines) -> Parsed:
    """Parse every line; Internet rows become events, other sections are skipped by kind."""
    text = lines.text
    arr = _arrow(text)
    idx = text.index
    structural: Counter = Counter()
    blank = _np(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))

    section = pd.Series(None, index=idx, dtype=object)
    is_title = np.zeros(len(text), dtype=bool)
    for pat, kind in SECTIONS:
        m = _np(pc.match_substring_regex(arr, pat)) & ~is_title
        section[m] = kind
        is_title |= m
    section = section.ffill().fillna("inet")
    inet = (section == "inet").to_numpy()

    # the line right after a non-inet title is that section's column header
    after_title = np.roll(is_title, 1)
    after_title[0] = False
    other_header = after_title & ~inet & ~blank & ~is_title
    header = _np(pc.match_substring_regex(arr, _HEADER)) & inet & ~is_title
    command = _np(pc.match_substring_regex(arr, _COMMAND)) & ~header & ~is_title
    elision = _np(pc.match_substring_regex(arr, _ELISION))

    # each Internet row is read with the layout of the closest header above it
    header_id = pd.Series(np.where(header, np.arange(len(text)), np.nan), index=idx)
    header_id = header_id.where(~is_title, -1).ffill().fillna(-1).astype(int).to_numpy()
    candidate = inet & ~header & ~is_title & ~blank & ~command & ~elision

    frames = []
    unparsed = np.zeros(len(text), dtype=bool)
    other_proto = pd.Series(None, index=idx, dtype=object)
    for hid in np.unique(header_id[candidate]):
        sel = candidate & (header_id == hid)
        layout = _layout(text.iloc[hid] if hid >= 0 else _DEFAULT_HEADER)
        sub = arr.filter(pa.array(sel))
        m = pc.extract_regex(sub, _row_regex(layout["n_pre"]))
        ok = _np(pc.is_valid(m))
        lines_sel = idx[sel]
        if ok.any():
            frames.append(_rows(m.filter(pa.array(ok)), lines_sel[ok], layout))
        bad = ~ok
        unparsed[np.flatnonzero(sel)[bad]] = True
        p = pc.struct_field(pc.extract_regex(sub.filter(pa.array(bad)), _ANY_PROTO % layout["n_pre"]), "proto")
        other_proto[lines_sel[bad]] = _np(p)

    structural["blank"] += int(blank.sum())
    structural["title"] += int(is_title.sum())
    structural["header"] += int((header | other_header).sum())
    structural["command line"] += int(command.sum())
    structural["elision"] += int((elision & ~blank).sum())
    structural = Counter({k: v for k, v in structural.items() if v})

    reason = pd.Series(None, index=idx, dtype=object)
    not_inet = ~inet & ~is_title & ~blank & ~other_header & ~elision
    reason[not_inet] = section[not_inet]
    has_proto = other_proto.notna().to_numpy() & unparsed
    reason[has_proto] = "non-TCP/UDP protocol: " + other_proto[has_proto].astype(str)
    reason[unparsed & ~has_proto] = "unparseable line"
    skipped_mask = reason.notna()
    skipped = skipped_frame(idx[skipped_mask].tolist(), reason[skipped_mask].tolist(), text[skipped_mask].tolist())
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"line": pd.Series(dtype="int64")})
    return Parsed(rows=rows, skipped=skipped, structural=structural)


def _layout(header: str) -> dict:
    """Where the columns are, from a header line: PCB columns before Proto, the numeric
    columns between Proto and Local Address, and the columns after the endpoints/state."""
    toks = header.split()
    p = toks.index("Proto") if "Proto" in toks else 0
    try:
        la = toks.index("Local", p)
        fa = toks.index("Address", toks.index("Foreign", la))
    except ValueError:
        la, fa = p + 1, p + 1
    tail = [t for t in toks[fa + 1 :] if t != "(state)"]
    pid_col = next((i for i, t in enumerate(tail) if t.lower() in ("pid", "process:pid")), None)
    return {
        "n_pre": p,
        "nums": [t.lower() for t in toks[p + 1 : la]],
        "tail": tail,
        "pid_col": pid_col,
        "named_pid": pid_col is not None and ":" in tail[pid_col],
    }


def _rows(m: pa.StructArray, line: pd.Index, layout: dict) -> pd.DataFrame:
    f = {name: _field(m, name) for name in ("proto", "nums", "local", "foreign", "state", "rest")}
    proto_tok = f["proto"]
    proto = pc.struct_field(pc.extract_regex(proto_tok, r"^(?P<p>tcp|udp)"), "p")
    version = pc.struct_field(pc.extract_regex(proto_tok, r"^[a-z]+(?P<v>\d*)$"), "v")
    laddr, lport = netstat_cols.split(f["local"], style="dot")
    faddr, fport = netstat_cols.split(f["foreign"], style="dot")
    fam = netstat_cols.family(laddr, faddr).astype(object)
    v = np.asarray(version.to_numpy(zero_copy_only=False), dtype=object)
    fam = fam.where(v == "", pd.Series(np.where(v == "4", "ipv4", "ipv6"), dtype=object))
    is_tcp = ac.mask(pc.equal(proto, "tcp"))
    raw = ac.categorical(pc.if_else(pa.array(is_tcp), f["state"], pa.scalar(None, f["state"].type)))
    out = pd.DataFrame(
        {
            "line": np.asarray(line, dtype=np.int64),
            "proto": ac.categorical(proto),
            "family": pd.Categorical(fam, categories=["ipv4", "ipv6"]),
            "src_addr": ac.categorical(laddr),
            "src_port": netstat_cols.ports(lport, proto).to_numpy(),
            "dst_addr": ac.categorical(faddr),
            "dst_port": netstat_cols.ports(fport, proto).to_numpy(),
            "state": ac.states(raw),
            "raw_state": raw,
        }
    )
    if layout["nums"][:2] == ["recv-q", "send-q"]:
        q = ac.extract(pc.fill_null(f["nums"], ""), r"^(?P<r>\d+)\s+(?P<s>\d+)")
        out["recv_q"] = ac.integers(q["r"]).to_numpy()
        out["send_q"] = ac.integers(q["s"]).to_numpy()
    k = layout["pid_col"]
    if k is not None:
        rest = pc.fill_null(f["rest"], "")
        if layout["named_pid"]:
            got = ac.extract(rest, r"^(?:\S+\s+){%d}(?P<proc>.*):(?P<pid>\d+)(?:\s|$)" % k)
            out["process"] = ac.categorical(pc.utf8_trim_whitespace(got["proc"]))
        else:
            got = ac.extract(rest, r"^(?:\S+\s+){%d}(?P<pid>\d+)(?:\s|$)" % k)
        out["pid"] = ac.integers(got["pid"]).to_numpy()
    return out


def _field(m: pa.StructArray, name: str) -> pa.Array:
    f = pc.struct_field(m, name)
    return pc.if_else(pc.equal(f, ""), pa.scalar(None, f.type), f)
