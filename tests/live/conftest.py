"""Helpers of the live tests: real sockets on loopback and a sink that records what ``watch``
reported and acts on the host between intervals (a scenario)."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tcpforensics.live.summary import Summary
from tcpforensics.live.view import JsonLines

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "linux"

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watch samples Linux /proc")


class Scenario(JsonLines):
    """Records the JSON lines of a session and runs ``actions[seq]`` after interval ``seq``."""

    def __init__(self, actions: dict[int, Callable[[], None]] | None = None) -> None:
        self.lines: list[str] = []
        super().__init__(self.lines.append)
        self.actions = actions or {}

    def show(self, summary: Summary, changes, active) -> None:  # noqa: ANN001
        super().show(summary, changes, active)
        if (act := self.actions.get(summary.seq)) is not None:
            act()

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def seqs(self, event: str, category: str) -> list[int]:
        """Intervals at which a finding of ``category`` had this event."""
        return [e["seq"] for e in self.events if e["event"] == event and e.get("category") == category]

    def intervals(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "interval"]


def listener(backlog: int = 128) -> socket.socket:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)
    return srv


def port_range() -> tuple[int, int]:
    lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(lo), int(hi)
