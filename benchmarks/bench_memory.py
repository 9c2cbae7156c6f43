"""Peak RSS and wall time of `tcpforensics analyze` on large captures, beside `tcptrace -n`.

    python benchmarks/bench_memory.py                        # build what is missing, run all, append results
    python benchmarks/bench_memory.py --captures 2M,flows-2M --repeat 3 --no-write
    python benchmarks/bench_memory.py --methods analyze,tcptrace,flows,analyze-jobs2
    python benchmarks/bench_memory.py --repo /tmp/old-checkout --code-label "HEAD before the change"

Captures (built once into benchmarks/data/, git-ignored; rebuilt when missing, when the recipe
changed, or with --rebuild; building is not timed; see benchmarks/capbuild.py):

- ``2M``: capture-ordinary-2M.pcap, ordinary traffic: the Ethernet pcaps of corpus/pcap/zeek
  concatenated, each copy time-shifted after the previous one, until >= 2,000,000 IPv4 TCP
  packets (the traffic bench_flows.py uses; about 10 k connections).
- ``10M``: capture-ordinary-10M.pcap, the same until >= 10,000,000 (written one pass at a time).
- ``10M-backsteps``: capture-ordinary-10M-backsteps.pcap, the 10M packets, but every 5 copies the clock
  steps back by 3 s to 10 min (as merged captures or clock steps do), so a streaming reader
  sees time go backwards from one chunk to the next.
- ``flows-2M``: capture-flows-2M.pcap, the scan / SYN flood / reflection / backscatter captures
  of corpus/pcap/labeled (by manifest.tsv label), each pass with its copy index added to the
  second and third octets of every IPv4 address (IP checksum recomputed; TCP checksums updated
  incrementally, so each packet keeps the validity it had), until >= 2,000,000 TCP packets and
  >= 1,000,000 distinct TCP 4-tuples.
- ``mixed-2M``: capture-2M.pcap, every corpus capture, scans and floods included (the same bytes
  as bench_capture.py's capture; 1.3 M connections).

Methods (each run is its own process; skipped with a note when the CLI lacks the option):

- ``analyze``: ``tcpforensics analyze --quiet --format json -o /dev/null CAPTURE``
- ``tcptrace``: ``tcptrace -n CAPTURE > /dev/null`` (the anchor)
- ``flows``: ``tcpforensics flows --format csv -o /dev/null CAPTURE``
- ``analyze-jobs2``: ``analyze`` with ``--jobs 2`` (when ``analyze --help`` lists ``--jobs``)

Measuring: every command runs under ``/usr/bin/time -v`` (else under a small Python wrapper
that reports ``getrusage(RUSAGE_CHILDREN)``), which gives its wall time, CPU time and
``ru_maxrss`` -- the peak of the largest single process of the tree. Meanwhile the process tree
is polled every 50 ms and the VmRSS of all its processes summed (worker processes included;
shared pages count once per process, so for forked workers the sum is an upper bound). The
peak RSS reported is the larger of the two. A run whose tree passes --rss-limit (16 GiB) or
--timeout, or during which the machine's MemAvailable falls below --min-free (1.5 GiB), is
killed and reported as failed (``tcptrace -n`` keeps every connection, ~8.6 KiB each: on the
10M captures it needs far more than this machine has). Results are appended, as a dated section, to
benchmarks/results/memory.md (not with --no-write) and printed.

Acceptance goals checked (``analyze``, the larger peak over repeats): the 10M run under 1 GiB;
10M peak / 2M peak <= 1.25; the flows-2M run under 1 GiB.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "memory.md"
CORPUS = ROOT.parent / "shared" / "corpus" / "pcap"
TIME = "/usr/bin/time"
GIB_KIB = 1024 * 1024
POLL_S = 0.05
RECIPE_VERSION = 2

#: name -> (file, sources, TCP packets, distinct 4-tuples, backsteps, address rewrite).
#: "ordinary": the Zeek traces of corpus/pcap/zeek (ordinary traffic, as bench_flows.py uses);
#: "corpus": every corpus capture, floods and scans included (bench_capture.py's recipe);
#: "flow-heavy": the scans and floods of corpus/pcap/labeled, addresses shifted per copy.
CAPTURES: dict[str, tuple[str, str, int, int, bool, bool]] = {
    "2M": ("capture-ordinary-2M.pcap", "ordinary", 2_000_000, 0, False, False),
    "10M": ("capture-ordinary-10M.pcap", "ordinary", 10_000_000, 0, False, False),
    "10M-backsteps": ("capture-ordinary-10M-backsteps.pcap", "ordinary", 10_000_000, 0, True, False),
    "flows-2M": ("capture-flows-2M.pcap", "flow-heavy", 2_000_000, 1_000_000, False, True),
    "mixed-2M": ("capture-2M.pcap", "corpus", 2_000_000, 0, False, False),
}
METHODS = ("analyze", "tcptrace", "flows", "analyze-jobs2")
DEFAULT_METHODS = "analyze,tcptrace,analyze-jobs2"
CWD = ROOT  # where the runs start (main() sets it to --repo)
ANALYZE_ARGS = ["analyze", "--quiet", "--format", "json", "-o", os.devnull]

# the fallback when /usr/bin/time is absent: run the command, report its (children's) rusage
WRAPPER = """
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"BENCH_RUSAGE {ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime}", file=sys.stderr)
sys.exit(rc if rc >= 0 else 128 - rc)
"""


# --- captures (built once, not timed) -------------------------------------------------------


def capture_path(name: str) -> Path:
    return DATA / CAPTURES[name][0]


def _recipe(name: str) -> str:
    _file, sources, tcp, tuples, backsteps, rewrite = CAPTURES[name]
    return (
        f"v{RECIPE_VERSION} sources={sources} tcp>={tcp} tuples>={tuples} backsteps={backsteps} "
        f"rewrite={rewrite}"
    )


def load_stats(name: str) -> dict | None:
    """The build stats saved beside the capture, if the capture is there and of this recipe."""
    path = capture_path(name)
    side = path.with_name(path.name + ".json")
    if not path.exists() or not side.exists():
        return None
    stats = json.loads(side.read_text())
    if stats.get("recipe") != _recipe(name) or stats.get("bytes") != path.stat().st_size:
        return None
    return stats


def build(name: str) -> dict:
    """Write the capture and its stats (``<file>.json``) into benchmarks/data/."""
    import capbuild

    _file, sources, tcp, tuples, backsteps, rewrite = CAPTURES[name]
    paths = {
        "ordinary": lambda: sorted((CORPUS / "zeek").glob("*.pcap*")),
        "corpus": lambda: capbuild.corpus_pcaps(CORPUS),
        "flow-heavy": lambda: capbuild.flow_heavy_pcaps(CORPUS / "labeled"),
    }[sources]()
    if not paths:
        raise SystemExit(f"no source captures under {CORPUS}")
    t0 = time.perf_counter()
    loaded = capbuild.load_sources(paths)
    load_s = time.perf_counter() - t0
    path = capture_path(name)
    st = capbuild.build_concat(
        path,
        loaded,
        tcp,
        min_tuples=tuples,
        rewrite=rewrite,
        backsteps=capbuild.Backsteps() if backsteps else None,
    )
    stats = dataclasses.asdict(st)
    stats.update(
        recipe=_recipe(name),
        load_seconds=load_s,
        built=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    side = path.with_name(path.name + ".json")
    side.write_text(json.dumps(stats, indent=1) + "\n")
    print(
        f"built {path.name}: {st.frames:,} frames, {st.tcp:,} TCP packets, {st.passes} passes, "
        f"{st.tuples_distinct:,} distinct TCP 4-tuples ({st.tuples_per_pass_summed:,} summed over passes), "
        f"{st.backsteps:,} clock steps back, {st.bytes / 1e6:,.0f} MB in {st.seconds:.1f} s "
        f"(+{load_s:.1f} s reading the sources)",
        file=sys.stderr,
    )
    return stats


# --- measuring one command ------------------------------------------------------------------


@dataclass
class Run:
    capture: str
    method: str
    repeat: int
    cmd: list[str]
    wall: float = 0.0
    cpu: float | None = None
    maxrss_kib: int | None = None  # ru_maxrss: the largest single process
    tree_kib: int = 0  # polled: the largest sum of VmRSS over the process tree
    rc: int | None = None
    note: str = ""
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def peak_kib(self) -> int:
        return max(self.maxrss_kib or 0, self.tree_kib)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.note


def _stat_ppid() -> dict[int, list[int]]:
    """Children of every process, from /proc/*/stat (the kernel here has no task/*/children)."""
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        return []
    return out


def _has_children_files() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _vmrss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int, use_children_files: bool) -> int:
    """Sum of VmRSS of the descendants of ``root`` (the time/wrapper process itself left out)."""
    kids = None if use_children_files else _stat_ppid()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        below = _children(pid) if kids is None else kids.get(pid, [])
        for c in below:
            total += _vmrss_kib(c)
            stack.append(c)
    return total


def mem_available_kib() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _parse_time_v(lines: list[str], run: Run) -> None:
    user = system = None
    for ln in lines:
        s = ln.strip()
        if s.startswith("Maximum resident set size (kbytes):"):
            run.maxrss_kib = int(s.rsplit(":", 1)[1])
        elif s.startswith("User time (seconds):"):
            user = float(s.rsplit(":", 1)[1])
        elif s.startswith("System time (seconds):"):
            system = float(s.rsplit(":", 1)[1])
        elif s.startswith("BENCH_RUSAGE "):
            _, rss, u, sy = s.split()
            run.maxrss_kib, user, system = int(rss), float(u), float(sy)
    if user is not None and system is not None:
        run.cpu = user + system


def measure(
    run: Run, env: dict[str, str], timeout: float, rss_limit_kib: int, min_free_kib: int
) -> Run:
    """Run ``run.cmd`` (stdout to /dev/null) in its own session; fill in time and memory.

    The run is killed when its tree passes ``rss_limit_kib``, when it takes over ``timeout``
    seconds, or when the machine's MemAvailable falls below ``min_free_kib`` (other work shares
    the machine: better a failed run than the OOM killer choosing someone else's process)."""
    wrapped = (
        [TIME, "-v", *run.cmd]
        if os.access(TIME, os.X_OK)
        else [sys.executable, "-c", WRAPPER, *run.cmd]
    )
    use_children = _has_children_files()
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            wrapped, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=CWD, start_new_session=True
        )
        try:
            while True:
                try:
                    p.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                run.tree_kib = max(run.tree_kib, tree_rss_kib(p.pid, use_children))
                if rss_limit_kib and run.tree_kib > rss_limit_kib:
                    run.note = f"killed: process tree above {rss_limit_kib / GIB_KIB:.0f} GiB"
                elif timeout and time.perf_counter() - t0 > timeout:
                    run.note = f"killed: over {timeout:.0f} s"
                elif min_free_kib and (mem_available_kib() or min_free_kib) < min_free_kib:
                    run.note = (
                        f"killed: machine MemAvailable below {min_free_kib / GIB_KIB:.1f} GiB "
                        f"(tree at {run.tree_kib / GIB_KIB:.1f} GiB)"
                    )
                if run.note:
                    os.killpg(p.pid, signal.SIGKILL)  # the session this run started, only
                    p.wait()
                    break
        except BaseException:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        run.wall = time.perf_counter() - t0
        run.rc = p.returncode
        err.seek(0)
        lines = err.read().splitlines()
    _parse_time_v(lines, run)
    own = [
        ln
        for ln in lines
        if not ln.startswith(("\t", "BENCH_RUSAGE", "Command exited", "Command terminated"))
    ]
    run.stderr_tail = own[-5:]
    return run


