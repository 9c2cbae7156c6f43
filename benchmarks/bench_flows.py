"""Time `tcpforensics flows` end to end on a large capture beside `tshark -z conv,tcp` and `tcptrace -n`.

The capture is built once into benchmarks/data/ by time-shifted concatenation of the Ethernet
pcaps of ../shared/corpus/pcap/zeek (their first hour, merged by time; each copy 2 h after
the previous one, so every copy of a 4-tuple is a new connection, as after a restart), up to
--packets packets, in time order. Each tool then runs
once in its own process under /usr/bin/time (wall seconds, peak RSS). Results go to
benchmarks/results/flows.md.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "pcap" / "zeek"
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SHIFT = 7200  # seconds between copies


def _records(path: Path) -> list[tuple[int, int, bytes]] | None:
    """(sec, usec, frame bytes) of a classic Ethernet pcap; None for other formats."""
    data = path.read_bytes()
    if len(data) < 24:
        return None
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}.get(magic)
    if endian is None or struct.unpack(endian + "I", data[20:24])[0] != 1:
        return None
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        out.append((sec, usec, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def build(packets: int) -> Path:
    """The benchmark capture (cached by size)."""
    target = DATA / f"flows-v2-{packets}.pcap"
    if target.exists():
        return target
    DATA.mkdir(parents=True, exist_ok=True)
    recs: list[tuple[int, int, bytes]] = []
    for p in sorted(CORPUS.glob("*.pcap")):
        r = _records(p)
        if r:
            base = r[0][0]
            # each capture starts at 0; packets more than an hour in are left out (a few traces
            # join sessions years apart) so that copies never overlap and time only goes forward
            recs += [(s - base, u, b) for s, u, b in r if s - base < SHIFT // 2]
    recs.sort(key=lambda x: (x[0], x[1]))
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n, copy = 0, 0
        while n < packets:
            t0 = 1_600_000_000 + copy * SHIFT
            for s, u, b in recs:
                f.write(struct.pack("<IIII", t0 + s, u, len(b), len(b)))
                f.write(b)
                n += 1
                if n >= packets:
                    break
            copy += 1
    tmp.rename(target)
    return target


def timed(cmd: list[str]) -> tuple[float, int, int, str]:
    """(wall s, peak RSS KiB, exit code, last stderr line) of one command."""
    full = ["/usr/bin/time", "-f", "TIME %e %M"] + cmd
    p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = p.stderr.strip().splitlines()
    tl = [ln for ln in lines if ln.startswith("TIME ")][-1].split()
    other = [ln for ln in lines if not ln.startswith("TIME ")]
    return float(tl[1]), int(tl[2]), p.returncode, other[-1] if other else ""


PHASES = """
import json, resource, sys, time
t0 = time.perf_counter()
import tcpforensics
from tcpforensics.report.zeek import render_flows
t1 = time.perf_counter()
ev = tcpforensics.read(sys.argv[1])
t2 = time.perf_counter()
fl = tcpforensics.flows(ev)
t3 = time.perf_counter()
render_flows(fl, "csv")
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "flows": t3 - t2, "csv": t4 - t3, "packets": len(ev),
                  "connections": len(fl), "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def phases(cap: Path) -> dict:
    """Seconds spent importing, reading the capture, reconstructing flows and writing CSV."""
    import json

    p = subprocess.run([sys.executable, "-c", PHASES, str(cap)], capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/flows.md")
    args = ap.parse_args()
    cap = build(args.packets)
    load = __import__("os").getloadavg()
    out = DATA / "flows-out.csv"
    runs = [("tcpforensics flows (csv)", [sys.executable, "-m", "tcpforensics", "flows", str(cap), "-f", "csv", "-o", str(out)])]
    if shutil.which("tshark"):
        runs.append(("tshark -q -z conv,tcp", ["tshark", "-n", "-q", "-z", "conv,tcp", "-r", str(cap)]))
    if shutil.which("tcptrace"):
        runs.append(("tcptrace -n", ["tcptrace", "-n", str(cap)]))
    rows = []
    for name, cmd in runs:
        wall, rss, rc, err = timed(cmd)
        rows.append((name, wall, rss, rc, err))
        print(f"{name:28s} {wall:8.2f} s  {rss / 1024:8.0f} MiB  rc={rc} {err[:80]}", flush=True)
    flows_n = sum(1 for _ in open(out)) - 1 if out.exists() else -1
    ph = phases(cap)
    print(ph, flush=True)
    ref = {n: w for n, w, *_ in rows}
    ratio = ref["tcpforensics flows (csv)"] / ref["tcptrace -n"] if "tcptrace -n" in ref else float("nan")
    text = [
        "# Flow reconstruction benchmark",
        "",
        f"Capture: {cap.name}, {args.packets:,} packets ({cap.stat().st_size / 2**20:.0f} MiB), time-shifted copies of the "
        "Ethernet pcaps in ../shared/corpus/pcap/zeek; "
        f"{flows_n:,} connections written by tcpforensics. Command: `python benchmarks/bench_flows.py --packets {args.packets}`.",
        "Machine: 2 cores, 24 GiB. Each tool runs once, in its own process, under /usr/bin/time; "
        f"load average at the start {load[0]:.1f} (other work shares the machine, so times vary).",
        "",
        "| tool | wall s | peak RSS MiB | exit |",
        "|---|---:|---:|---:|",
    ]
    text += [f"| {n} | {w:.2f} | {r / 1024:.0f} | {rc} |" for n, w, r, rc, _ in rows]
    text += [
        "",
        f"tcpforensics / tcptrace wall time: {ratio:.2f}x (goal: at most 1.5x).",
        "",
        "Where tcpforensics' time goes (separate in-process run, seconds): "
        f"imports {ph['import']:.2f}, capture reader (tcpforensics.read) {ph['read']:.2f}, "
        f"flow reconstruction (tcpforensics.flows) {ph['flows']:.2f} "
        f"({ph['packets'] / max(ph['flows'], 1e-9) / 1e6:.2f} M packets/s), CSV {ph['csv']:.2f}; "
        f"peak RSS {ph['rss_mib']:.0f} MiB.",
    ]
    print("\n".join(text))
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "flows.md").write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
