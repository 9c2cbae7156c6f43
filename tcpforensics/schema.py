"""Event, flow, finding and accounting columns with their dtypes: the one place they are defined."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- vocabularies -------------------------------------------------------------------------

#: Canonical RFC 9293 state names (plus BOUND, Windows ``netstat -q``; UNKNOWN for a state
#: token no vocabulary knows, kept beside its ``raw_state``).
STATES: tuple[str, ...] = (
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSE_WAIT",
    "CLOSING",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSED",
    "BOUND",
    "UNKNOWN",
)

KINDS: tuple[str, ...] = ("socket", "packet")
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
CHECKSUM_VALUES: tuple[str, ...] = ("ok", "bad", "unverifiable")

STATE_DTYPE = pd.CategoricalDtype(list(STATES))
KIND_DTYPE = pd.CategoricalDtype(list(KINDS))
SEVERITY_DTYPE = pd.CategoricalDtype(list(SEVERITIES), ordered=True)
CHECKSUM_DTYPE = pd.CategoricalDtype(list(CHECKSUM_VALUES))


@dataclass(frozen=True)
class Column:
    """One documented column: name, dtype, which evidence fills it, and what it means."""

    name: str
    dtype: object
    kinds: str  # "socket", "packet" or "both"
    meaning: str


# --- the connection-event table -----------------------------------------------------------
# Core columns are present in every event table. Socket and packet columns are present in
# tables of that kind (``conform`` adds them, all NA, when tables of both kinds are combined).

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("ts", "datetime64[ns]", "both", "time: packet timestamp (UTC), the event's own time (conntrack -E -o timestamp, UTC), the socket's creation time (Get-NetTCPConnection, Velociraptor, Volatility, TCPView) or the snapshot's timestamp line as printed (naive); NaT when the dump has none"),
    Column("input", "category", "both", "the input as named on the command line (path, or '-' for stdin)"),
    Column("kind", KIND_DTYPE, "both", "socket (a row of a socket table) or packet (a captured TCP segment)"),
    Column("proto", "category", "both", "tcp, udp or raw (lower case; tcp6/udp6 are folded into proto + family); TCP rows are the focus, the others keep no TCP state"),
    Column("family", "category", "both", "ipv4 or ipv6 (ipv6 for ::ffff:a.b.c.d mapped addresses too); NA when unknown"),
    Column("src_addr", "category", "both", "source address; for sockets the local address (hostnames kept as printed)"),
    Column("src_port", "UInt16", "both", "source port; for sockets the local port (NA for '*' or an unresolved service name)"),
    Column("dst_addr", "category", "both", "destination address; for sockets the remote/peer address"),
    Column("dst_port", "UInt16", "both", "destination port; for sockets the remote/peer port"),
    Column("state", STATE_DTYPE, "socket", "canonical RFC 9293 state name (see STATES); NA for UDP and stateless rows"),
    Column("raw_state", "category", "socket", "the state token exactly as printed (localized, ss or BSD spelling)"),
    Column("pid", "Int64", "socket", "owning process id when shown"),
    Column("process", "category", "socket", "owning program name when shown (names may contain spaces)"),
    Column("user", "category", "socket", "owning user/uid when shown (net-tools -e, ss -e, /proc uid)"),
    Column("inode", "Int64", "socket", "socket inode when shown"),
    Column("recv_q", "Int64", "socket", "receive queue bytes (Recv-Q)"),
    Column("send_q", "Int64", "socket", "send queue bytes (Send-Q)"),
    Column("timer", "category", "socket", "timer column as printed (netstat -o, ss -o), e.g. 'keepalive (7.2/0/0)'"),
    Column("reply_src_addr", "category", "socket", "conntrack: source address of the reply direction (the original destination unless destination NAT)"),
    Column("reply_src_port", "UInt16", "socket", "conntrack: source port of the reply direction"),
    Column("reply_dst_addr", "category", "socket", "conntrack: destination address of the reply direction (the original source unless source NAT)"),
    Column("reply_dst_port", "UInt16", "socket", "conntrack: destination port of the reply direction"),
    Column("ct_status", "category", "socket", "conntrack: bracketed status flags as printed, space-joined (UNREPLIED, ASSURED, OFFLOAD, HW_OFFLOAD)"),
    Column("ct_timeout", "Int64", "socket", "conntrack: seconds before the entry expires"),
    Column("ct_mark", "Int64", "socket", "conntrack: the connection mark (mark=)"),
    Column("ct_zone", "Int32", "socket", "conntrack: the zone (zone=; /proc/net/nf_conntrack prints it)"),
    Column("ct_event", "category", "socket", "conntrack -E: NEW, UPDATE or DESTROY"),
    Column("ct_id", "Int64", "socket", "conntrack: the entry's id (-o id)"),
    Column("snapshot", "Int32", "socket", "index of the snapshot within the input (0 for a single dump)"),
    Column("line", "Int64", "both", "1-based line number in the input (sockets); for packets NA (see frame)"),
    # packet columns
    Column("frame", "Int64", "packet", "1-based packet number in the capture file"),
    Column("flags", "UInt16", "packet", "TCP flag bits (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80 NS=0x100)"),
    Column("seq", "UInt32", "packet", "TCP sequence number (absolute)"),
    Column("ack", "UInt32", "packet", "TCP acknowledgement number (absolute)"),
    Column("payload_len", "UInt32", "packet", "TCP payload length from the IP length (not the captured length)"),
    Column("window", "UInt16", "packet", "TCP window field, unscaled"),
    Column("wscale", "Int8", "packet", "window scale shift from the SYN's option; NA when absent"),
    Column("opt_mss", "boolean", "packet", "MSS option present"),
    Column("opt_sack_perm", "boolean", "packet", "SACK-permitted option present"),
    Column("opt_ts", "boolean", "packet", "timestamps option present"),
    Column("ttl", "UInt8", "packet", "IPv4 TTL or IPv6 hop limit"),
    Column("ip_id", "UInt32", "packet", "IPv4 identification (NA for IPv6 without a fragment header)"),
    Column("caplen", "UInt32", "packet", "captured length of the frame"),
    Column("wirelen", "UInt32", "packet", "original length of the frame on the wire"),
    Column("checksum", CHECKSUM_DTYPE, "packet", "TCP checksum: ok, bad, or unverifiable (truncated capture, offload)"),
    Column("iface", "UInt16", "packet", "pcapng interface id (0 for pcap)"),
    Column("tunnel_depth", "UInt8", "packet", "number of decapsulated tunnel layers (0 = not tunnelled)"),
)

CORE = tuple(c.name for c in EVENT_COLUMNS if c.kinds == "both")
SOCKET_ONLY = tuple(c.name for c in EVENT_COLUMNS if c.kinds == "socket")
PACKET_ONLY = tuple(c.name for c in EVENT_COLUMNS if c.kinds == "packet")
EVENT_DTYPES: dict[str, object] = {c.name: c.dtype for c in EVENT_COLUMNS}


def event_columns(kind: str | None = None) -> list[str]:
    """Column order of an event table of one kind (``None``: both kinds)."""
    return [
        c.name
        for c in EVENT_COLUMNS
        if kind is None or c.kinds in ("both", kind)
    ]


def conform(df: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """Return ``df`` with exactly the event columns of ``kind``, in order, with schema dtypes.

    Missing columns are added as NA; extra columns are dropped. Used by every ingestor on its
    way out, so the table is the same whichever input filled it.
    """
    return _conform(df, {name: EVENT_DTYPES[name] for name in event_columns(kind)})


def _conform(df: pd.DataFrame, dtypes: dict[str, object]) -> pd.DataFrame:
    """``df`` reduced to ``dtypes``' columns, in order, cast where needed, missing ones all NA."""
    n = len(df)
    no_values = np.full(n, -1, dtype=np.intp)  # take() positions meaning "missing"
    out = {}
    for name, dtype in dtypes.items():
        if name in df.columns:
            s = df[name]
            if str(s.dtype) != str(dtype):
                s = _cast(s, dtype)
            out[name] = s.array
        else:
            out[name] = _empty_array(dtype).take(no_values, allow_fill=True)
    return pd.DataFrame(out)  # columns in the order of dtypes; index RangeIndex(n)


