"""Socket-table diagnoses (SYN_RECEIVED piles, CLOSE_WAIT leaks, ...): placeholder."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.config import Config
from tcpforensics.ingest.base import Ingested


def diagnose(inputs: list[Ingested], config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings and summary tables from socket snapshots."""
    events = pd.concat([i.events for i in inputs], ignore_index=True)
    states = events.groupby(["proto", "state"], observed=True).size().rename("count").reset_index()
    return schema.empty_findings(), {"states": states}
