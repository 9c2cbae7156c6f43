"""Rows/s and peak RSS of `tcpforensics analyze` on Zeek conn.logs, beside a shell baseline.

    python benchmarks/bench_flowlogs.py                          # 10,000,000 rows in 240 hourly files
    python benchmarks/bench_flowlogs.py --rows 1000000 --files 24 --jobs 1,2 --no-write

Input (built once into benchmarks/data/flowlogs-ROWS-FILES/, git-ignored; not timed): the TCP
rows of the corpus's Zeek conn.logs (``../shared/corpus/pcap/zeek/*.conn.log``) repeated until
ROWS rows, written as FILES gzip-compressed hourly logs ``conn.YYYY-MM-DD-HH.log.gz`` (Zeek's
rotation names). Each repetition is shifted: its ``ts`` (masked in the corpus) is set to the
file's hour plus the row's place in it, and its originator port moved by the repetition
number, so the copies are distinct connections spread over the month.

Methods, each its own process under ``/usr/bin/time -v`` (wall time, peak RSS of the largest
process of the tree):

- ``analyze`` (``--jobs N`` for each N of --jobs): ``tcpforensics analyze --quiet --format json
  -o /dev/null FILES...``;
- ``shell``: ``zcat FILES | grep -v '^#' | cut -f N | sort | uniq -c``, the conn_state count a
  ``zeek-cut conn_state | sort | uniq -c`` pipeline gives (zeek-cut itself when installed).

Results are appended to benchmarks/results/flowlogs.md (not with --no-write) and printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "pcap" / "zeek"
RESULTS = HERE / "results" / "flowlogs.md"
START = dt.datetime(2026, 11, 1)


def corpus_rows() -> tuple[list[str], list[list[str]]]:
    """Zeek's default fields and the TCP rows of the corpus conn.logs that have them all."""
    fields: list[str] = []
    rows: list[list[str]] = []
    for log in sorted(CORPUS.glob("*.conn.log")):
        lines = log.read_text().splitlines()
        names = next(x for x in lines if x.startswith("#fields")).split("\t")[1:]
        if not fields:
            fields = names
        for line in lines:
            cells = line.split("\t")
            if not line.startswith("#") and names == fields and cells[names.index("proto")] == "tcp":
                rows.append(cells)
    return fields, rows


def build(rows_wanted: int, files: int) -> list[Path]:
    """The hourly gzip logs of ``rows_wanted`` rows (kept when already built)."""
    out = HERE / "data" / f"flowlogs-{rows_wanted}-{files}"
    paths = [out / f"conn.{(START + dt.timedelta(hours=h)):%Y-%m-%d-%H}.log.gz" for h in range(files)]
    if all(p.is_file() for p in paths):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    fields, rows = corpus_rows()
    ts, port = fields.index("ts"), fields.index("id.orig_p")
    head = "#separator \\x09\n#path\tconn\n#fields\t" + "\t".join(fields) + "\n"
    per_file = rows_wanted // files
    made = 0
    for h, path in enumerate(paths):
        hour = (START + dt.timedelta(hours=h)).replace(tzinfo=dt.UTC).timestamp()
        n = per_file if h < files - 1 else rows_wanted - made
        with gzip.open(path, "wt", compresslevel=1) as fh:
            fh.write(head)
            body = []
            for i in range(n):
                k = made + i
                cells = list(rows[k % len(rows)])
                copy = k // len(rows)
                cells[ts] = f"{hour + i * 3600.0 / max(n, 1):.6f}"
                cells[port] = str((int(cells[port]) + copy) % 65536)
                body.append("\t".join(cells))
                if len(body) >= 100_000:
                    fh.write("\n".join(body) + "\n")
                    body = []
            if body:
                fh.write("\n".join(body) + "\n")
        made += n
    return paths


def timed(cmd: str) -> dict:
    """Wall seconds and peak RSS (MB) of a shell command under /usr/bin/time -v."""
    run = subprocess.run(["/usr/bin/time", "-v", "bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT)
    err = run.stderr
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
    secs = (int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])) if wall else float("nan")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return {"exit": run.returncode, "wall_s": secs, "peak_mb": int(rss[1]) / 1024 if rss else float("nan"),
            "tail": run.stdout[-300:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values for analyze")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"no corpus at {CORPUS}")
    paths = build(args.rows, args.files)
    files = " ".join(str(p) for p in paths)
    fields, _ = corpus_rows()
    col = fields.index("conn_state") + 1
    cut = "zeek-cut conn_state" if shutil.which("zeek-cut") else f"grep -v '^#' | cut -f {col}"
    results = [("shell: zcat | " + cut + " | sort | uniq -c", timed(f"zcat {files} | {cut} | sort | uniq -c"))]
    for j in args.jobs.split(","):
        cmd = f"{sys.executable} -m tcpforensics analyze --quiet --format json -o /dev/null --jobs {j} {files}"
        results.append((f"tcpforensics analyze --jobs {j}", timed(cmd)))
    lines = [f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {args.rows:,} conn.log rows in {args.files} "
             "gzip files", "", "| method | exit | wall s | rows/s | peak RSS MB |", "|---|---|---|---|---|"]
    for name, r in results:
        rate = args.rows / r["wall_s"] if r["wall_s"] > 0 else float("nan")
        cell = name.replace("|", "\\|")  # (a shell pipeline's bars are not column bars)
        lines.append(f"| {cell} | {r['exit']} | {r['wall_s']:.1f} | {rate:,.0f} | {r['peak_mb']:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        gap = "\n" if RESULTS.is_file() and RESULTS.stat().st_size else ""
        with RESULTS.open("a") as fh:
            fh.write(gap + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