# --- the commands ---------------------------------------------------------------------------


def tcpforensics_cmd(repo: Path | None) -> tuple[list[str], dict[str, str]]:
    """The command and environment; every run is started in CWD (the --repo checkout, if one is
    given: ``python -m`` puts the working directory first on sys.path)."""
    env = dict(os.environ)
    env["COLUMNS"] = "200"  # help text unwrapped, for option detection
    if repo is not None:
        env["PYTHONPATH"] = str(repo.resolve()) + os.pathsep + env.get("PYTHONPATH", "")
        return [sys.executable, "-m", "tcpforensics"], env
    exe = shutil.which("tcpforensics")
    return ([exe] if exe else [sys.executable, "-m", "tcpforensics"]), env


def available(tf: list[str], env: dict[str, str]) -> dict[str, str]:
    """Method -> '' when the CLI accepts it, else the reason it is skipped."""

    def help_of(sub: str) -> str:
        p = subprocess.run([*tf, sub, "--help"], capture_output=True, text=True, env=env, cwd=CWD)
        return p.stdout if p.returncode == 0 else ""

    analyze, flows = help_of("analyze"), help_of("flows")
    return {
        "analyze": ""
        if "--quiet" in analyze and "--format" in analyze
        else "`analyze --help` failed",
        "tcptrace": "" if shutil.which("tcptrace") else "tcptrace not installed",
        "flows": "" if "--format" in flows else "no `flows --format` in this CLI",
        "analyze-jobs2": "" if "--jobs" in analyze else "`analyze` has no --jobs option yet",
    }


