"""Benchmark: tcpforensics vs jc on generated 1,000,000-line ss and Windows netstat dumps.

    python benchmarks/bench_text.py            # generate (once) into benchmarks/data/, run, write results
    python benchmarks/bench_text.py --lines 100000 --no-write

Every method runs in its own subprocess (a fresh interpreter), which reports the time of the
work itself (reading the file included, interpreter start-up and imports excluded; the wall
time with both is reported too) and its own peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, imports included). Results go to
benchmarks/results/text.md.
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

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "text.md"

# --- generators (not timed) ---------------------------------------------------------------

SS_STATES = np.array(["ESTAB", "TIME-WAIT", "LISTEN", "CLOSE-WAIT", "SYN-RECV", "SYN-SENT",
                      "FIN-WAIT-1", "FIN-WAIT-2", "LAST-ACK", "CLOSING"])
SS_WEIGHTS = np.array([0.46, 0.25, 0.04, 0.06, 0.08, 0.03, 0.02, 0.04, 0.015, 0.005])
WIN_STATES = np.array(["ESTABLISHED", "TIME_WAIT", "LISTENING", "CLOSE_WAIT", "SYN_SENT",
                       "SYN_RECEIVED", "FIN_WAIT_1", "FIN_WAIT_2", "LAST_ACK", "CLOSING", "CLOSED"])
WIN_WEIGHTS = np.array([0.45, 0.22, 0.06, 0.06, 0.05, 0.05, 0.02, 0.05, 0.02, 0.01, 0.01])
PROCS = np.array(["nginx", "sshd", "postgres", "python3", "java", "node", "redis-server",
                  "Isolated Web Co", "chrome", "envoy", "haproxy", "curl"])
SERVICE_PORTS = np.array([22, 80, 443, 5432, 6379, 8080, 8443, 3306, 9090, 25])


def _v4(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    a = rng.integers(0, 256, size=(n, 2)).astype(str)
    return np.char.add(np.char.add(np.char.add(prefix, a[:, 0]), "."), a[:, 1])


def _v6(rng: np.random.Generator, n: int) -> np.ndarray:
    h = rng.integers(0, 0xFFFF, size=(n, 2))
    return np.array([f"2001:db8:{x:x}::{y:x}" for x, y in h])


def _kinds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Address kind per socket: 0 IPv4 (75%), 1 IPv6 (15%), 2 v4-mapped IPv6 (8%), 3 link-local (2%)."""
    return rng.choice(4, size=n, p=[0.75, 0.15, 0.08, 0.02])


def _addresses(rng: np.random.Generator, kind: np.ndarray, prefix: str) -> np.ndarray:
    """Address text of each kind (IPv4 addresses under ``prefix``, a /16)."""
    n = len(kind)
    v4 = _v4(rng, n, prefix)
    out = v4.astype(object)
    six = kind == 1
    out[six] = _v6(rng, int(six.sum()))
    mapped = kind == 2
    out[mapped] = np.char.add("::ffff:", v4[mapped].astype(str))
    ll = kind == 3
    out[ll] = [f"fe80::{x:x}" for x in rng.integers(1, 0xFFFF, int(ll.sum()))]
    return out


