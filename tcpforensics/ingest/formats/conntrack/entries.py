"""conntrack entries and counter lines, decoded over whole columns (the format's doc is in ``__init__``)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics import schema
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints

#: conntrack's TCP states (nf_conntrack_proto_tcp.c ``tcp_conntrack_names``) -> the common
#: vocabulary: (word as printed, canonical state, why).
STATES: tuple[tuple[str, str, str], ...] = (
    ("NONE", "UNKNOWN", "no state yet (an entry picked up mid-stream before any packet decided one)"),
    ("SYN_SENT", "SYN_SENT", "a SYN seen from the originator, nothing back yet"),
    ("SYN_RECV", "SYN_RECEIVED", "the responder's SYN-ACK seen, the originator's ACK not yet"),
    ("ESTABLISHED", "ESTABLISHED", "the three-way handshake completed"),
    ("FIN_WAIT", "FIN_WAIT_1", "a FIN seen from one side, not yet from the other"),
    ("CLOSE_WAIT", "CLOSE_WAIT", "the FIN acknowledged, the other side has not closed"),
    ("LAST_ACK", "LAST_ACK", "FINs seen from both sides, the last ACK not yet"),
    ("TIME_WAIT", "TIME_WAIT", "both FINs acknowledged: kept 120 s for stray segments"),
    ("CLOSE", "CLOSED", "a RST seen (or the flow refused): kept 10 s"),
    ("SYN_SENT2", "SYN_SENT", "simultaneous open: a SYN from each side (TCP_CONNTRACK_SYN_SENT2)"),
    ("LISTEN", "SYN_SENT", "kernels before 2.6.31 printed SYN_SENT2 as LISTEN"),
)
STATE_MAP: dict[str, str] = {word: canon for word, canon, _ in STATES}
#: Bracketed status flags conntrack prints, in its order.
FLAGS: tuple[str, ...] = ("UNREPLIED", "ASSURED", "OFFLOAD", "HW_OFFLOAD")
#: Counter group of every conntrack counter.
GROUP = "Conntrack"

_HEAD = (
    r"^[ \t]*(?:\[(?P<ts>[0-9]+\.[0-9]+)\][ \t]*)?(?:\[(?P<event>NEW|UPDATE|DESTROY)\][ \t]+)?"
    r"(?:(?P<l3>ipv4|ipv6|unknown)[ \t]+[0-9]+[ \t]+)?(?P<proto>[a-z][a-z0-9-]*)[ \t]+[0-9]+[ \t]+"
    r"(?:(?P<timeout>[0-9]+)[ \t]+)?(?:(?P<state>[A-Z][A-Z0-9_]*)[ \t]+)?"
)
_TUPLE = r"src=(?P<{p}s>\S+)[ \t]+dst=(?P<{p}d>\S+)(?:[ \t]+sport=(?P<{p}sp>[0-9]+)[ \t]+dport=(?P<{p}dp>[0-9]+))?"
_FIELDS = _HEAD + _TUPLE.format(p="o") + r"(?P<mid>.*?)[ \t]" + _TUPLE.format(p="r") + r"(?P<tail>(?:[ \t].*)?)$"
#: A conntrack entry or event line (both tuples).
ENTRY = _FIELDS
#: A ``conntrack -S`` line: ``cpu=0 found=0 invalid=3 ...``.
CPU = r"^[ \t]*cpu=[0-9]+[ \t]+(?:[a-z_]+=[0-9]+[ \t]*)+$"
#: ``net.netfilter.nf_conntrack_max = 262144`` (sysctl), ``.../nf_conntrack_max:262144`` (grep).
SYSCTL = r"^[ \t]*(?:[\w./-]*[./])?nf_conntrack_(?P<name>count|max|buckets)[ \t]*[=:][ \t]*(?P<value>[0-9]{1,18})[ \t]*$"


def rows(arr: pa.Array) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Entry lines among ``arr`` (one pass of the entry pattern over every line): which lines
    are entries, their event columns, and per entry the reason it is skipped ("" when kept)."""
    m = pc.extract_regex(arr.cast(pa.large_string()), _FIELDS)
    is_entry = cols.mask(pc.is_valid(m))
    m = m.filter(pa.array(is_entry))
    f = {m.type.field(i).name: cols.null_if_empty(pc.struct_field(m, i)) for i in range(m.type.num_fields)}
    proto = pc.fill_null(f["proto"], "")
    is_ip = cols.mask(pc.is_in(proto, pa.array(["tcp", "udp"], type=proto.type)))
    reasons = np.where(is_ip, "", np.asarray(pc.binary_join_element_wise(
        pa.scalar("non-TCP/UDP entry: ", proto.type), proto, pa.scalar("", proto.type)).to_pylist(), dtype=object))
    is_tcp = cols.mask(pc.equal(proto, "tcp"))
    raw = cols.categorical(pc.if_else(pa.array(is_tcp), f["state"], pa.scalar(None, pa.large_string())),
                           empty_as_na=True)
    rest = pc.binary_join_element_wise(pc.fill_null(f["mid"], ""), pc.fill_null(f["tail"], ""), _s(" "))
    numbers = _numbers(pc.fill_null(f["tail"], ""))
    l3 = pc.fill_null(f["l3"], "")
    told = np.where(cols.mask(pc.equal(l3, "ipv4")), 0, np.where(cols.mask(pc.equal(l3, "ipv6")), 1, -1))
    out = pd.DataFrame({
        "proto": cols.categorical(f["proto"], empty_as_na=True),
        "family": endpoints.families(f["os"], f["od"], told),
        "src_addr": _addresses(f["os"]),
        "src_port": cols.integers(f["osp"], "UInt16").array,
        "dst_addr": _addresses(f["od"]),
        "dst_port": cols.integers(f["odp"], "UInt16").array,
        "state": _states(raw),
        "raw_state": raw,
        "reply_src_addr": _addresses(f["rs"]),
        "reply_src_port": cols.integers(f["rsp"], "UInt16").array,
        "reply_dst_addr": _addresses(f["rd"]),
        "reply_dst_port": cols.integers(f["rdp"], "UInt16").array,
        "ct_status": _flags(rest),
        "ct_timeout": cols.integers(f["timeout"]).array,
        "ct_mark": numbers["mark"],
        "ct_zone": numbers["zone"].astype("Int32"),
        "ct_event": cols.categorical(f["event"], empty_as_na=True),
        "ct_id": numbers["id"],
        "ts": _epoch(f["ts"]),
    })
    return out, is_entry, reasons


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _states(raw: pd.Categorical) -> pd.Categorical:
    """conntrack state words -> canonical states (``STATES``); unknown words -> UNKNOWN."""
    codes = np.asarray(raw.codes, dtype=np.int64)
    cats = list(schema.STATE_DTYPE.categories)
    table = np.array([cats.index(STATE_MAP.get(str(w), "UNKNOWN")) for w in raw.categories] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(table[codes], dtype=schema.STATE_DTYPE)


def _addresses(a: pa.Array) -> pd.Categorical:
    """Addresses as printed; the uncompressed IPv6 of /proc/net/nf_conntrack compressed (``::1``).
    Only the distinct addresses are looked at."""
    cat = cols.categorical(a, empty_as_na=True)
    names = [_compressed(str(c)) for c in cat.categories]
    if names == list(cat.categories):
        return cat
    codes, uniq = pd.factorize(pd.Index(names, dtype=object))
    new = np.where(cat.codes >= 0, codes[np.clip(cat.codes, 0, None)], -1) if len(codes) else cat.codes
    return pd.Categorical.from_codes(new, categories=pd.Index(list(uniq), dtype=object))


def _compressed(address: str) -> str:
    if address.count(":") != 7 or len(address) != 39:
        return address
    try:
        return str(ipaddress.IPv6Address(address))
    except ValueError:
        return address


def _flags(rest: pa.Array) -> pd.Categorical:
    """The bracketed flags of each line, in ``FLAGS`` order, space-joined (NA when none)."""
    empty = pa.scalar("", pa.large_string())
    parts = [pc.if_else(pc.match_substring(rest, f"[{flag}]"), pa.scalar(flag + " ", pa.large_string()), empty)
             for flag in FLAGS]
    joined = pc.binary_join_element_wise(*parts, empty) if len(rest) else pa.array([], pa.large_string())
    return cols.categorical(pc.utf8_rtrim_whitespace(joined), empty_as_na=True)


#: ``mark=``, ``zone=`` and ``id=`` after the reply tuple, in the order conntrack prints them.
_NUMBERS = (r"^(?:.*?[ \t]mark=(?P<mark>[0-9]{1,18}))?(?:.*?[ \t]zone=(?P<zone>[0-9]{1,18}))?"
            r"(?:.*?[ \t]id=(?P<id>[0-9]{1,18}))?")


def _numbers(tail: pa.Array) -> dict[str, pd.api.extensions.ExtensionArray]:
    """The values of ``mark=``, ``zone=`` and ``id=`` among the fields after the reply tuple
    (one pass; NA where absent)."""
    got = cols.extract(pc.binary_join_element_wise(_s(" "), tail, _s("")), _NUMBERS, empty_as_null=True)
    return {k: cols.integers(v).array for k, v in got.items()}


def _epoch(ts: pa.Array) -> np.ndarray:
    """``seconds.fraction`` (conntrack -E -o timestamp) -> datetime64[ns] (UTC), NaT where absent."""
    got = cols.extract(pc.fill_null(ts, ""), r"^(?P<s>[0-9]{1,11})\.(?P<f>[0-9]{1,9})$", empty_as_null=False)
    sec = cols.integers(got["s"])
    frac = cols.integers(pc.utf8_rpad(got["f"], width=9, padding="0"))
    ok = (sec.notna() & frac.notna()).to_numpy(dtype=bool)
    ns = sec.fillna(0).to_numpy(dtype=np.int64) * 1_000_000_000 + frac.fillna(0).to_numpy(dtype=np.int64)
    return np.where(ok, ns, np.iinfo(np.int64).min).view("datetime64[ns]")


# --- counters ---------------------------------------------------------------------------


def counters(arr: pa.Array, kind: np.ndarray, line_no: np.ndarray, frame: pd.DataFrame,
             input_name: str) -> tuple[pd.DataFrame, int]:
    """The counter table (schema.COUNTER_COLUMNS) of the ``cpu``, ``sysctl`` and ``count``
    lines, and how many cpu lines were summed into another's reading."""
    parts = []
    extra = 0
    cpu_pos = np.flatnonzero(kind == "cpu")
    if len(cpu_pos):
        part, extra = _cpu_counters(arr.take(pa.array(cpu_pos, type=pa.int64())), cpu_pos, line_no)
        parts.append(part)
    sys_pos = np.flatnonzero(kind == "sysctl")
    if len(sys_pos):
        f = cols.extract(arr.take(pa.array(sys_pos, type=pa.int64())), SYSCTL, empty_as_null=True)
        parts.append(pd.DataFrame({"line": line_no[sys_pos], "counter": f["name"].to_pylist(),
                                   "value": cols.integers(f["value"]).array}))
    count_pos = np.flatnonzero(kind == "count")
    if len(count_pos):
        values = cols.integers(pc.utf8_trim_whitespace(arr.take(pa.array(count_pos, type=pa.int64()))))
        parts.append(pd.DataFrame({"line": line_no[count_pos], "counter": "count", "value": values.array}))
    if not parts:
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in schema.COUNTER_COLUMNS.items()}), 0
    rows = pd.concat(parts, ignore_index=True).sort_values("line", kind="stable").reset_index(drop=True)
    at = rows["line"].to_numpy(dtype=np.int64) - 1  # frame rows by position (1-based line numbers)
    out = pd.DataFrame({
        "ts": frame["ts"].to_numpy(dtype="datetime64[ns]")[at],
        "input": schema.single_category(input_name, len(rows)),
        "snapshot": pd.array(frame["snapshot"].to_numpy(dtype=np.int64, na_value=0)[at], dtype="Int32"),
        "group": pd.Categorical([GROUP] * len(rows)),
        "counter": pd.Categorical(rows["counter"].astype(object)),
        "value": pd.array(rows["value"], dtype="Int64"),
        "line": pd.array(rows["line"].to_numpy(dtype=np.int64), dtype="Int64"),
    })
    return out[list(schema.COUNTER_COLUMNS)], extra


