"""CSV report: the findings table, with cells neutralized against spreadsheet formulas."""

from __future__ import annotations

import pandas as pd

from tcpforensics.analysis import Report
from tcpforensics.report.safe import csv_cell


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every string cell neutralized (see ``safe.csv_cell``); lists and dicts joined."""
    def cell(v: object) -> object:
        if isinstance(v, (list, tuple)):
            v = ";".join(map(str, v))
        elif isinstance(v, dict):
            v = ";".join(f"{k}={x}" for k, x in v.items())
        return csv_cell(v)

    return df.astype(object).map(cell)


def render(report: Report) -> str:
    """The findings as CSV (one row per finding)."""
    return safe_frame(report.findings).to_csv(index=False)
