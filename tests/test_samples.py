"""Every recorded sample gives its expected findings end to end (table in samples/README.md)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
README = SAMPLES / "README.md"

#: Expected categories no detector produces yet: category -> the missing rule. Such rows are
#: strict xfails, so they turn into failures (and must be removed here) once the rule exists.
PENDING: dict[str, str] = {}
#: Whole inputs the pipeline cannot read yet: file -> what is missing.
PENDING_INPUTS: dict[str, str] = {}


def readme_rows() -> list[tuple[str, list[str], list[str]]]:
    """(file, expected categories, forbidden categories) from the README's sample table."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and "/" in cells[0]:
            rows.append((cells[0].strip("`"), re.findall(r"`([a-z_0-9]+)`", cells[2]),
                         re.findall(r"`([a-z_0-9]+)`", cells[3])))
    return rows


ROWS = readme_rows()


@cache
def analyze_json(sample: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["analyze", str(SAMPLES / sample), "--format", "json"])
    return r.exit_code, r.output


def findings_of(sample: str) -> set[str]:
    code, out = analyze_json(sample)
    assert code == 0, out[-2000:]
    doc = json.loads(out)
    assert all(a["unaccounted"] == 0 for a in doc["accounting"])
    return {f["category"] for f in doc["findings"]}


def _expected_params() -> list:
    params = []
    for sample, expected, _ in ROWS:
        for cat in expected:
            reason = PENDING_INPUTS.get(sample) or PENDING.get(cat)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(sample, cat, marks=marks, id=f"{sample}:{cat}"))
    return params


def _forbidden_params() -> list:
    params = []
    for sample, _, forbidden in ROWS:
        reason = PENDING_INPUTS.get(sample)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(sample, tuple(forbidden), marks=marks, id=sample))
    return params


def test_readme_lists_every_sample_file() -> None:
    listed = {r[0] for r in ROWS}
    assert len(listed) >= 10
    data = {str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.name != "record.sh"}
    assert data == listed
    for d in {p.split("/")[0] for p in listed}:
        assert (SAMPLES / d / "record.sh").is_file(), f"{d}: the script that recorded it is missing"


def test_first_readme_command_uses_an_existing_sample() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"tcpforensics analyze (samples/\S+)", text)
    assert m and (ROOT / m.group(1)).is_file()
    assert m.group(1).removeprefix("samples/") in {r[0] for r in ROWS}


@pytest.mark.parametrize("sample, category", _expected_params())
def test_sample_gives_expected_finding(sample: str, category: str) -> None:
    assert category in findings_of(sample)


@pytest.mark.parametrize("sample, forbidden", _forbidden_params())
def test_sample_gives_no_wrong_finding(sample: str, forbidden: tuple[str, ...]) -> None:
    found = findings_of(sample)
    assert not found & set(forbidden)
    if sample.startswith("normal_http/"):
        code, out = analyze_json(sample)
        assert json.loads(out)["summary"]["max_severity"] in (None, "info", "low")


def test_recording_scripts_address_loopback_only() -> None:
    """Every IPv4 literal in the recording scripts is inside 127.0.0.0/8 (0.0.0.0 never appears)."""
    import ipaddress

    scripts = [*SAMPLES.glob("*/record.sh"), SAMPLES / "_netns.sh", SAMPLES / "_servers.py"]
    assert len(scripts) >= 7
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "--rand-source" not in text and "--rand-dest" not in text, script
        for lit in re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/\d+)?(?![\d.])", text):
            assert ipaddress.ip_address(lit) in ipaddress.ip_network("127.0.0.0/8"), f"{script}: {lit}"
        # spoofed sources are built from a loopback prefix too
        for prefix in re.findall(r'-a "?(\d+\.\d+)\.', text):
            assert prefix.startswith("127."), f"{script}: spoofed source {prefix}"
