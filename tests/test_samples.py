"""Every recorded sample gives its expected findings end to end (table in samples/README.md)."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

from tcpforensics.cli import app

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
