"""How much capture detection (scans, floods, abnormal closes) adds to `analyze` on large captures.

For each capture: `tcpforensics.analyze(path)` end to end (read, flows, detect, report model),
then the same steps one by one (read, flows, detection alone) in the same process, best of
--repeat runs each. The figure is detection / (analyze - detection): the share that
detection adds on top of everything else `analyze` does. Goal: at most 25 %.

Captures: benchmarks/data/capture-2M.pcap (built by bench_capture.py: the corpus pcaps, scans
and floods included, time-shifted copies up to 2 M TCP packets) when present, the
200,000-packet benchmarks/data/flows-200000.pcap of bench_flows.py (normal Zeek test traffic;
built if missing), and, as the worst case for detection, the spoofed SYN flood of the labeled
corpus (one connection per packet, every packet a half-open attempt). Results go to
benchmarks/results/detect.md.

    python benchmarks/bench_detect.py                 # default captures
    python benchmarks/bench_detect.py X.pcap --repeat 1 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results"
FLOOD = ROOT.parent / "shared" / "corpus" / "pcap" / "labeled" / "stopddos_synflood_spoofed.pcap"


def default_captures() -> list[Path]:
    big = DATA / "capture-2M.pcap"
    medium = DATA / "flows-200000.pcap"
    if not medium.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_flows import build  # the capture bench_flows.py times

        medium = build(200_000)
    return [p for p in (big, medium, FLOOD) if p.is_file()]


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def measure(path: Path, repeat: int) -> dict:
    import tcpforensics
    from tcpforensics.config import Config
    from tcpforensics.detect import captures

    t_analyze, report = best(lambda: tcpforensics.analyze(str(path)), repeat)
    t_read, events = best(lambda: tcpforensics.read(str(path)), repeat)
    pkts = captures.tcp_packets(events)
    t_flows, flows = best(lambda: captures.reconstruct(pkts), repeat)
    t_detect, _ = best(lambda: captures.diagnose_one(pkts, Config(), str(path), flows), repeat)
    rest = max(t_analyze - t_detect, 1e-9)
    return {
        "capture": path.name, "packets": len(events), "flows": 0 if flows is None else len(flows),
        "findings": len(report.findings), "analyze_s": t_analyze, "read_s": t_read, "flows_s": t_flows,
        "detect_s": t_detect, "adds_pct": 100 * t_detect / rest,
    }


def table(rows: list[dict]) -> str:
    head = "| capture | packets | flows | findings | analyze s | read s | flows s | detection s | detection adds |\n"
    head += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    return head + "".join(
        f"| {r['capture']} | {r['packets']:,} | {r['flows']:,} | {r['findings']} | {r['analyze_s']:.2f} | "
        f"{r['read_s']:.2f} | {r['flows_s']:.2f} | {r['detect_s']:.2f} | {r['adds_pct']:.0f} % |\n"
        for r in rows
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = [measure(p, args.repeat) for p in (args.captures or default_captures())]
    text = table(rows)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "detect.md").write_text(
            "# Capture detection cost\n\n`python benchmarks/bench_detect.py` (best of "
            f"{args.repeat}; goal: detection adds at most 25 % to analyze)\n\n" + text, encoding="utf-8")


if __name__ == "__main__":
    main()