@functools.cache
def _empty_array(dtype: object) -> pd.api.extensions.ExtensionArray:
    """A zero-length array of ``dtype`` (``take`` with -1 positions makes an all-NA column)."""
    return pd.Series(dtype=dtype).array


def _cast(s: pd.Series, dtype: object) -> pd.Series:
    if dtype == "datetime64[ns]":
        return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
    if isinstance(dtype, pd.CategoricalDtype):
        return s.astype(object).astype(dtype)
    if dtype == "category":
        return s.astype(object).astype("category")
    if dtype in ("UInt16", "UInt32", "UInt8", "Int8", "Int32", "Int64"):
        if s.dtype.kind in "iu":  # numpy integers: nothing to coerce
            return s.astype(dtype)
        return pd.to_numeric(s, errors="coerce").astype(dtype)
    return s.astype(dtype)


def single_category(value: str, n: int) -> pd.Categorical:
    """A categorical column holding one value ``n`` times (the ``input`` of one input's rows)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value]))


def concat_events(frames: list[pd.DataFrame], kind: str | None = None) -> pd.DataFrame:
    """Event tables of several inputs stacked into one, with the schema's dtypes.

    Each input has its own categories (addresses, processes); pandas would turn such columns
    into object, and pandas 2 and 3 disagree on the dtype when one input's column is all NA.
    The categories are united first (codes recoded, no strings rebuilt)."""
    if not frames:
        return empty_events(kind)
    if len(frames) == 1:
        return frames[0]
    frames = [conform(f, kind) for f in frames]
    for name in frames[0].columns:
        dtypes = [f[name].dtype for f in frames]
        if isinstance(dtypes[0], pd.CategoricalDtype) and any(d != dtypes[0] for d in dtypes):
            cats = pd.Index(np.concatenate([d.categories.to_numpy(dtype=object) for d in dtypes])).unique()
            frames = [f.assign(**{name: f[name].cat.set_categories(cats)}) for f in frames]
    return pd.concat(frames, ignore_index=True)


def empty_events(kind: str | None = None) -> pd.DataFrame:
    """An event table with no rows and the right columns and dtypes."""
    return _empty_events(kind).copy()


@functools.cache
def _empty_events(kind: str | None) -> pd.DataFrame:
    return conform(pd.DataFrame(), kind)


# --- the flow table (one row per TCP connection; reconstruct/flows.py) -------------------------

CONN_STATES: tuple[str, ...] = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH")
CLOSE_CATEGORIES: tuple[str, ...] = (
    "graceful", "reset_by_orig", "reset_by_resp", "rejected", "no_answer", "half_open",
    "half_closed_orig", "half_closed_resp", "lost_final_ack", "open_at_end", "midstream",
)

FLOW_COLUMNS: tuple[Column, ...] = (
    Column("uid", "string", "packet", "connection id (deterministic hash of 4-tuple and start; Zeek-like 'C...')"),
    Column("orig_addr", "category", "packet", "originator address (Zeek's id.orig_h, after its flip rules)"),
    Column("orig_port", "UInt16", "packet", "originator port"),
    Column("resp_addr", "category", "packet", "responder address"),
    Column("resp_port", "UInt16", "packet", "responder port"),
    Column("start", "datetime64[ns]", "packet", "time of the connection's first packet (UTC)"),
    Column("end", "datetime64[ns]", "packet", "time of its last productive packet (Zeek's last_time: stops when both sides closed)"),
    Column("duration", "float64", "packet", "end - start in seconds"),
    Column("orig_pkts", "Int64", "packet", "packets from the originator that passed checksum validation"),
    Column("resp_pkts", "Int64", "packet", "packets from the responder that passed checksum validation"),
    Column("orig_bytes", "Int64", "packet", "payload bytes sent by the originator, from sequence numbers (Zeek's TCP_Endpoint::Size)"),
    Column("resp_bytes", "Int64", "packet", "payload bytes sent by the responder, from sequence numbers"),
    Column("conn_state", pd.CategoricalDtype(list(CONN_STATES)), "packet", "Zeek conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH)"),
    Column("history", "string", "packet", "Zeek history letters (upper case: originator; ^ flipped; C T W G scaled 1/10/100)"),
    Column("missed_bytes", "Int64", "packet", "bytes acknowledged but never seen (content gaps)"),
    Column("orig_states", "string", "packet", "RFC 9293 states the originator went through, '>'-separated, from what was seen"),
    Column("resp_states", "string", "packet", "RFC 9293 states the responder went through"),
    Column("orig_final", STATE_DTYPE, "packet", "state netstat would show on the originator's host at capture end (UNKNOWN: never seen nor inferable)"),
    Column("resp_final", STATE_DTYPE, "packet", "state netstat would show on the responder's host at capture end"),
    Column("close", pd.CategoricalDtype(list(CLOSE_CATEGORIES)), "packet", "how the connection ended (ordered rule table in docs/flows.md)"),
    Column("zeek_orig_state", "category", "packet", "Zeek's endpoint state of the originator at the end (INACTIVE SYN_SENT SYN_ACK_SENT PARTIAL ESTABLISHED CLOSED RESET)"),
    Column("zeek_resp_state", "category", "packet", "Zeek's endpoint state of the responder at the end"),
    Column("first_frame", "Int64", "packet", "frame number of the first packet (evidence)"),
    Column("last_frame", "Int64", "packet", "frame number of the last packet"),
    Column("input", "category", "packet", "the capture the connection came from"),
)
FLOW_DTYPES: dict[str, object] = {c.name: c.dtype for c in FLOW_COLUMNS}


def conform_flows(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the flow columns, in order, with schema dtypes."""
    return _conform(df, FLOW_DTYPES)


