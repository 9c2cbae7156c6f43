"""PNG plots of a Report (``analyze --plot DIR``): states, SYN/RST rates, scans, closes, snapshots.

This module picks the data of each plot (packets, socket rows, flows and findings per input),
writes the files and links them from Markdown; the figures themselves are drawn by
``report.plot_figures``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from tcpforensics.reconstruct.evidence import Evidence
from tcpforensics.report.model import Report
from tcpforensics.report.plot_figures import (
    MAX_BINS,
    abnormal_closes,
    bin_width,
    final_states,
    rates,
    scan_heatmap,
    scanners,
    snapshot_counts,
    socket_states,
)

__all__ = [
    "DPI", "MAX_BINS", "PLOTS", "abnormal_closes", "bin_width", "event_tables", "final_states", "findings_of",
    "markdown_links", "rates", "render_all", "scan_heatmap", "scanners", "snapshot_counts", "socket_states",
]


DPI = 100

#: plot kind -> (title in Markdown, named table or section it goes beside)
PLOTS: dict[str, tuple[str, str]] = {
    "states": ("Socket states", "histogram"),
    "final_states": ("Endpoint states at capture end", "flows_by_state"),
    "rates": ("SYN, SYN-ACK and RST rates", "findings"),
    "scans": ("Scan heat map", "scan_candidates"),
    "closes": ("Abnormal closes over time", "abnormal_closes"),
    "snapshots": ("CLOSE_WAIT and TIME_WAIT over snapshots", "timelines"),
}


# --- entry points ----------------------------------------------------------------------------


def render_all(report: Report, directory: str | os.PathLike,
               link_base: str | os.PathLike | None = None) -> list[Path]:
    """Write every plot that has something to show into ``directory``; return the files written.

    Packets, socket rows and flows come from ``report.evidence``, as the detectors read them.
    The paths are also kept in ``report.plots`` (kind -> path, relative to ``link_base`` when
    given: the directory of the Markdown file that links them).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    events = _events(event_tables(report.evidence))
    flows = report.evidence.flows()
    written: dict[str, Path] = {}
    for kind, fig in _figures(report, events, flows):
        path = out / f"{kind}.png"
        fig.savefig(path, dpi=DPI)
        written[kind] = path
    report.plots = {k: (os.path.relpath(p, link_base) if link_base is not None else str(p)) for k, p in written.items()}
    return list(written.values())


def markdown_links(paths: Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike],
                   relative_to: str | os.PathLike | None = None) -> dict[str, str]:
    """Markdown image links by the section they belong beside (see PLOTS), e.g.
    ``{"histogram": "![Socket states](plots/states.png)"}``; paths relative to ``relative_to``."""
    items = paths.items() if isinstance(paths, Mapping) else ((Path(p).stem, p) for p in paths)
    links: dict[str, list[str]] = {}
    for name, p in items:
        kind = _kind_of(str(name))
        title, beside = PLOTS.get(kind, (str(name).replace("_", " "), "end"))
        target = Path(os.path.relpath(p, relative_to)) if relative_to is not None else Path(p)
        label = title if kind == name else f"{title} ({str(name)[len(kind) + 1:]})"
        links.setdefault(beside, []).append(f"![{label}]({quote(target.as_posix())})")
    return {k: "\n\n".join(v) for k, v in links.items()}


def _kind_of(name: str) -> str:
    for kind in sorted(PLOTS, key=len, reverse=True):
        if name == kind or name.startswith(kind + "-"):
            return kind
    return name


def _figures(report: Report, events: pd.DataFrame | None, flows: pd.DataFrame | None):
    """(file stem, Figure) for each plot with data; per-input plots get the input's slug."""
    hist = report.summary.get("state_histogram") or {}
    if hist:
        yield "states", socket_states(hist)
    if flows is not None and len(flows):
        yield "final_states", final_states(flows)
    packets = _packets(events)
    if packets is not None:
        names = _names(packets["input"])
        for inp, pk in packets.groupby("input", observed=True, sort=True):
            suffix = names[inp]
            found = findings_of(report.findings, str(inp), flows, several=len(names) > 1)
            yield "rates" + suffix, rates(pk, found, str(inp))
            fig = scan_heatmap(pk, found, str(inp))
            if fig is not None:
                yield "scans" + suffix, fig
    if flows is not None and len(flows):
        names = _names(flows["input"]) if "input" in flows else {}
        groups = flows.groupby("input", observed=True, sort=True) if names else [("", flows)]
        for inp, fl in groups:
            fig = abnormal_closes(fl, str(inp))
            if fig is not None:
                yield "closes" + names.get(inp, ""), fig
    sockets = _sockets(events)
    if sockets is not None:
        names = _names(sockets["input"])
        for inp, sk in sockets.groupby("input", observed=True, sort=True):
            fig = snapshot_counts(sk, str(inp))
            if fig is not None:
                yield "snapshots" + names[inp], fig


