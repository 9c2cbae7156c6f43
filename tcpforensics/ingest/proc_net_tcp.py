"""Ingestor for proc_net_tcp (not implemented yet: detects nothing)."""

from __future__ import annotations

from tcpforensics.ingest.base import Lines, Parsed

NAME = "proc_net_tcp"
DESCRIPTION = "proc_net_tcp"


def detect(lines: Lines) -> float:
    """Confidence 0..1 that these lines are this format."""
    return 0.0


def parse(lines: Lines) -> Parsed:
    """Parse the lines into rows."""
    raise NotImplementedError
