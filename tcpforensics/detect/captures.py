"""Capture detections (scans, floods, abnormal closes): placeholder."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.config import Config
from tcpforensics.ingest.base import Ingested


def diagnose(inputs: list[Ingested], config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings and summary tables from packet captures."""
    return schema.empty_findings(), {}
