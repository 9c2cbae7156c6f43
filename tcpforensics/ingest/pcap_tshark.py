"""The tshark engine: the same packet event table through pyshark (tshark's JSON output).

It is the reference for the native engine (the differential test compares both), not the
fast path: pyshark yields one packet object at a time, so this module necessarily loops per
packet. tshark is asked not to reassemble IP fragments or TCP streams and to verify TCP
checksums, so that frames and fields mean what the native engine's mean.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import shutil
import signal
import threading
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.capture import headers as h
from tcpforensics.errors import InputError
from tcpforensics.ingest.base import Ingested

PREFS = {
    "tcp.relative_sequence_numbers": "FALSE",  # absolute seq/ack
    "tcp.analyze_sequence_numbers": "FALSE",  # no TCP analysis (memory, speed)
    "tcp.desegment_tcp_streams": "FALSE",  # every segment stays in its own frame
    "tcp.check_checksum": "TRUE",  # checksum status good/bad/unverified
    "ip.defragment": "FALSE",  # first fragments keep their TCP header, as in the native engine
    "ipv6.defragment": "FALSE",
}
#: Only these protocols' trees are written by tshark (-J): less JSON to parse.
JSON_PROTOCOLS = "frame ip ipv6 tcp udp icmp icmpv6 arp"
NAT = np.iinfo(np.int64).min
_CHECKSUM = {"1": 0, "0": 1}  # tshark: 1 good, 0 bad, anything else unverified (2)
_NON_TCP = ("udp", "icmp", "icmpv6", "arp", "igmp", "sctp", "esp", "gre")


def available() -> bool:
    """True when tshark and pyshark can be used."""
    try:
        import pyshark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tshark") is not None


def ingest(source: str, max_packets: int | None = None, **_: object) -> Ingested:
    """Read ``source`` with tshark (through pyshark) into the packet event table."""
    if not available():
        raise InputError(source, "--engine tshark needs tshark (Wireshark) and pyshark installed; use --engine native")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if threading.current_thread() is threading.main_thread():
            return _ingest(source, max_packets)
        return _in_new_loop(source, max_packets)  # a worker thread has no loop of its own
    # pyshark runs its own event loop, which cannot run inside a running one (Jupyter):
    # read in a worker thread that has no loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_in_new_loop, source, max_packets).result()


def _in_new_loop(source: str, max_packets: int | None) -> Ingested:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return _ingest(source, max_packets)


def _ingest(source: str, max_packets: int | None) -> Ingested:
    from pyshark.capture.capture import TSharkCrashException

    cap, stderr = _open(source, max_packets)
    rows: list[tuple] = []
    outcome: Counter = Counter()
    skipped: list[tuple[int, str]] = []
    packets = 0
    error: Exception | None = None
    with _noting_ctrl_c() as interrupted:
        try:
            for pkt in cap:
                packets += 1
                kind, row = _row(pkt)
                outcome[kind] += 1
                if row is not None:
                    rows.append(row)
                elif kind == "fragment":
                    skipped.append((int(pkt.frame_info._all_fields["frame.number"]), kind))
        except KeyboardInterrupt:
            interrupted.append(signal.SIGINT)
        except Exception as e:  # noqa: BLE001 - judged below, once tshark is stopped
            error = e
        failed = _close(cap)
    # Ctrl-C: raised in the loop, turned by asyncio into a RuntimeError inside one of pyshark's
    # tasks, or swallowed by _close while tshark was being stopped.
    if interrupted:
        raise KeyboardInterrupt
    if isinstance(error, TSharkCrashException):
        # tshark exited with an error and pyshark noticed before close (a race with its
        # exit): the packets it wrote are kept, like the same error reported by close.
        failed = str(error).splitlines()[0]
    elif error is not None:  # tshark failing on a file: one line, like any unusable input
        raise InputError(source, f"tshark could not read it ({stderr.message() or f'{type(error).__name__}: {error}'})")
    stopped = None
    if failed:
        reason = stderr.message() or failed
        if not packets:
            raise InputError(source, f"tshark could not read it ({reason})")
        stopped = {"after_frame": packets, "reason": f"tshark stopped: {reason}", "where": "tshark"}
    events = _table(rows, source)
    return Ingested(input=source, format="pcap", events=events, skipped=_skipped(source, skipped),
                    accounting=_accounting(packets, len(events), outcome, stopped), meta={})


def _open(source: str, max_packets: int | None) -> tuple[object, _Stderr]:
    """A pyshark capture of ``source`` (at most ``max_packets``), and the handler that keeps
    tshark's stderr."""
    import pyshark

    params = ["-J", JSON_PROTOCOLS]
    if max_packets is not None:
        params += ["-c", str(max_packets)]
    cap = pyshark.FileCapture(source, use_json=True, keep_packets=False, override_prefs=PREFS,
                              custom_parameters=params)
    # pyshark runs `tshark -v` for every capture (~0.3 s); ask once per process instead.
    cap._Capture__tshark_version = _version()
    stderr = _Stderr()  # tshark's stderr reaches pyshark's (debug) logger: keep it for messages
    cap._log.addHandler(stderr)
    cap._log.setLevel(logging.DEBUG)
    cap.eventloop.set_exception_handler(lambda loop, context: None)  # its leftover tasks: not ours
    return cap, stderr


