"""The figures of ``analyze --plot`` (``report.plots`` picks the data and writes them): socket
states, endpoint states at capture end, SYN/SYN-ACK/RST rates, the scan heat map, abnormal
closes over time and socket piles over snapshots; and their time axes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure  # no pyplot: no global state, the Agg canvas renders PNG

from tcpforensics import schema
from tcpforensics.detect.scans import SCAN_CATEGORIES
from tcpforensics.reconstruct.packets import ACK, RST, SYN

#: close categories that are normal or unknowable (only the others are plotted as abnormal)
NORMAL_CLOSES = frozenset({"graceful", "open_at_end", "midstream"})
#: states drawn over snapshots (the two piles people watch in a loop of dumps)
WATCHED_STATES = ("CLOSE_WAIT", "TIME_WAIT")
#: bin widths tried, smallest first, for time axes (seconds)
BIN_WIDTHS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600, 86400)
MAX_BINS = 120
MAX_SCANNERS = 4
MAX_POINTS = 50_000
FIGSIZE = (10, 4.8)


def bin_width(span_s: float, max_bins: int = MAX_BINS) -> float:
    """The smallest width of BIN_WIDTHS giving at most ``max_bins`` bins over ``span_s`` seconds."""
    for w in BIN_WIDTHS:
        if span_s / w <= max_bins:
            return w
    return span_s / max_bins


def _seconds(ts: pd.Series | np.ndarray, t0: np.datetime64) -> np.ndarray:
    return (np.asarray(ts, dtype="datetime64[ns]") - t0) / np.timedelta64(1, "s")


def _width_label(w: float) -> str:
    return f"{w * 1000:g} ms" if w < 1 else f"{w:g} s"


def _new(title: str, xlabel: str, ylabel: str, figsize: tuple[float, float] = FIGSIZE):
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _short(name: str, limit: int = 60) -> str:
    """The input's file name ('-' for stdin), cut to ``limit`` characters."""
    name = Path(name).name or name
    return name if len(name) <= limit else name[: limit - 1] + "…"


# --- the plots -------------------------------------------------------------------------------


def socket_states(hist: Mapping[str, int]) -> Figure:
    """Bar chart of sockets per state (the report's state histogram)."""
    states = [s for s in schema.STATES if hist.get(s)]
    counts = [int(hist[s]) for s in states]
    fig, ax = _new(f"Sockets per state ({sum(counts)} sockets, last snapshot)", "sockets", "state",
                   figsize=(FIGSIZE[0], max(2.8, 1.8 + 0.4 * len(states))))
    y = np.arange(len(states))
    bars = ax.barh(y, counts, color="tab:blue")
    ax.set_yticks(y, states)
    ax.invert_yaxis()
    ax.bar_label(bars, padding=3)
    ax.margins(x=0.1)
    return fig


