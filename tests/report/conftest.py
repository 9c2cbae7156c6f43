"""Fixtures for report tests: a Report whose cells try every injection the renderers stop."""

from __future__ import annotations

import pandas as pd
import pytest
from reportkit import EVIL_PROCESS, findings_frame, make_report, syn_flood_finding

from tcpforensics.report.model import Report


@pytest.fixture
def hostile_report() -> Report:
    """Findings whose cells try formulas, Markdown/HTML injection and terminal escapes."""
    rows = [
        syn_flood_finding(),
        {**syn_flood_finding("medium"), "category": "close_wait_leak",
         "subject": "=HYPERLINK(\"http://x\")|`code`<script>alert(1)</script>",
         "explanation": "+cmd|' /C calc'!A0", "next_step": "@SUM(1+1)\r\n-2"},
        {**syn_flood_finding("low"), "category": "stuck_socket", "subject": EVIL_PROCESS,
         "explanation": "\tTab first", "next_step": "\rCR first", "count": pd.NA},
    ]
    tables = {
        "listeners": pd.DataFrame({"listener": ["127.0.0.1:8080"], "process": [EVIL_PROCESS], "syn_received": [2]}),
        "processes": pd.DataFrame({"process": [EVIL_PROCESS, "-negative"], "sockets": [1, 3]}),
        "odd_things": pd.DataFrame({"what": ["=1+1"], "value": [float("nan")]}),
    }
    return make_report(findings_frame(rows), tables, skipped_lines=25)
