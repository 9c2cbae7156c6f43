"""JSON report: always valid (no NaN), and every emitted key is documented in docs/report-json.md."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from reportkit import findings_frame, make_report, syn_flood_finding

from tcpforensics.report.json_report import TOP_LEVEL_KEYS, json_value
from tcpforensics.report.render import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-json.md"


def documented_paths() -> set[str]:
    """Every `key.path` in the first column of the doc's key tables (header ``| Key |``)."""
    blocks = DOC.read_text(encoding="utf-8").split("\n\n")
    keys = [b for b in blocks if b.startswith("| Key |")]
    return {m for b in keys for m in re.findall(r"^\| `([^`]+)` \|", b, flags=re.M)}


def emitted_paths(value: object, path: str, documented: set[str]) -> set[str]:
    """Paths of ``value`` in the doc's notation; data-named keys match a `<...>` placeholder."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}.{k}" if path else k
            if p not in documented:
                wild = [d for d in documented if re.fullmatch(re.escape(path) + r"\.<[^>]+>", d)]
                p = wild[0] if wild else p
            out.add(p)
            out |= emitted_paths(v, p, documented)
    elif isinstance(value, list):
        for v in value:
            p = f"{path}[]"
            if isinstance(v, dict) and not any(d.startswith(p + ".") for d in documented):
                continue  # a free-form value (details.<key> holding a list of objects)
            out |= emitted_paths(v, p, documented)
    return out


def _report():
    f = syn_flood_finding()
    f["first_seen"] = pd.Timestamp("2026-11-24 07:16:49")
    f["details"] = {"ratio": np.float32("nan"), "inf": float("inf"), "n": np.int64(3), "when": pd.NaT}
    tables = {"listeners": pd.DataFrame({"listener": ["127.0.0.1:8080"], "share": [float("nan")],
                                         "at": [pd.NaT]}),
              "states": pd.DataFrame({"proto": ["tcp"], "state": ["LISTEN"], "count": [1]})}
    return make_report(findings_frame([f]), tables, skipped_lines=3)


def test_json_is_strictly_valid_and_nan_free() -> None:
    text = render(_report(), "json")
    doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert list(doc) == list(TOP_LEVEL_KEYS)
    f = doc["findings"][0]
    assert f["details"] == {"ratio": None, "inf": None, "n": 3, "when": None}
    assert f["first_seen"] == "2026-11-24T07:16:49" and f["last_seen"] is None
    assert doc["tables"]["listeners"][0] == {"listener": "127.0.0.1:8080", "share": None, "at": None}
    assert doc["summary"]["state_histogram"] == {"LISTEN": 1, "SYN_RECEIVED": 2, "CLOSE_WAIT": 1}
    assert doc["accounting"][0]["skipped"] == {"unparseable row": 3}
    assert [s["line"] for s in doc["skipped"]] == [100, 101, 102]


def test_every_emitted_key_is_documented_and_every_fixed_key_emitted() -> None:
    documented = documented_paths()
    doc = json.loads(render(_report(), "json"))
    emitted = emitted_paths(doc, "", documented)
    assert emitted - documented == set()
    fixed = {d for d in documented if "<" not in d}
    list_heads = {d for d in fixed if d.startswith(("inputs", "findings", "accounting", "skipped"))}
    assert (fixed - emitted) - list_heads == set()
    # list element keys are emitted as `x[].key`: all documented ones are present
    assert {d for d in fixed if "[]." in d} <= emitted


def test_json_empty_report_keeps_every_section() -> None:
    doc = json.loads(render(make_report(), "json"))
    assert doc["findings"] == [] and doc["tables"] == {} and doc["skipped"] == []
    assert doc["summary"]["max_severity"] is None and doc["summary"]["verdict"].startswith("OK")


def test_plain_handles_numpy_and_pandas_scalars() -> None:
    assert json_value(np.float64("nan")) is None and json_value(pd.NA) is None
    assert json_value(np.bool_(True)) is True and json_value(np.int32(7)) == 7
    assert json_value(np.datetime64("NaT")) is None
    assert json_value(pd.Timedelta(seconds=1.5)) == 1.5
    assert not any(isinstance(v, float) and math.isnan(v) for v in json_value([1.0, float("nan")]) if v is not None)


def test_real_sample_report_keys_are_documented() -> None:
    from tcpforensics import analyze

    samples = Path(__file__).resolve().parents[2] / "samples"
    report = analyze([str(samples / "loop" / "ss-loop.txt"), str(samples / "synflood" / "ss-tanp.txt")])
    text = render(report, "json")
    doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    documented = documented_paths()
    assert emitted_paths(doc, "", documented) - documented == set()
    assert [i["input"] for i in doc["inputs"]] == [str(samples / "loop" / "ss-loop.txt"), str(samples / "synflood" / "ss-tanp.txt")]
    assert doc["summary"]["state_histogram"]["SYN_RECEIVED"] == 129  # latest snapshot of each input
    assert doc["summary"]["events"] == sum(a["events"] for a in doc["accounting"])
