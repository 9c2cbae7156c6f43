"""Benchmark: the fixed cost of reading one small text dump, per ingestor, beside jc.

Big dumps are measured by ``bench_text.py``; this one measures what a single small file costs
(a pasted ``netstat -an``, one ``/proc/net/tcp``), which is what an incident responder with a
folder of dumps, and the fuzzers (one input per call), pay. The inputs are the real files the
fuzzers start from (``fuzz/harness.py`` seeds: ``../shared/corpus``, ``tests/fixtures``,
``samples``), read in place and cut to 8 KiB like the fuzz inputs. Each file is parsed with
its format forced (``ingest_text(data, name, FORMAT)``) and by jc's parser for the same tool,
best of ``--repeat`` runs, CPU time, imports excluded.

    python benchmarks/bench_small_text.py                      # writes results/small_text.md
    python benchmarks/bench_small_text.py --repo ../old --no-write   # another checkout's code
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: jc's parser for the files of each ingestor (jc has none for netstat -s / nstat counters).
JC = {"ss": "ss", "netstat_linux": "netstat", "netstat_bsd": "netstat", "netstat_windows": "netstat",
      "proc_net_tcp": "proc_net_tcp", "counters": "proc_net_netstat"}
MAX_LEN = 8192


def _seeds() -> dict[str, list[Path]]:
    spec = importlib.util.spec_from_file_location("fuzz_harness", ROOT / "fuzz" / "harness.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    from tcpforensics.ingest import registry

    return {f.name: harness.seed_files(f.name) for f in registry.text_formats()}


def _best(fn, repeat: int) -> float:
    """Best CPU seconds of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def measure(repeat: int) -> list[dict]:
    """Per ingestor: files, median and total CPU ms per file for tcpforensics and jc."""
    import jc

    from tcpforensics.errors import InputError
    from tcpforensics.ingest import ingest_text

    rows = []
    for target, files in _seeds().items():
        ours, theirs, jc_failed, records = [], [], 0, [0, 0]
        for p in files:
            data = p.read_bytes()[:MAX_LEN]

            def run_ours(data=data, name=p.name, target=target):
                try:
                    ing = ingest_text(data, name, target)
                except InputError:
                    return 0
                return len(ing.events) + (len(ing.counters) if ing.counters is not None else 0)

            ours.append(_best(run_ours, repeat))
            records[0] += run_ours()
            text = data.decode("utf-8", errors="replace")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run_jc = lambda text=text, parser=JC[target]: jc.parse(parser, text, quiet=True)  # noqa: E731
                    theirs.append(_best(run_jc, repeat))
                    got = run_jc()
                    records[1] += sum(len(g) for g in got) if target == "counters" else len(got)
            except Exception:  # jc refuses some layouts (ss without Netid, BSD -A, localized)
                jc_failed += 1
        if not ours:
            continue
        rows.append({
            "ingestor": target, "files": len(ours),
            "ours_ms": statistics.median(ours) * 1e3, "ours_files_s": len(ours) / sum(ours),
            "jc": JC[target], "jc_files": len(theirs), "jc_failed": jc_failed,
            "jc_ms": statistics.median(theirs) * 1e3 if theirs else float("nan"),
            "ours_records": records[0], "jc_records": records[1],
        })
    return rows


def table(rows: list[dict]) -> str:
    out = ["| ingestor | files | tcpforensics median ms/file | files/s | records | jc parser | jc median ms/file (files it read) | jc records | jc / tcpforensics |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["jc_ms"] / r["ours_ms"] if r["jc_files"] else float("nan")
        out.append(f"| {r['ingestor']} | {r['files']} | {r['ours_ms']:.1f} | {r['ours_files_s']:.0f} | {r['ours_records']} | {r['jc']} | "
                   f"{r['jc_ms']:.2f} ({r['jc_files']}, {r['jc_failed']} refused) | {r['jc_records']} | {ratio:.2f}x |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per file (best is kept)")
    ap.add_argument("--repo", type=Path, help="measure the tcpforensics package of another checkout")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/small_text.md")
    args = ap.parse_args()
    if args.repo:
        sys.path.insert(0, str(args.repo.resolve()))
    import tcpforensics

    rows = measure(args.repeat)
    md = table(rows)
    print(f"tcpforensics from {Path(tcpforensics.__file__).parent}\n{md}")
    if not args.no_write:
        (ROOT / "benchmarks" / "results" / "small_text.md").write_text(
            "# One small text dump: fixed cost per file\n\n"
            f"`python benchmarks/bench_small_text.py` ({time.strftime('%Y-%m-%d')}; inputs: the fuzz seeds, "
            f"cut to {MAX_LEN} bytes; best of {args.repeat} runs per file, CPU time, imports excluded).\n\n"
            + md + "\n")


if __name__ == "__main__":
    main()
