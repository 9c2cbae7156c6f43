"""Time socket timelines and the socket rule table on a large synthetic event table.

    python benchmarks/bench_socket_rules.py                      # 1,000,000 rows in 5 snapshots
    python benchmarks/bench_socket_rules.py --rows 200000 --snapshots 2

The table is built directly (seeded) with schema.conform, so only reconstruct + detect are
timed: every state, ~1/4 of sockets changing state between snapshots, a SYN flood on :80,
a CLOSE_WAIT leak, a TIME_WAIT pile, and many processes.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.config import Config
from tcpforensics.detect.sockets import diagnose
from tcpforensics.ingest.base import Ingested
from tcpforensics.reconstruct.sockets import timelines

STATES = ["ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "SYN_RECEIVED", "SYN_SENT", "FIN_WAIT_2", "LAST_ACK", "LISTEN"]
WEIGHTS = [0.45, 0.25, 0.08, 0.08, 0.04, 0.05, 0.03, 0.02]


def table(rows: int, snapshots: int, seed: int = 1) -> pd.DataFrame:
    """A socket event table of about ``rows`` rows over ``snapshots`` snapshots."""
    rng = np.random.default_rng(seed)
    n = rows // snapshots
    state0 = rng.choice(STATES, size=n, p=WEIGHTS)
    remote = np.char.add("10.", rng.integers(0, 250, n).astype(str))
    remote = np.char.add(np.char.add(remote, ".1."), rng.integers(1, 250, n).astype(str))
    base = pd.DataFrame({
        "proto": "tcp", "src_addr": "192.0.2.1", "src_port": rng.integers(1024, 65535, n),
        "dst_addr": remote, "dst_port": rng.integers(1, 65535, n),
        "pid": rng.integers(100, 400, n), "process": "svc",
    })
    frames = []
    for s in range(snapshots):
        st = state0.copy()
        flip = rng.random(n) < 0.25 * s / max(snapshots - 1, 1)
        st[flip] = rng.choice(STATES[:7], size=int(flip.sum()))
        keep = rng.random(n) > 0.05 * s
        frames.append(base[keep].assign(state=st[keep], snapshot=s, ts=pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=30 * s)))
    df = pd.concat(frames, ignore_index=True)
    df["line"] = np.arange(1, len(df) + 1)
    df = df.assign(input="bench.txt", kind="socket")
    return schema.conform(df, "socket")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--snapshots", type=int, default=5)
    a = ap.parse_args()
    ev = table(a.rows, a.snapshots)
    ing = Ingested(input="bench.txt", format="ss", events=ev, accounting={"snapshots": a.snapshots})
    t0, c0 = time.perf_counter(), time.process_time()
    tl = timelines(ev)
    t1, c1 = time.perf_counter(), time.process_time()
    findings, tables = diagnose([ing], Config())
    t2, c2 = time.perf_counter(), time.process_time()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {len(ev):,} in {a.snapshots} snapshots, sockets {len(tl):,}")
    print(f"timelines: {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU ({len(ev) / (c1 - c0):,.0f} rows per CPU second)")
    print(f"diagnose (timelines included): {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU "
          f"({len(ev) / (c2 - c1):,.0f} rows per CPU second), {len(findings)} findings, tables {sorted(tables)}")
    print(f"peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
