"""Ingestor for iproute2 ``ss`` tables: any option mix, state filters, wrapped detail lines, no header.

Whole columns at a time (pyarrow compute): every line is split into its first four
whitespace-separated tokens and the exact remainder; the tokens decide whether the line is a
socket row and which layout it has (``_layout``: with or without Netid and State); the other
lines are classified by the ordered rules of ``_KIND_RULES`` (header, blank, elision, command
prompt, non-IP row). The detail text ss prints after the peer (``users:``, ``timer:``,
``uid:``, ``ino:``...) or on continuation lines below the row (indented ``-e -i -m -o``
lines, or a timer alone at column 0) is attached to the row above and searched for the
fields of the schema.

Decisions (documented, tested):

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

import re
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import endpoints
from tcpforensics.ingest import linuxcols as ac
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.schema import STATE_DTYPE

NAME = "ss"
DESCRIPTION = "Linux iproute2 ss socket table (ss -tuanpeimo, state filters, headerless grep output)"

# --- patterns (RE2) -------------------------------------------------------------------------

_HEADER = (
    r"^[ \t]*(?:Netid[ \t]+)?(?:State[ \t]+)?Recv-Q[ \t]+Send-Q[ \t]+Local[ \t]+Address:Port"
    r"[ \t]+Peer[ \t]+Address:[ \t]*Port"
)
#: First process of ``users:(("name",pid=1,fd=3),...)`` (old ss: ``("name",1,3)``).
_USERS_FAST = r'users:\(\("(?P<proc>[^"]*)",(?:pid=)?(?P<pid>[0-9]+)'
_USERS = r'users:\(\("(?P<proc>.*?)",(?:pid=)?(?P<pid>[0-9]+)'
_PROMPT = r"^[ \t]*(?:\[[^\]]*\][$#%>]|[\w.@:~/-]*[$#%>])(?:[ \t]|$)|^[ \t]*(?:sudo[ \t]+)?ss(?:[ \t]|$)"
_ELISION = r"^[ \t]*(?:\.\.\.+|…)(?:[ \t]+(?:\.\.\.+|…))*[ \t]*$"
#: Shape of a detail line below a row: indented, or 'key:value' / 'key:(...)' / '<->' at column 0.
_CONT_SHAPE = r"^[ \t]|^[a-z][a-z0-9_]*:[^ \t]|^<->"

#: Netid -> proto for IP sockets (tcp6/udp6 folded; the family comes from the address).
INET_NETIDS: dict[str, str] = {
    "tcp": "tcp", "tcp6": "tcp", "udp": "udp", "udp6": "udp", "udplite": "udp",
    "raw": "raw", "raw6": "raw", "icmp": "icmp", "icmp6": "icmp6",
    "sctp": "sctp", "dccp": "dccp", "mptcp": "mptcp",
}
#: Netids of sockets that are not IP (skipped with reason "non-IP socket").
NON_IP_NETIDS: tuple[str, ...] = (
    "u_str", "u_dgr", "u_seq", "u_seqpacket", "unix", "nl", "p_raw", "p_dgr",
    "v_str", "v_dgr", "tipc", "xdp",
)
#: Protocols without TCP states: ``state`` NA, ``raw_state`` kept.
STATELESS: frozenset[str] = frozenset({"udp", "raw", "icmp", "icmp6"})

#: ``state X`` filter words that select a single state (ss then hides the State column).
SINGLE_STATE_FILTERS: frozenset[str] = frozenset({
    "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait", "closed",
    "close-wait", "last-ack", "listening", "listen", "closing",
})

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
    arr = _clean(ac.strings(text))
    if ac.matches(arr, _HEADER).any():
        return 0.95
    if ac.matches(arr, _NETSTAT_HEADER).any():  # net-tools/BSD/Windows netstat header
        return 0.05
    nonblank = int((~ac.matches(arr, r"^[ \t]*$")).sum())
    strong = int(ac.matches(arr, _DETECT_STRONG).sum())
    weak = int(ac.matches(arr, _DETECT_WEAK).sum())
    netstat = int(ac.matches(arr, _NETSTAT).sum())
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
    arr = _clean(ac.strings(text))
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
        cont_shape[other] = ac.matches(arr.filter(pa.array(other)), _CONT_SHAPE)
    is_anchor = np.isin(kind, ["row", "non-IP row", "header", "command", "comment"]) | (other & ~cont_shape)
    anchor = np.maximum.accumulate(np.where(is_anchor, pos, -1)) if n else pos
    anchor_kind = np.where(anchor >= 0, kind[np.clip(anchor, 0, None)], "none")
    cont = other & cont_shape & np.isin(anchor_kind, ["row", "non-IP row"])
    cmd_cont = other & cont_shape & np.isin(anchor_kind, ["command", "comment"])
    kind = np.where(cont, "continuation", np.where(cmd_cont, anchor_kind, kind))
    prompt = np.isin(kind, ["command", "comment"]) & ~cmd_cont

    details = _details(fields["rest"], arr, pos, anchor, cont, rows_pos)
    rows = _rows(fields, details, arr, kind, prompt, rows_pos)
    rows["line"] = pd.Series(line_no[rows_pos], dtype="Int64")
    rows = _drop_unknown_netid(rows)

    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    for k in ("row", "non-IP row", "other"):
        structural.pop(k, None)
    skip_pos = np.flatnonzero(np.isin(kind, ["non-IP row", "other"]))
    reasons = np.where(kind[skip_pos] == "non-IP row", "non-IP socket", "unparseable line")
    bad_netid = rows.attrs.pop("unknown_netid_lines", [])
    skipped = skipped_frame(
        [int(x) for x in line_no[skip_pos]] + bad_netid,
        list(reasons) + ["unknown netid"] * len(bad_netid),
        [str(t) for t in text.to_numpy()[skip_pos]] + [str(text.loc[x]) for x in bad_netid],
    )
    return Parsed(rows=rows, skipped=skipped, structural=structural)


# --- helpers ----------------------------------------------------------------------------------

_PAD = " \x01 \x01 \x01 \x01 \x01"  # sentinel tokens: every line splits into 5 parts


def _clean(arr: pa.Array) -> pa.Array:
    """Missing lines read as empty; no-break spaces (web copies) as spaces."""
    arr = pc.fill_null(arr, "")
    data = arr.buffers()[2]
    # U+00A0 is C2 A0 in UTF-8: look for the byte before running a string kernel
    if data is not None and (np.frombuffer(data, dtype=np.uint8) == 0xA0).any():
        arr = pc.replace_substring(arr, "\u00a0", " ")
    return arr


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
    dec = [ac.mask(pc.utf8_is_decimal(t)) for t in (t0, t1, t2, t3)]
    real2, real3 = (~ac.mask(pc.equal(t, "\x01")) for t in (t2, t3))
    rem_real = ~ac.mask(pc.starts_with(rem, "\x01"))
    netid0 = ac.matches(t0, r"^[a-z][a-z0-9_]*$")
    state0 = ac.matches(t0, r"^[A-Z][A-Z0-9_-]*$")
    state1 = ac.matches(t1, r"^[A-Z][A-Z0-9_-]*$")
    two_more = ac.matches(rem, r"^[^ \t\x01]+[ \t]+[^ \t\x01]")
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
    is_netid = pa.array(ac.matches(t0, r"^[a-z]"))
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
        sub_kind = np.full(len(others), "other", dtype=object)
        undecided = np.ones(len(others), dtype=bool)
        for name, pattern in _KIND_RULES:
            hit = ac.matches(sub, pattern) & undecided
            sub_kind[hit] = name
            undecided &= ~hit
        cmd = sub_kind == "command"
        if cmd.any():  # prompt lines not running ss are comments
            sub_kind[cmd & ~ac.matches(sub, r"(?:^|[^\w-])ss(?:[ \t]|$)")] = "comment"
        kind[others] = sub_kind
    return kind.astype("U16")  # wide enough for every kind name set later


def _details(rest: pa.Array, arr: pa.Array, pos: np.ndarray, anchor: np.ndarray,
             cont: np.ndarray, rows_pos: np.ndarray) -> pa.Array:
    """The text after the peer column plus every continuation line below the row, joined."""
    rest = pc.fill_null(rest, "")
    cont_pos = np.flatnonzero(cont)
    if len(cont_pos) == 0 or len(rows_pos) == 0:
        return rest
    row_of_pos = np.full(len(pos), -1, dtype=np.int64)
    row_of_pos[rows_pos] = np.arange(len(rows_pos))
    owner = row_of_pos[anchor[cont_pos]]
    keep = owner >= 0  # continuation of a non-IP row stays structural only
    owner, cont_pos = owner[keep], cont_pos[keep]
    if len(owner) == 0:
        return rest
    det = pd.Series(rest.to_pandas(), dtype="str")
    ctext = pd.Series(arr.take(pa.array(cont_pos)).to_pandas(), dtype="str").str.strip()
    rank = pd.Series(owner).groupby(owner).cumcount().to_numpy()
    for k in range(int(rank.max()) + 1):  # one pass per continuation depth (a handful)
        sel = rank == k
        idx = owner[sel]
        det.iloc[idx] = (det.iloc[idx] + " " + ctext.to_numpy()[sel]).str.strip().to_numpy()
    return ac.strings(det)


def _rows(fields: dict[str, pa.Array], details: pa.Array, arr: pa.Array, kind: np.ndarray,
          prompt: np.ndarray, rows_pos: np.ndarray) -> pd.DataFrame:
    n_rows = len(rows_pos)
    netid = ac.categorical(pc.utf8_lower(fields["netid"]))
    raw_state = ac.categorical(fields["state"])

    # command lines: their ss options and state filter, carried down to the rows below
    cmd_proto, cmd_filter = _command_context(arr, kind, prompt, rows_pos)

    # default protocol of rows without Netid: command line, else all-UNCONN tables are udp
    section = np.cumsum(np.isin(kind, ["header", "command"]))[rows_pos] if n_rows else np.array([], int)
    stated = np.asarray(pd.notna(raw_state))
    not_unconn = stated & np.asarray(raw_state != "UNCONN")
    udp_sections = (np.bincount(section, weights=stated) > 0) & (np.bincount(section, weights=not_unconn) == 0)
    guessed = np.where(udp_sections[section], "udp", "tcp") if n_rows else np.array([], dtype=object)
    default = np.where(pd.notna(cmd_proto), cmd_proto, guessed)
    has_netid = np.asarray(netid.codes) >= 0
    inet = np.array([INET_NETIDS.get(c) for c in netid.categories], dtype=object)  # per distinct netid
    proto = np.where(has_netid, inet[np.clip(netid.codes, 0, None)] if len(inet) else None, default)
    unknown_netid = has_netid & pd.isna(proto)

    # state: printed, else implied by a single-state filter on the ss command line, else UNKNOWN
    raw_cat = raw_state
    implied = pd.isna(raw_state) & pd.notna(cmd_filter)
    if implied.any():
        raw = pd.Series(raw_state, dtype=object)
        raw_cat = pd.Categorical(raw.where(~implied, pd.Series(cmd_filter, dtype=object)))
    state = np.asarray(ac.states(raw_cat).codes, dtype=np.int64)
    state = np.where(pd.notna(raw_cat), state, STATE_DTYPE.categories.get_loc("UNKNOWN"))
    state = np.where(np.isin(proto, list(STATELESS)), -1, state)
    proto = pd.Series(proto, dtype=object)

    local = _endpoint(fields["local"], proto)
    peer = _endpoint(fields["peer"], proto)
    extra = _detail_fields(details)

    out = pd.DataFrame({
        "proto": pd.Categorical(proto),
        "family": _family(local[0], peer[0], details),
        "src_addr": local[0], "src_port": local[1],
        "dst_addr": peer[0], "dst_port": peer[1],
        "state": pd.Categorical.from_codes(state, dtype=STATE_DTYPE),
        "raw_state": raw_cat,
        "recv_q": ac.integers(fields["recv_q"]),
        "send_q": ac.integers(fields["send_q"]),
        **extra,
    })
    out.attrs["unknown_netid"] = unknown_netid
    return out


def _drop_unknown_netid(rows: pd.DataFrame) -> pd.DataFrame:
    bad = rows.attrs.pop("unknown_netid", np.zeros(len(rows), dtype=bool))
    if not bad.any():
        return rows
    lines = [int(x) for x in rows.loc[bad, "line"]]
    kept = rows.loc[~bad].reset_index(drop=True)
    kept.attrs["unknown_netid_lines"] = lines
    return kept


def _command_context(arr: pa.Array, kind: np.ndarray, prompt: np.ndarray,
                     rows_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: protocol selected by the last ss command line above it (-t/-u/-w), and the
    single state its ``state X`` filter selects (both None when absent)."""
    n_rows = len(rows_pos)
    proto = np.full(n_rows, None, dtype=object)
    filt = np.full(n_rows, None, dtype=object)
    cmd_pos = np.flatnonzero(kind == "command")
    if len(cmd_pos) == 0 or n_rows == 0:
        return proto, filt
    # a prompt line and the indented lines below it form one command
    starts = np.flatnonzero(prompt & (kind == "command"))
    cmd_pos = cmd_pos[cmd_pos >= starts[0]]
    pos = np.arange(len(kind))
    texts = arr.take(pa.array(cmd_pos)).to_pylist()
    start_of = starts[np.searchsorted(starts, cmd_pos, side="right") - 1]
    joined: dict[int, str] = {}
    for s, t in zip(start_of.tolist(), texts, strict=True):  # a handful of command lines
        joined[s] = (joined.get(s, "") + " " + t).strip()
    info = {s: _command_info(t) for s, t in joined.items()}
    order = np.array(sorted(info), dtype=np.int64)
    protos = np.array([info[s][0] for s in order.tolist()], dtype=object)
    filters = np.array([info[s][1] for s in order.tolist()], dtype=object)
    last = np.maximum.accumulate(np.where(np.isin(pos, starts), pos, -1))[rows_pos]
    below = last >= 0  # rows under some command line: take that command's context
    k = np.searchsorted(order, last[below])
    proto[below] = protos[k]
    filt[below] = filters[k]
    return proto, filt


