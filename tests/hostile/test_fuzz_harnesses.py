"""CI's short bounded fuzz pass: every harness runs under atheris (all targets in one process)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hostile import mutate

harness = mutate.harness


def test_bounded_fuzz_pass(tmp_path):
    pytest.importorskip("atheris")
    seeds = harness.any_seed_dir(tmp_path / "seeds", per_target=2, max_len=4096)
    r = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_all.py"), "-runs=250", "-max_total_time=20", "-max_len=4096",
         "-seed=1", f"-artifact_prefix={tmp_path}/crash-", str(seeds)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    tail = r.stderr[-3000:]
    assert r.returncode == 0, tail
    done = re.search(r"Done (\d+) runs", r.stderr)
    assert done and int(done.group(1)) >= 50, tail
    assert not list(tmp_path.glob("crash-*"))


@pytest.mark.parametrize("target", harness.TARGETS)
def test_each_harness_replays_its_seeds(target):
    # The per-ingestor harness function accepts every seed (and a cut of it) without failing.
    files = sorted(harness.seed_files(target), key=lambda p: p.stat().st_size)[:2]
    if not files:
        pytest.skip(f"no seeds for {target}")
    one = harness.target_fn(target)
    for p in files:
        data = p.read_bytes()[:20000]
        one(data)
        one(data[: len(data) // 2])


def test_run_script_has_a_harness_per_ingestor():
    for target in harness.TARGETS:
        assert (ROOT / "fuzz" / f"fuzz_{target}.py").is_file()
    assert (ROOT / "fuzz" / "run.sh").stat().st_mode & 0o111
