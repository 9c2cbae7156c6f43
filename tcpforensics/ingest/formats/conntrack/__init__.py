"""Linux connection tracking: ``conntrack -L`` / ``-E``, ``/proc/net/nf_conntrack``, ``conntrack -S`` / ``-C``.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, reply_src_addr, reply_src_port, reply_dst_addr, reply_dst_port, ct_status,
ct_timeout, ct_mark, ct_zone, ct_event, ct_id, ts (``-E -o timestamp``); and the counter table
(group ``Conntrack``) for ``conntrack -S``, ``conntrack -C`` and ``nf_conntrack_count`` /
``nf_conntrack_max`` sysctl lines.

Usage::

    conntrack -L > conntrack.txt                      # or -L -o extended,id,ktimestamp
    cat /proc/net/nf_conntrack > conntrack.txt
    timeout 60 conntrack -E -o timestamp > events.txt
    { conntrack -L; conntrack -S; conntrack -C; sysctl net.netfilter.nf_conntrack_max; } > ct.txt
    tcpforensics analyze ct.txt

Example::

    tcp      6 118 SYN_SENT src=10.0.0.5 dst=10.0.0.9 sport=38324 dport=9999 [UNREPLIED] src=10.0.0.9 dst=10.0.0.5 sport=9999 dport=38324 mark=0 use=1
    ipv4     2 tcp      6 431998 ESTABLISHED src=10.0.0.5 dst=192.0.2.1 sport=53806 dport=8080 src=10.1.1.7 dst=10.0.0.5 sport=8081 dport=53806 [ASSURED] mark=0 zone=0 use=2
    [1796663326.766791]	[DESTROY] tcp      6 120 CLOSE src=::1 dst=::1 sport=46216 dport=7 [UNREPLIED] src=::1 dst=::1 sport=7 dport=46216
    net.netfilter.nf_conntrack_max = 262144

    line 1: tcp ipv4 10.0.0.5:38324 -> 10.0.0.9:9999, state SYN_SENT, ct_status UNREPLIED,
            ct_timeout 118, reply 10.0.0.9:9999 -> 10.0.0.5:38324, ct_mark 0
    line 2: tcp ipv4 10.0.0.5:53806 -> 192.0.2.1:8080, state ESTABLISHED, ct_status ASSURED,
            reply 10.1.1.7:8081 -> 10.0.0.5:53806 (destination NAT: the reply does not come
            from the original destination), ct_zone 0
    line 3: tcp ipv6 ::1:46216 -> ::1:7, state CLOSED (raw_state CLOSE), ct_event DESTROY,
            ts 2026-12-07 17:08:46.766791 (UTC)
    line 4: counter Conntrack max = 262144

One row is one conntrack entry (``-L``, ``/proc/net/nf_conntrack``) or one event (``-E``):
``src``/``dst`` are the original direction (who opened the flow, as the firewall saw its first
packet), ``reply_*`` the reply direction as conntrack expects it. Without NAT the reply is the
original tuple swapped; a reply source that is not the original destination is destination NAT
(DNAT, port forwarding, a load balancer), a reply destination that is not the original source
is source NAT (masquerade). The firewall may track flows that do not end on this host
(forwarded traffic): ``src`` is not necessarily a local address.

Decisions (tested):

* States: conntrack's TCP states map to the common vocabulary (``STATES``, ``raw_state`` keeps
  the word): ``SYN_SENT2`` (simultaneous open) -> SYN_SENT, ``FIN_WAIT`` (one FIN seen) ->
  FIN_WAIT_1, ``CLOSE`` (after a RST, or the last ACK seen) -> CLOSED, ``LISTEN`` (the old name
  of SYN_SENT2, kernels before 2.6.31) -> SYN_SENT, ``NONE`` -> UNKNOWN. Protocols without a
  state (udp, icmp, gre, ...) have ``state`` NA; only tcp and udp rows are kept, the others are
  skipped as ``non-TCP/UDP entry: PROTO`` (they have no ports).
* ``ct_status`` is the bracketed flags as printed, in order, space-joined (``UNREPLIED``,
  ``ASSURED``, ``OFFLOAD``, ``HW_OFFLOAD``); ``ct_timeout`` the seconds left (NA on
  ``[DESTROY]`` lines that print none); ``ct_mark``, ``ct_zone`` and ``ct_id`` (``-o id``) as
  printed; ``ct_event`` NEW/UPDATE/DESTROY on ``-E`` lines.
* ``/proc/net/nf_conntrack`` prints IPv6 addresses uncompressed
  (``0000:...:0001``): they are compressed (``::1``) as conntrack prints them.
* ``-E -o timestamp``'s ``[seconds.micro]`` becomes ``ts`` (UTC); ``-o ktimestamp``'s
  ``[start=...]`` is the flow's start and is not kept.
* ``conntrack -S``: the per-CPU lines of one listing are summed into one reading of counters
  (``found``, ``invalid``, ``insert_failed``, ``drop``, ``early_drop``, ...; the first CPU's line
  carries it, the others are structural ``conntrack -S cpu line``). ``conntrack -C`` (a lone
  number) is counter ``count``; ``net.netfilter.nf_conntrack_count`` / ``_max`` / ``_buckets``
  lines (sysctl or ``name = value``) are ``count`` / ``max`` / ``buckets``: the table-fill
  finding reads them.
* conntrack's closing line (``conntrack v1.4.7 (conntrack-tools): 24 flow entries have been
  shown.``), blank lines and shell prompts are structural; anything else is skipped as
  ``unparseable line``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.formats.conntrack import entries
from tcpforensics.ingest.parsing import columns as cols

NAME = "conntrack"
KIND = "text"
DESCRIPTION = "Linux conntrack: `conntrack -L` (`-o extended,id,ktimestamp`), `-E` events, `/proc/net/nf_conntrack`, `-S`, `-C`"
SAVE_WITH = "conntrack -L > conntrack.txt"
FIXTURES = ("linux/conntrack/*.txt",)
ORDER = 55

_PROMPT = r"^[ \t]*(?:\[[^\]]*\]|[\w.@:~/-]*)[ \t]?[$#%>][ \t]"

# Ordered line-kind rules (first match wins): (kind, RE2 pattern).
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("entry", entries.ENTRY),
    ("cpu", entries.CPU),
    ("sysctl", entries.SYSCTL),
    ("count", r"^[ \t]*[0-9]{1,18}[ \t]*$"),
    ("summary", r"^conntrack v[0-9.]+ \(conntrack-tools\): "),
    ("command", _PROMPT),
)


def detect(lines: Lines) -> float:
    """High on conntrack entries (``src= dst= ... src= dst=``) and ``conntrack -S`` cpu lines;
    ``nf_conntrack_*`` sysctl lines alone score by their share of the lines."""
    found = cols.sample(lines.text, 4000)
    if found is None:
        return 0.0
    arr, nonblank = found
    listed = cols.matches(arr, entries.ENTRY) | cols.matches(arr, entries.CPU)
    hits = listed | cols.matches(arr, entries.SYSCTL)
    if not hits.any():
        return 0.0
    share = float(hits[nonblank].mean())
    if not listed.any():  # sysctl lines only: a whole ``sysctl -a`` is not a conntrack dump
        return round(0.1 + 0.8 * share, 3)
    return round(min(1.0, 0.6 + 0.48 * share), 3)


def parse(lines: Lines) -> Parsed:
    """Entries and events become socket rows, counter lines the counter table, the rest is
    structural or skipped."""
    text = lines.text
    arr = cols.clean_lines(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    rows, is_entry, reasons = entries.rows(arr)
    names = np.array([name for name, _ in _KIND_RULES] + ["other"], dtype=object)
    kind = names[cols.first_match(arr, [is_entry if name == "entry" else pattern for name, pattern in _KIND_RULES])]

    entry_pos = np.flatnonzero(kind == "entry")
    keep = reasons == ""
    rows = rows[keep].reset_index(drop=True)
    rows.insert(0, "line", line_no[entry_pos[keep]])

    has_counters = bool(np.isin(kind, ["cpu", "sysctl", "count"]).any())
    counters, extra_cpu = entries.counters(arr, kind, line_no, lines.frame, lines.input) if has_counters else (None, 0)
    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    for k in ("entry", "other", "cpu", "sysctl", "count"):
        structural.pop(k, None)
    if extra_cpu:
        structural["conntrack -S cpu line"] = extra_cpu
    structural = Counter({k: v for k, v in structural.items() if v})

    bad_entry = entry_pos[~keep]
    other = np.flatnonzero(kind == "other")
    skip_pos = np.concatenate([bad_entry, other])
    skip_reason = np.concatenate([reasons[~keep], np.full(len(other), "unparseable line", dtype=object)])
    order = np.argsort(skip_pos, kind="stable")
    skip_pos, skip_reason = skip_pos[order], skip_reason[order]
    skipped = skipped_frame([int(x) for x in line_no[skip_pos]], [str(r) for r in skip_reason],
                            arr.take(pa.array(skip_pos, type=pa.int64())).to_pylist())
    meta = {"counters": counters} if counters is not None and len(counters) else {}
    return Parsed(rows=rows if len(rows) else pd.DataFrame({"line": pd.Series(dtype="Int64")}),
                  skipped=skipped, structural=structural, meta=meta)
