"""The pipeline behind ``analyze``: ingest -> table -> reconstruct -> detect -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tcpforensics import schema
from tcpforensics.config import Config
from tcpforensics.ingest import Ingested, ingest


@dataclass
class Report:
    """Everything a reporter renders; also the Python API's answer for notebook users."""

    inputs: list[dict]  # per input: name, format, encoding, snapshots, events, kind
    summary: dict  # verdict, state histogram, totals
    findings: pd.DataFrame  # schema.FINDING_COLUMNS, most severe first
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # named summary tables
    accounting: list[dict] = field(default_factory=list)  # per input (see ingest._assemble)
    skipped: pd.DataFrame = field(default_factory=schema.empty_skipped)
    # the evidence behind the plots (report/plots.py): 'events:<input>' (each input's event
    # table, not copied); 'flows' when a caller already has them (else plots rebuild them)
    data: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    plots: dict[str, str] = field(default_factory=dict)  # plot kind -> PNG path (--plot DIR)

    def max_severity(self) -> str | None:
        """The highest severity among findings, or None when there are none."""
        if self.findings.empty:
            return None
        return str(self.findings["severity"].max())


def ingest_all(sources: list[str], input_format: str | None = None, **options) -> list[Ingested]:
    """Ingest every input (raises InputError on the first unusable one)."""
    return [ingest(s, input_format, **options) for s in sources]


def analyze(
    sources: list[str] | str,
    config: Config | None = None,
    input_format: str | None = None,
    **options,
) -> Report:
    """Analyze inputs end to end and return a :class:`Report` (``tcpforensics.analyze``)."""
    from tcpforensics.detect import run_all
    from tcpforensics.report.model import build_report

    if isinstance(sources, str):
        sources = [sources]
    config = (config or Config()).validate()  # unknown or ill-typed thresholds: UsageError
    ingested = ingest_all(sources, input_format, **options)
    findings, tables = run_all(ingested, config)
    report = build_report(ingested, findings, tables)
    report.data.update({f"events:{i.input}": i.events for i in ingested if len(i.events)})
    flows = [f for i in ingested if (f := i.meta.get("flows")) is not None and len(f)]
    if flows:  # the flows the capture detectors built: plots reuse them instead of rebuilding
        if len(flows) > 1:
            flows = [f.astype({"input": object, "orig_addr": object, "resp_addr": object}) for f in flows]
        report.data["flows"] = pd.concat(flows, ignore_index=True)
    return report
