"""Benchmark: parse a generated 1,000,000-line Linux ``netstat -tanp`` dump once; print lines/s.

Rows mimic net-tools spacing (``%-5s %6ld %6ld %-23s %-23s %-11s %-20s``): tcp/tcp6, every
state, ``-`` for sockets of other users, and 10% program names with a space
(``1234/sshd: root@pts/0``), which take the slower second pass of the tail parser.
Also times the stages (snapshot split, detection, parse) separately.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tcpforensics.ingest import ingest_text, sniff_text, to_lines
from tcpforensics.ingest.formats import netstat_linux

STATES = np.array(
    ["ESTABLISHED", "TIME_WAIT", "LISTEN", "CLOSE_WAIT", "SYN_RECV", "FIN_WAIT2", "SYN_SENT", "LAST_ACK"]
)
PROGRAMS = np.array(["1234/nginx", "88/python3", "-", "4242/java", "600/sshd: root@pts/0", "7/Web Content"])
WEIGHTS = np.array([0.35, 0.2, 0.2, 0.15, 0.05, 0.05])


def generate(n_rows: int, seed: int = 1) -> bytes:
    """A synthetic ``netstat -tanp`` dump with ``n_rows`` rows (title and header on top)."""
    rng = np.random.default_rng(seed)
    octet = rng.integers(1, 255, size=(n_rows, 3)).astype(str)
    lport = rng.integers(1, 65535, n_rows).astype(str)
    rport = rng.integers(1024, 65535, n_rows).astype(str)
    v6 = rng.random(n_rows) < 0.1
    state = STATES[rng.integers(0, len(STATES), n_rows)]
    prog = PROGRAMS[rng.choice(len(PROGRAMS), n_rows, p=WEIGHTS)]
    recvq = np.where(rng.random(n_rows) < 0.05, rng.integers(1, 300000, n_rows), 0).astype(str)
    local = np.char.add(np.where(v6, "::ffff:10.0.0.1:", "10.0.0.1:"), lport)
    remote = np.char.add(
        np.char.add(np.char.add(np.char.add(octet[:, 0], "."), np.char.add(octet[:, 1], ".")), np.char.add(octet[:, 2], ".9:")),
        rport,
    )
    proto = np.where(v6, "tcp6", "tcp")
    rows = [
        f"{p:<5} {q:>6} {0:>6} {lo:<23} {re:<23} {st:<11} {pr:<20}"
        for p, q, lo, re, st, pr in zip(proto, recvq, local, remote, state, prog, strict=True)
    ]
    head = [
        "Active Internet connections (servers and established)",
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    ",
    ]
    return ("\n".join(head + rows) + "\n").encode("ascii")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    args = ap.parse_args()
    data = generate(args.lines - 2)
    t0, c0 = time.perf_counter(), time.process_time()
    result = ingest_text(data, "generated-netstat-tanp.txt")
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = result.accounting["records_read"]
    print(f"{n} lines, {len(result.events)} events, format {result.format}, "
          f"unaccounted {result.accounting['unaccounted']}, wall {dt:.2f} s = {n / dt:,.0f} lines/s, "
          f"cpu {dc:.2f} s = {n / dc:,.0f} lines/s ({len(data) / 1e6:.0f} MB)")
    # Stages, in CPU seconds (wall time depends on what else runs on the machine).
    c0 = time.process_time()
    lines = to_lines(data, "x")
    c1 = time.process_time()
    sniff_text(lines)
    c2 = time.process_time()
    netstat_linux.parse(lines)
    c3 = time.process_time()
    print(f"cpu by stage: decode + snapshots.split {c1 - c0:.2f} s, detect (all formats) {c2 - c1:.2f} s, "
          f"netstat_linux.parse {c3 - c2:.2f} s")


if __name__ == "__main__":
    main()
