"""Terminal report: verdict, findings by severity, state histogram, tables, input accounting."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from tcpforensics.report import views
from tcpforensics.report.model import Report
from tcpforensics.report.safe import terminal

#: Rows shown per table on a terminal (CSV and JSON carry every row).
MAX_ROWS = 20
#: Widest a free-text column may grow before tabulate wraps it.
WRAP = {"explanation": 48, "next step": 40, "lines": 60, "structural": 36, "skipped": 36}


def tab(df: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """A DataFrame as a plain-text table, every cell stripped of controls and escapes."""
    shown = df.head(max_rows)
    cells = [[terminal(views.display(v)) for v in row] for row in shown.astype(object).itertuples(index=False)]
    headers = [terminal(c) for c in df.columns]
    widths = [WRAP.get(str(c)) for c in df.columns]
    text = tabulate(cells, headers=headers, tablefmt="simple", maxcolwidths=widths, disable_numparse=True)
    if len(df) > max_rows:
        text += f"\n... {len(df) - max_rows} more rows (all rows: --format csv --output DIR/ or --format json)"
    return text


def section(title: str, body: str) -> list[str]:
    """A titled block."""
    t = terminal(title)
    return [t, "=" * len(t), body, ""]


def render(report: Report) -> str:
    """The report as plain text for a terminal."""
    out = [terminal(report.summary["verdict"]), ""]
    findings = views.findings_view(report)
    if len(findings):
        out += section(f"Findings ({len(findings)})", tab(findings, max_rows=50))
    else:
        out += section("Findings", "none")
    hist = views.histogram_view(report)
    if len(hist):
        out += section("State histogram", tab(hist))
    for _, title, df in views.named_tables(report):
        out += section(title, tab(df))
    out += section("Input accounting", tab(views.accounting_view(report)))
    skipped = views.skipped_view(report)
    if len(skipped):
        out += section("Skipped records", tab(skipped, max_rows=50))
    return "\n".join(out)