# --- flow-log records (Zeek conn.log, Suricata eve.json flow, VPC flow logs) ------------------
# A flow-log format gives one row per record: the flow columns it knows (NA for the others)
# and these; reconstruct/flowlogs.py derives the rest of the flow table from them.

FLOW_RECORD_EXTRA: tuple[Column, ...] = (
    Column("line", "Int64", "flowlog", "1-based line of the record in its log (the flow's first_frame and last_frame)"),
    Column("orig_flags", "UInt16", "flowlog", "TCP flags the originator sent, OR-ed over the record (Suricata tcp_flags_ts, VPC tcp-flags); NA when the log has none"),
    Column("resp_flags", "UInt16", "flowlog", "TCP flags the responder sent, OR-ed (Suricata tcp_flags_tc)"),
    Column("tool_state", "category", "flowlog", "the tool's own state word (Suricata tcp.state, VPC log-status)"),
    Column("tool_reason", "category", "flowlog", "why the tool ended the record (Suricata flow.reason and flow.state, VPC action)"),
    Column("one_way", "boolean", "flowlog", "the record counts one direction only (VPC: a reply is another record)"),
    Column("interface", "category", "flowlog", "where the record was taken (VPC interface-id)"),
    Column("orig_ip_bytes", "Int64", "flowlog", "IP bytes the originator sent (headers included: Suricata, VPC, Zeek's orig_ip_bytes)"),
    Column("resp_ip_bytes", "Int64", "flowlog", "IP bytes the responder sent"),
)
FLOW_RECORD_DTYPES: dict[str, object] = {**FLOW_DTYPES, **{c.name: c.dtype for c in FLOW_RECORD_EXTRA}}


