"""Markdown report for people and GitHub job summaries: verdict first, then findings, tables."""

from __future__ import annotations

import pandas as pd

from tcpforensics.analysis import Report
from tcpforensics.report.safe import markdown_cell


def table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table with every cell escaped."""
    head = "| " + " | ".join(markdown_cell(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = [
        "| " + " | ".join("" if (not isinstance(v, (list, dict)) and pd.isna(v)) else markdown_cell(v) for v in row) + " |"
        for row in df.astype(object).itertuples(index=False)
    ]
    return "\n".join([head, sep, *body])


def render(report: Report) -> str:
    """The report as Markdown."""
    out = ["# tcpforensics report", "", f"**{markdown_cell(report.summary['verdict'])}**", ""]
    out += ["## Findings", ""]
    if len(report.findings):
        out += [table(report.findings[["severity", "category", "subject", "count", "explanation", "next_step"]]), ""]
    else:
        out += ["No findings.", ""]
    if report.summary.get("state_histogram"):
        hist = pd.DataFrame(sorted(report.summary["state_histogram"].items(), key=lambda kv: -kv[1]), columns=["state", "sockets"])
        out += ["## State histogram", "", table(hist), ""]
    for name, df in report.tables.items():
        if len(df):
            out += [f"## {name.replace('_', ' ').capitalize()}", "", table(df.head(100)), ""]
    out += ["## Input accounting", "", table(pd.DataFrame(report.accounting).astype(str)), ""]
    return "\n".join(out)