def _command_info(cmd: str) -> tuple[str | None, str | None]:
    """(protocol, single state filter word) of one ss command line (shell text)."""
    m = re.search(r"(?:^|[^\w-])ss((?:[ \t]+-[-\w=]+)*)(.*)", cmd)
    if not m:
        return None, None
    opts, tail = m.group(1), m.group(2)
    letters = "".join(o[1:] for o in opts.split() if not o.startswith("--"))
    longs = {o for o in opts.split() if o.startswith("--")}
    chosen = [p for p, short, long in (("tcp", "t", "--tcp"), ("udp", "u", "--udp"), ("raw", "w", "--raw"))
              if short in letters or long in longs]
    proto = chosen[0] if len(chosen) == 1 else None
    states = re.findall(r"\bstate[ \t]+([A-Za-z0-9-]+)", tail)
    single = None
    if len(states) == 1 and "exclude" not in tail and states[0].lower() in SINGLE_STATE_FILTERS:
        single = states[0]
    return proto, single


def _endpoint(field: pa.Array, proto: pd.Series) -> tuple[pd.Categorical, pd.Series]:
    """(address without brackets/device, port number) of one endpoint column.

    The port is the text after the last ':' ('[v6]:port', bare v6 '::1:25', '*:*'); an
    ``addr%dev`` suffix is dropped ('0.0.0.0%lo', '[::]%eth0', '[fe80::1%eth0]'); a field
    without ':' keeps its text as the address with no port.
    """
    colon = pc.match_substring(field, ":")
    if not pc.all(colon).as_py():
        field = pc.if_else(colon, field, pc.binary_join_element_wise(
            field, pa.scalar(":", field.type), pa.scalar("", field.type)))
    parts = pc.split_pattern(field, ":", max_splits=1, reverse=True)
    addr, port_text = pc.list_element(parts, 0), pc.list_element(parts, 1)
    if len(addr) and pc.any(pc.match_substring(addr, "%")).as_py():
        addr = pc.replace_substring_regex(addr, r"%[^%\]\[]*(\]?)$", r"\1")
    bracketed = pc.starts_with(addr, "[")
    if pc.any(bracketed).as_py():
        bracketed = pc.and_(bracketed, pc.ends_with(addr, "]"))
        addr = pc.if_else(bracketed, pc.utf8_slice_codeunits(addr, 1, -1), addr)
    ports = ac.integers(port_text, "UInt16")
    named = ac.matches(port_text, r"^[A-Za-z][\w.+-]*$")
    if named.any():  # service names (ss without -n): resolved once per distinct (name, proto)
        sel = pa.array(named)
        ports[named] = endpoints.service_ports(port_text.filter(sel), pd.Series(proto[named]))
    return ac.categorical(addr), ports


