"""Event columns of ss rows: protocol and state, endpoints, family, and the details ss prints
after the peer and on the lines below a row (processes, timer, uid, inode); the ss command
line above a table supplies what the table does not print (protocol, a single-state filter).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints
from tcpforensics.schema import STATE_DTYPE

#: Netid -> proto for IP sockets (tcp6/udp6 folded; the family comes from the address).
INET_NETIDS: dict[str, str] = {
    "tcp": "tcp", "tcp6": "tcp", "udp": "udp", "udp6": "udp", "udplite": "udp",
    "raw": "raw", "raw6": "raw", "icmp": "icmp", "icmp6": "icmp6",
    "sctp": "sctp", "dccp": "dccp", "mptcp": "mptcp",
}
#: Protocols without TCP states: ``state`` NA, ``raw_state`` kept.
STATELESS: frozenset[str] = frozenset({"udp", "raw", "icmp", "icmp6"})

#: ``state X`` filter words that select a single state (ss then hides the State column).
SINGLE_STATE_FILTERS: frozenset[str] = frozenset({
    "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait", "closed",
    "close-wait", "last-ack", "listening", "listen", "closing",
})

#: First process of ``users:(("name",pid=1,fd=3),...)`` (old ss: ``("name",1,3)``).
_USERS_FAST = r'users:\(\("(?P<proc>[^"]*)",(?:pid=)?(?P<pid>[0-9]+)'
_USERS = r'users:\(\("(?P<proc>.*?)",(?:pid=)?(?P<pid>[0-9]+)'


def details(rest: pa.Array, arr: pa.Array, pos: np.ndarray, anchor: np.ndarray,
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
    return cols.strings(det)


def event_columns(fields: dict[str, pa.Array], details: pa.Array, arr: pa.Array, kind: np.ndarray,
                  prompt: np.ndarray, rows_pos: np.ndarray) -> pd.DataFrame:
    """Event columns of the IP socket rows at ``rows_pos`` from their ``fields`` and
    ``details``; rows whose Netid names no IP protocol are flagged in ``attrs["unknown_netid"]``
    (``drop_unknown_netid`` takes them out)."""
    n_rows = len(rows_pos)
    netid = cols.categorical(pc.utf8_lower(fields["netid"]), empty_as_na=True)
    raw_state = cols.categorical(fields["state"], empty_as_na=True)

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
    state = np.asarray(cols.states(raw_cat).codes, dtype=np.int64)
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
        "recv_q": cols.integers(fields["recv_q"]),
        "send_q": cols.integers(fields["send_q"]),
        **extra,
    })
    out.attrs["unknown_netid"] = unknown_netid
    return out


def drop_unknown_netid(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` without those of an unknown Netid, whose line numbers go to
    ``attrs["unknown_netid_lines"]`` (skipped with that reason)."""
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
    # service names (ss without -n) are resolved once per distinct (name, protocol)
    return cols.categorical(addr, empty_as_na=True), endpoints.port_numbers(port_text, proto)


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
        f[(f < 0) & cols.matches(details, r"(?:^|[ \t])v6only:")] = 1
    return pd.Categorical.from_codes(f, categories=list(endpoints.FAMILIES))


def _detail_fields(arr: pa.Array) -> dict[str, object]:
    """pid, process, user (uid), inode and timer from the text after and below each row."""
    n = len(arr)
    out: dict[str, object] = {}
    if n and cols.mask(pc.match_substring(arr, "users:(")).any():
        u = cols.extract(arr, _USERS_FAST, empty_as_null=False)
        odd = pc.and_(pc.is_null(u["pid"]), pc.match_substring(arr, "users:(("))
        if cols.mask(odd).any():  # a '"' inside a program name: the slower, lazy pattern
            slow = cols.extract(arr, _USERS, empty_as_null=False)
            u = {k: pc.if_else(odd, slow[k], u[k]) for k in u}
        out["pid"] = cols.integers(u["pid"])
        proc = u["proc"]
        multi = cols.mask(pc.match_substring(arr, '),("'))
        if multi.any():  # several processes share the socket
            names = _all_names(arr.filter(pa.array(multi)))
            proc = pc.replace_with_mask(proc, pa.array(multi), pa.array(names, type=proc.type))
        out["process"] = cols.categorical(proc, empty_as_na=True)
    for name, key, pattern in (
        ("timer", "timer:(", r"timer:\((?P<v>[^)]*)\)"),
        ("user", "uid:", r"(?:^|[ \t])uid:(?P<v>[0-9]+)"),
        ("inode", "ino:", r"(?:^|[ \t])ino:(?P<v>[0-9]+)"),
    ):
        if n and cols.mask(pc.match_substring(arr, key)).any():
            v = cols.extract(arr, pattern, empty_as_null=False)["v"]
            out[name] = cols.integers(v) if name == "inode" else cols.categorical(v, empty_as_na=True)
    return out


def _all_names(arr: pa.Array) -> np.ndarray:
    """Distinct program names of multi-process ``users:(...)``, in order, joined by ','."""
    users = cols.extract(arr, r'users:\((?P<u>\(".*?\))\)(?:[ \t]|$)', empty_as_null=False)["u"]
    parts = pc.split_pattern(pc.fill_null(users, ""), '),("')
    flat = pc.list_flatten(parts)
    parent = pc.list_parent_indices(parts).to_numpy()
    names = cols.extract(flat, r'^\(?"?(?P<n>.*?)",(?:pid=)?[0-9]+', empty_as_null=False)["n"]
    df = pd.DataFrame({"p": parent, "n": pd.array(pc.fill_null(names, ""), dtype="str")})
    df = df[df["n"] != ""].drop_duplicates()
    pos = df.groupby("p", sort=False).cumcount().to_numpy()
    out = np.full(len(arr), "", dtype=object)
    for k in range(int(pos.max()) + 1 if len(pos) else 0):  # one pass per name position (a few)
        at = df[pos == k]
        p, n = at["p"].to_numpy(), at["n"].to_numpy(dtype=object)
        out[p] = n if k == 0 else out[p] + "," + n
    return out
