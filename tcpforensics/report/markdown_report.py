"""Markdown report for people and GitHub job summaries: verdict first, then findings, tables."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.report import views
from tcpforensics.report.model import Report
from tcpforensics.report.safe import markdown_cell
from tcpforensics.version import __version__

#: Rows shown per summary table (CSV and JSON carry every row).
MAX_ROWS = 50


def table(df: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """A DataFrame as a Markdown table with every cell (and header) escaped."""
    head = "| " + " | ".join(markdown_cell(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = [
        "| " + " | ".join(markdown_cell(views.display(v)) for v in row) + " |"
        for row in df.head(max_rows).astype(object).itertuples(index=False)
    ]
    lines = [head, sep, *body]
    if len(df) > max_rows:
        lines += ["", f"_{len(df) - max_rows} more rows: see the CSV or JSON report._"]
    return "\n".join(lines)


def _findings(report: Report) -> list[str]:
    view = views.findings_view(report, short=False)
    if view.empty:
        return ["### Findings", "", "No findings.", ""]
    out = [f"### Findings ({len(view)})", ""]
    for sev in reversed(schema.SEVERITIES):
        group = view[view["severity"] == sev]
        if group.empty:
            continue
        out += [f"#### {sev.capitalize()} ({len(group)})", "", table(group.drop(columns="severity"), max_rows=len(group)), ""]
    return out


def _plot_links(report: Report) -> dict[str, str]:
    """Image links of ``--plot`` by the section they go beside (none without plots)."""
    if not getattr(report, "plots", None):
        return {}
    from tcpforensics.report.plots import markdown_links

    return markdown_links(report.plots)


def _beside(links: dict[str, str], section: str) -> list[str]:
    return [links.pop(section), ""] if section in links else []


def render(report: Report) -> str:
    """The report as Markdown (fit for ``>> $GITHUB_STEP_SUMMARY``)."""
    inputs = ", ".join(f"{markdown_cell(i['input'])} ({markdown_cell(i['format'])}"
                       f"{', host ' + markdown_cell(i['host']) if i.get('host') else ''})" for i in report.inputs)
    out = [f"## {markdown_cell(report.summary['verdict'])}", "", f"tcpforensics {__version__} on {inputs}", ""]
    links = _plot_links(report)
    out += _findings(report) + _beside(links, "findings")
    hist = views.histogram_view(report)
    if len(hist):
        out += ["### State histogram", "", table(hist), "", *_beside(links, "histogram")]
    for name, title, df in views.named_tables(report):
        out += [f"### {markdown_cell(title)}", "", table(df), "", *_beside(links, name)]
    if links:  # plots whose table is not shown
        out += ["### Plots", "", *(x for link in links.values() for x in (link, ""))]
    out += ["### Input accounting", "", table(views.accounting_view(report)), ""]
    skipped = views.skipped_view(report)
    if len(skipped):
        out += ["#### Skipped records", "", table(skipped, max_rows=len(skipped)), ""]
    return "\n".join(out)
