"""Render a Report as a terminal table, Markdown, CSV, JSON or a Zeek notice.log; the --fail-on rule."""

from __future__ import annotations

from types import ModuleType

from tcpforensics import schema
from tcpforensics.report import csv_report, json_report, markdown_report, table, zeek_notice
from tcpforensics.report.model import Report

#: The renderer module of each report format.
RENDERERS: dict[str, ModuleType] = {
    "table": table,
    "markdown": markdown_report,
    "csv": csv_report,
    "json": json_report,
    "zeek": zeek_notice,  # the findings as a Zeek notice.log
}
FORMATS = tuple(RENDERERS)


def render(report: Report, fmt: str) -> str:
    """Render ``report`` in format ``fmt`` (one of FORMATS)."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}")
    return RENDERERS[fmt].render(report)


def fails(report: Report, threshold: str) -> bool:
    """True when a finding is at or above severity ``threshold`` ('never': always False)."""
    if threshold == "never" or report.findings.empty:
        return False
    ranks = report.findings["severity"].astype(str).map({s: i for i, s in enumerate(schema.SEVERITIES)})
    return bool((ranks >= schema.SEVERITIES.index(threshold)).any())


def is_directory_output(fmt: str, output: str | None) -> bool:
    """True when the report goes to a directory, one CSV per table (``--format csv -o DIR/``)."""
    return fmt == "csv" and csv_report.wants_directory(output)


def write_directory(report: Report, directory: str) -> None:
    """Write the report as one CSV per table into ``directory`` (OSError when impossible)."""
    csv_report.write_dir(report, directory)
