"""JSON report with a stable, documented schema (docs/report-json.md); always valid JSON."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.report.model import ACCOUNTING_KEYS, Report

#: Bumped on any incompatible change of the document's shape (docs/report-json.md).
SCHEMA_VERSION = 1
TOP_LEVEL_KEYS: tuple[str, ...] = ("schema_version", "inputs", "summary", "findings", "tables", "accounting", "skipped")
INPUT_KEYS: tuple[str, ...] = ("input", "format", "encoding", "snapshots", "events", "host", "collection")


def json_value(v: object) -> object:
    """A value as JSON-ready Python: NA/NaN/inf -> None, timestamps -> ISO 8601, numpy -> Python."""
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, np.ndarray, pd.Series)):
        return [json_value(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else pd.Timestamp(v).isoformat()
    if isinstance(v, (pd.Timedelta, np.timedelta64, dt.timedelta)):
        return None if pd.isna(v) else pd.Timedelta(v).total_seconds()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def records(df: pd.DataFrame) -> list[dict]:
    """A DataFrame as JSON-ready records (NA -> null, timestamps -> ISO 8601)."""
    return [json_value(r) for r in df.astype(object).to_dict(orient="records")]


def _finding_records(findings: pd.DataFrame) -> list[dict]:
    cols = list(schema.FINDING_COLUMNS)
    rows = records(findings)
    out = []
    for r in rows:
        row = {c: r.get(c) for c in cols}
        row["details"] = row["details"] if isinstance(row["details"], dict) else {}
        row["evidence"] = row["evidence"] if isinstance(row["evidence"], list) else []
        out.append(row)
    return out


def _accounting(entry: dict) -> dict:
    out = {k: json_value(entry.get(k)) for k in ACCOUNTING_KEYS}
    out["structural"] = out["structural"] or {}
    out["skipped"] = out["skipped"] or {}
    out["extra"] = json_value({k: v for k, v in entry.items() if k not in ACCOUNTING_KEYS})
    return out


def document(report: Report) -> dict:
    """The report as a plain dict (what the JSON output serializes)."""
    skipped = report.skipped
    return {
        "schema_version": SCHEMA_VERSION,
        "inputs": [{k: json_value(i.get(k)) for k in INPUT_KEYS} for i in report.inputs],
        "summary": json_value(report.summary),
        "findings": _finding_records(report.findings),
        "tables": {str(k): records(v) for k, v in report.tables.items()},
        "accounting": [_accounting(a) for a in report.accounting],
        "skipped": records(skipped[[c for c in schema.SKIP_COLUMNS if c in skipped]]),
    }


def render(report: Report) -> str:
    """The report as one JSON document (``allow_nan=False``: never NaN or Infinity)."""
    return json.dumps(document(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