def command(method: str, tf: list[str], cap: Path) -> list[str]:
    return {
        "analyze": [*tf, *ANALYZE_ARGS, str(cap)],
        "analyze-jobs2": [*tf, "analyze", "--jobs", "2", *ANALYZE_ARGS[1:], str(cap)],
        "flows": [*tf, "flows", "--format", "csv", "-o", os.devnull, str(cap)],
        "tcptrace": ["tcptrace", "-n", str(cap)],
    }[method]


def code_origin(env: dict[str, str]) -> str:
    """The checkout whose tcpforensics package the runs import."""
    p = subprocess.run(
        [sys.executable, "-c", "import tcpforensics; print(tcpforensics.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=CWD,
    )
    return str(Path(p.stdout.strip()).parent.parent) if p.returncode == 0 else "?"


# --- the report -----------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    p = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(repo), *args], capture_output=True, text=True
    )
    return p.stdout.strip() if p.returncode == 0 else ""


def machine() -> str:
    ram = "?"
    try:
        kib = int(next(ln for ln in open("/proc/meminfo") if ln.startswith("MemTotal:")).split()[1])
        ram = f"{kib / GIB_KIB:.1f} GiB"
    except (OSError, StopIteration):
        pass

    def ver(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "absent"

    tt = (
        subprocess.run(["tcptrace", "-v"], capture_output=True, text=True)
        if shutil.which("tcptrace")
        else None
    )
    tt_ver = (
        (tt.stdout + tt.stderr).split("version", 1)[-1].split("--")[0].strip() if tt else "absent"
    )
    return (
        f"{os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}, pandas {ver('pandas')}, numpy {ver('numpy')}; "
        f"tcptrace {tt_ver}"
    )


def code_label(repo: Path | None, origin: str) -> str:
    where = repo.resolve() if repo else ROOT
    commit = _git(where, "rev-parse", "--short", "HEAD")
    if not commit:
        return f"code at {origin} (not a git checkout)"
    dirty = _git(where, "status", "--porcelain", "--untracked-files=no", "--", "tcpforensics")
    changed = len(dirty.splitlines()) if dirty else 0
    state = (
        f", working tree: {changed} modified file(s) under tcpforensics/" if changed else ", clean"
    )
    return f"commit {commit}{state} (package imported from {origin})"


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def _span(vals: list[float], fmt) -> str:
    lo, hi = min(vals), max(vals)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}-{fmt(hi)}"


