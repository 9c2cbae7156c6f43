"""Reporters: render a Report as a terminal table, Markdown, CSV or JSON; the --fail-on rule."""

from __future__ import annotations

from tcpforensics import schema
from tcpforensics.analysis import Report

FORMATS = ("table", "markdown", "csv", "json")


def render(report: Report, fmt: str) -> str:
    """Render ``report`` in format ``fmt`` (one of FORMATS)."""
    import importlib

    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    mod = importlib.import_module(f"tcpforensics.report.{'table' if fmt == 'table' else fmt + '_report'}")
    return mod.render(report)


def fails(report: Report, threshold: str) -> bool:
    """True when a finding is at or above severity ``threshold`` ('never': always False)."""
    if threshold == "never" or report.findings.empty:
        return False
    ranks = report.findings["severity"].astype(str).map({s: i for i, s in enumerate(schema.SEVERITIES)})
    return bool((ranks >= schema.SEVERITIES.index(threshold)).any())


def is_directory_output(fmt: str, output: str | None) -> bool:
    """True when the report goes to a directory, one CSV per table (``--format csv -o DIR/``)."""
    from tcpforensics.report.csv_report import wants_directory

    return fmt == "csv" and wants_directory(output)


def write_directory(report: Report, directory: str) -> None:
    """Write the report as one CSV per table into ``directory`` (OSError when impossible)."""
    from tcpforensics.report.csv_report import write_dir

    write_dir(report, directory)
