"""Texts of socket findings (what a state means, likely causes, next step) and row finishing."""

from __future__ import annotations

import numpy as np
import pandas as pd

# --- texts: what each state means, its likely causes, what to do ---------------------------
TEXT: dict[str, tuple[str, str]] = {
    "syn_flood": (
        "{count} half-open connections (SYN_RECEIVED) on listener {subject}: the host answered SYNs "
        "with SYN-ACK and never got the final ACK. Each entry lives about 63 s on Linux "
        "(tcp_synack_retries=5). {pattern_text}",
        "Check /proc/net/netstat TcpExt SyncookiesSent, ListenOverflows, ListenDrops "
        "(nstat -az) and net.ipv4.tcp_syncookies; capture SYNs on the port "
        "(tcpdump 'tcp[tcpflags] == tcp-syn and dst port {port}') to see sources and rates; "
        "rate-limit or filter upstream.",
    ),
    "syn_sent_pile": (
        "{count} outgoing connection attempts in SYN_SENT held by {subject}: SYNs sent and not "
        "answered (each is retried for about 127 s, tcp_syn_retries=6). {pattern_text}",
        "{next_text}",
    ),
    "close_wait_leak": (
        "{count} sockets in CLOSE_WAIT held by {subject}: the peer closed its side (FIN received) "
        "and the application has not called close(). The kernel never times CLOSE_WAIT out, so "
        "this is almost always an application bug (a connection or file-descriptor leak, a "
        "blocked worker, a pool that never releases dead connections).",
        "Find the code path that reads EOF without closing: lsof -p PID, thread dumps of the "
        "process; restart relieves it but the leak comes back.",
    ),
    "fin_wait_2_pile": (
        "{count} sockets in FIN_WAIT_2 on {subject}: this side closed, the peer acknowledged but "
        "never sent its own FIN. Orphaned FIN_WAIT_2 sockets expire after tcp_fin_timeout "
        "(60 s); a pile means peers that keep connections half-open (often a CLOSE_WAIT leak on "
        "the peer) or middleboxes that dropped the connection.",
        "Look at the peers in the details ({top_remote}): check them for CLOSE_WAIT; consider "
        "net.ipv4.tcp_fin_timeout.",
    ),
    "last_ack_pile": (
        "{count} sockets in LAST_ACK on {subject}: both sides sent FIN and this side is waiting "
        "for the final ACK. A pile means peers that vanished after their FIN (NAT or firewall "
        "state expired, clients that reset or lost connectivity) or heavy packet loss.",
        "Check reachability of the peers in the details ({top_remote}) and packet loss on the path.",
    ),
    "stuck_socket": (
        "{count} sockets held by {subject} stayed in the same closing state across snapshots "
        "longer than the kernel would keep them ({states_text}).",
        "Compare with the state's timer (docs/states.md); CLOSE_WAIT that persists is the "
        "application's, FIN_WAIT_2/LAST_ACK that persist point at the peer or the path.",
    ),
    "time_wait_exhaustion": (
        "{count} TIME_WAIT sockets from {local_addr} to {subject} use {fraction_pct} of the "
        "{range_size} ephemeral ports ({port_range}). Each (local address, remote address:port) "
        "tuple can hold at most that many connections; TIME_WAIT keeps a port for 60 s on Linux, "
        "so many short outgoing connections to one service run out of ports (connect() fails "
        "with EADDRNOTAVAIL).",
        "Reuse connections (keep-alive, pooling), widen net.ipv4.ip_local_port_range, enable "
        "net.ipv4.tcp_tw_reuse for outgoing connections, or spread over more source addresses.",
    ),
    "remote_connection_pile": (
        "Remote host {subject} holds {count} ESTABLISHED connections ({distinct_local_ports} local "
        "ports). One client with that many connections is a connection-pool misconfiguration, a "
        "client leak, a proxy/NAT gateway, or a slow-connection attack (Slowloris-style).",
        "Identify the remote (proxy, NAT, scanner?) and what it sends; apply a per-client "
        "connection limit if it is not legitimate.",
    ),
    "unexpected_listener": (
        "Listener {subject} ({process}) is not in the expected-listener allow-list. A listening "
        "port nobody expects may be a forgotten service, a debug port, or a backdoor.",
        "Identify the owning process (ss -ltnp, lsof -i :{port}), its binary and how it started; "
        "add it to expected_listeners if legitimate.",
    ),
    "listen_overflow": (
        "The kernel counted {count} listen-queue overflows or dropped SYNs ({window}): "
        "ListenOverflows (accept queue full) and ListenDrops (SYNs to LISTEN sockets dropped). "
        "Connections were refused because an application did not accept() fast enough or a "
        "SYN flood filled the queue.",
        "Find the listener (ss -ltn: Recv-Q near Send-Q); raise its backlog and "
        "net.core.somaxconn, or fix the slow accept loop; compare with the SYN_RECEIVED counts.",
    ),
    "syn_cookies": (
        "The kernel sent {count} SYN cookies ({window}): the SYN queue of a listener overflowed "
        "and the host answered SYNs without keeping state. Caused by a SYN flood or a listen "
        "backlog too small for the connection rate.",
        "Look for the listener with SYN_RECEIVED piles; capture SYNs to see sources; size "
        "backlogs (net.ipv4.tcp_max_syn_backlog, somaxconn).",
    ),
    "retransmissions": (
        "{ratio_pct} of TCP segments sent were retransmissions ({count} of {out_segs}, {window}); "
        "{timeouts_text}",
        "Check the path for loss (mtr, interface errors, ethtool -S), congestion, or a peer that "
        "disappeared; ss -ti shows retrans per connection.",
    ),
}


def finish(out: pd.DataFrame, detail_cols: list[str]) -> pd.DataFrame:
    """Finding rows: details dict from the named columns, texts filled from the row."""
    out = out.reset_index(drop=True)
    if "evidence_total" in out:
        detail_cols = detail_cols + ["evidence_total"]
    cols = [c for c in detail_cols if c in out.columns]
    recs = out[cols].astype(object).where(out[cols].notna(), None).to_dict("records") if cols else [{}] * len(out)
    out["details"] = [{k: plain(v) for k, v in r.items() if v is not None} | {"input": i}
                      for r, i in zip(recs, out["input"], strict=True)]
    expl, nxt = TEXT[out["category"].iloc[0]] if len(out) else ("", "")
    fields = out.astype(object).where(out.notna(), "").to_dict("records")
    out["explanation"] = [expl.format_map(Missing(f)) for f in fields]
    out["next_step"] = [nxt.format_map(Missing(f)) for f in fields]
    return out


class Missing(dict):
    """format_map mapping that prints '?' for a field a row lacks."""

    def __missing__(self, key: str) -> str:
        return "?"


def plain(v: object) -> object:
    """numpy scalars (also inside dicts and lists) as Python values, for JSON reports."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain(x) for x in v]
    return v
