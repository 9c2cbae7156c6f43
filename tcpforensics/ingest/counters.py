"""Kernel TCP counters as text: /proc/net/netstat and /proc/net/snmp, ``netstat -s``, ``nstat``."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from tcpforensics import fills, schema
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.reconstruct.groups import cumcount

NAME = "counters"
DESCRIPTION = "kernel TCP/IP counters: /proc/net/netstat, /proc/net/snmp(6), netstat -s (Linux), nstat"

#: Counter groups as the kernel names them (nstat glues the group to the counter name:
#: ``TcpExtListenOverflows``); longest first so ``TcpExt`` wins over ``Tcp``.
GROUPS: tuple[str, ...] = (
    "MPTcpExt", "TcpExt", "IpExt", "IcmpMsg", "Icmp6", "Icmp", "UdpLite6", "UdpLite",
    "Udp6", "Udp", "Ip6", "Tcp", "Ip", "Sctp",
)

# ``netstat -s`` (net-tools statistics.c) prints most counters as an English phrase. One row
# per phrase: (section as printed, phrase with '#' for the number, kernel counter name).
# Older net-tools spellings ("send out", "retransmited", "ignored") are listed beside the new.
PHRASES: tuple[tuple[str, str, str], ...] = (
    ("Ip", "Forwarding: #", "Forwarding"),
    ("Ip", "# total packets received", "InReceives"),
    ("Ip", "# with invalid headers", "InHdrErrors"),
    ("Ip", "# with invalid addresses", "InAddrErrors"),
    ("Ip", "# forwarded", "ForwDatagrams"),
    ("Ip", "# with unknown protocol", "InUnknownProtos"),
    ("Ip", "# incoming packets discarded", "InDiscards"),
    ("Ip", "# incoming packets delivered", "InDelivers"),
    ("Ip", "# requests sent out", "OutRequests"),
    ("Ip", "# outgoing packets dropped", "OutDiscards"),
    ("Ip", "# dropped because of missing route", "OutNoRoutes"),
    ("Ip", "# fragments dropped after timeout", "ReasmTimeout"),
    ("Ip", "# reassemblies required", "ReasmReqds"),
    ("Ip", "# packets reassembled ok", "ReasmOKs"),
    ("Ip", "# packet reassembles failed", "ReasmFails"),
    ("Ip", "# fragments received ok", "FragOKs"),
    ("Ip", "# fragments failed", "FragFails"),
    ("Ip", "# fragments created", "FragCreates"),
    ("Icmp", "# ICMP messages received", "InMsgs"),
    ("Icmp", "# input ICMP message failed", "InErrors"),
    ("Icmp", "# input ICMP message failed.", "InErrors"),
    ("Icmp", "# ICMP messages sent", "OutMsgs"),
    ("Icmp", "# ICMP messages failed", "OutErrors"),
    ("Tcp", "# active connection openings", "ActiveOpens"),
    ("Tcp", "# active connections openings", "ActiveOpens"),
    ("Tcp", "# passive connection openings", "PassiveOpens"),
    ("Tcp", "# failed connection attempts", "AttemptFails"),
    ("Tcp", "# connection resets received", "EstabResets"),
    ("Tcp", "# connections established", "CurrEstab"),
    ("Tcp", "# segments received", "InSegs"),
    ("Tcp", "# segments send out", "OutSegs"),
    ("Tcp", "# segments sent out", "OutSegs"),
    ("Tcp", "# segments retransmited", "RetransSegs"),
    ("Tcp", "# segments retransmitted", "RetransSegs"),
    ("Tcp", "# bad segments received", "InErrs"),
    ("Tcp", "# bad segments received.", "InErrs"),
    ("Tcp", "# resets sent", "OutRsts"),
    ("Udp", "# packets received", "InDatagrams"),
    ("Udp", "# packets to unknown port received", "NoPorts"),
    ("Udp", "# packets to unknown port received.", "NoPorts"),
    ("Udp", "# packet receive errors", "InErrors"),
    ("Udp", "# packets sent", "OutDatagrams"),
    ("Udp", "# receive buffer errors", "RcvbufErrors"),
    ("Udp", "# send buffer errors", "SndbufErrors"),
    ("TcpExt", "# SYN cookies sent", "SyncookiesSent"),
    ("TcpExt", "# SYN cookies received", "SyncookiesRecv"),
    ("TcpExt", "# invalid SYN cookies received", "SyncookiesFailed"),
    ("TcpExt", "# resets received for embryonic SYN_RECV sockets", "EmbryonicRsts"),
    ("TcpExt", "# packets pruned from receive queue because of socket buffer overrun", "PruneCalled"),
    ("TcpExt", "# packets pruned from receive queue", "RcvPruned"),
    ("TcpExt", "# packets dropped from out-of-order queue because of socket buffer overrun", "OfoPruned"),
    ("TcpExt", "# ICMP packets dropped because they were out-of-window", "OutOfWindowIcmps"),
    ("TcpExt", "# ICMP packets dropped because socket was locked", "LockDroppedIcmps"),
    ("TcpExt", "# TCP sockets finished time wait in fast timer", "TW"),
    ("TcpExt", "# time wait sockets recycled by time stamp", "TWRecycled"),
    ("TcpExt", "# TCP sockets finished time wait in slow timer", "TWKilled"),
    ("TcpExt", "# passive connections rejected because of time stamp", "PAWSPassive"),
    ("TcpExt", "# active connections rejected because of time stamp", "PAWSActive"),
    ("TcpExt", "# packets rejects in established connections because of timestamp", "PAWSEstab"),
    ("TcpExt", "# delayed acks sent", "DelayedACKs"),
    ("TcpExt", "# delayed acks further delayed because of locked socket", "DelayedACKLocked"),
    ("TcpExt", "Quick ack mode was activated # times", "DelayedACKLost"),
    ("TcpExt", "# times the listen queue of a socket overflowed", "ListenOverflows"),
    ("TcpExt", "# SYNs to LISTEN sockets dropped", "ListenDrops"),
    ("TcpExt", "# SYNs to LISTEN sockets ignored", "ListenDrops"),
    ("TcpExt", "# packets directly queued to recvmsg prequeue.", "TCPPrequeued"),
    ("TcpExt", "# packet headers predicted", "TCPHPHits"),
    ("TcpExt", "# packets header predicted", "TCPHPHits"),
    ("TcpExt", "# acknowledgments not containing data payload received", "TCPPureAcks"),
    ("TcpExt", "# predicted acknowledgments", "TCPHPAcks"),
    ("TcpExt", "# times recovered from packet loss due to fast retransmit", "TCPRenoRecovery"),
    ("TcpExt", "# times recovered from packet loss by selective acknowledgements", "TCPSackRecovery"),
    ("TcpExt", "# bad SACK blocks received", "TCPSACKReneging"),
    ("TcpExt", "Detected reordering # times using FACK", "TCPFACKReorder"),
    ("TcpExt", "Detected reordering # times using SACK", "TCPSACKReorder"),
    ("TcpExt", "Detected reordering # times using reno fast retransmit", "TCPRenoReorder"),
    ("TcpExt", "Detected reordering # times using time stamp", "TCPTSReorder"),
    ("TcpExt", "# congestion windows fully recovered without slow start", "TCPFullUndo"),
    ("TcpExt", "# congestion windows partially recovered using Hoe heuristic", "TCPPartialUndo"),
    ("TcpExt", "# congestion windows recovered without slow start by DSACK", "TCPDSACKUndo"),
    ("TcpExt", "# congestion windows recovered without slow start after partial ack", "TCPLossUndo"),
    ("TcpExt", "# TCP data loss events", "TCPLoss"),
    ("TcpExt", "# retransmits lost", "TCPLostRetransmit"),
    ("TcpExt", "# timeouts after reno fast retransmit", "TCPRenoFailures"),
    ("TcpExt", "# timeouts after SACK recovery", "TCPSackFailures"),
    ("TcpExt", "# timeouts in loss state", "TCPLossFailures"),
    ("TcpExt", "# fast retransmits", "TCPFastRetrans"),
    ("TcpExt", "# forward retransmits", "TCPForwardRetrans"),
    ("TcpExt", "# retransmits in slow start", "TCPSlowStartRetrans"),
    ("TcpExt", "# other TCP timeouts", "TCPTimeouts"),
    ("TcpExt", "# classic Reno fast retransmits failed", "TCPRenoRecoveryFail"),
    ("TcpExt", "# SACK retransmits failed", "TCPSackRecoveryFail"),
    ("TcpExt", "# times receiver scheduled too late for direct processing", "TCPSchedulerFailed"),
    ("TcpExt", "# packets collapsed in receive queue due to low socket buffer", "TCPRcvCollapsed"),
    ("TcpExt", "# DSACKs sent for old packets", "TCPDSACKOldSent"),
    ("TcpExt", "# DSACKs sent for out of order packets", "TCPDSACKOfoSent"),
    ("TcpExt", "# DSACKs received", "TCPDSACKRecv"),
    ("TcpExt", "# DSACKs for out of order packets received", "TCPDSACKOfoRecv"),
    ("TcpExt", "# connections reset due to unexpected SYN", "TCPAbortOnSyn"),
    ("TcpExt", "# connections reset due to unexpected data", "TCPAbortOnData"),
    ("TcpExt", "# connections reset due to early user close", "TCPAbortOnClose"),
    ("TcpExt", "# connections aborted due to memory pressure", "TCPAbortOnMemory"),
    ("TcpExt", "# connections aborted due to timeout", "TCPAbortOnTimeout"),
    ("TcpExt", "# connections aborted after user close in linger timeout", "TCPAbortOnLinger"),
    ("TcpExt", "# times unable to send RST due to no memory", "TCPAbortFailed"),
    ("TcpExt", "TCP ran low on memory # times", "TCPMemoryPressures"),
    ("TcpExt", "# TCP sockets finished time wait in fast timer", "TW"),
    ("TcpExt", "# packets directly received from backlog", "TCPDirectCopyFromBacklog"),
    ("TcpExt", "# packets directly received from prequeue", "TCPDirectCopyFromPrequeue"),
    ("TcpExt", "# packets dropped from prequeue", "TCPPrequeueDropped"),
    ("TcpExt", "# packet headers predicted and directly queued to user", "TCPHPHitsToUser"),
    ("TcpExt", "# SYN retransmits", "TCPSynRetrans"),
)

#: ICMP histogram entries (``ICMP input histogram:`` / ``ICMP output histogram:``): the kernel
#: name is the direction prefix (In/Out) plus this suffix.
ICMP_HISTOGRAM: dict[str, str] = {
    "destination unreachable": "DestUnreachs",
    "timeout in transit": "TimeExcds",
    "wrong parameters": "ParmProbs",
    "source quenches": "SrcQuenchs",
    "redirects": "Redirects",
    "echo requests": "Echos",
    "echo request": "Echos",
    "echo replies": "EchoReps",
    "echo reply": "EchoReps",
    "timestamp request": "Timestamps",
    "timestamp reply": "TimestampReps",
    "address mask request": "AddrMasks",
    "address mask replies": "AddrMaskReps",
}

#: Sections that share the Udp phrases (net-tools prints the same words under each).
_UDP_LIKE = ("UdpLite", "Udp6", "UdpLite6")
_SEP = "\x1f"
_PHRASE_MAP: dict[str, str] = {g + _SEP + p: c for g, p, c in PHRASES}
_PHRASE_MAP.update({u + _SEP + p: c for g, p, c in PHRASES if g == "Udp" for u in _UDP_LIKE})

_GROUP_RE = "|".join(GROUPS)
_PROC = r"^(?P<group>[A-Za-z][A-Za-z0-9]*):(?P<rest>(?:[ \t]+\S+)+)[ \t]*$"
_SECTION = r"^(?P<section>[A-Za-z][A-Za-z0-9]*):[ \t]*$"
_NAMEVAL = r"^[ \t]+(?P<name>[A-Za-z][A-Za-z0-9_]*):[ \t]*(?P<value>-?\d+)[ \t]*$"
_NSTAT = r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)[ \t]+(?P<value>-?\d+)(?:[ \t]+-?[\d.]+)?[ \t]*$"
_NSTAT_HEAD = r"^#\s*kernel\s*$"
_INDENTED = r"^[ \t]+\S"
_HIST_HEAD = r"^[ \t]+ICMP (?P<dir>input|output) histogram:[ \t]*$"
_HIST_ENTRY = r"^[ \t]+(?P<what>[a-z][a-z ]*[a-z]):[ \t]*(?P<value>\d+)[ \t]*$"


def _classify(text: pd.Series) -> pd.DataFrame:
    """One row per line: which counter syntax it has (vectorized regex matches)."""
    t = text.astype(str)
    proc = t.str.extract(_PROC)
    is_proc = proc["group"].notna()
    rest_tokens = proc["rest"].str.split()
    is_values = is_proc & proc["rest"].str.fullmatch(r"(?:[ \t]+-?\d+)+[ \t]*", na=False).astype(bool)
    nstat = t.str.extract(_NSTAT)
    nameval = t.str.extract(_NAMEVAL)
    return pd.DataFrame(
        {
            "blank": t.str.strip().eq(""),
            "nstat_head": t.str.fullmatch(_NSTAT_HEAD),
            "proc_group": proc["group"],
            "proc_tokens": rest_tokens,
            "proc_ntokens": proc["rest"].str.count(r"\S+"),
            "proc_values": is_values,
            "section": t.str.extract(_SECTION)["section"],
            "nameval_name": nameval["name"],
            "nameval_value": nameval["value"],
            "nstat_name": nstat["name"],
            "nstat_value": nstat["value"],
            "indented": t.str.match(_INDENTED),
        },
        index=text.index,
    )


def _proc_pairs(c: pd.DataFrame) -> pd.Series:
    """Boolean per line: a names line directly followed by a values line of the same group."""
    prev_group = c["proc_group"].shift(1)
    prev_is_names = c["proc_group"].notna().shift(1, fill_value=False) & ~c["proc_values"].shift(1, fill_value=False)
    values_ok = c["proc_values"] & prev_is_names & (prev_group == c["proc_group"])
    names_ok = values_ok.shift(-1, fill_value=False)
    return names_ok | values_ok


def detect(lines: Lines) -> float:
    """Confidence 0..1 that these lines are kernel counters (any of the four layouts)."""
    text = lines.text
    c = _classify(text)
    content = ~c["blank"]
    n = int(content.sum())
    if n == 0:
        return 0.0
    proc_ok = _proc_pairs(c)
    sections = c["section"].isin(GROUPS)
    nstat_ok = c["nstat_name"].str.match(f"^(?:{_GROUP_RE})", na=False).astype(bool)
    netstat_s = c["indented"] & (c["nameval_name"].notna() | text.astype(str).str.match(r"^[ \t]+\d+ \S"))
    recognised = proc_ok | sections | nstat_ok | c["nstat_head"].fillna(False) | netstat_s
    share = float(recognised[content].mean())
    signature = bool(proc_ok.any() or c["nstat_head"].any() or nstat_ok.sum() >= 3 or (sections.sum() >= 2 and netstat_s.any()))
    return 0.95 * share if signature else 0.0


def parse(lines: Lines) -> Parsed:
    """Counter rows into ``meta['counters']`` (schema.COUNTER_COLUMNS); no socket events."""
    text = lines.text.astype(str)
    c = _classify(text)
    frame = lines.frame
    structural: Counter = Counter()
    kind = pd.Series("", index=text.index, dtype=object)

    kind[c["blank"]] = "blank"
    kind[(kind == "") & c["nstat_head"].fillna(False).astype(bool)] = "nstat header"

    # /proc/net/netstat, /proc/net/snmp: "Group: Name Name ..." then "Group: 1 2 ...".
    pairs = _proc_pairs(c) & (kind == "")
    values_lines = pairs & c["proc_values"]
    names_lines = pairs & ~c["proc_values"]
    names_tokens = c["proc_tokens"].shift(1)
    n_names = c["proc_ntokens"].shift(1).where(values_lines)
    n_values = c["proc_ntokens"].where(values_lines)
    mismatch = values_lines & (n_names != n_values)
    kind[names_lines] = "counter names"
    kind[values_lines & ~mismatch] = "proc"
    kind[mismatch] = "skip:names and values differ in count"
    kind[mismatch.shift(-1, fill_value=False) & names_lines] = "skip:names and values differ in count"

    # netstat -s: section headers, "Name: value", "123 phrase", ICMP histograms.
    open_ = kind == ""
    is_section = open_ & c["section"].notna() & ~c["indented"]
    kind[is_section] = "section header"
    section = fills.ffill(c["section"].where(is_section))
    hist_head = open_ & text.str.match(_HIST_HEAD)
    kind[hist_head] = "histogram header"
    hist_dir = text.str.extract(_HIST_HEAD)["dir"].where(hist_head | is_section)
    hist_dir = fills.fill(fills.ffill(hist_dir.where(~is_section, "")), "")
    hist = text.str.extract(_HIST_ENTRY)
    in_hist = (kind == "") & c["indented"] & hist_dir.ne("") & hist["what"].notna() & section.eq("Icmp")
    nameval = (kind == "") & c["indented"] & c["nameval_name"].notna() & section.notna()
    kind[nameval] = "nameval"
    template = text.str.strip().str.replace(r"\s+", " ", regex=True).str.replace(r"\d+", "#", regex=True)
    phrase_counter = (section.fillna("") + _SEP + template).map(_PHRASE_MAP)
    is_phrase = (kind == "") & c["indented"] & section.notna() & phrase_counter.notna()
    kind[is_phrase] = "phrase"
    hist_counter = hist["what"].map(ICMP_HISTOGRAM)
    hist_name = hist_dir.str.capitalize().str.replace("Input", "In").str.replace("Output", "Out") + hist_counter
    kind[in_hist & hist_counter.notna() & (kind == "")] = "histogram"

    # nstat / /proc/net/snmp6: "TcpExtListenOverflows  12  0.0".
    is_nstat = (kind == "") & ~c["indented"] & c["nstat_name"].notna()
    kind[is_nstat] = "nstat"

    parts: list[pd.DataFrame] = []
    if values_lines.any():
        ok = kind == "proc"
        p = pd.DataFrame(
            {
                "line": text.index[ok],
                "group": c["proc_group"][ok].to_numpy(),
                "counter": names_tokens[ok].to_numpy(),
                "value": c["proc_tokens"][ok].to_numpy(),
            }
        ).explode(["counter", "value"], ignore_index=True)
        parts.append(p)
    for k, grp, name, val in (
        ("nameval", section, c["nameval_name"], c["nameval_value"]),
        ("phrase", section, phrase_counter, text.str.extract(r"(\d+)")[0]),
        ("histogram", section, hist_name, hist["value"]),
    ):
        m = kind == k
        if m.any():
            parts.append(pd.DataFrame({"line": text.index[m], "group": grp[m].to_numpy(),
                                       "counter": name[m].to_numpy(), "value": val[m].to_numpy()}))
    if is_nstat.any():
        split = c["nstat_name"][is_nstat].str.extract(f"^(?P<group>{_GROUP_RE})(?P<counter>\\w+)$")
        parts.append(pd.DataFrame({
            "line": text.index[is_nstat],
            "group": split["group"].fillna("").to_numpy(),
            "counter": split["counter"].fillna(c["nstat_name"][is_nstat]).to_numpy(),
            "value": c["nstat_value"][is_nstat].to_numpy(),
        }))

    counters = _readings(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["line", "group", "counter", "value"]), frame, lines.input)

    # accounting: every line is a counter line, structural, or skipped (with its reason)
    for k in ("blank", "nstat header", "counter names", "section header", "histogram header"):
        structural[k] = int((kind == k).sum())
    structural = Counter({k: v for k, v in structural.items() if v})
    skip_reason = kind.where(kind.str.startswith("skip:"), "").str.removeprefix("skip:")
    skip_reason = skip_reason.mask(kind == "", "not a counter line")
    unmapped = (kind == "") & c["indented"] & section.notna()
    skip_reason = skip_reason.mask(unmapped, "unmapped netstat -s phrase")
    sk = skip_reason != ""
    skipped = skipped_frame(list(text.index[sk]), list(skip_reason[sk]), list(text[sk]))
    return Parsed(rows=pd.DataFrame({"line": pd.Series(dtype="Int64")}), skipped=skipped,
                  structural=structural, meta={"counters": counters})


def _readings(rows: pd.DataFrame, frame: pd.DataFrame, input_name: str) -> pd.DataFrame:
    """Number the readings: a new reading starts at a snapshot marker or when a counter repeats."""
    cols = list(schema.COUNTER_COLUMNS)
    if rows.empty:
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in schema.COUNTER_COLUMNS.items()})[cols]
    rows = rows.sort_values("line", kind="stable").reset_index(drop=True)
    line = rows["line"].to_numpy(dtype=np.int64)
    at = line - 1  # frame rows by position (its index is the 1-based line number)
    lsnap = frame["snapshot"].to_numpy(dtype=np.int64, na_value=0)[at]
    group, groups = pd.factorize(rows["group"].astype(object), sort=True)
    counter, names = pd.factorize(rows["counter"].astype(object), sort=True)
    occ = cumcount(pd.factorize(pd.MultiIndex.from_arrays([lsnap, group, counter]))[0])
    # a reading is (marker snapshot, repetition); readings keep their order of appearance
    reading = np.unique(lsnap * (int(occ.max()) + 1) + occ, return_inverse=True)[1].ravel()
    # the reading's time is the first known time of any of its lines
    ts = pd.Series(frame["ts"].to_numpy(dtype="datetime64[ns]")[at]).groupby(reading).transform("first")
    n = len(rows)
    return pd.DataFrame({
        "ts": ts.to_numpy(dtype="datetime64[ns]"),
        "input": schema.single_category(input_name, n),
        "snapshot": pd.arrays.IntegerArray(reading.astype(np.int32), np.zeros(n, dtype=bool)),
        "group": pd.Categorical.from_codes(group, categories=pd.Index(np.asarray(groups, dtype=object))),
        "counter": pd.Categorical.from_codes(counter, categories=pd.Index(np.asarray(names, dtype=object))),
        "value": _values(rows["value"]).astype("Int64").array,
        "line": pd.array(line, dtype="Int64"),
    })[cols]


def _values(text: pd.Series) -> pd.Series:
    """Counter values as numbers; one past int64 (a wrapped u64 counter, damage) becomes NA."""
    value = pd.to_numeric(text, errors="coerce")
    if value.dtype.kind in "uf":  # some value did not fit int64: parse the ones that do exactly
        digits = text.astype(str).str.strip().str.lstrip("+")
        fits = digits.str.fullmatch(r"-?\d{1,18}")
        value = pd.to_numeric(digits.where(fits), errors="coerce").astype("Int64")
    return value


def deltas(counters: pd.DataFrame) -> pd.DataFrame:
    """Per (input, group, counter): first and last reading, their values and the increase.

    With one reading ``delta`` is NA and ``value_last`` is the value since boot (or, for plain
    ``nstat``, since its previous run). A decrease (counter reset, reboot) gives NA.
    """
    if counters is None or counters.empty:
        return pd.DataFrame(columns=["input", "group", "counter", "readings", "value_first",
                                     "value_last", "delta", "ts_first", "ts_last", "line_last"])
    c = counters.sort_values(["input", "group", "counter", "snapshot"], kind="stable")
    g = c.groupby(["input", "group", "counter"], observed=True, sort=False)
    out = g.agg(
        readings=("snapshot", "nunique"),
        value_first=("value", "first"),
        value_last=("value", "last"),
        ts_first=("ts", "first"),
        ts_last=("ts", "last"),
        line_last=("line", "last"),
    ).reset_index()
    d = out["value_last"] - out["value_first"]
    out["delta"] = d.where((out["readings"] > 1) & (d >= 0))
    return out
