"""The ring: the rows ``Cut`` leaves out change no finding, details included; the
tracker's start/change/end; the totals merge."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.config import Config
from tcpforensics.live.sample import Sample
from tcpforensics.live.table import LineCache
from tcpforensics.live.track import Tracker
from tcpforensics.live.window import Totals, Window

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _hex(a: int, b: int, c: int, d: int) -> str:
    return f"{a | b << 8 | c << 16 | d << 24:08X}"


def table(rows: list[tuple[str, int, str, int, int]]) -> bytes:
    """/proc/net/tcp text of (local addr hex, local port, remote addr hex, remote port, state)."""
    lines = [f"{i:4d}: {la}:{lp:04X} {ra}:{rp:04X} {st:02X} 00000000:00000000 00:00000000 00000000  1000        0 {0 if st == 6 else 5000 + i} 1"
             for i, (la, lp, ra, rp, st) in enumerate(rows)]
    return (HEADER + "\n".join(lines) + "\n").encode()


def host(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    me = _hex(10, 0, 0, 5)
    rows = [(me, 80, _hex(0, 0, 0, 0), 0, 0x0A)]
    rows += [(me, 80, _hex(10, 1, 0, 1), 40000 + i, 0x01) for i in range(120)]  # one remote: a pile
    rows += [(me, 80, _hex(10, 2, int(h) // 250, int(h) % 250 + 1), int(p), 0x01)
             for h, p in zip(rng.integers(0, 500, 800), rng.integers(32768, 61000, 800), strict=True)]
    rows += [(me, 33000 + i, _hex(10, 3, 0, 9), 443, 0x06) for i in range(2900)]  # TIME_WAIT to one service
    rows += [(me, 33000 + i, _hex(10, 3, 0, 9), 443, 0x01) for i in range(2900, 2950)]  # its ports in use
    rows += [(me, int(p), _hex(10, 4, 0, int(h) + 1), 443, 0x06)
             for h, p in zip(rng.integers(0, 200, 500), rng.integers(32768, 61000, 500), strict=True)]
    rows += [(me, 80, _hex(10, 5, 0, 1), 50000 + i, 0x08) for i in range(30)]  # CLOSE_WAIT
    return table(rows)


def test_the_cut_changes_no_finding() -> None:
    cache = LineCache()
    window = Window(3)
    for i in range(3):
        window.add(Sample(i, np.datetime64(1_700_000_000_000_000_000 + i * 2_000_000_000, "ns"), cache.update(host(i))))
    conf = Config()
    cut, whole = window.findings(conf, cut=True), window.findings(conf, cut=False)
    assert set(cut["category"]) >= {"remote_connection_pile", "time_wait_exhaustion", "close_wait_leak"}
    pd.testing.assert_frame_equal(cut.drop(columns=["details"]), whole.drop(columns=["details"]))
    assert list(cut["details"]) == list(whole["details"])
    kept, every = window.inputs(conf)[0].events, window.inputs()[0].events
    assert len(every) - len(kept) == 3 * (800 + 500)  # the scattered ESTABLISHED and TIME_WAIT rows


def test_tracker_start_change_end() -> None:
    t = Tracker()
    f = pd.DataFrame({"category": ["a", "b"], "subject": ["x", "y"], "severity": ["low", "medium"],
                      "count": [1, 2], "explanation": ["", ""]})
    first = t.update(f)
    assert sorted(first["event"]) == ["start", "start"] and t.at_least(first, "medium") and not t.at_least(first, "high")
    second = t.update(f.assign(severity=["high", "medium"]).iloc[:1])
    assert sorted(zip(second["event"], second["category"], strict=True)) == [("change", "a"), ("end", "b")]
    assert t.at_least(second, "high") and not t.at_least(second, "never")


def test_totals_merge() -> None:
    a, b = Totals(), Totals()
    a.peak, a.samples = {"ESTABLISHED": 3}, 2
    b.peak, b.samples = {"ESTABLISHED": 5, "LISTEN": 1}, 1
    a.merge(b)
    assert a.samples == 3 and a.peak == {"ESTABLISHED": 5, "LISTEN": 1}