def _family(local: pd.Categorical, peer: pd.Categorical, details: pa.Array) -> pd.Categorical:
    """ipv4/ipv6 from the local address, else from the peer ('*' tells nothing), else ipv6
    when ss -e printed ``v6only:`` (only IPv6 sockets have it: '*:port' dual-stack listeners)."""
    def fam(c: pd.Categorical) -> np.ndarray:  # codes of endpoints.FAMILIES, -1 unknown
        per_cat = endpoints.family_codes(pa.array(c.categories.to_numpy(dtype=object), type=pa.large_string()))
        codes = np.asarray(c.codes, dtype=np.int64)
        return np.where(codes >= 0, per_cat[np.clip(codes, 0, None)], -1) if len(per_cat) else np.full(len(codes), -1)

    f = fam(local)
    f = np.where(f >= 0, f, fam(peer))
    if (f < 0).any() and len(details):
        f[(f < 0) & ac.matches(details, r"(?:^|[ \t])v6only:")] = 1
    return pd.Categorical.from_codes(f, categories=list(endpoints.FAMILIES))


def _detail_fields(arr: pa.Array) -> dict[str, object]:
    """pid, process, user (uid), inode and timer from the text after and below each row."""
    n = len(arr)
    out: dict[str, object] = {}
    if n and ac.mask(pc.match_substring(arr, "users:(")).any():
        u = ac.extract(arr, _USERS_FAST)
        odd = pc.and_(pc.is_null(u["pid"]), pc.match_substring(arr, "users:(("))
        if ac.mask(odd).any():  # a '"' inside a program name: the slower, lazy pattern
            slow = ac.extract(arr, _USERS)
            u = {k: pc.if_else(odd, slow[k], u[k]) for k in u}
        out["pid"] = ac.integers(u["pid"])
        proc = u["proc"]
        multi = ac.mask(pc.match_substring(arr, '),("'))
        if multi.any():  # several processes share the socket
            names = _all_names(arr.filter(pa.array(multi)))
            proc = pc.replace_with_mask(proc, pa.array(multi), pa.array(names, type=proc.type))
        out["process"] = ac.categorical(proc)
    for name, key, pattern in (
        ("timer", "timer:(", r"timer:\((?P<v>[^)]*)\)"),
        ("user", "uid:", r"(?:^|[ \t])uid:(?P<v>[0-9]+)"),
        ("inode", "ino:", r"(?:^|[ \t])ino:(?P<v>[0-9]+)"),
    ):
        if n and ac.mask(pc.match_substring(arr, key)).any():
            v = ac.extract(arr, pattern)["v"]
            out[name] = ac.integers(v) if name == "inode" else ac.categorical(v)
    return out


def _all_names(arr: pa.Array) -> np.ndarray:
    """Distinct program names of multi-process ``users:(...)``, in order, joined by ','."""
    users = ac.extract(arr, r'users:\((?P<u>\(".*?\))\)(?:[ \t]|$)')["u"]
    parts = pc.split_pattern(pc.fill_null(users, ""), '),("')
    flat = pc.list_flatten(parts)
    parent = pc.list_parent_indices(parts).to_numpy()
    names = ac.extract(flat, r'^\(?"?(?P<n>.*?)",(?:pid=)?[0-9]+')["n"]
    df = pd.DataFrame({"p": parent, "n": pd.array(pc.fill_null(names, ""), dtype="str")})
    df = df[df["n"] != ""].drop_duplicates()
    pos = df.groupby("p", sort=False).cumcount().to_numpy()
    out = np.full(len(arr), "", dtype=object)
    for k in range(int(pos.max()) + 1 if len(pos) else 0):  # one pass per name position (a few)
        at = df[pos == k]
        p, n = at["p"].to_numpy(), at["n"].to_numpy(dtype=object)
        out[p] = n if k == 0 else out[p] + "," + n
    return out
