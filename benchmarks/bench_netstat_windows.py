"""Benchmark: parse a generated 1,000,000-line Windows ``netstat -ano`` dump once; print lines/s."""

from __future__ import annotations

import argparse
import time

import numpy as np

from tcpforensics.ingest import ingest_text, to_lines
from tcpforensics.ingest.formats import netstat_windows

STATES = np.array(["LISTENING", "ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "FIN_WAIT_2", "SYN_SENT"])


def generate(n_rows: int, seed: int = 1) -> bytes:
    """A synthetic ``netstat -ano`` dump (CRLF, cp437-safe) with ``n_rows`` rows, vectorized."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 255, size=(n_rows, 4)).astype(str)
    lport = rng.integers(1, 65535, n_rows).astype(str)
    rport = rng.integers(1, 65535, n_rows).astype(str)
    pid = rng.integers(4, 40000, n_rows).astype(str)
    state = STATES[rng.integers(0, len(STATES), n_rows)]
    udp = rng.random(n_rows) < 0.2
    local = np.char.add(np.char.add("10.0.0.", a[:, 0]), np.char.add(":", lport))
    remote = np.char.add(np.char.add(np.char.add(a[:, 1], "."), np.char.add(a[:, 2], ".")), np.char.add(np.char.add(a[:, 3], ".1:"), rport))
    tcp = [f"  TCP    {lo:<22} {re:<22} {st:<15} {p}" for lo, re, st, p in zip(local, remote, state, pid, strict=True)]
    lines = np.where(udp, [f"  UDP    {lo:<22} *:*                                    {p}" for lo, p in zip(local, pid, strict=True)], tcp)
    head = ["", "Active Connections", "", "  Proto  Local Address          Foreign Address        State           PID"]
    return ("\r\n".join(head + lines.tolist()) + "\r\n").encode("ascii")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    args = ap.parse_args()
    data = generate(args.lines - 4)
    name = "generated-netstat-ano.txt"
    t0 = time.perf_counter()
    lines = to_lines(data, name)  # decode + split + snapshot markers (shared code)
    t1 = time.perf_counter()
    c1 = time.process_time()
    parsed = netstat_windows.parse(lines)  # this ingestor
    t2 = time.perf_counter()
    cpu = time.process_time() - c1
    n = len(lines.frame)
    print(f"{n} lines ({len(data) / 1e6:.0f} MB), {len(parsed.rows)} rows")
    print(f"  to_lines (textio.decode + splitlines + snapshots.split): {t1 - t0:.2f} s")
    print(f"  netstat_windows.parse: {t2 - t1:.2f} s wall = {n / (t2 - t1):,.0f} lines/s "
          f"({cpu:.2f} s CPU = {n / cpu:,.0f} lines/s per CPU second)")
    t3 = time.perf_counter()
    result = ingest_text(data, name)
    dt = time.perf_counter() - t3
    print(f"  ingest_text end to end (detect + parse + assemble): {dt:.2f} s = {n / dt:,.0f} lines/s, "
          f"unaccounted {result.accounting['unaccounted']}")


if __name__ == "__main__":
    main()