def final_states(flows: pd.DataFrame) -> Figure:
    """Grouped bars: states netstat would show at capture end, originator and responder side."""
    orig = flows["orig_final"].astype(schema.STATE_DTYPE).value_counts()
    resp = flows["resp_final"].astype(schema.STATE_DTYPE).value_counts()
    states = [s for s in schema.STATES if orig.get(s, 0) or resp.get(s, 0)]
    fig, ax = _new(f"Endpoint states at capture end ({len(flows)} connections)", "connections", "state",
                   figsize=(FIGSIZE[0], max(2.8, 2.2 + 0.6 * len(states))))
    y = np.arange(len(states))
    h = 0.4
    b1 = ax.barh(y - h / 2, [int(orig.get(s, 0)) for s in states], h, label="originator (client) side")
    b2 = ax.barh(y + h / 2, [int(resp.get(s, 0)) for s in states], h, label="responder (server) side")
    for b in (b1, b2):
        ax.bar_label(b, padding=3, fontsize=8)
    ax.set_yticks(y, states)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def rates(packets: pd.DataFrame, findings: pd.DataFrame, input_name: str) -> Figure:
    """SYN, SYN-ACK and RST segments per second over time, SYN-flood windows shaded."""
    ts = packets["ts"].to_numpy(dtype="datetime64[ns]")
    t0 = ts.min()
    x = _seconds(ts, t0)
    span = float(x.max()) if len(x) else 0.0
    w = bin_width(span)
    nb = int(np.floor(span / w)) + 1
    b = np.minimum((x // w).astype(np.int64), nb - 1)
    fl = packets["flags"].to_numpy(dtype="int64", na_value=0)
    kinds = {
        "SYN": (fl & SYN > 0) & (fl & ACK == 0),
        "SYN-ACK": (fl & SYN > 0) & (fl & ACK > 0),
        "RST": fl & RST > 0,
    }
    fig = Figure(figsize=(FIGSIZE[0], 6.4), layout="constrained")
    fig.suptitle(f"SYN / SYN-ACK / RST rates: {_short(input_name)}")
    axes = fig.subplots(3, 1, sharex=True)
    edges = np.arange(nb + 1) * w
    windows = _windows(findings, "syn_flood", t0, span)
    for ax, (name, mask), color in zip(axes, kinds.items(), ("tab:blue", "tab:green", "tab:red"), strict=True):
        counts = np.bincount(b[mask], minlength=nb) / w
        ax.stairs(counts, edges, fill=True, color=color, zorder=2, label=f"{name}\n({int(mask.sum())} segments)")
        for i, (start, end) in enumerate(windows):
            ax.axvspan(start, max(end, start + w), color="tab:orange", alpha=0.25, zorder=0, linewidth=0,
                       label=None if i else "SYN flood window\n(from the finding)")
        ax.set_ylabel(f"{name} / s")
        ax.set_ylim(bottom=0, top=max(counts.max() * 1.15, 1 / w))
        ax.grid(True, alpha=0.3)
        if not mask.any():
            ax.text(0.5, 0.5, f"no {name} segments", transform=ax.transAxes, ha="center", va="center", color="gray")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1].set_xlim(0, max(edges[-1], w))
    axes[-1].set_xlabel(f"seconds since first packet ({pd.Timestamp(t0):%Y-%m-%d %H:%M:%S} UTC); "
                        f"bins of {_width_label(w)}")
    return fig


def _windows(findings: pd.DataFrame, category: str, t0: np.datetime64, span: float) -> list[tuple[float, float]]:
    """(start, end) seconds since ``t0`` of the findings of one category within this capture."""
    if findings is None or findings.empty or "first_seen" not in findings:
        return []
    f = findings[(findings["category"] == category) & findings["first_seen"].notna()]
    if f.empty:
        return []
    start = _seconds(f["first_seen"], t0)
    end = _seconds(f["last_seen"].fillna(f["first_seen"]), t0)
    inside = (end >= 0) & (start <= span)
    return list(zip(start[inside].tolist(), end[inside].tolist(), strict=True))


def scanners(findings: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(scanner, targets) named by the scan findings, in findings order (distributed: each source)."""
    if findings is None or findings.empty:
        return []
    out: dict[str, set[str]] = {}
    for cat, subject, details in findings.loc[findings["category"].isin(SCAN_CATEGORIES),
                                              ["category", "subject", "details"]].itertuples(index=False):
        d = details if isinstance(details, dict) else {}
        targets = set(map(str, d.get("targets") or ([d["target"]] if d.get("target") else [])))
        who = d.get("scanners", []) if cat == "distributed_scan" else [subject]
        for s in who:
            out.setdefault(str(s), set()).update(targets)
    return [(s, sorted(t)) for s, t in out.items()]


def scan_heatmap(packets: pd.DataFrame, findings: pd.DataFrame, input_name: str) -> Figure | None:
    """Target port by time for each scanner named in a scan finding (probes only: no RST, no SYN-ACK)."""
    names = [s for s, _ in scanners(findings)]
    if not names:
        return None
    fl = packets["flags"].to_numpy(dtype="int64", na_value=0)
    probe = (fl & RST == 0) & ~((fl & SYN > 0) & (fl & ACK > 0)) & packets["dst_port"].notna().to_numpy()
    probe &= packets["src_addr"].isin(names).to_numpy(dtype=bool, na_value=False)
    sub = packets.loc[probe, ["ts", "src_addr", "dst_addr", "dst_port"]]
    groups = dict(list(sub.groupby(sub["src_addr"].astype(str), sort=False)))
    panels = [(s, groups[s]) for s in names if s in groups]  # in findings order
    if not panels:
        return None
    shown = panels[:MAX_SCANNERS]
    fig = Figure(figsize=(FIGSIZE[0], 1.2 + 3.4 * len(shown)), layout="constrained")
    fig.suptitle(f"Scan heat map (probes per time bin and target port): {_short(input_name)}"
                 + (f"; first {MAX_SCANNERS} of {len(panels)} scanners" if len(panels) > MAX_SCANNERS else ""))
    for i, (scanner, pk) in enumerate(shown):
        ax = fig.add_subplot(len(shown), 1, i + 1)
        ts = pk["ts"].to_numpy(dtype="datetime64[ns]")
        t0 = ts.min()
        x = _seconds(ts, t0)
        span = max(float(x.max()), 1e-6)
        w = bin_width(span, 80)
        xb = np.arange(int(np.floor(span / w)) + 2) * w
        ports = pk["dst_port"].to_numpy(dtype="int64")
        distinct = np.unique(ports)
        lo, hi = int(distinct[0]), int(distinct[-1])
        few = len(distinct) <= 24  # one row per port, labelled with the port
        wide = not few and hi - lo > 2048  # well-known and high ports together: log axis
        if few:
            yv, yb = np.searchsorted(distinct, ports), np.arange(len(distinct) + 1) - 0.5
        elif wide:
            yv, yb = np.maximum(ports, 1), np.geomspace(max(lo, 1), hi + 1, 65)
        else:
            yv, yb = ports, np.linspace(lo, hi + 1, min(64, hi - lo + 1) + 1)
        h, _, _ = np.histogram2d(x, yv, bins=(xb, yb))
        mesh = ax.pcolormesh(xb, yb, h.T, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(h.max(), 2)),
                             shading="flat")
        fig.colorbar(mesh, ax=ax, label="probes")
        hosts = pk["dst_addr"].nunique()
        ax.set_title(f"scanner {scanner}: {len(pk)} probes to {len(distinct)} port{'s' if len(distinct) != 1 else ''}"
                     f" on {hosts} host{'s' if hosts != 1 else ''}", fontsize=10)
        if few:
            ax.set_yticks(np.arange(len(distinct)), [str(v) for v in distinct])
        ax.set_xlabel(f"seconds since its first probe ({pd.Timestamp(t0):%Y-%m-%d %H:%M:%S} UTC); bins of {_width_label(w)}")
        ax.set_ylabel("target port" + (" (log scale)" if wide else ""))
        if wide:
            ax.set_yscale("log")
    return fig


def abnormal_closes(flows: pd.DataFrame, input_name: str) -> Figure | None:
    """Connection start time by close kind, for the abnormal closes (resets, no answer, half-open...)."""
    close = flows["close"].astype(object)
    m = close.notna().to_numpy() & ~close.isin(list(NORMAL_CLOSES)).to_numpy() & flows["start"].notna().to_numpy()
    if not m.any():
        return None
    fl = flows.loc[m, ["start", "end", "close"]]
    kinds = [k for k in schema.CLOSE_CATEGORIES if k in set(fl["close"].astype(str))]
    code = pd.Categorical(fl["close"].astype(str), categories=kinds).codes
    start = fl["start"].to_numpy(dtype="datetime64[ns]")
    t0 = start.min()
    x = _seconds(start, t0)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(x))  # fixed seed: same picture every run
    title = f"Abnormal closes ({len(fl)} of {len(flows)} connections): {_short(input_name)}" if input_name else \
        f"Abnormal closes ({len(fl)} of {len(flows)} connections)"
    fig, ax = _new(title, f"connection start, seconds since the first one ({pd.Timestamp(t0):%Y-%m-%d %H:%M:%S} UTC)",
                   "how the connection ended", figsize=(FIGSIZE[0], max(2.8, 1.6 + 0.55 * len(kinds))))
    counts = np.bincount(code, minlength=len(kinds))
    shown = np.arange(len(x))
    if len(x) > MAX_POINTS:  # an even sample keeps the picture and the PNG small; counts stay exact
        shown = np.sort(np.random.default_rng(0).choice(len(x), MAX_POINTS, replace=False))
        ax.set_title(f"{title}; {MAX_POINTS:,} points shown")
    palette = np.array([f"C{i % 10}" for i in range(len(kinds))])
    ax.scatter(x[shown], (code + jitter)[shown], s=10, c=palette[code[shown]], alpha=0.6, linewidths=0,
               rasterized=len(shown) > 2000)
    ax.set_yticks(np.arange(len(kinds)), [f"{k} ({n})" for k, n in zip(kinds, counts, strict=True)])
    ax.set_ylim(len(kinds) - 0.5, -0.5)
    if float(x.max()) == 0:
        ax.set_xlim(-1, 1)
    return fig


def snapshot_counts(sockets: pd.DataFrame, input_name: str) -> Figure | None:
    """CLOSE_WAIT and TIME_WAIT sockets per snapshot of a multi-snapshot dump (None otherwise)."""
    snaps = sockets["snapshot"].dropna()
    if snaps.nunique() < 2:
        return None
    counts = (sockets[sockets["state"].isin(WATCHED_STATES)]
              .groupby(["snapshot", "state"], observed=True).size().unstack("state"))
    counts = counts.reindex(index=np.sort(snaps.unique()), columns=list(WATCHED_STATES)).fillna(0).astype("int64")
    if not counts.to_numpy().any():
        return None
    total = sockets.groupby("snapshot").size().reindex(counts.index).fillna(0)
    stamps = sockets.groupby("snapshot")["ts"].first().reindex(counts.index)
    use_time = stamps.notna().all()
    x = stamps.to_numpy() if use_time else counts.index.to_numpy(dtype="int64")
    fig, ax = _new(f"{' and '.join(WATCHED_STATES)} per snapshot: {_short(input_name)}",
                   "snapshot time (as printed)" if use_time else "snapshot (0 = first)", "sockets")
    for state, color in zip(WATCHED_STATES, ("tab:red", "tab:purple"), strict=True):
        if counts[state].any():
            ax.plot(x, counts[state].to_numpy(), marker="o", color=color, label=state)
    ax.plot(x, total.to_numpy(), linestyle="--", color="gray", label="all sockets")
    ax.set_ylim(bottom=0)
    if not use_time:
        ax.set_xticks(x)
    else:
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
        fig.autofmt_xdate()
    ax.legend(loc="upper left")
    return fig
