"""Cost of one ``tcpforensics watch`` interval with 100,000 sockets in the table.

    python benchmarks/bench_watch.py                          # 100k sockets, 12 intervals, churn 2%
    python benchmarks/bench_watch.py --sockets 20000 --intervals 6 --no-write
    python benchmarks/bench_watch.py --soak 3600 --interval 2 # memory over an hour (flat?)

A synthetic /proc root is written into a temporary folder (seeded): ``net/tcp`` with
``--sockets`` rows in the kernel's layout (lines padded to 149 characters as the kernel pads
them; 10 listeners, sockets spread over 2,000 client hosts) in two mixes: ``busy``, a healthy
busy server (70% ESTABLISHED, 28% TIME_WAIT, 0.5% each of CLOSE_WAIT, FIN_WAIT_2, SYN_RECV,
SYN_SENT) and ``piles``, one with every pile at once (62% ESTABLISHED, 25% TIME_WAIT, 5%
CLOSE_WAIT, 3% FIN_WAIT_2, 3% SYN_RECV, 2% SYN_SENT); an empty ``net/tcp6``, and
``net/netstat`` + ``net/snmp`` copied from this host (synthetic ones elsewhere). Between
intervals ``--churn`` of the rows are replaced by new connections and as many change state (a
busy host); the variants are written before each interval and not timed. The sampler reads
this root (``watch --proc``) without the process look-up (no /proc/PID/fd in the folder).

Per interval, CPU time (``time.process_time``) of each step the watch loop runs: the sample
(read + line cache + counters), the detectors on the ring (``--window`` samples), the view's
summary; and the process's RSS after the interval. The goal: under 5% of one core at a 2 s
interval, i.e. under 100 ms of CPU per interval. Two regimes are reported: ``churn`` (every
sample differs: the detectors run every interval) and ``steady`` (nothing changed: the
detectors run only at the periodic refresh, every ``watch.REFRESH`` intervals).

``--soak SECONDS`` runs the loop with the churn for that long at ``--interval`` and prints the
RSS every minute (the ring and the caches are bounded, so it should stay flat) and, at the end,
the share of one core the loop used (``--max-cpu`` caps the detectors as ``watch --max-cpu``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tcpforensics.config import Config
from tcpforensics.live.procfs import ProcRoot
from tcpforensics.live.sample import Sampler
from tcpforensics.live.summary import summarize
from tcpforensics.live.watch import Detector, Options, names_of
from tcpforensics.live.window import Window

RESULTS = Path(__file__).resolve().parent / "results" / "watch.md"
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
STATES = np.array([0x01, 0x06, 0x08, 0x05, 0x03, 0x02])
#: Shares of ESTABLISHED, TIME_WAIT, CLOSE_WAIT, FIN_WAIT_2, SYN_RECV, SYN_SENT per table mix:
#: ``busy`` a healthy busy server, ``piles`` one with every kind of pile at once.
MIXES: dict[str, list[float]] = {
    "busy": [0.70, 0.28, 0.005, 0.005, 0.005, 0.005],
    "piles": [0.62, 0.25, 0.05, 0.03, 0.03, 0.02],
}
SERVER = (10 << 0) | (0 << 8) | (0 << 16) | (5 << 24)  # 10.0.0.5 as the kernel prints it (little-endian)


def rss_mib() -> float:
    """Resident memory of this process now (VmRSS)."""
    with open("/proc/self/status") as fh:
        kib = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kib / 1024


class Host:
    """The synthetic socket table and its churn."""

    def __init__(self, sockets: int, mix: str = "busy", seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.weights = MIXES[mix]
        n = sockets - 10
        self.lport = np.concatenate([np.arange(8000, 8010), self.rng.choice([8000, 8001, 8443], n)])
        self.raddr = np.concatenate([np.zeros(10, np.int64), self._clients(n)])
        self.rport = np.concatenate([np.zeros(10, np.int64), self.rng.integers(32768, 61000, n)])
        self.state = np.concatenate([np.full(10, 0x0A), self.rng.choice(STATES, n, p=self.weights)])
        self.inode = np.arange(100000, 100000 + sockets)
        self.next_inode = 100000 + sockets

    def _clients(self, n: int) -> np.ndarray:
        host = self.rng.integers(0, 2000, n)
        return 10 | (1 << 8) | ((host // 250) << 16) | ((host % 250 + 1) << 24)

    def churn(self, share: float) -> None:
        """Replace ``share`` of the connections by new ones, change the state of as many."""
        n = len(self.state)
        k = max(1, int(share * n))
        new = self.rng.choice(np.arange(10, n), k, replace=False)
        self.raddr[new] = self._clients(k)
        self.rport[new] = self.rng.integers(32768, 61000, k)
        self.state[new] = 0x01
        self.inode[new] = np.arange(self.next_inode, self.next_inode + k)
        self.next_inode += k
        flip = self.rng.choice(np.arange(10, n), k, replace=False)
        self.state[flip] = self.rng.choice(STATES, k, p=self.weights)

    def text(self) -> str:
        inode = np.where(self.state == 0x06, 0, self.inode)
        timer = np.where(self.state == 0x06, "03:00000F9A", "00:00000000")
        rows = [f"{i:4d}: {SERVER:08X}:{lp:04X} {ra:08X}:{rp:04X} {st:02X} 00000000:00000000 {tm} 00000000  1000        0 {ino} 1 0000000000000000 20 4 30 10 -1"
                for i, (lp, ra, rp, st, tm, ino) in enumerate(zip(self.lport.tolist(), self.raddr.tolist(), self.rport.tolist(),
                                                                  self.state.tolist(), timer.tolist(), inode.tolist(), strict=True))]
        return "\n".join(line.ljust(149) for line in [HEADER, *rows]) + "\n"


def make_root(folder: Path) -> None:
    (folder / "net").mkdir(parents=True, exist_ok=True)
    (folder / "net/tcp6").write_text(HEADER + "\n")
    for name in ("netstat", "snmp"):
        real = Path("/proc/net") / name
        if real.exists():
            shutil.copyfile(real, folder / "net" / name)
        else:
            (folder / "net" / name).write_text("TcpExt: ListenOverflows ListenDrops\nTcpExt: 0 0\n")


def run(host: Host, root: Path, intervals: int, window: int, churn: float) -> list[dict]:
    """Time each step of ``intervals`` intervals; churn before each when ``churn`` > 0."""
    sampler = Sampler(ProcRoot(root), processes=False)
    ring = Window(window, names_of(root))
    detector = Detector(Options(window=window, root=root, processes=False, config=Config()))
    current = None
    before = None
    rows = []
    for i in range(intervals):
        if churn and i:
            host.churn(churn)
        (root / "net/tcp").write_text(host.text())
        t0 = time.process_time()
        sample = sampler.sample()
        ring.add(sample)
        t1 = time.process_time()
        found = detector.findings(ring, current if current is not None else ring_empty())
        t2 = time.process_time()
        summarize(sample, before)
        t3 = time.process_time()
        current, before = found, sample
        rows.append({"sample": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000, "summary": (t3 - t2) * 1000,
                     "total": (t3 - t0) * 1000, "rss": rss_mib(), "findings": len(found)})
    return rows


def ring_empty():  # noqa: ANN201
    from tcpforensics.schema import empty_findings

    return empty_findings()


def table(label: str, rows: list[dict], skip: int) -> list[str]:
    """Median and max per step over the intervals after the first ``skip`` (warm-up)."""
    body = rows[skip:]
    out = []
    for step in ("sample", "detect", "summary", "total"):
        values = [r[step] for r in body]
        out.append(f"| {label} | {step} | {statistics.median(values):.1f} | {max(values):.1f} | "
                   f"{statistics.median(values) / 20:.1f}% |")
    return out


def soak(host: Host, root: Path, seconds: float, interval: float, window: int, churn: float,
         max_cpu: float | None) -> None:
    """The loop with sleeps, for ``seconds``: RSS every minute; at the end the share of one
    core the process used (writing the churned table, which a real host does not, excluded)."""
    sampler = Sampler(ProcRoot(root), processes=False)
    ring = Window(window, names_of(root))
    detector = Detector(Options(window=window, root=root, processes=False, config=Config(), max_cpu=max_cpu))
    cpu0, writing = time.process_time(), 0.0
    current = ring_empty()
    start = last_print = time.monotonic()
    first = None
    samples = 0
    while time.monotonic() - start < seconds:
        began = time.monotonic()
        w0 = time.process_time()
        host.churn(churn)
        (root / "net/tcp").write_text(host.text())
        writing += time.process_time() - w0
        ring.add(sampler.sample())
        current = detector.findings(ring, current)
        rss = rss_mib()
        first = first or rss
        samples += 1
        if time.monotonic() - last_print >= 60:
            print(f"{(time.monotonic() - start) / 60:6.1f} min  RSS {rss:7.1f} MiB  (first interval {first:.1f})", flush=True)
            last_print = time.monotonic()
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    share = (time.process_time() - cpu0 - writing) / (time.monotonic() - start)
    print(f"{(time.monotonic() - start) / 60:6.1f} min  RSS {rss_mib():7.1f} MiB after {samples} intervals "
          f"(first interval {first:.1f}; peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB); "
          f"CPU {share:.1%} of one core (max_cpu {max_cpu})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sockets", type=int, default=100_000)
    ap.add_argument("--intervals", type=int, default=12)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--churn", type=float, default=0.02)
    ap.add_argument("--mix", choices=[*MIXES, "both"], default="both")
    ap.add_argument("--interval", type=float, default=2.0, help="(soak) seconds between samples")
    ap.add_argument("--soak", type=float, default=0.0, help="run the loop this many seconds, printing RSS")
    ap.add_argument("--max-cpu", type=float, default=None, help="(soak) watch --max-cpu")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("bench_watch: Linux only (reads /proc/self/status)")
    mixes = list(MIXES) if a.mix == "both" else [a.mix]
    rss0 = rss_mib()
    body: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_root(root)
        if a.soak:
            soak(Host(a.sockets, mixes[0]), root, a.soak, a.interval, a.window, a.churn, a.max_cpu)
            return
        for mix in mixes:
            host = Host(a.sockets, mix)
            churned = run(host, root, a.intervals, a.window, a.churn)
            steady = run(host, root, a.intervals, a.window, 0.0)
            body += table(f"{mix}, churn", churned, 2) + table(f"{mix}, steady", steady, 2)
            notes.append(f"{mix}: RSS {churned[-1]['rss']:.0f} MiB after the churn run, {steady[-1]['rss']:.0f} MiB "
                         f"after the steady run; {churned[-1]['findings']} findings on the ring")
    lines = [f"`python benchmarks/bench_watch.py --sockets {a.sockets} --intervals {a.intervals} --window {a.window} "
             f"--churn {a.churn}` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
             f"Python {sys.version.split()[0]}); CPU ms per interval, median and max over the intervals "
             "after the first two (warm-up: the first sample parses every line); % of one core at a 2 s interval.",
             "", "| table, regime | step | median ms | max ms | core at 2 s |", "|---|---|---|---|---|", *body, "",
             f"RSS {rss0:.0f} MiB before the first sample; " + "; ".join(notes)
             + f"; peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB."]
    print("\n".join(lines))
    if not a.no_write:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n## " + f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
