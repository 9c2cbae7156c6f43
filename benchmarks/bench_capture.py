"""Benchmark: reading a >= 2 M TCP packet capture with the native engine, tshark, pyshark and dpkt.

    python benchmarks/bench_capture.py              # build (once) into benchmarks/data/, run all, write results
    python benchmarks/bench_capture.py --methods native,native_stream --no-write

The capture is the Ethernet pcap files of ../shared/corpus/pcap concatenated over and over,
each copy shifted in time after the previous one, until it holds >= 2,000,000 TCP packets;
a pcapng copy is made with editcap. Every method runs in its own subprocess (a fresh
interpreter) that reports the time of the work (file reading included, imports excluded) and
its peak RSS (``ru_maxrss`` of itself, and of its tshark child for the tshark methods).
pyshark runs on the first 20,000 frames and is extrapolated. Results go to
benchmarks/results/capture.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "capture.md"
CORPUS = ROOT.parent / "shared" / "corpus" / "pcap"
BIG = DATA / "capture-2M.pcap"
BIG_NG = DATA / "capture-2M.pcapng"
SUBSET = DATA / "capture-20k.pcap"
TARGET_TCP = 2_000_000
PYSHARK_FRAMES = 20_000
TSHARK_FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
                 "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.window_size_value"]


# --- building the capture (not timed) ------------------------------------------------------

def build() -> None:
    """Concatenate the corpus's Ethernet pcaps, time-shifted, until >= TARGET_TCP TCP packets."""
    import capbuild  # benchmarks/capbuild.py (shared with bench_memory.py); writes the same bytes

    DATA.mkdir(parents=True, exist_ok=True)
    stats = capbuild.build_concat(BIG, capbuild.load_sources(capbuild.corpus_pcaps(CORPUS)), TARGET_TCP)
    frames, total_tcp = stats.frames, stats.tcp
    subprocess.run(["editcap", "-F", "pcapng", str(BIG), str(BIG_NG)], check=True)
    subprocess.run(["editcap", "-r", str(BIG), str(SUBSET), f"1-{PYSHARK_FRAMES}"], check=True)
    print(f"built {BIG} ({frames} frames, ~{total_tcp} TCP, {BIG.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)


# --- methods (each runs in a fresh subprocess) ----------------------------------------------

def m_native(path: str) -> dict:
    import tcpforensics

    t = time.perf_counter()
    df = tcpforensics.read(path, progress=False)
    dt = time.perf_counter() - t
    held = int(df.memory_usage(deep=True).sum())
    return {"tcp": len(df), "seconds": dt, "bytes_per_packet": held / max(len(df), 1)}


def m_native_stream(path: str) -> dict:
    import tcpforensics

    t = time.perf_counter()
    n = 0
    for chunk in tcpforensics.iter_events(path, chunk_packets=200_000, progress=False):
        n += len(chunk)
    return {"tcp": n, "seconds": time.perf_counter() - t}


def m_tshark_fields(path: str) -> dict:
    import io

    import pandas as pd

    t = time.perf_counter()
    cmd = ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    df = pd.read_csv(io.BytesIO(out), sep="\t", header=None, names=TSHARK_FIELDS, low_memory=False)
    dt = time.perf_counter() - t
    return {"tcp": len(df), "seconds": dt}


def m_pyshark(path: str) -> dict:
    from tcpforensics.ingest import pcap_tshark as tshark

    t = time.perf_counter()
    ing = tshark.ingest(path)
    return {"tcp": len(ing.events), "seconds": time.perf_counter() - t, "frames": ing.accounting["records_read"]}


def m_dpkt(path: str) -> dict:
    import socket

    import dpkt
    import pandas as pd

    t = time.perf_counter()
    cols = {k: [] for k in ("frame", "ts", "src", "dst", "sport", "dport", "flags", "seq", "ack", "len", "win")}
    with open(path, "rb") as fh:
        for i, (ts, buf) in enumerate(dpkt.pcap.UniversalReader(fh), 1):
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.UnpackError, IndexError):
                continue
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            fam = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
            cols["frame"].append(i)
            cols["ts"].append(ts)
            cols["src"].append(socket.inet_ntop(fam, ip.src))
            cols["dst"].append(socket.inet_ntop(fam, ip.dst))
            cols["sport"].append(tcp.sport)
            cols["dport"].append(tcp.dport)
            cols["flags"].append(tcp.flags)
            cols["seq"].append(tcp.seq)
            cols["ack"].append(tcp.ack)
            cols["len"].append(len(tcp.data))
            cols["win"].append(tcp.win)
    df = pd.DataFrame(cols)
    df["src"] = df["src"].astype("category")
    df["dst"] = df["dst"].astype("category")
    return {"tcp": len(df), "seconds": time.perf_counter() - t}