def summarize(runs: list[Run]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for r in runs:
        out.setdefault((r.capture, r.method), {"runs": []})["runs"].append(r)
    for s in out.values():
        rs = s["runs"]
        s["ok"] = all(r.ok for r in rs)
        s["peak"] = max(r.peak_kib for r in rs)
        s["wall"] = _span([r.wall for r in rs], lambda v: f"{v:.1f}")
        s["rss"] = _span([r.peak_kib for r in rs], _mib)
        s["wall_min"] = min(r.wall for r in rs)
        s["peak_min"] = min(r.peak_kib for r in rs)
        s["killed"] = any(r.note for r in rs)
        if not s["ok"]:
            bad = next(r for r in rs if not r.ok)
            s["why"] = bad.note or f"exit {bad.rc}"
    return out


def _cell(s: dict | None, key: str) -> str:
    """A wall or RSS figure; a killed run's figure is a lower bound."""
    if s is None:
        return "-"
    if s["ok"]:
        return s[key]
    if s["killed"]:
        return f">= {s[key]} (killed)" if key == "wall" else f"> {s[key]} ({s['why']})"
    return f"{s[key]} ({s['why']})"


def checks(summary: dict) -> list[str]:
    def peak(cap: str, method: str = "analyze") -> tuple[float | None, str]:
        s = summary.get((cap, method))
        if s is None:
            return None, "not measured"
        if not s["ok"]:
            return None, f"run failed: {s['why']}, peak seen {_mib(s['peak'])} MiB"
        return s["peak"], ""

    lines = []
    for cap, label in (
        ("10M", "10M: analyze peak RSS < 1 GiB"),
        ("flows-2M", "flows-2M (>= 1 M connections): analyze peak RSS < 1 GiB"),
        ("10M-backsteps", "10M-backsteps: analyze peak RSS < 1 GiB (informational, not a goal)"),
    ):
        v, why = peak(cap)
        if v is None:
            lines.append(f"- {'FAIL' if 'failed' in why else 'n/a'}: {label} -- {why}")
        else:
            lines.append(f"- {'PASS' if v < GIB_KIB else 'FAIL'}: {label} -- {_mib(v)} MiB")
    big, why_b = peak("10M")
    small, why_s = peak("2M")
    label = "10M / 2M analyze peak RSS <= 1.25"
    if big is None or small is None:
        status = "FAIL" if "failed" in why_b + why_s else "n/a"
        lines.insert(1, f"- {status}: {label} -- {'; '.join(w for w in (why_b, why_s) if w)}")
    else:
        ratio = big / small
        lines.insert(
            1,
            f"- {'PASS' if ratio <= 1.25 else 'FAIL'}: {label} -- {ratio:.2f} "
            f"({_mib(big)} / {_mib(small)} MiB)",
        )
    return lines


def report(
    runs: list[Run],
    stats: dict[str, dict],
    skipped: dict[str, str],
    args: argparse.Namespace,
    label: str,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    method_note: str,
    now: str | None = None,
    argv: list[str] | None = None,
) -> str:
    summary = summarize(runs)
    caps = [c for c in CAPTURES if c in stats]
    now = now or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    argv = sys.argv[1:] if argv is None else argv
    lines = [
        f"## {now}: {label}",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load[0])} at the start, "
        f"{'/'.join(f'{x:.1f}' for x in load[1])} at the end: other work shares the machine, so the times are "
        "indicative; the RSS figures are what matters.",
        f"Command: `{shlex.join(['python', 'benchmarks/bench_memory.py', *argv])}`; repeats: {args.repeat} "
        "(min-max shown when they differ).",
        f"Peak RSS: {method_note}",
        "",
        "| capture | frames | TCP packets | TCP connections | distinct 4-tuples | analyze s | analyze peak RSS MiB "
        "| tcptrace -n s | tcptrace peak RSS MiB | time ratio | RSS ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cap in caps:
        st = stats[cap]
        a, t = summary.get((cap, "analyze")), summary.get((cap, "tcptrace"))
        ratio_t = ratio_m = "-"
        if a and t and a["ok"] and t["ok"]:
            ratio_t = f"{a['wall_min'] / max(t['wall_min'], 1e-9):.1f}x"
            ratio_m = f"{a['peak'] / max(t['peak'], 1):.1f}x"
        elif a and t and a["ok"] and t["killed"]:  # tcptrace's figures are lower bounds
            ratio_m = f"< {a['peak'] / max(t['peak'], 1):.1f}x"
            if "over" in t["why"]:
                ratio_t = f"< {a['wall_min'] / max(t['wall_min'], 1e-9):.1f}x"
        lines.append(
            f"| {cap} | {st['frames']:,} | {st['tcp']:,} | {st['tuples_per_pass_summed']:,} | "
            f"{st['tuples_distinct']:,} | {_cell(a, 'wall')} | {_cell(a, 'rss')} | {_cell(t, 'wall')} | "
            f"{_cell(t, 'rss')} | {ratio_t} | {ratio_m} |"
        )
    lines += [
        "",
        "Ratios: tcpforensics analyze / tcptrace -n (time: the fastest runs; RSS: the largest peaks). "
        "TCP packets: IPv4 TCP (what the builder counts); TCP connections: the distinct IPv4 TCP 4-tuples "
        "of each pass summed over the passes (every time-shifted copy of a 4-tuple is a new connection).",
        *_tcptrace_note(summary, stats),
        "",
        "Acceptance goals:",
        "",
        *checks(summary),
    ]
    extra = [
        (cap, m)
        for cap in caps
        for m in args.methods
        if m not in ("analyze", "tcptrace") and (cap, m) in summary
    ]
    if extra:
        lines += [
            "",
            "Other commands:",
            "",
            "| capture | command | wall s | peak RSS MiB | vs analyze RSS |",
            "|---|---|---:|---:|---:|",
        ]
        for cap, m in extra:
            s, a = summary[(cap, m)], summary.get((cap, "analyze"))
            vs = f"{s['peak'] / a['peak']:.2f}x" if a and a["ok"] and s["ok"] else "-"
            lines.append(f"| {cap} | {m} | {_cell(s, 'wall')} | {_cell(s, 'rss')} | {vs} |")
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{m} ({why})" for m, why in skipped.items()) + "."]
    lines += [
        "",
        "<details><summary>Every run</summary>",
        "",
        "| capture | method | # | wall s | CPU s | ru_maxrss MiB | tree (polled) MiB | exit | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        cpu = f"{r.cpu:.1f}" if r.cpu is not None else "-"
        mx = _mib(r.maxrss_kib) if r.maxrss_kib is not None else "-"
        lines.append(
            f"| {r.capture} | {r.method} | {r.repeat} | {r.wall:.1f} | {cpu} | {mx} | {_mib(r.tree_kib)} | "
            f"{r.rc} | {r.note} |"
        )
    lines += [
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in _commands(runs)) + ".",
        "",
        "</details>",
        "",
        "Captures (benchmarks/data/, built by benchmarks/capbuild.py; build not timed):",
        "",
    ]
    for cap in caps:
        st = stats[cap]
        back = (
            f", {st['backsteps']:,} clock steps back (up to {st['max_backstep_s']:.0f} s)"
            if st["backsteps"]
            else ""
        )
        rew = ", IPv4 addresses shifted per pass" if st["rewrite"] else ""
        per_pass = st["tuples_per_pass_summed"] // max(st["passes"], 1)
        lines.append(
            f"- {cap}: {Path(st['path']).name}, {st['bytes'] / 1e6:,.0f} MB, {st['passes']} passes of "
            f"{len(st['sources'])} source captures ({per_pass:,} TCP 4-tuples a pass){rew}{back}; "
            f"built {st['built']} in {st['seconds']:.1f} s."
        )
    if "mixed-2M" in caps:
        lines += [
            "",
            "mixed-2M follows bench_capture.py's recipe, whose passes include the labelled scan and flood "
            "captures: its connections grow with its packets.",
        ]
    return "\n".join(lines) + "\n"