def conform_flow_records(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the flow-record columns (flow columns, then FLOW_RECORD_EXTRA)."""
    return _conform(df, FLOW_RECORD_DTYPES)


# --- skipped records (input accounting) ---------------------------------------------------

SKIP_COLUMNS: dict[str, object] = {
    "input": "category",
    "line": "Int64",  # line number (text) or frame number (captures)
    "reason": "category",  # short stable token, e.g. "unparseable row", "truncated record"
    "text": "string",  # the offending line (truncated to 200 chars) or a description
}


def empty_skipped() -> pd.DataFrame:
    """A skipped-record table with no rows."""
    return _empty_skipped().copy()


@functools.cache
def _empty_skipped() -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in SKIP_COLUMNS.items()})


# --- kernel counters (/proc/net/netstat, /proc/net/snmp, netstat -s, nstat) -----------------

COUNTER_COLUMNS: dict[str, object] = {
    "ts": "datetime64[ns]",
    "input": "category",
    "snapshot": "Int32",
    "group": "category",  # e.g. TcpExt, Tcp, IpExt
    "counter": "category",  # canonical kernel name, e.g. ListenOverflows
    "value": "Int64",
    "line": "Int64",
}

# --- findings -----------------------------------------------------------------------------

FINDING_COLUMNS: dict[str, object] = {
    "severity": SEVERITY_DTYPE,
    "category": "string",  # e.g. syn_flood, close_wait_leak, port_scan
    "subject": "string",  # listener "0.0.0.0:80", process "nginx[1234]", host "10.0.0.5"
    "count": "Int64",  # the main figure (sockets, connections, probes)
    "details": "object",  # dict of further counts (distinct sources, ratio, ...)
    "evidence": "object",  # list of "input:line" or flow uids / frames
    "explanation": "string",  # what the state means and its likely causes
    "next_step": "string",  # what to check or do next
    "first_seen": "datetime64[ns]",
    "last_seen": "datetime64[ns]",
}


def empty_findings() -> pd.DataFrame:
    """A findings table with no rows."""
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in FINDING_COLUMNS.items()})
