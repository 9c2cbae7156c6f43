"""Sum the libFuzzer logs of fuzz/run.sh per target: inputs run, seconds, crashes (Markdown rows).

Usage: python fuzz/stats.py [WORK_DIR] [--since YYYYMMDDTHHMMSS] (only runs started then or later).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from collections import defaultdict
from pathlib import Path


def summarize(logs: Path, since: str = "") -> dict[str, dict[str, int]]:
    """Per target: inputs (executed units), seconds and crash count over the log files of runs
    started at or after ``since`` (run.sh's ``YYYYMMDDTHHMMSS`` log stamp; empty: all)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"inputs": 0, "seconds": 0, "crashes": 0, "runs": 0})
    for log in sorted(logs.glob("*.log")):
        target, _, rest = log.name.partition(".")
        stamp = re.fullmatch(r"(\d{8}T\d{6})\.log", rest)  # run.sh names logs by start time
        if since and (not stamp or stamp.group(1) < since):
            continue
        text = log.read_text(errors="replace")
        done = re.search(r"Done (\d+) runs in (\d+) second", text)
        if done:
            inputs, seconds = int(done.group(1)), int(done.group(2))
        else:  # interrupted, stopped by a crash, or still running
            final = re.search(r"stat::number_of_executed_units: (\d+)", text)  # printed on the way out
            counts = re.findall(r"^#(\d+)\s", text, flags=re.M)  # else the last status line
            inputs = int(final.group(1)) if final else int(counts[-1]) if counts else 0
            seconds = 0
            if counts and stamp:
                start = dt.datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
                seconds = int(log.stat().st_mtime - start.timestamp())
        if not inputs:
            continue
        row = out[target]
        row["inputs"] += inputs
        row["seconds"] += seconds
        row["runs"] += 1
        # libFuzzer stops at the first crash, leak or out-of-memory: at most one per log
        row["crashes"] += bool(re.search(r"Uncaught Python exception|ERROR: libFuzzer", text))
    return dict(out)


def main() -> None:
    """Print one Markdown table row per target."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("work", nargs="?", default=os.environ.get("TCPF_FUZZ_WORK", "/tmp/tcpf-fuzz"))
    cli.add_argument("--since", default="", help="only runs started at or after YYYYMMDDTHHMMSS")
    args = cli.parse_args()
    for target, r in sorted(summarize(Path(args.work) / "logs", args.since).items()):
        print(f"| {target} | {r['inputs']:,} | {r['seconds']} s ({r['runs']} run(s)) | {r['crashes']} |")

if __name__ == "__main__":
    main()
