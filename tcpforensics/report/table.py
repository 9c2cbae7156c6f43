"""Terminal report: verdict, findings and summary tables rendered with tabulate."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from tcpforensics.analysis import Report
from tcpforensics.report.safe import terminal


def _tab(df: pd.DataFrame) -> str:
    clean = df.astype(object).map(lambda v: "" if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else terminal(v))
    return tabulate(clean.values.tolist(), headers=[terminal(c) for c in df.columns], tablefmt="simple")


def render(report: Report) -> str:
    """The report as plain text for a terminal."""
    out = [terminal(report.summary["verdict"]), ""]
    if len(report.findings):
        cols = ["severity", "category", "subject", "count", "explanation"]
        out += ["Findings", _tab(report.findings[cols]), ""]
    if report.summary.get("state_histogram"):
        hist = pd.DataFrame(sorted(report.summary["state_histogram"].items(), key=lambda kv: -kv[1]), columns=["state", "sockets"])
        out += ["States", _tab(hist), ""]
    for name, df in report.tables.items():
        if len(df):
            out += [name.replace("_", " ").capitalize(), _tab(df.head(50)), ""]
    out += ["Inputs", _tab(pd.DataFrame(report.accounting).astype(str)), ""]
    return "\n".join(out)
