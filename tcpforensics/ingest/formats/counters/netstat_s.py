"""The counters ``netstat -s`` (Linux net-tools) prints as English phrases, by kernel name."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def phrase_counters(section: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Kernel counter name of each (section, phrase with '#' for its number); None if unknown."""
    return _lookup(_PHRASE_MAP, section + _SEP + template)


def histogram_counters(what: np.ndarray) -> np.ndarray:
    """Kernel counter suffix of each ICMP histogram entry (``echo requests``); None if unknown."""
    return _lookup(ICMP_HISTOGRAM, what)


def _lookup(table: dict[str, str], keys: np.ndarray) -> np.ndarray:
    """``table[key]`` per key (a hash lookup over the whole column); None where absent."""
    known = pd.Index(list(table), dtype=object)
    pos = known.get_indexer(pd.Index(keys, dtype=object))
    return np.where(pos >= 0, np.array(list(table.values()), dtype=object)[pos], None)
