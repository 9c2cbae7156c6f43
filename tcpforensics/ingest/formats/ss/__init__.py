"""Linux iproute2 ``ss`` socket tables: any option mix, state filters, wrapped detail lines, no header.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, recv_q, send_q, pid and process (-p), user and inode (-e), timer (-o).

Example::

    Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
    tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*     users:(("sshd",pid=812,fd=3))
    tcp   ESTAB  0      36          10.0.0.5:22        10.0.0.9:51234 users:(("sshd",pid=1999,fd=4)) timer:(on,200ms,0)
    udp   UNCONN 0      0      127.0.0.53%lo:53         0.0.0.0:*     users:(("systemd-resolve",pid=640,fd=13))

    line 2: tcp ipv4 0.0.0.0:22 -> 0.0.0.0:* (port NA), state LISTEN, send_q 128, pid 812, process sshd
    line 3: tcp ipv4 10.0.0.5:22 -> 10.0.0.9:51234, state ESTABLISHED (raw_state ESTAB),
            send_q 36, pid 1999, process sshd, timer on,200ms,0
    line 4: udp ipv4 127.0.0.53:53 -> 0.0.0.0:*, state NA (raw_state UNCONN), pid 640

Whole columns at a time (pyarrow compute): every line is split into its first four
whitespace-separated tokens and the exact remainder; the tokens decide whether the line is a
socket row and which layout it has (``_layout``: with or without Netid and State); the other
lines are classified by the ordered rules of ``_KIND_RULES`` (header, blank, elision, command
prompt, non-IP row). The detail text ss prints after the peer (``users:``, ``timer:``,
``uid:``, ``ino:``...) or on continuation lines below the row (indented ``-e -i -m -o``
lines, or a timer alone at column 0) is attached to the row above and searched for the
fields of the schema (``rows.py``).

Decisions (tested):

* ``users:(("a",pid=1,fd=3),("b",pid=2,fd=4))``: ``pid`` is the first pid; ``process`` lists
  each distinct program name once, in ss's order, joined by ``,`` ("a,b"; a socket shared by
  thirty ``apache2`` workers reads "apache2"). Names may hold spaces, colons and parentheses.
* A ``state X`` filter with a single state makes ss drop the State column: the state of such a
  row is taken from the filter when the ss command line is in the file (``raw_state`` is the
  filter word as typed, e.g. ``established``), else it is UNKNOWN with ``raw_state`` NA.
* UDP and raw rows (udp, raw, icmp6) keep ``raw_state`` (UNCONN, ESTAB) but ``state`` is NA.
* Without a Netid column the protocol comes from the ss command line in the file (``-t``/``-u``
  /``-w``) when there is one, else udp when every row of the table is UNCONN, else tcp.
* Non-IP sockets (unix, netlink, packet, vsock, tipc, xdp) are out of scope: each such row is a
  skipped line with reason ``non-IP socket``; their continuation lines are structural.
* ``addr%dev`` (socket bound to a device, or an IPv6 zone) keeps only the address; brackets are
  removed; ``*`` stays ``*`` (port NA); service names are resolved to numbers.
* ``timer`` holds what ss printed inside ``timer:(...)``, e.g. ``keepalive,118min,0``;
  ``user`` is the ``uid:`` number (ss -e prints none for uid 0); ``sk:`` is not kept.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.formats.ss import rows
from tcpforensics.ingest.parsing import columns as cols

NAME = "ss"
KIND = "text"
DESCRIPTION = "Linux iproute2 `ss` socket tables: any mix of `-t -u -a -n -p -e -i -m -o -l`, state filters, with or without Netid, headerless `grep` output"
SAVE_WITH = "ss -tanp > ss.txt"
FIXTURES = ("linux/ss-*.txt",)
ORDER = 10

# --- patterns (RE2) -------------------------------------------------------------------------

_HEADER = (
    r"^[ \t]*(?:Netid[ \t]+)?(?:State[ \t]+)?Recv-Q[ \t]+Send-Q[ \t]+Local[ \t]+Address:Port"
    r"[ \t]+Peer[ \t]+Address:[ \t]*Port"
)
_PROMPT = r"^[ \t]*(?:\[[^\]]*\][$#%>]|[\w.@:~/-]*[$#%>])(?:[ \t]|$)|^[ \t]*(?:sudo[ \t]+)?ss(?:[ \t]|$)"
_ELISION = r"^[ \t]*(?:\.\.\.+|…)(?:[ \t]+(?:\.\.\.+|…))*[ \t]*$"
#: Shape of a detail line below a row: indented, or 'key:value' / 'key:(...)' / '<->' at column 0.
_CONT_SHAPE = r"^[ \t]|^[a-z][a-z0-9_]*:[^ \t]|^<->"

#: Netids of sockets that are not IP (skipped with reason "non-IP socket").
NON_IP_NETIDS: tuple[str, ...] = (
    "u_str", "u_dgr", "u_seq", "u_seqpacket", "unix", "nl", "p_raw", "p_dgr",
    "v_str", "v_dgr", "tipc", "xdp",
)

_NON_IP = r"^[ \t]*(?:" + "|".join(NON_IP_NETIDS) + r")[ \t]"

# Ordered kind rules for lines that are not row-shaped (see _layout): first match wins.
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("header", _HEADER),
    ("elision", _ELISION),
    ("command", _PROMPT),
    ("non-IP row", _NON_IP),
)

# ss-only row shapes for detection: a state word first (ss spelling) or Netid + state.
_SS_STATES = (
    "ESTAB|UNCONN|LISTEN|SYN-SENT|SYN-RECV|FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT|CLOSE-WAIT|"
    "LAST-ACK|CLOSING|CLOSED|UNKNOWN"
)
_DETECT_STRONG = (
    r"^[ \t]*(?:[a-z][a-z0-9_]*[ \t]+)?(?:" + _SS_STATES + r")[ \t]+[0-9]+[ \t]+[0-9]+[ \t]+[^ \t]+[ \t]+[^ \t]+"
)
_DETECT_WEAK = (
    r"^[ \t]*(?:(?:tcp|udp|raw|sctp|mptcp)[ \t]+)?[0-9]+[ \t]+[0-9]+[ \t]+[^ \t]*:[^ \t]+[ \t]+[^ \t]*:[^ \t]+"
    r"[ \t]*(?:$|users:\(|timer:\(|uid:|ino:|sk:)"
)
_NETSTAT = (
    r"^[ \t]*(?:Proto[ \t]+Recv-Q|Active (?:Internet|UNIX) connections|[Tt][Cc][Pp]6?[ \t]+[0-9]+[ \t]+[0-9]+"
    r"[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]+[A-Z_]{4,})|Foreign[ \t]+Address"
)
_NETSTAT_HEADER = r"^[ \t]*(?:Proto[ \t]+Recv-Q|Active (?:Internet|UNIX) connections)|Foreign[ \t]+Address"
_DETECT_SAMPLE = 5000


def detect(lines: Lines) -> float:
    """High for ss headers or ss-shaped rows; low for net-tools/BSD/Windows netstat."""
    text = lines.text.iloc[:_DETECT_SAMPLE]
    if text.empty:
        return 0.0
    arr = cols.clean_lines(text)
    if cols.matches(arr, _HEADER).any():
        return 0.95
    if cols.matches(arr, _NETSTAT_HEADER).any():  # net-tools/BSD/Windows netstat header
        return 0.05
    nonblank = int((~cols.matches(arr, r"^[ \t]*$")).sum())
    strong = int(cols.matches(arr, _DETECT_STRONG).sum())
    weak = int(cols.matches(arr, _DETECT_WEAK).sum())
    netstat = int(cols.matches(arr, _NETSTAT).sum())
    if strong + weak == 0 or nonblank == 0:
        return 0.0
    share = (strong + 0.5 * weak) / (strong + weak + netstat)
    coverage = min(1.0, (strong + weak) / max(1, nonblank) * 2)
    return round(0.85 * share * coverage, 3)


def parse(lines: Lines) -> Parsed:
    """Parse every line: socket rows (IP only), attached detail lines, structural and skipped."""
    text = lines.text
    n = len(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    tok = _tokens(arr)
    layout = _layout(tok)
    kind = _classify(arr, layout >= 0)
    pos = np.arange(n)

    rows_pos = np.flatnonzero(kind == "row")
    fields = _fields({k: v.take(pa.array(rows_pos)) for k, v in tok.items()}, layout[rows_pos])
    netids = np.asarray(pc.fill_null(fields["netid"], "").to_numpy(zero_copy_only=False), dtype=object)
    non_ip = np.isin(netids, NON_IP_NETIDS)
    if non_ip.any():
        kind[rows_pos[non_ip]] = "non-IP row"
        rows_pos = rows_pos[~non_ip]
        fields = {k: v.filter(pa.array(~non_ip)) for k, v in fields.items()}

    # anchors: every line a following detail line could belong to
    other = kind == "other"
    cont_shape = np.zeros(n, dtype=bool)
    if other.any():
        cont_shape[other] = cols.matches(arr.filter(pa.array(other)), _CONT_SHAPE)
    is_anchor = np.isin(kind, ["row", "non-IP row", "header", "command", "comment"]) | (other & ~cont_shape)
    anchor = np.maximum.accumulate(np.where(is_anchor, pos, -1)) if n else pos
    anchor_kind = np.where(anchor >= 0, kind[np.clip(anchor, 0, None)], "none")
    cont = other & cont_shape & np.isin(anchor_kind, ["row", "non-IP row"])
    cmd_cont = other & cont_shape & np.isin(anchor_kind, ["command", "comment"])
    kind = np.where(cont, "continuation", np.where(cmd_cont, anchor_kind, kind))
    prompt = np.isin(kind, ["command", "comment"]) & ~cmd_cont

    details = rows.details(fields["rest"], arr, pos, anchor, cont, rows_pos)
    events = rows.event_columns(fields, details, arr, kind, prompt, rows_pos)
    events["line"] = pd.Series(line_no[rows_pos], dtype="Int64")
    events = rows.drop_unknown_netid(events)

    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    for k in ("row", "non-IP row", "other"):
        structural.pop(k, None)
    skip_pos = np.flatnonzero(np.isin(kind, ["non-IP row", "other"]))
    reasons = np.where(kind[skip_pos] == "non-IP row", "non-IP socket", "unparseable line")
    bad_netid = events.attrs.pop("unknown_netid_lines", [])
    skipped = skipped_frame(
        [int(x) for x in line_no[skip_pos]] + bad_netid,
        list(reasons) + ["unknown netid"] * len(bad_netid),
        [str(t) for t in text.to_numpy()[skip_pos]] + [str(text.loc[x]) for x in bad_netid],
    )
    return Parsed(rows=events, skipped=skipped, structural=structural)


# --- helpers ----------------------------------------------------------------------------------

_PAD = " \x01 \x01 \x01 \x01 \x01"  # sentinel tokens: every line splits into 5 parts


def _tokens(arr: pa.Array) -> dict[str, pa.Array]:
    """First four whitespace-separated tokens of every line and the exact remainder."""
    arr = pc.ascii_ltrim_whitespace(arr)
    padded = pc.binary_join_element_wise(arr, pa.scalar(_PAD, arr.type), pa.scalar("", arr.type))
    parts = pc.ascii_split_whitespace(padded, max_splits=4)
    return {f"t{i}": pc.list_element(parts, i) for i in range(5)}


def _layout(tok: dict[str, pa.Array]) -> np.ndarray:
    """Per line: how many Netid/State tokens precede Recv-Q (0, 1 or 2); -1: not a row.

    Row shapes, one rule each: ``Recv-Q Send-Q local peer ...``; ``Netid|State Recv-Q ...``;
    ``Netid State Recv-Q ...`` (Netid lower case, State upper case, as ss prints them).
    """
    t0, t1, t2, t3, rem = (tok[f"t{i}"] for i in range(5))
    dec = [cols.mask(pc.utf8_is_decimal(t)) for t in (t0, t1, t2, t3)]
    real2, real3 = (~cols.mask(pc.equal(t, "\x01")) for t in (t2, t3))
    rem_real = ~cols.mask(pc.starts_with(rem, "\x01"))
    netid0 = cols.matches(t0, r"^[a-z][a-z0-9_]*$")
    state0 = cols.matches(t0, r"^[A-Z][A-Z0-9_-]*$")
    state1 = cols.matches(t1, r"^[A-Z][A-Z0-9_-]*$")
    two_more = cols.matches(rem, r"^[^ \t\x01]+[ \t]+[^ \t\x01]")
    k0 = dec[0] & dec[1] & real2 & real3
    k1 = (netid0 | state0) & dec[1] & dec[2] & real3 & rem_real
    k2 = netid0 & state1 & dec[2] & dec[3] & two_more
    return np.select([k0, k1, k2], [0, 1, 2], default=-1).astype(np.int8)


def _fields(tok: dict[str, pa.Array], k: np.ndarray) -> dict[str, pa.Array]:
    """Columns of row lines by their layout: netid, state, recv_q, send_q, local, peer, rest."""
    t0, t1, t2, t3, rem = (tok[f"t{i}"] for i in range(5))
    layouts = set(np.unique(k).tolist())
    null = pa.nulls(len(k), t0.type)
    v0 = v1 = w0 = w1 = null
    if layouts & {1, 2}:  # the remainder still holds the peer (and the local) endpoint
        v = pc.ascii_split_whitespace(rem, max_splits=1)
        v0, v1 = pc.list_element(v, 0), pc.list_element(v, 1)
    if 2 in layouts:
        w = pc.ascii_split_whitespace(v1, max_splits=1)
        w0, w1 = pc.list_element(w, 0), pc.list_element(w, 1)
    is_netid = pa.array(cols.matches(t0, r"^[a-z]"))
    columns = {  # per layout 0, 1, 2
        "netid": (null, pc.if_else(is_netid, t0, null), t0),
        "state": (null, pc.if_else(is_netid, null, t0), t1),
        "recv_q": (t0, t1, t2),
        "send_q": (t1, t2, t3),
        "local": (t2, t3, v0),
        "peer": (t3, v0, w0),
        "rest": (rem, v1, w1),
    }
    if len(layouts) == 1:  # one layout for the whole input: no per-row choice needed
        (only,) = layouts
        out = {name: alts[only] for name, alts in columns.items()}
    else:
        kk = pa.array(k, type=pa.int8())
        out = {name: pc.choose(kk, *alts) for name, alts in columns.items()}
    out["netid"] = pc.utf8_lower(out["netid"])
    out["rest"] = pc.utf8_trim_whitespace(pc.replace_substring(out["rest"], "\x01", ""))
    return out


def _classify(arr: pa.Array, row_shaped: np.ndarray) -> np.ndarray:
    """Kind of every line: 'row' by shape, the others by the ordered ``_KIND_RULES``."""
    kind = np.full(len(arr), "row", dtype=object)
    others = np.flatnonzero(~row_shaped)
    if len(others):
        sub = arr.take(pa.array(others))
        names = np.array([name for name, _ in _KIND_RULES] + ["other"], dtype=object)
        sub_kind = names[cols.first_match(sub, [pattern for _, pattern in _KIND_RULES])]  # -1: "other"
        cmd = sub_kind == "command"
        if cmd.any():  # prompt lines not running ss are comments
            sub_kind[cmd & ~cols.matches(sub, r"(?:^|[^\w-])ss(?:[ \t]|$)")] = "comment"
        kind[others] = sub_kind
    return kind.astype("U16")  # wide enough for every kind name set later