def _accounting(packets: int, events: int, outcome: Counter, stopped: dict | None) -> dict:
    """The accounting of a capture read by tshark: ``packets`` read, ``events`` made, the
    others by kind (``outcome``)."""
    non_tcp = {k: v for k, v in outcome.items() if k not in ("tcp", "fragment")}
    return {
        "records_read": packets,
        "unit": "packet",
        "events": events,
        "non_tcp": non_tcp,
        "structural": {},
        "skipped": {"fragment": outcome["fragment"]} if outcome["fragment"] else {},
        "unaccounted": packets - events - sum(non_tcp.values()) - outcome["fragment"],
        "engine": "tshark",
        "stopped": stopped,
    }


def _skipped(source: str, skipped: list[tuple[int, str]]) -> pd.DataFrame:
    """The skipped-rows table of the (frame, reason) pairs: IP fragments after the first."""
    sk = pd.DataFrame({"input": source, "line": [f for f, _ in skipped], "reason": [r for _, r in skipped],
                       "text": "IP fragment after the first: carries no TCP header"})
    return sk[list(schema.SKIP_COLUMNS)].astype(schema.SKIP_COLUMNS) if len(sk) else schema.empty_skipped()


class _Stderr(logging.Handler):
    """Collects the lines pyshark logs, among them tshark's stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def message(self) -> str:
        """tshark's own error lines ("tshark: ..." and its parenthesised detail), joined."""
        keep = [ln for ln in self.lines if ln.startswith("tshark:") or (ln.startswith("(") and ln.endswith(")"))]
        return " ".join(keep)[:300]


def _close(cap: object) -> str | None:
    """Stop tshark and pyshark's tasks quietly; tshark's failure as text, or None."""
    failed = None
    try:
        cap.close()
    except Exception as e:  # noqa: BLE001 - TSharkCrashException: tshark exited with an error
        failed = str(e).splitlines()[0]
    except KeyboardInterrupt:
        pass
    for proc in list(cap._running_processes):  # still running (interrupted): no orphan tshark
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    cap._running_processes.clear()  # so pyshark's __del__ does not close (and raise) again
    return failed


@contextlib.contextmanager
def _noting_ctrl_c():
    """A list that gets an entry when SIGINT arrives in the block (the usual handler still runs)."""
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield seen  # SIGINT ignored, or not ours to handle here
        return

    def note(signum: int, frame: object) -> None:
        seen.append(signum)
        # pyshark's coroutine that the interrupt keeps from starting warns when freed: not ours
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


@functools.cache
def _version() -> object:
    from pyshark.tshark.tshark import get_tshark_version

    return get_tshark_version()


def _layers(pkt: object) -> tuple[list[str], dict[str, list[dict]]]:
    """Protocol names in frame order and every instance (tunnels repeat ip/ipv6) of each layer."""
    frame = pkt.frame_info._all_fields
    protocols = frame["frame.protocols"].split(":")
    found: dict[str, list[dict]] = {}
    for layer in pkt.layers:
        found[layer.layer_name] = [layer._all_fields] + [d._all_fields for d in layer.duplicate_layers]
    return protocols, found


