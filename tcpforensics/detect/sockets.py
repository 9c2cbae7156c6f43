"""Socket-table diagnoses: one rule table from socket snapshots and kernel counters to findings.

Each row of ``RULES`` is one finding category: its name, the finder that returns its finding
rows (with severity and details), what it counts (for docs/detection-sockets.md, generated
from the table by ``python docs/gen_rules.py``), and the explanation and next step every
finding of it carries (templates filled from the finding's fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import findings, socket_rows
from tcpforensics.detect.socket_checks import stuck, stuck_mask, unexpected_listeners
from tcpforensics.detect.socket_conntrack import conntrack_fill
from tcpforensics.detect.socket_counters import counter_rule, retransmissions
from tcpforensics.detect.socket_piles import (
    Pile,
    close_wait_details,
    local_details,
    remote_details,
    syn_flood_details,
    syn_sent_details,
    time_wait,
)
from tcpforensics.detect.socket_rows import Context
from tcpforensics.detect.socket_tables import summary_tables
from tcpforensics.detect.socket_text import explain
from tcpforensics.reconstruct.evidence import SocketEvidence

# --- thresholds (reasoning for every default: docs/detection-sockets.md) ---------------------
THRESHOLDS: dict[str, float | int] = {
    # SYN_RECEIVED per listener, peak snapshot. Linux caps the SYN queue at the listen backlog
    # (min(backlog, net.core.somaxconn); somaxconn 128 before 5.4, 4096 since): 128 fills the
    # old default, 512 the common application backlog 511 (nginx, redis, apache).
    "syn_recv_low": 10, "syn_recv_medium": 50, "syn_recv_high": 128, "syn_recv_critical": 512,
    "syn_flood_spoof_min_sources": 10,  # distinct sources before spoofing can be judged
    "syn_flood_spoof_max_per_source": 2,  # half-open entries per spoofed source (SYN + retry)
    "syn_flood_spoof_share": 0.9,  # share of sources with at most that many entries
    # SYN_SENT per owner: unanswered connects live ~127 s (tcp_syn_retries 6: 1+2+...+64 s).
    "syn_sent_low": 10, "syn_sent_medium": 30, "syn_sent_high": 100,
    "syn_sent_scan_targets": 10,  # distinct destination host:port that make a pile look like a scan
    "syn_sent_upstream_share": 0.8,  # one destination this share of the pile: an unreachable upstream
    # CLOSE_WAIT per owner: the kernel never times CLOSE_WAIT out; each holds a descriptor and
    # the default soft RLIMIT_NOFILE is 1024.
    "close_wait_low": 5, "close_wait_medium": 20, "close_wait_high": 100, "close_wait_critical": 1000,
    # creation times of the pile (Get-NetTCPConnection, Velociraptor, Volatility): created over
    # an hour or more is a slow leak (raised to at least medium); within a minute, one burst.
    "close_wait_leak_span_s": 3600, "close_wait_burst_span_s": 60,
    # FIN_WAIT_2 per owner: orphans expire after tcp_fin_timeout (60 s); a pile means peers that
    # never close (their own CLOSE_WAIT leak) or half-closed sockets the application keeps.
    "fin_wait_2_low": 20, "fin_wait_2_medium": 100, "fin_wait_2_high": 1000,
    # LAST_ACK per owner: waiting for the last ACK; the FIN is retransmitted for
    # tcp_orphan_retries (default 0 = 8 tries), so a pile means peers that vanished.
    "last_ack_low": 10, "last_ack_medium": 50, "last_ack_high": 500,
    # TIME_WAIT per (local addr, remote addr:port) against the ephemeral range
    # (net.ipv4.ip_local_port_range default 32768-60999 = 28232 ports).
    "ephemeral_port_low": 32768, "ephemeral_port_high": 60999,
    "time_wait_fraction_low": 0.10, "time_wait_fraction_medium": 0.25,
    "time_wait_fraction_high": 0.50, "time_wait_fraction_critical": 0.90,
    # ESTABLISHED connections held by one remote host.
    "remote_established_low": 100, "remote_established_medium": 500, "remote_established_high": 2000,
    # stuck: the same socket in the same state longer than the kernel would keep it there.
    "stuck_min_sightings": 3,  # without timestamps: seen in that state in this many sightings
    "stuck_syn_sent_s": 127, "stuck_syn_received_s": 63, "stuck_fin_wait_1_s": 60,
    "stuck_fin_wait_2_s": 60, "stuck_close_wait_s": 60, "stuck_closing_s": 60, "stuck_last_ack_s": 60,
    "stuck_socket_low": 1, "stuck_socket_medium": 5, "stuck_socket_high": 50,
    # kernel counters (increase between readings; a single reading is since boot: low at most)
    "listen_overflow_medium": 1, "listen_overflow_high": 1000,
    "syn_cookies_medium": 1, "syn_cookies_high": 1000,
    "retrans_ratio_low": 0.01, "retrans_ratio_medium": 0.02, "retrans_ratio_high": 0.10,
    "retrans_min_segments": 1000,  # segments sent before a ratio means anything
}
register_defaults(THRESHOLDS)


Finder = Callable[[Context, str], pd.DataFrame]


@dataclass(frozen=True)
class SocketRule:
    """One finding category of socket inputs: the finder of its rows, what it counts, and the
    texts of its findings."""

    category: str
    find: Finder          # (context, category) -> finding rows (severity, details), or an empty frame
    figure: str           # what is counted (docs)
    subject: str          # what a finding is about (docs)
    notes: str            # what else the finding tells (docs)
    explanation: str      # template filled from the finding's fields
    next_step: str        # likewise


def _counters(names: tuple[str, ...], prefix: str) -> Finder:
    """A finder over kernel counters that should stay at zero, graded by ``<prefix>_*``."""
    return lambda ctx, category: counter_rule(ctx, category, names, prefix)


#: Every socket and kernel-counter finding, in the order rules run and findings are listed.
RULES: tuple[SocketRule, ...] = (
    SocketRule(
        "syn_flood", Pile("SYN_RECEIVED", "listener", "syn_recv", syn_flood_details),
        "SYN_RECEIVED sockets", "listener", "spoofing judgement, backlog fill, counters raise it",
        "{count} half-open connections (SYN_RECEIVED) on listener {subject}: the host answered SYNs "
        "with SYN-ACK and never got the final ACK. Each entry lives about 63 s on Linux "
        "(tcp_synack_retries=5). {pattern_text}",
        "Check /proc/net/netstat TcpExt SyncookiesSent, ListenOverflows, ListenDrops "
        "(nstat -az) and net.ipv4.tcp_syncookies; capture SYNs on the port "
        "(tcpdump 'tcp[tcpflags] == tcp-syn and dst port {port}') to see sources and rates; "
        "rate-limit or filter upstream.",
    ),
    SocketRule(
        "syn_sent_pile", Pile("SYN_SENT", "owner", "syn_sent", syn_sent_details),
        "SYN_SENT sockets", "owner", "scan vs unreachable upstream",
        "{count} outgoing connection attempts in SYN_SENT held by {subject}: SYNs sent and not "
        "answered (each is retried for about 127 s, tcp_syn_retries=6). {pattern_text}",
        "{next_text}",
    ),
    SocketRule(
        "close_wait_leak", Pile("CLOSE_WAIT", "owner", "close_wait", close_wait_details),
        "CLOSE_WAIT sockets", "owner",
        "unread bytes (Recv-Q) in details; creation times (where the input has them) tell a slow leak from a burst",
        "{count} sockets in CLOSE_WAIT held by {subject}: the peer closed its side (FIN received) "
        "and the application has not called close(). The kernel never times CLOSE_WAIT out, so "
        "this is almost always an application bug (a connection or file-descriptor leak, a "
        "blocked worker, a pool that never releases dead connections). {age_text}",
        "Find the code path that reads EOF without closing: lsof -p PID, thread dumps of the "
        "process; restart relieves it but the leak comes back.",
    ),
    SocketRule(
        "fin_wait_2_pile", Pile("FIN_WAIT_2", "owner", "fin_wait_2", remote_details),
        "FIN_WAIT_2 sockets", "owner", "top peers in details",
        "{count} sockets in FIN_WAIT_2 on {subject}: this side closed, the peer acknowledged but "
        "never sent its own FIN. Orphaned FIN_WAIT_2 sockets expire after tcp_fin_timeout "
        "(60 s); a pile means peers that keep connections half-open (often a CLOSE_WAIT leak on "
        "the peer) or middleboxes that dropped the connection.",
        "Look at the peers in the details ({top_remote}): check them for CLOSE_WAIT; consider "
        "net.ipv4.tcp_fin_timeout.",
    ),
    SocketRule(
        "last_ack_pile", Pile("LAST_ACK", "owner", "last_ack", remote_details),
        "LAST_ACK sockets", "owner", "top peers in details",
        "{count} sockets in LAST_ACK on {subject}: both sides sent FIN and this side is waiting "
        "for the final ACK. A pile means peers that vanished after their FIN (NAT or firewall "
        "state expired, clients that reset or lost connectivity) or heavy packet loss.",
        "Check reachability of the peers in the details ({top_remote}) and packet loss on the path.",
    ),
    SocketRule(
        "stuck_socket", stuck,
        "sockets held in one closing state too long", "owner",
        "needs >= 2 sightings (snapshots, or rows of a headerless loop)",
        "{count} sockets held by {subject} stayed in the same closing state across snapshots "
        "longer than the kernel would keep them ({states_text}).",
        "Compare with the state's timer (docs/states.md); CLOSE_WAIT that persists is the "
        "application's, FIN_WAIT_2/LAST_ACK that persist point at the peer or the path.",
    ),
    SocketRule(
        "time_wait_exhaustion", time_wait,
        "TIME_WAIT per (local addr, remote addr:port) / ephemeral range", "remote addr:port", "",
        "{count} TIME_WAIT sockets from {local_addr} to {subject} use {fraction_pct} of the "
        "{range_size} ephemeral ports ({port_range}). Each (local address, remote address:port) "
        "tuple can hold at most that many connections; TIME_WAIT keeps a port for 60 s on Linux, "
        "so many short outgoing connections to one service run out of ports (connect() fails "
        "with EADDRNOTAVAIL).",
        "Reuse connections (keep-alive, pooling), widen net.ipv4.ip_local_port_range, enable "
        "net.ipv4.tcp_tw_reuse for outgoing connections, or spread over more source addresses.",
    ),
    SocketRule(
        "remote_connection_pile", Pile("ESTABLISHED", "dst_addr", "remote_established", local_details),
        "ESTABLISHED per remote host", "remote host", "loopback flagged in details",
        "Remote host {subject} holds {count} ESTABLISHED connections ({distinct_local_ports} local "
        "ports). One client with that many connections is a connection-pool misconfiguration, a "
        "client leak, a proxy/NAT gateway, or a slow-connection attack (Slowloris-style).",
        "Identify the remote (proxy, NAT, scanner?) and what it sends; apply a per-client "
        "connection limit if it is not legitimate.",
    ),
    SocketRule(
        "unexpected_listener", unexpected_listeners,
        "LISTEN not in the allow-list", "listener", "only when an allow-list is given",
        "Listener {subject} ({process}) is not in the expected-listener allow-list. A listening "
        "port nobody expects may be a forgotten service, a debug port, or a backdoor.",
        "Identify the owning process (ss -ltnp, lsof -i :{port}), its binary and how it started; "
        "add it to expected_listeners if legitimate.",
    ),
    SocketRule(
        "conntrack_fill", conntrack_fill,
        "conntrack entries / nf_conntrack_max", "conntrack table (input)",
        "states, [UNREPLIED], NAT, top sources and destinations; conntrack -S drops raise it to high",
        "{count} connection-tracking entries fill {fill_pct} of nf_conntrack_max {conntrack_max} "
        "({max_source}). When the table is full the kernel drops the first packet of every new "
        "flow (\"nf_conntrack: table full, dropping packet\"): new connections through or to the "
        "host fail while tracked ones go on. {states_text} {pattern_text} {drops_text}",
        "{next_text} See what fills it: conntrack -L | sort by state and source; conntrack -S "
        "(drop, early_drop); compare nf_conntrack_count with nf_conntrack_max over time.",
    ),
    SocketRule(
        "listen_overflow", _counters(("ListenOverflows", "ListenDrops"), "listen_overflow"),
        "ListenDrops / ListenOverflows increase", "local host (input)", "counters",
        "The kernel counted {count} listen-queue overflows or dropped SYNs ({window}): "
        "ListenOverflows (accept queue full) and ListenDrops (SYNs to LISTEN sockets dropped). "
        "Connections were refused because an application did not accept() fast enough or a "
        "SYN flood filled the queue.",
        "Find the listener (ss -ltn: Recv-Q near Send-Q); raise its backlog and "
        "net.core.somaxconn, or fix the slow accept loop; compare with the SYN_RECEIVED counts.",
    ),
    SocketRule(
        "syn_cookies", _counters(("SyncookiesSent",), "syn_cookies"),
        "SyncookiesSent increase", "local host (input)", "counters",
        "The kernel sent {count} SYN cookies ({window}): the SYN queue of a listener overflowed "
        "and the host answered SYNs without keeping state. Caused by a SYN flood or a listen "
        "backlog too small for the connection rate.",
        "Look for the listener with SYN_RECEIVED piles; capture SYNs to see sources; size "
        "backlogs (net.ipv4.tcp_max_syn_backlog, somaxconn).",
    ),
    SocketRule(
        "retransmissions", retransmissions,
        "RetransSegs / OutSegs", "local host (input)", "counters",
        "{ratio_pct} of TCP segments sent were retransmissions ({count} of {out_segs}, {window}); "
        "{timeouts_text}",
        "Check the path for loss (mtr, interface errors, ethtool -S), congestion, or a peer that "
        "disappeared; ss -ti shows retrans per connection.",
    ),
)


def diagnose(evidence: SocketEvidence, config: Config, tables: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings (not yet deduplicated) and summary tables from socket timelines and counters
    (``tables=False``: no tables, for ``watch``, which reads only the findings)."""
    df = socket_rows.frame(evidence.events, evidence.created)
    tl = evidence.timelines.assign(stuck=stuck_mask(evidence.timelines, config))
    ctx = Context(df=df, timelines=tl, counters=evidence.counters, config=config)
    parts = [explain(p, rule.explanation, rule.next_step).assign(measure="peak")
             for rule in RULES if len(p := rule.find(ctx, rule.category))]
    found = findings.to_frame(pd.concat(parts, ignore_index=True) if parts else [])
    return found, summary_tables(df, tl, evidence.counters, config) if tables else {}
