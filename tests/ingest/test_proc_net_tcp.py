"""/proc/net/tcp(6) ingestor: jc oracle, mixed tcp/udp fixture, hex decoding, detection."""

from __future__ import annotations

import ipaddress
import json
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import proc_net_tcp, ss
from tcpforensics.ingest.parsing import vocab
from tests.conftest import FIXTURES, corpus_path

LINUX = FIXTURES / "linux"


def _ingest(path):
    r = ingest(str(path))
    assert r.format == "proc_net_tcp", r.meta["detection_scores"]
    assert r.accounting["unaccounted"] == 0, r.accounting
    return r


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["net_tcp", "net_tcp6"])
def test_proc_agrees_with_jc(name: str) -> None:
    path = corpus_path("text", "jc", "linux-proc", name)
    jc_rows = json.loads(path.with_name(name + ".json").read_text())
    ev = _ingest(path).events
    assert len(ev) == len(jc_rows)
    for j, (_, e) in zip(jc_rows, ev.iterrows(), strict=True):
        assert (e["src_addr"], e["src_port"]) == (j["local_address"], j["local_port"])
        assert (e["dst_addr"], e["dst_port"]) == (j["remote_address"], j["remote_port"])
        assert e["raw_state"] == j["state"]
        assert e["state"] == vocab.PROC_STATES[int(j["state"], 16)]
        assert (e["send_q"], e["recv_q"]) == (int(j["tx_queue"], 16), int(j["rx_queue"], 16))
        assert (e["user"], e["inode"]) == (str(j["uid"]), j["inode"])
        assert e["family"] == ("ipv6" if name == "net_tcp6" else "ipv4")
        # timer: what `netstat -o` prints from the same fields (jc gives them raw)
        kind = proc_net_tcp.TIMERS[j["timer_active"]]
        secs = int(j["jiffies_until_timer_expires"], 16) / proc_net_tcp.USER_HZ
        retr = int(j["unrecovered_rto_timeouts"], 16)
        assert e["timer"] == f"{kind} ({secs:.2f}/{retr}/{j['unanswered_0_window_probes']})"


def test_mixed_tcp_udp_fixture() -> None:
    r = _ingest(LINUX / "proc-tcp-udp-mixed.txt")
    ev = r.events.set_index("line")
    assert list(ev.index) == [3, 4, 5, 8, 9]
    assert (ev.loc[3, "src_addr"], ev.loc[3, "src_port"], ev.loc[3, "state"]) == ("127.0.0.1", 8080, "LISTEN")
    assert (ev.loc[3, "recv_q"], ev.loc[3, "user"], ev.loc[3, "inode"]) == (3, "1000", 4242)
    assert (ev.loc[4, "state"], ev.loc[4, "raw_state"], ev.loc[4, "dst_port"]) == ("SYN_RECEIVED", "03", 50000)
    assert ev.loc[4, "timer"] == "on (1.00/2/0)"
    assert (ev.loc[5, "src_addr"], ev.loc[5, "dst_addr"], ev.loc[5, "send_q"]) == ("10.0.2.15", "10.0.2.2", 36)
    assert ev.loc[5, "timer"] == "on (0.20/0/0)"
    # rows under the udp header (ends in 'drops'): no TCP state, raw st kept
    assert list(ev.loc[[8, 9], "proto"]) == ["udp", "udp"]
    assert ev.loc[[8, 9], "state"].isna().all() and list(ev.loc[[8, 9], "raw_state"]) == ["07", "01"]
    assert (ev.loc[8, "src_addr"], ev.loc[8, "src_port"]) == ("127.0.0.53", 53)
    assert r.accounting["structural"] == {"command": 1, "header": 2, "blank": 1}
    assert r.accounting["skipped"] == {"unparseable line": 1}


def test_recorded_tcp_and_tcp6_concatenated() -> None:
    ev = _ingest(LINUX / "proc-real-tcp-tcp6.txt").events
    v6 = ev[ev["family"] == "ipv6"]
    assert set(v6["src_addr"]) == {"::", "::1", "::ffff:127.0.0.1"}
    assert set(ev["state"]) == {"LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_2", "TIME_WAIT"}
    assert ev.loc[ev["state"] == "TIME_WAIT", "timer"].str.startswith("timewait (").all()


def test_hex_decoding_matches_the_kernel_format() -> None:
    """Property: addresses/ports printed the kernel's way (%08X per 32-bit word of a
    little-endian load) decode back to what the ipaddress module says."""
    rng = np.random.default_rng(7)
    lines = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"]
    want = []
    for i in range(300):
        v6 = i % 2 == 1
        raw = [rng.integers(0, 256, 16 if v6 else 4, dtype=np.uint8).tobytes() for _ in range(2)]
        ports = [int(p) for p in rng.integers(0, 65536, 2)]
        st = int(rng.integers(1, 12))
        words = ["".join(f"{w:08X}" for w in struct.unpack(f"<{len(b) // 4}I", b)) for b in raw]
        lines.append(
            f"{i:4d}: {words[0]}:{ports[0]:04X} {words[1]}:{ports[1]:04X} {st:02X} "
            f"{i:08X}:{2 * i:08X} 00:00000000 00000000  {i}        0 {1000 + i} 1 0 100 0 0 10 0"
        )
        addrs = [str(ipaddress.ip_address(b)) for b in raw]
        want.append((addrs[0], ports[0], addrs[1], ports[1], vocab.PROC_STATES[st], i, 2 * i))
    r = ingest_text("\n".join(lines).encode(), "mem", "proc_net_tcp")
    got = r.events[["src_addr", "src_port", "dst_addr", "dst_port", "state", "send_q", "recv_q"]]
    assert [tuple(x) for x in got.astype(object).to_numpy()] == want


def test_detect() -> None:
    for p in sorted(LINUX.glob("proc-*.txt")):
        assert proc_net_tcp.detect(to_lines(p.read_bytes(), str(p))) >= 0.9, p
    for p in sorted(LINUX.glob("ss-*.txt")) + sorted(LINUX.glob("netstat-*.txt")):
        assert proc_net_tcp.detect(to_lines(p.read_bytes(), str(p))) < 0.2, p
    headerless = "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n"
    assert proc_net_tcp.detect(to_lines(headerless.encode(), "mem")) >= 0.8
    assert ss.detect(to_lines(headerless.encode(), "mem")) < 0.2


def test_garbage_only_rows_are_skipped() -> None:
    data = b"  sl  local_address rem_address   st tx_queue rx_queue\n   0: ZZZZ:0016 nonsense\n"
    r = ingest_text(data, "mem", "proc_net_tcp")
    assert len(r.events) == 0 and r.accounting["skipped"] == {"unparseable line": 1}
    assert isinstance(r.events, pd.DataFrame) and r.accounting["unaccounted"] == 0




@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(list("0123456789ABCDEFabcdef :-\t\u00e9")), max_size=80),
    st.sampled_from([
        "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0",
        "   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
        "   2: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 01 0:0 0:0 0 0 0 0",
    ])), min_size=1, max_size=10))
def test_any_lines_parse_without_error(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "proc_net_tcp")
    assert r.accounting["unaccounted"] == 0
