"""Reporters: render a Report as a terminal table, Markdown, CSV or JSON."""

from __future__ import annotations

from tcpforensics.analysis import Report

FORMATS = ("table", "markdown", "csv", "json")


def render(report: Report, fmt: str) -> str:
    """Render ``report`` in format ``fmt`` (one of FORMATS)."""
    import importlib

    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    mod = importlib.import_module(f"tcpforensics.report.{'table' if fmt == 'table' else fmt + '_report'}")
    return mod.render(report)
