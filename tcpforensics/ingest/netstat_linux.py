"""Ingestor for netstat_linux (not implemented yet: detects nothing)."""

from __future__ import annotations

from tcpforensics.ingest.base import Lines, Parsed

NAME = "netstat_linux"
DESCRIPTION = "netstat_linux"


def detect(lines: Lines) -> float:
    """Confidence 0..1 that these lines are this format."""
    return 0.0


def parse(lines: Lines) -> Parsed:
    """Parse the lines into rows."""
    raise NotImplementedError
