"""``watch`` on real loopback sockets: piles form, their findings start within two intervals
and end once the pile clears (window of 2 samples, 0.2 s intervals)."""

from __future__ import annotations

import socket
import struct
import time

from tcpforensics.config import Config
from tcpforensics.live import Options, watch
from tests.live.conftest import Scenario, linux_only, listener, port_range

pytestmark = linux_only


def run(scenario: Scenario, count: int, **thresholds: float) -> int:
    options = Options(interval=0.2, count=count, window=2, config=Config(thresholds=dict(thresholds)).validate())
    return watch(options, scenario)


def test_close_wait_pile_starts_and_ends() -> None:
    """A server that never closes the connections its clients closed: CLOSE_WAIT."""
    srv = listener()
    held: list[socket.socket] = []

    def pile() -> None:
        clients = [socket.create_connection(srv.getsockname()) for _ in range(25)]
        held.extend(srv.accept()[0] for _ in clients)
        for c in clients:
            c.close()

    def clear() -> None:
        for s in held:
            s.close()

    scenario = Scenario({1: pile, 4: clear})
    try:
        assert run(scenario, 9) == 0
    finally:
        clear()
        srv.close()
    starts, ends = scenario.seqs("start", "close_wait_leak"), scenario.seqs("end", "close_wait_leak")
    assert starts and starts[0] <= 1 + 2
    assert ends and 4 < ends[0] <= 4 + 3
    first = next(e for e in scenario.events if e["event"] == "start" and e["category"] == "close_wait_leak")
    assert first["count"] >= 25 and "[" in first["subject"]  # owner: process[pid] from /proc/*/fd


def _reuse_and_reset(srv: socket.socket, ports: list[int]) -> None:
    """Clear TIME_WAIT sockets before their 60 s: bind each port again (both sockets with
    SO_REUSEADDR) and connect to the same server (tcp_tw_reuse, on for loopback by default,
    lets the new connection take over the TIME_WAIT one), then close it with a reset, which
    leaves no TIME_WAIT behind."""
    for port in ports:
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            c.bind(("127.0.0.1", port))
            c.connect(srv.getsockname())
            srv.accept()[0].close()
        except OSError:
            pass
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def test_time_wait_pile_starts_and_ends() -> None:
    """Many short connections: TIME_WAIT on the client side, against the ephemeral range."""
    srv = listener()
    lo, hi = port_range()
    ports: list[int] = []

    def pile() -> None:
        for _ in range(60):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # so the port can be bound again
            c.connect(srv.getsockname())
            ports.append(c.getsockname()[1])
            s = srv.accept()[0]
            c.close()  # the client closes first: its socket waits in TIME_WAIT
            s.close()

    def clear() -> None:
        time.sleep(max(0.0, 1.1 - (time.monotonic() - made[0])))  # tw_reuse needs 1 s to pass
        _reuse_and_reset(srv, ports)

    made = [0.0]
    scenario = Scenario({1: lambda: (pile(), made.__setitem__(0, time.monotonic())), 3: clear})
    try:
        assert run(scenario, 8, time_wait_fraction_low=0.001, ephemeral_port_low=lo, ephemeral_port_high=hi) == 0
    finally:
        srv.close()
    starts, ends = scenario.seqs("start", "time_wait_exhaustion"), scenario.seqs("end", "time_wait_exhaustion")
    assert starts and starts[0] <= 1 + 2
    assert ends and 3 < ends[0] <= 3 + 3


def test_listen_queue_overflow_starts_and_ends() -> None:
    """A listener with backlog 1 that never accepts, flooded with connects: its accept queue
    fills and the kernel counts ListenOverflows."""
    srv = listener(backlog=1)
    clients: list[socket.socket] = []

    def flood() -> None:
        for _ in range(10):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(srv.getsockname())
            clients.append(c)

    def clear() -> None:
        for c in clients:
            c.close()
        clients.clear()
        srv.close()

    scenario = Scenario({1: flood, 2: flood, 3: flood, 4: flood, 5: clear})
    try:
        assert run(scenario, 10) == 0
    finally:
        clear()
    starts, ends = scenario.seqs("start", "listen_overflow"), scenario.seqs("end", "listen_overflow")
    assert starts and starts[0] <= 1 + 2
    assert ends and 5 < ends[0] <= 5 + 3
    port = str(srv.getsockname()[1]) if srv.fileno() != -1 else None
    queues = [q for e in scenario.intervals() for q in e["listeners"] if port is None or q["listener"].endswith(":" + port)]
    assert any(q["accept_queue"] >= 1 for q in queues)  # the full accept queue shows in the view
