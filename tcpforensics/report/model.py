"""Assemble a Report from ingested inputs, findings and tables: verdict, summary, accounting."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tcpforensics import schema
from tcpforensics.ingest.base import Ingested
from tcpforensics.reconstruct.evidence import Evidence

#: Accounting keys every input has (JSON keeps exactly these; others go under ``extra``).
ACCOUNTING_KEYS: tuple[str, ...] = (
    "input", "format", "encoding", "unit", "records_read", "events", "structural",
    "skipped", "unaccounted", "snapshots",
)


class Tables(dict):
    """The named summary tables of a report: ``tables["listeners"]`` or ``tables.listeners``."""

    def __getattr__(self, name: str) -> pd.DataFrame:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no table {name!r}; the report has: {', '.join(self) or 'none'}") from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self if k.isidentifier()})


@dataclass
class Report:
    """Everything a reporter renders; also the Python API's answer for notebook users.

    In a notebook: ``report.verdict`` (one line), ``report.findings`` (a DataFrame, most
    severe first), ``report.flows`` and ``report.conversations`` (the captures' flows and
    conversations the findings rest on), ``report.tables.listeners`` (a summary table),
    ``report.skipped`` (lines that could not be read).
    """

    inputs: list[dict]  # per input: name, format, encoding, snapshots, events, kind
    summary: dict  # verdict, state histogram, totals
    findings: pd.DataFrame  # schema.FINDING_COLUMNS, most severe first
    tables: Tables = field(default_factory=Tables)  # named summary tables (a dict)
    accounting: list[dict] = field(default_factory=list)  # per input (see ingest._assemble)
    skipped: pd.DataFrame = field(default_factory=schema.empty_skipped)
    evidence: Evidence = field(default_factory=Evidence, repr=False)  # what the findings rest on
    plots: dict[str, str] = field(default_factory=dict)  # plot kind -> PNG path (--plot DIR)

    def __post_init__(self) -> None:
        self.tables = Tables(self.tables)

    @property
    def verdict(self) -> str:
        """The line a person reads first (``summary["verdict"]``)."""
        return str(self.summary.get("verdict", ""))

    @property
    def flows(self) -> pd.DataFrame:
        """The flows of every capture analysed (schema.FLOW_COLUMNS; empty without captures or
        when the evidence was not kept)."""
        return self.evidence.flows()

    @property
    def conversations(self) -> pd.DataFrame:
        """The conversations of every capture analysed (one row per 4-tuple and direction of contact)."""
        parts = [c.conversations for c in self.evidence.captures]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def interrupted(self) -> bool:
        """True when Ctrl-C stopped the reading of an input (the report covers what was read)."""
        return any(str((a.get("stopped") or {}).get("reason", "")).startswith("interrupted")
                   for a in self.accounting)

    def max_severity(self) -> str | None:
        """The highest severity among findings, or None when there are none."""
        if self.findings.empty:
            return None
        return str(self.findings["severity"].max())


def build_report(ingested: list[Ingested], findings: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 evidence: Evidence | None = None, left_out: list[tuple[str, str]] | None = None) -> Report:
    """Put the pieces of a run into one Report (findings most severe first); files of folders
    and globs that were not evidence (``left_out``: path, reason) become a table."""
    if left_out:
        tables = {**tables, "not_evidence": not_evidence_table(left_out)}
    findings = _with_origins(sort_findings(findings), ingested)
    inputs = [
        {
            "input": i.input,
            "format": i.format,
            "encoding": i.accounting.get("encoding"),
            "snapshots": i.accounting.get("snapshots"),
            "events": _events(i),
            "host": i.meta.get("host"),
            "collection": i.meta.get("collection"),
        }
        for i in ingested
    ]
    accounting = [{"input": i.input, "format": i.format, **i.accounting} for i in ingested]
    skipped = [i.skipped for i in ingested if len(i.skipped)]
    skipped_df = pd.concat(skipped, ignore_index=True) if skipped else schema.empty_skipped()
    hist = state_histogram([i.events for i in ingested])
    sev = findings["severity"].astype(str).value_counts() if len(findings) else pd.Series(dtype="int64")
    summary = {
        "verdict": verdict(findings, sum(hist.values()), len(ingested), incomplete(ingested)),
        "findings": len(findings),
        "max_severity": None if findings.empty else str(findings["severity"].max()),
        "severity_counts": {s: int(sev.get(s, 0)) for s in reversed(schema.SEVERITIES)},
        "inputs": len(ingested),
        "events": int(sum(_events(i) for i in ingested)),
        "sockets": int(sum(hist.values())),
        "state_histogram": hist,
    }
    return Report(inputs=inputs, summary=summary, findings=findings, tables=tables,
                  accounting=accounting, skipped=skipped_df, evidence=evidence or Evidence())


def _with_origins(findings: pd.DataFrame, ingested: list[Ingested]) -> pd.DataFrame:
    """Findings whose inputs came from a collection that named its host: ``details.host`` and
    ``details.collection`` (lists when the inputs came from several)."""
    where = {i.input: (i.meta.get("host"), i.meta.get("collection")) for i in ingested if i.meta.get("collection")}
    if not where or findings.empty:
        return findings

    def placed(details: object) -> object:
        if not isinstance(details, dict):
            return details
        names = details.get("inputs") or [details.get("input")]
        hosts = sorted({h for n in names if (h := where.get(n, (None, None))[0])})
        places = sorted({c for n in names if (c := where.get(n, (None, None))[1])})
        extra = {"host": hosts[0] if len(hosts) == 1 else hosts} if hosts else {}
        return {**details, **extra, **({"collection": places[0] if len(places) == 1 else places} if places else {})}

    return findings.assign(details=[placed(d) for d in findings["details"]])


#: Paths shown per reason in the not_evidence table (the count says how many).
PATHS_SHOWN = 3


def not_evidence_table(left_out: list[tuple[str, str]]) -> pd.DataFrame:
    """Files of folders and globs not taken as evidence: per reason, how many and a few paths."""
    frame = pd.DataFrame(left_out, columns=["path", "reason"])
    g = frame.groupby("reason", sort=False)["path"]
    out = pd.DataFrame({"files": g.size(), "examples": g.agg(lambda p: ", ".join(p.head(PATHS_SHOWN)))})
    return out.reset_index().sort_values(["files", "reason"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _events(item: Ingested) -> int:
    """Events of an input: its accounting says (a capture's packet table may be dropped)."""
    return int(item.accounting.get("events", len(item.events)))


def sort_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings most severe first (stable: detector order within a severity), every column present."""
    missing = [c for c in schema.FINDING_COLUMNS if c not in findings.columns]
    if missing:
        findings = findings.assign(**{c: pd.Series([None] * len(findings), index=findings.index, dtype=object) for c in missing})
    if findings.empty:
        return findings
    order = findings["severity"].astype(schema.SEVERITY_DTYPE)
    return findings.assign(severity=order).sort_values("severity", ascending=False, kind="stable").reset_index(drop=True)


def state_histogram(events: list[pd.DataFrame]) -> dict[str, int]:
    """Sockets per canonical state in the last snapshot of each socket input, in STATES order."""
    parts = []
    for ev in events:
        if not {"kind", "snapshot", "state"} <= set(ev.columns):
            continue  # a packet table: states come from reconstructed flows, not rows
        sock = ev.loc[ev["kind"] == "socket", ["snapshot", "state"]]
        if len(sock):
            last = sock["snapshot"].max()
            parts.append(sock["state"] if pd.isna(last) else sock.loc[sock["snapshot"] == last, "state"])
    if not parts:
        return {}
    counts = pd.concat(parts, ignore_index=True).astype(schema.STATE_DTYPE).value_counts()
    return {s: int(counts[s]) for s in schema.STATES if counts.get(s, 0)}


def incomplete(ingested: list[Ingested]) -> list[str]:
    """One note per input whose reading stopped early (a damaged capture): where and why."""
    notes = []
    for i in ingested:
        stop = i.accounting.get("stopped")
        if stop:
            after = stop.get("after_frame")
            where = f" after packet {after}" if after is not None else ""
            notes.append(f"{i.input}: reading stopped{where}: {stop.get('reason', 'damaged input')}")
    return notes


def verdict(findings: pd.DataFrame, sockets: int = 0, inputs: int = 1,
            incomplete_notes: list[str] | None = None) -> str:
    """One line a person reads first: the worst finding, or that nothing is abnormal; inputs
    read only in part are named on the same line, so "OK" never hides a damaged input."""
    tail = f" | INCOMPLETE: {'; '.join(incomplete_notes)}" if incomplete_notes else ""
    return _verdict(findings, sockets, inputs) + tail


def _verdict(findings: pd.DataFrame, sockets: int, inputs: int) -> str:
    if findings.empty:
        seen = f" in {sockets} sockets" if sockets else ""
        return f"OK: nothing abnormal found{seen} ({inputs} input{'s' if inputs != 1 else ''})"
    top = findings.iloc[0]
    n = len(findings) - 1
    notes = [f"count {top['count']}"] if pd.notna(top.get("count")) else []
    notes += [f"+{n} more finding{'s' if n != 1 else ''}"] if n else []
    tail = f" ({'; '.join(notes)})" if notes else ""
    return f"{str(top['severity']).upper()}: {top['category']} on {top['subject']}{tail}"
