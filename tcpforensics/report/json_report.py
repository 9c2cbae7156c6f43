"""JSON report with a stable, documented schema: inputs, summary, findings, tables, accounting."""

from __future__ import annotations

import json
import math

import pandas as pd

from tcpforensics.analysis import Report

SCHEMA_VERSION = 1


def _plain(v: object) -> object:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.isoformat()
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """A DataFrame as JSON-ready records (NA -> null, timestamps -> ISO 8601)."""
    return [_plain(r) for r in df.astype(object).to_dict(orient="records")]


def document(report: Report) -> dict:
    """The report as a plain dict (what the JSON output serializes)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "inputs": _plain(report.inputs),
        "summary": _plain(report.summary),
        "findings": records(report.findings),
        "tables": {k: records(v) for k, v in report.tables.items()},
        "accounting": _plain(report.accounting),
        "skipped": records(report.skipped),
    }


def render(report: Report) -> str:
    """The report as one JSON document."""
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