def generate_ss(n_lines: int, netid: bool, seed: int = 7) -> bytes:
    """An ``ss -tanp`` (or, with ``netid``, ``ss -tuanp``) dump of ``n_lines`` lines."""
    rng = np.random.default_rng(seed)
    n = n_lines - 1
    state = rng.choice(SS_STATES, size=n, p=SS_WEIGHTS)
    udp = (rng.random(n) < 0.1) if netid else np.zeros(n, dtype=bool)
    state = np.where(udp, "UNCONN", state)
    listen = (state == "LISTEN") | udp
    lkind = _kinds(rng, n)
    local = _addresses(rng, lkind, "10.1.")
    peer = _addresses(rng, lkind, "172.16.")
    lport = np.where(rng.random(n) < 0.5, rng.choice(SERVICE_PORTS, n), rng.integers(32768, 60999, n))
    pport = np.where(lport < 32768, rng.integers(1024, 65535, n), rng.choice(SERVICE_PORTS, n))
    idle = np.isin(state, ["TIME-WAIT", "SYN-RECV", "SYN-SENT"]) | (rng.random(n) < 0.9)
    recvq = np.where(idle, 0, rng.integers(1, 200000, n))
    sendq = np.where(listen, rng.choice([128, 511, 4096], n), np.where(idle, 0, rng.integers(1, 90000, n)))
    has_proc = ~np.isin(state, ["TIME-WAIT", "SYN-RECV"]) & (rng.random(n) < 0.8)
    pid = rng.integers(300, 400000, n)
    fd = rng.integers(3, 900, n)
    proc = rng.choice(PROCS, n)
    two = rng.random(n) < 0.1
    zone = np.array(["", "%eth0", "%ens3"])
    lines = []
    for i in range(n):
        la, pa = local[i], peer[i]
        bracket = lkind[i] != 0
        if bracket:
            la = f"[{la}]" + (zone[1] if lkind[i] == 3 else "")
            pa = f"[{pa}]" + (zone[1] if lkind[i] == 3 else "")
        if listen[i]:
            pa, pp = ("*" if lkind[i] else "0.0.0.0"), "*"
        else:
            pp = pport[i]
        users = ""
        if has_proc[i]:
            users = f'users:(("{proc[i]}",pid={pid[i]},fd={fd[i]})' + (f',("{proc[i]}",pid={pid[i] + 1},fd={fd[i]})' if two[i] else "") + ")"
        head = f"{'udp' if udp[i] else 'tcp':<5} " if netid else ""
        lines.append(f"{head}{state[i]:<10} {recvq[i]:<6} {sendq[i]:<6} {la:>40}:{lport[i]:<5} {pa:>40}:{pp:<5} {users}")
    header = ("Netid " if netid else "") + "State      Recv-Q Send-Q                            Local Address:Port                                  Peer Address:Port  Process"
    return ("\n".join([header, *lines]) + "\n").encode()


def generate_windows(n_lines: int, seed: int = 11) -> bytes:
    """A Windows ``netstat -ano`` dump (CRLF) of ``n_lines`` lines, TCP and UDP, IPv4 and IPv6."""
    rng = np.random.default_rng(seed)
    head = ["", "Active Connections", "", "  Proto  Local Address          Foreign Address        State           PID"]
    n = n_lines - len(head)
    udp = rng.random(n) < 0.15
    state = rng.choice(WIN_STATES, size=n, p=WIN_WEIGHTS)
    listen = state == "LISTENING"
    lkind = _kinds(rng, n)
    local = _addresses(rng, lkind, "192.168.")
    peer = _addresses(rng, lkind, "52.10.")
    lport = np.where(rng.random(n) < 0.4, rng.choice(SERVICE_PORTS, n), rng.integers(49152, 65535, n))
    pport = rng.choice(SERVICE_PORTS, n)
    pid = rng.integers(4, 40000, n)
    lines = []
    for i in range(n):
        six = lkind[i] != 0
        la = f"[{local[i]}" + (f"%{pid[i] % 20}]" if lkind[i] == 3 else "]") if six else local[i]
        if udp[i]:
            lines.append(f"  UDP    {la}:{lport[i]:<{max(1, 21 - len(la))}} *:*                                    {pid[i]}")
            continue
        if listen[i]:
            pa = "[::]:0" if six else "0.0.0.0:0"
        else:
            pa = (f"[{peer[i]}" + (f"%{pid[i] % 20}]" if lkind[i] == 3 else "]") if six else str(peer[i])) + f":{pport[i]}"
        lines.append(f"  TCP    {la + ':' + str(lport[i]):<22} {pa:<22} {state[i]:<15} {pid[i]}")
    return ("\r\n".join(head + lines) + "\r\n").encode("ascii")


DATASETS = {
    "ss-tanp": ("ss -tanp", lambda n: generate_ss(n, netid=False)),
    "ss-tuanp": ("ss -tuanp (Netid column)", lambda n: generate_ss(n, netid=True)),
    "netstat-ano": ("Windows netstat -ano", generate_windows),
}
JC_PARSER = {"ss-tanp": "ss", "ss-tuanp": "ss", "netstat-ano": "netstat"}