def _tcptrace_note(summary: dict, stats: dict[str, dict]) -> list[str]:
    """Why tcptrace -n is killed on the big captures, with its measured cost per connection."""
    killed = [c for (c, m), s in summary.items() if m == "tcptrace" and s["killed"]]
    if not killed:
        return []
    per = [
        s["peak"] / stats[c]["tuples_per_pass_summed"]
        for (c, m), s in summary.items()
        if m == "tcptrace" and s["ok"] and stats[c]["tuples_per_pass_summed"]
    ]
    cost = f" (about {max(per):.1f} KiB per connection in the runs that finished)" if per else ""
    return [
        "",
        f"tcptrace -n keeps every connection's state until it prints its summary{cost}, so on "
        f"{', '.join(killed)} it was killed at the limit; its figures there are lower bounds.",
    ]


def _commands(runs: list[Run]) -> list[str]:
    """Each method's command line once, the capture written as CAPTURE."""
    cmds: dict[str, str] = {}
    for r in runs:
        shown = [Path(r.cmd[0]).name, *r.cmd[1:-1], "CAPTURE"]
        cmds.setdefault(
            r.method, " ".join(shown) + (" > /dev/null" if r.method == "tcptrace" else "")
        )
    return list(cmds.values())


def append_results(text: str) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    head = (
        ""
        if RESULTS.exists()
        else (
            "# Memory benchmark\n\nPeak RSS and wall time of `tcpforensics analyze` on large captures beside "
            "`tcptrace -n`, written by `benchmarks/bench_memory.py` (see its docstring and benchmarks/README.md). "
            "Newest section last.\n\n"
        )
    )
    with open(RESULTS, "a") as fh:
        fh.write(head + text + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--captures", default=",".join(CAPTURES), help=f"comma-separated, of {', '.join(CAPTURES)}"
    )
    ap.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated, of {', '.join(METHODS)} (default {DEFAULT_METHODS})",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs of each command (min and max reported)"
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild the captures even when present")
    ap.add_argument("--build-only", action="store_true", help="build the captures, measure nothing")
    ap.add_argument(
        "--no-write", action="store_true", help="print only; do not append to results/memory.md"
    )
    ap.add_argument(
        "--repo",
        type=Path,
        help="measure the tcpforensics package of another checkout "
        "(python -m tcpforensics with PYTHONPATH=REPO)",
    )
    ap.add_argument("--code-label", help="describe the code measured in the results heading")
    ap.add_argument(
        "--timeout", type=float, default=3600, help="kill a run after this many seconds (0: never)"
    )
    ap.add_argument(
        "--rss-limit",
        type=float,
        default=16,
        help="kill a run whose process tree passes this many GiB (0: never)",
    )
    ap.add_argument(
        "--min-free",
        type=float,
        default=1.5,
        help="kill a run when the machine's MemAvailable falls below this many GiB (0: never)",
    )
    args = ap.parse_args()
    caps = [c for c in args.captures.split(",") if c]
    args.methods = [m for m in args.methods.split(",") if m]
    bad = [c for c in caps if c not in CAPTURES] + [m for m in args.methods if m not in METHODS]
    if bad or args.repeat < 1:
        ap.error(f"unknown capture/method: {', '.join(bad)}" if bad else "--repeat must be >= 1")

    stats: dict[str, dict] = {}
    for cap in caps:
        st = None if args.rebuild else load_stats(cap)
        stats[cap] = st if st is not None else build(cap)
    if args.build_only:
        return

    global CWD
    CWD = args.repo.resolve() if args.repo is not None else ROOT
    tf, env = tcpforensics_cmd(args.repo)
    origin = code_origin(env)
    if args.repo is not None and not Path(origin).resolve().is_relative_to(args.repo.resolve()):
        raise SystemExit(f"--repo: tcpforensics was imported from {origin}, not from {args.repo}")
    reasons = available(tf, env)
    skipped = {m: reasons[m] for m in args.methods if reasons[m]}
    methods = [m for m in args.methods if not reasons[m]]
    for m, why in skipped.items():
        print(f"skipping {m}: {why}", file=sys.stderr)
    if "analyze" in skipped:
        p = subprocess.run(
            [*tf, "analyze", "--help"], capture_output=True, text=True, env=env, cwd=CWD
        )
        raise SystemExit(f"tcpforensics does not run here:\n{p.stderr[-3000:]}")
    label = args.code_label or code_label(args.repo, origin)
    method_note = (
        f"the larger of `{TIME} -v`'s maximum resident set size (ru_maxrss: the largest single "
        "process, children included) and the sum of VmRSS over the whole process tree polled every "
        f"{POLL_S * 1000:.0f} ms."
        if os.access(TIME, os.X_OK)
        else "the larger of a wrapper's getrusage(RUSAGE_CHILDREN).ru_maxrss (the largest single process) and "
        f"the sum of VmRSS over the whole process tree polled every {POLL_S * 1000:.0f} ms."
    )

    load0 = os.getloadavg()
    runs: list[Run] = []
    for cap in caps:
        for i in range(1, args.repeat + 1):
            for m in methods:
                r = measure(
                    Run(cap, m, i, command(m, tf, capture_path(cap))),
                    env,
                    args.timeout,
                    int(args.rss_limit * GIB_KIB),
                    int(args.min_free * GIB_KIB),
                )
                runs.append(r)
                print(
                    f"{cap} {m} #{i}: {r.wall:.1f} s, peak {_mib(r.peak_kib)} MiB "
                    f"(ru_maxrss {_mib(r.maxrss_kib or 0)}, tree {_mib(r.tree_kib)}), exit {r.rc} {r.note}",
                    file=sys.stderr,
                )
                if not r.ok and r.stderr_tail:
                    print("  " + "\n  ".join(r.stderr_tail), file=sys.stderr)
    text = report(runs, stats, skipped, args, label, (load0, os.getloadavg()), method_note)
    print(text)
    if not args.no_write:
        append_results(text)
        print(f"appended to {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