def _cpu_counters(arr: pa.Array, pos: np.ndarray, line_no: np.ndarray) -> tuple[pd.DataFrame, int]:
    """``conntrack -S``: one reading per run of cpu lines (a new run starts after another kind
    of line or when the cpu number does not grow), each counter summed over its CPUs."""
    pairs = pc.ascii_split_whitespace(pc.utf8_trim_whitespace(arr))
    flat = pc.list_flatten(pairs)
    parent = np.asarray(pc.list_parent_indices(pairs).to_numpy(zero_copy_only=False), dtype=np.int64)
    kv = pc.split_pattern(flat, "=", max_splits=1)
    key = np.asarray(pc.list_element(kv, 0).to_pylist(), dtype=object)
    value = cols.integers(pc.list_element(kv, 1)).to_numpy(dtype=np.int64, na_value=0)
    is_cpu = key == "cpu"
    cpu = np.full(len(arr), -1, dtype=np.int64)
    cpu[parent[is_cpu]] = value[is_cpu]
    prev_line = np.concatenate(([-2], pos[:-1]))
    prev_cpu = np.concatenate(([np.iinfo(np.int64).max], cpu[:-1]))
    start = (prev_line != pos - 1) | (cpu <= prev_cpu)
    block = np.cumsum(start) - 1
    first_line = line_no[pos[start]]
    sums = pd.DataFrame({"block": block[parent[~is_cpu]], "counter": key[~is_cpu], "value": value[~is_cpu]})
    sums = sums.groupby(["block", "counter"], sort=False, observed=True)["value"].sum().reset_index()
    return pd.DataFrame({"line": first_line[sums["block"].to_numpy()], "counter": sums["counter"].to_numpy(),
                         "value": sums["value"].to_numpy()}), int((~start).sum())