def ensure_data(name: str, lines: int) -> Path:
    """The generated dump (regenerated only when missing or of another size)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{name}-{lines}.txt"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(DATASETS[name][1](lines))
        tmp.replace(path)
    return path


# --- one measurement, in a child process -------------------------------------------------


def child(method: str, path: str, parser: str) -> dict:
    """Run one method on one file; return its timing, peak RSS and record count."""
    import jc

    import tcpforensics
    from tcpforensics import ingest

    out: dict = {"method": method}
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    try:
        if method == "tcpforensics.analyze":
            report = tcpforensics.analyze(path)
            out["records"] = report.summary["events"]
            out["findings"] = report.summary["findings"]
            out["unaccounted"] = sum(a.get("unaccounted", 0) for a in report.accounting)
        elif method == "tcpforensics.ingest":
            ing = ingest(path)
            out["records"] = len(ing.events)
        elif method == "jc.parse":
            with open(path, encoding="utf-8", newline="") as fh:
                text = fh.read()
            out["records"] = len(jc.parse(parser, text, quiet=True))
        else:
            raise ValueError(method)
    except Exception as e:  # reported in the results table, not hidden
        out["error"] = f"{type(e).__name__}: {e}"[:160]
    out["seconds"] = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def measure(method: str, path: Path, parser: str) -> dict:
    """Run ``child`` in a fresh interpreter; also record its wall time with start-up."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--child", method, str(path), parser],
                       capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        res = {"method": method, "error": (r.stderr.strip().splitlines() or ["no output"])[-1][:160],
               "seconds": float("nan"), "cpu": float("nan"), "rss_mb": float("nan")}
    res["wall"] = wall
    return res


def _versions() -> str:
    import jc
    import pandas as pd

    import tcpforensics

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"Python {platform.python_version()}, pandas {pd.__version__}, tcpforensics {tcpforensics.__version__}, "
            f"jc {jc.__version__}; {cpu}, {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results/text.md alone")
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "PATH", "PARSER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    rows = []
    for name in args.datasets.split(","):
        path = ensure_data(name, args.lines)
        n = sum(1 for _ in path.open("rb"))
        size = path.stat().st_size / 1e6
        for method in ("tcpforensics.analyze", "tcpforensics.ingest", "jc.parse"):
            res = measure(method, path, JC_PARSER[name])
            res.update(dataset=name, lines=n, mb=size)
            rows.append(res)
            print(json.dumps(res), flush=True)
    text = results_markdown(rows, args.lines)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


def results_markdown(rows: list[dict], lines: int) -> str:
    """The results table: lines/s, speed-up over jc, peak RSS, records found."""
    out = [
        "# Text-dump benchmark: tcpforensics vs jc",
        "",
        f"`python benchmarks/bench_text.py --lines {lines}` on {time.strftime('%Y-%m-%d')}; {_versions()}.",
        "Each method runs in a fresh interpreter; Seconds = the work (file read included; start-up",
        "and imports excluded, Wall = with them); peak RSS = the process's own maximum resident",
        "set (imports included). CPU = user + system time of the work: on a shared machine it",
        "is the steadier figure, so Speed-up vs jc is given for both (elapsed / CPU).",
        "`tcpforensics.analyze` = read + detect format + parse + diagnose (the CLI's job);",
        "`tcpforensics.ingest` = read + detect + parse; `jc.parse` = read + `jc.parse(parser, text)`.",
        "",
        "| Dump | Lines | MB | Method | Seconds | CPU s | Wall | Lines/s | Speed-up vs jc (elapsed / CPU) | Peak RSS MB | Records | Note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        jc_row = next((r for r in group if r["method"] == "jc.parse" and "error" not in r), None)
        for r in group:
            ok = "error" not in r
            speed = f"{r['lines'] / r['seconds']:,.0f}" if ok else "-"
            ratio = (f"{jc_row['seconds'] / r['seconds']:.1f}x / {jc_row['cpu'] / r['cpu']:.1f}x"
                     if ok and jc_row else "-")
            note = r.get("error", "")
            if ok and "findings" in r:
                note = f"{r['findings']} findings, unaccounted {r.get('unaccounted')}"
            out.append(f"| {DATASETS[name][0]} | {r['lines']:,} | {r['mb']:.0f} | `{r['method']}` | "
                       f"{r['seconds']:.2f} | {r.get('cpu', float('nan')):.2f} | {r['wall']:.1f} | {speed} | {ratio} | {r['rss_mb']:.0f} | {r.get('records', '-')} | {note} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