def findings_of(findings: pd.DataFrame, input_name: str, flows: pd.DataFrame | None, several: bool) -> pd.DataFrame:
    """The findings whose evidence points into one capture ('input#frame' refs or its flows'
    uids; 'input:line' refs point into a socket dump); with a single capture, also those whose
    evidence names no input."""
    if findings is None or findings.empty or "evidence" not in findings:
        return findings
    uids = set()
    if flows is not None and len(flows) and "uid" in flows:
        uids = set(flows.loc[flows["input"].astype(str) == input_name, "uid"].astype(str)) if "input" in flows else set(
            flows["uid"].astype(str))

    def where(evidence: object) -> bool | None:  # True: this input; False: another; None: unknown
        refs = [str(e) for e in evidence] if isinstance(evidence, (list, tuple)) else []
        named = {e.rsplit("#", 1)[0] for e in refs if "#" in e}
        named |= {e.rsplit(":", 1)[0] for e in refs if e.rsplit(":", 1)[-1].isdigit() and ":" in e}  # input:line
        if named:
            return input_name in named
        if uids and any(e in uids for e in refs):
            return True
        return None

    verdict = findings["evidence"].map(where)  # a handful of findings
    keep = verdict.eq(True) | (verdict.isna() & (not several))
    return findings[keep.to_numpy(dtype=bool)]


def _names(inputs: pd.Series) -> dict[object, str]:
    """'' for a single input, else '-<slug of the file name>' (numbered when slugs collide)."""
    uniq = list(pd.unique(inputs.dropna()))
    if len(uniq) <= 1:
        return {u: "" for u in uniq}
    out, seen = {}, set()
    for i, u in enumerate(uniq):
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(u)).name).strip("_.") or "stdin"
        out[u] = f"-{slug}" if slug not in seen else f"-{slug}_{i}"
        seen.add(slug)
    return out


#: event columns the plots read (the rest of each table is left where it is)
PLOT_COLUMNS = ("ts", "input", "kind", "proto", "src_addr", "dst_addr", "dst_port", "flags", "snapshot", "state")


def event_tables(evidence: Evidence) -> list[pd.DataFrame]:
    """The packets of every capture and the socket rows, one table per input kind, in order."""
    tables = [c.packets for c in evidence.captures]
    if evidence.sockets is not None:
        tables.append(evidence.sockets.events)
    return [t for t in tables if len(t)]


def _events(tables: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The plotted columns of all event tables as one frame (labels as plain objects)."""
    parts = [df[[c for c in PLOT_COLUMNS if c in df.columns]] for df in tables]
    if len(parts) <= 1:
        return parts[0] if parts else None
    labels = ("input", "kind", "proto", "src_addr", "dst_addr", "state")
    return pd.concat([p.astype({c: object for c in labels if c in p}) for p in parts], ignore_index=True)


def _packets(events: pd.DataFrame | None) -> pd.DataFrame | None:
    if events is None or events.empty or "flags" not in events:
        return None
    keep = (events["kind"] == "packet").to_numpy(dtype=bool, na_value=False) & events["ts"].notna().to_numpy()
    pk = events.loc[keep, ["ts", "input", "src_addr", "dst_addr", "dst_port", "flags"]]
    return pk if len(pk) else None


def _sockets(events: pd.DataFrame | None) -> pd.DataFrame | None:
    if events is None or events.empty or "state" not in events:
        return None
    keep = (events["kind"] == "socket").to_numpy(dtype=bool, na_value=False)
    sk = events.loc[keep, ["ts", "input", "snapshot", "state"]]
    return sk if len(sk) else None