METHODS = {
    "native": (m_native, BIG),
    "native_pcapng": (m_native, BIG_NG),
    "native_stream": (m_native_stream, BIG),
    "tshark_fields": (m_tshark_fields, BIG),
    "dpkt": (m_dpkt, BIG),
    "pyshark": (m_pyshark, SUBSET),
}


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _child(method: str) -> None:
    fn, path = METHODS[method]
    cpu = _cpu()
    result = fn(str(path))
    result["cpu"] = _cpu() - cpu
    result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["child_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def run(method: str) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", method], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode:
        raise RuntimeError(f"{method} failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t
    res["method"] = method
    return res


def frames_of(path: Path) -> int:
    out = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split("\t")[1])


def report(results: list[dict]) -> str:
    frames = frames_of(BIG)
    size = BIG.stat().st_size
    by = {r["method"]: r for r in results}
    lines = [
        "# Capture reading benchmark",
        "",
        f"Capture: {frames:,} frames, {by.get('native', {}).get('tcp', 0):,} TCP packets, {size / 1e6:.0f} MB "
        "(the corpus's Ethernet pcaps concatenated and time-shifted; built by `benchmarks/bench_capture.py`), "
        f"warm page cache. Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        "Each method in a fresh subprocess; time excludes interpreter start-up and imports; peak RSS is "
        "the process's own (plus its tshark child where there is one). pyshark read the first "
        f"{PYSHARK_FRAMES:,} frames; its rate is extrapolated.",
        "",
        "Two rates: per second of wall time, and per CPU second (user + system, the tshark child "
        "included) — the second is the one-core rate, and the fair one when the machine is shared.",
        "",
        "| method | TCP packets | wall s | CPU s | TCP packets/s (wall) | TCP packets/CPU s | native is faster by (CPU) | peak RSS (MiB) | tshark child RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = by["native"]["tcp"] / by["native"]["cpu"] if "native" in by else None
    for r in results:
        rate = r["tcp"] / r["seconds"]
        cpu_rate = r["tcp"] / r["cpu"]
        ratio = f"{base / cpu_rate:.1f}x" if base else ""
        child = f"{r['child_rss_mib']:.0f}" if r["method"] in ("tshark_fields", "pyshark") else ""
        lines.append(f"| {r['method']} | {r['tcp']:,} | {r['seconds']:.2f} | {r['cpu']:.2f} | {rate:,.0f} | "
                     f"{cpu_rate:,.0f} | {ratio} | {r['rss_mib']:.0f} | {child} |")
    base_rss = _baseline_rss()
    lines += ["", f"Interpreter with numpy, pandas and tcpforensics imported: {base_rss:.0f} MiB peak RSS "
              "(included in every figure above)."]
    if "native" in by:
        n = by["native"]
        lines += [
            f"Native event table held: {n['bytes_per_packet']:.0f} bytes per TCP packet "
            "(`DataFrame.memory_usage(deep=True)`, all 27 schema columns).",
            "",
            "Goals of issue 3, as measured here:",
            "",
            f"- native >= 1.0 M TCP packets/s on one core: {n['tcp'] / n['cpu'] / 1e6:.2f} M per CPU second.",
        ]
        for other, goal in (("tshark_fields", 40), ("dpkt", 14)):
            if other in by:
                ratio = (n["tcp"] / n["cpu"]) / (by[other]["tcp"] / by[other]["cpu"])
                verdict = "met" if ratio >= goal else "not met"
                lines.append(f"- >= {goal}x {other}: {ratio:.1f}x ({verdict}).")
        lines.append(f"- <= 200 bytes per packet held: {n['bytes_per_packet']:.0f}.")
        if "native_stream" in by:
            lines.append(f"- streaming peak RSS bounded: {by['native_stream']['rss_mib']:.0f} MiB with 200,000-row "
                         f"chunks, against {n['rss_mib']:.0f} MiB for the whole table.")
    return "\n".join(lines) + "\n"


def _baseline_rss() -> float:
    code = ("import resource, numpy, pandas, tcpforensics, tcpforensics.ingest.pcap; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return
    if args.rebuild or not BIG.exists() or not BIG_NG.exists() or not SUBSET.exists():
        build()
    results = []
    for m in args.methods.split(","):
        r = run(m)
        print(f"{m}: {r['tcp']:,} TCP in {r['seconds']:.2f} s (CPU {r['cpu']:.2f} s) = "
              f"{r['tcp'] / r['cpu']:,.0f}/CPU s, RSS {r['rss_mib']:.0f} MiB", file=sys.stderr)
        results.append(r)
    text = report(results)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
