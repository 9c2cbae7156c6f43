"""Serialize a table (events, flows) as CSV, JSON lines or Parquet, safe for the next tool."""

from __future__ import annotations

import io

import pandas as pd

from tcpforensics.report.csv_report import safe_frame


def write_table(df: pd.DataFrame, fmt: str) -> str | bytes:
    """``df`` as CSV text (formula-safe), JSON lines text, or Parquet bytes."""
    if fmt == "csv":
        return safe_frame(df).to_csv(index=False)
    if fmt == "json":
        if df.empty:
            return ""
        out = df.copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c]):
                out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return out.to_json(orient="records", lines=True, force_ascii=False)
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ValueError(f"unknown table format {fmt!r}")