def _row(pkt: object) -> tuple[str, tuple | None]:
    """(outcome, event row or None) of one pyshark packet; values copied to plain str/int."""
    protocols, found = _layers(pkt)
    if "tcp" not in protocols or "tcp" not in found:
        for ipname in ("ip",):
            for ip in found.get(ipname, []):
                if int(str(ip.get("ip.frag_offset", "0"))) > 0:
                    return "fragment", None
        for name in reversed(protocols):  # the innermost protocol we count by name
            if name in _NON_TCP:
                return name, None
        return ("other ip" if "ip" in protocols or "ipv6" in protocols else "other link"), None
    before = protocols[: protocols.index("tcp")]
    ips = [p for p in before if p in ("ip", "ipv6")]
    inner = ips[-1]
    ip = found[inner][ips.count(inner) - 1]
    tcp = found["tcp"][0]
    frame = pkt.frame_info._all_fields
    opts = tcp.get("tcp.options_tree") or {}
    wscale_tree = opts.get("tcp.options.wscale_tree") or {}
    shift = wscale_tree.get("tcp.options.wscale.shift") if isinstance(wscale_tree, dict) else None
    v6 = inner == "ipv6"
    if v6:
        frag = ip.get("ipv6.fraghdr") or (found.get("ipv6.fraghdr") or [{}])[-1]
        ip_id = frag.get("ipv6.fraghdr.ident") if isinstance(frag, dict) else None
    else:
        ip_id = ip.get("ip.id")
    row = (
        _ns(str(frame.get("frame.time_epoch", ""))),
        int(str(frame["frame.number"])),
        int(str(frame.get("frame.interface_id", "0"))),
        int(str(frame["frame.cap_len"])),
        int(str(frame["frame.len"])),
        "ipv6" if v6 else "ipv4",
        str(ip["ipv6.src" if v6 else "ip.src"]),
        str(ip["ipv6.dst" if v6 else "ip.dst"]),
        int(str(tcp["tcp.srcport"])),
        int(str(tcp["tcp.dstport"])),
        int(str(tcp["tcp.flags"]), 16) & h.TH_FLAGS_MASK,
        int(str(tcp["tcp.seq_raw"])),
        int(str(tcp["tcp.ack_raw"])),
        _payload_len(tcp, ip, v6),
        int(str(tcp["tcp.window_size_value"])),
        min(int(str(shift)), h.TCP_MAX_WSCALE) if shift is not None else None,
        "tcp.options.mss" in opts,
        "tcp.options.sack_perm" in opts,
        "tcp.options.timestamp" in opts,
        int(str(ip["ipv6.hlim" if v6 else "ip.ttl"])),
        int(str(ip_id), 0) if ip_id is not None else None,
        _CHECKSUM.get(str(tcp.get("tcp.checksum.status", "2")), 2),
        len(ips) - 1,
    )
    return "tcp", row


def _payload_len(tcp: dict, ip: dict, v6: bool) -> int:
    """tcp.len; tshark leaves it out for a first IP fragment: IP payload minus TCP header then."""
    if "tcp.len" in tcp:
        return int(str(tcp["tcp.len"]))
    hdr = int(str(tcp["tcp.hdr_len"]))
    if v6:
        return int(str(ip["ipv6.plen"])) - hdr
    return int(str(ip["ip.len"])) - int(str(ip["ip.hdr_len"])) - hdr


def _ns(epoch: str) -> int:
    if not epoch:
        return NAT
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


_COLUMNS = ("ts", "frame", "iface", "caplen", "wirelen", "family", "src_addr", "dst_addr", "src_port",
            "dst_port", "flags", "seq", "ack", "payload_len", "window", "wscale", "opt_mss",
            "opt_sack_perm", "opt_ts", "ttl", "ip_id", "checksum", "tunnel_depth")


def _table(rows: list[tuple], source: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(_COLUMNS))
    n = len(df)
    df["ts"] = np.asarray(df["ts"], dtype=np.int64).view("datetime64[ns]") if n else pd.Series(dtype="datetime64[ns]")
    df["checksum"] = pd.Categorical.from_codes(df["checksum"].astype(np.int8), dtype=schema.CHECKSUM_DTYPE)
    df = df.assign(input=source, kind="packet", proto="tcp")
    return schema.conform(df, "packet")
