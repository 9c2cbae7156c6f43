"""Flood detection from packets: SYN floods, SYN-ACK reflection, backscatter, RST/FIN storms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import findings as ev
from tcpforensics.detect.time_windows import burst_rate, window_counts
from tcpforensics.groups import rows_of
from tcpforensics.reconstruct.conversation_rules import SYN_SHAPES
from tcpforensics.reconstruct.packets import FIN, RST
from tcpforensics.reconstruct.rules import Row, always, first_match

#: Thresholds (sources in docs/detection-captures.md).
DEFAULTS = {
    "syn_flood.window_s": 1.0,  # Suricata idiom: detection_filter ... count 100, seconds 1
    "syn_flood.min_rate": 100,  # half-open attempts per second on one service (same idiom)
    "syn_flood.min_sources": 20,  # ours: a burst from this many sources is a forged-source flood
    "syn_flood.high_half_open": 1000,  # Zeek tcp_storm_thresh order of magnitude: high severity
    "reflection.min_sources": 20,  # ours (knock-knock bar of bro-simple-scan): many reflectors
    # Zeek tcp_storm_thresh order of magnitude (as syn_flood.high_half_open): high severity
    "reflection.high_conversations": 1000,
    "backscatter.min_peers": 20,  # ours (same bar): answers sent to many never-seen askers
    "storm.min_packets": 1000,  # Zeek tcp_storm_thresh
    "storm.max_gap_s": 1.0,  # Zeek tcp_storm_interarrival_thresh
    "connection_flood.window_s": 1.0,  # Suricata idiom (count 100, seconds 1, by_src)
    "connection_flood.min_rate": 100,  # empty connections per second from one source
}
register_defaults(DEFAULTS)

#: How likely the sources of a SYN flood are forged (first match wins). A forged-source
#: flood uses about one SYN per random address; a real client retries from few addresses.
SPOOF_RULES: tuple[Row, ...] = (
    Row("high", lambda f: (f["sources"] >= 0.9 * f["half_open"]) & (f["sources"] >= 20),
        "at least 20 sources and nearly one per half-open attempt (>= 0.9 sources per attempt)"),
    Row("medium", lambda f: (f["sources"] >= 10) & (f["completing_sources"] == 0),
        "at least 10 sources and none of them ever completed a handshake with the victim"),
    Row("low", always, "otherwise: few sources, or some of them completed handshakes"),
)

#: The label of the rule that flags a service by its half-open count in one window.
BY_WINDOW = "half-open rate"

#: Is a service flooded? (first match wins; columns of the per-victim peak table). The label
#: is the finding's ``details["rule"]``.
FLOOD_RULES: tuple[Row, ...] = (
    Row(BY_WINDOW, lambda f: f["in_window"] >= f["need"],
        "at least `syn_flood.min_rate` x `syn_flood.window_s` half-open attempts in one sliding window "
        "(Suricata idiom: detection_filter count 100, seconds 1)"),
    Row("burst from many sources",
        lambda f: (f["sources"] >= f["min_sources"]) & (f["burst_rate"] >= f["min_rate"]),
        "at least `syn_flood.min_sources` distinct sources, and some `syn_flood.min_sources` consecutive "
        "half-open attempts arrive at `syn_flood.min_rate` per second or faster (a forged-source flood "
        "too short to fill a window)"),
)

#: Severity of a syn_flood finding (first match wins).
SYN_FLOOD_SEVERITY: tuple[Row, ...] = (
    Row("high", lambda f: f["half_open"] >= f["high_half_open"],
        "at least `syn_flood.high_half_open` half-open attempts on the service"),
    Row("medium", always, "fewer half-open attempts"),
)

#: Severity of a synack_reflection finding (first match wins).
REFLECTION_SEVERITY: tuple[Row, ...] = (
    Row("high", lambda f: f["conversations"] >= f["high_conversations"],
        "at least `reflection.high_conversations` unsolicited SYN-ACK conversations to the victim"),
    Row("medium", always, "fewer unsolicited SYN-ACK conversations"),
)


#: Conversation columns the flood rules and their findings read (rows are copied with these only).
FLOOD_COLUMNS = ("init_addr", "init_port", "init_code", "peer_addr", "peer_port", "peer_code", "first_ts", "last_ts",
                 "first_frame", "uid", "shape", "completed", "init_syns", "answered_sa", "init_pkts", "ttl")


def _flood_columns(conv: pd.DataFrame) -> list[str]:
    """FLOOD_COLUMNS the table has (uid only once flows are attached)."""
    return [c for c in FLOOD_COLUMNS if c in conv.columns]


def detect(conv: pd.DataFrame, packets: pd.DataFrame, config: Config, input_name: str) -> list[dict]:
    """Flood findings from the conversation table and its packets (with conv ids)."""
    if conv.empty:
        return []
    th = {k: config.get(k) for k in DEFAULTS}
    rows: list[dict] = []
    rows += _syn_flood(conv, th, input_name)
    rows += _unsolicited(conv, th, input_name)
    rows += _storms(conv, packets, th, input_name)
    rows += _connection_flood(conv, th, input_name)
    return rows


def _peaks(frame: pd.DataFrame, key: str, width: float, k: int) -> pd.DataFrame:
    """Per group of ``key`` (index, sorted): peak count in a sliding window of ``width`` s
    (``in_window``, first reached ``at``) and peak k-burst rate (``burst_rate``)."""
    codes, keys = pd.factorize(frame[key].to_numpy(), sort=True)
    ns = pd.to_datetime(frame["first_ts"]).astype("datetime64[ns]").astype("int64").to_numpy()
    order, counts = window_counts(codes, ns, round(width * 1e9))
    _, rates = burst_rate(codes, (ns - ns.min()) / 1e9, k)
    group = codes[order]  # (sorted: every group's rows together)
    starts = np.searchsorted(group, np.arange(len(keys)))
    top = np.flatnonzero(counts == np.maximum.reduceat(counts, starts)[group])
    first_top = top[np.r_[True, group[top][1:] != group[top][:-1]]]  # each group's first peak
    return pd.DataFrame({"in_window": counts[first_top], "at": frame["first_ts"].to_numpy()[order[first_top]],
                         "burst_rate": np.fmax.reduceat(rates, starts)}, index=pd.Index(keys, name=key))


def _syn_flood(conv: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """One syn_flood finding per service that a FLOOD_RULES row flags."""
    is_syn = conv["shape"].isin(SYN_SHAPES).to_numpy()
    if not is_syn.any():
        return []
    # the victim service as one integer (address code, port); its text only for findings
    service = conv["peer_code"].to_numpy() * 65536 + conv["peer_port"].to_numpy(dtype="int64", na_value=0)
    found = _flooded_services(conv, is_syn, service, th)
    if found is None:
        return []
    flooded, syn_rows, half_rows, half_victim = found
    half_of = rows_of(half_victim, flooded.index.to_numpy())
    syn_of = rows_of(service[syn_rows], flooded.index.to_numpy())
    cols = _flood_columns(conv)
    rows = []
    for key, p in flooded.iterrows():  # one pass per flooded service (few)
        h, a = conv[cols].iloc[half_rows[half_of[key]]], conv[cols].iloc[syn_rows[syn_of[key]]]  # (text as codes)
        rows.append(_syn_flood_finding(h, a, p, th, input_name))
    return rows


def _sources(rows: pd.DataFrame, n: int = 10) -> tuple[pd.Series, int]:
    """The ``n`` initiators with the most rows (``value_counts`` order), indexed by address,
    and how many distinct initiators there are; counted on address codes (a flood's rows can be
    a million) and only the first ``n`` addresses made text."""
    col = rows["init_addr"]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        counts = col.value_counts()
        return counts.head(n), len(counts)
    counts = pd.Series(col.cat.codes.to_numpy()).value_counts()  # (the order value_counts gives the texts)
    counts = counts[counts.index >= 0]
    top = counts.head(n)
    names = np.asarray(col.cat.categories.array.take(top.index.to_numpy()), dtype=object)
    return pd.Series(top.to_numpy(), index=pd.Index(names, dtype=object), name="count"), len(counts)


def _flooded_services(conv: pd.DataFrame, is_syn: np.ndarray, service: np.ndarray,
                      th: dict) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray] | None:
    """The per-service peak table of the flooded services (``rule``: the FLOOD_RULES label,
    ``rate``: its peak rate), the SYN rows and half-open rows of the candidate services and
    the service of each half-open row; None when no service has enough half-open attempts."""
    is_half = is_syn & ~conv["completed"].to_numpy(dtype=bool)
    counts = pd.Series(service[is_half]).value_counts()
    width = float(th["syn_flood.window_s"])
    need = int(np.ceil(float(th["syn_flood.min_rate"]) * width))
    min_sources = int(th["syn_flood.min_sources"])
    cand = counts[counts >= min(need, min_sources)].index
    if not len(cand):
        return None
    syn_rows = np.flatnonzero(is_syn & np.isin(service, cand.to_numpy()))  # (the candidates' rows)
    half_rows = syn_rows[~conv["completed"].to_numpy(dtype=bool)[syn_rows]]
    half = pd.DataFrame({"victim": service[half_rows], "first_ts": conv["first_ts"].to_numpy()[half_rows],
                         "init_code": conv["init_code"].to_numpy()[half_rows]})
    peaks = _peaks(half, "victim", width, min_sources)
    peaks["sources"] = half.groupby("victim")["init_code"].nunique().reindex(peaks.index)
    peaks = peaks.assign(need=need, min_sources=min_sources, min_rate=float(th["syn_flood.min_rate"]))
    peaks["rule"] = first_match(peaks, FLOOD_RULES)
    peaks["rate"] = np.where(peaks["rule"] == BY_WINDOW, peaks["in_window"] / width, peaks["burst_rate"])
    return peaks[peaks["rule"] != ""], syn_rows, half_rows, half["victim"].to_numpy()


def _syn_flood_finding(h: pd.DataFrame, a: pd.DataFrame, p: pd.Series, th: dict, input_name: str) -> dict:
    """The syn_flood finding of one service: its half-open attempts ``h``, all its SYN
    attempts ``a`` and its row ``p`` of the peak table."""
    width = float(th["syn_flood.window_s"])
    victim = f"{h['peer_addr'].iloc[0]}:{int(h['peer_port'].iloc[0])}"
    srcs, sources = _sources(h)
    completing = a.loc[a["completed"], "init_addr"].nunique()
    spoof = ev.grade(SPOOF_RULES, sources=sources, half_open=len(h), completing_sources=completing)
    start, end = h["first_ts"].min(), h["last_ts"].max()
    duration = (end - start).total_seconds()
    syns, answered, completed = int(a["init_syns"].sum()), int(a["answered_sa"].sum()), int(a["completed"].sum())
    details = {
        "victim": victim,
        "half_open": len(h),
        "attempts": len(a),
        "syn_synack_ack": f"{syns}:{answered}:{completed}",
        "completion_ratio": completed / len(a) if len(a) else None,
        "distinct_sources": sources,
        "top_sources": {str(k): int(v) for k, v in srcs.items()},
        "spoofing_likelihood": spoof,
        "distinct_ttls": int(h["ttl"].nunique()),
        "peak_in_window": int(p["in_window"]),
        "window_s": width,
        "peak_rate_per_s": float(p["rate"]) if np.isfinite(p["rate"]) else None,
        "peak_at": p["at"],
        "rule": p["rule"],
        "window": {"start": start, "end": end, "duration_s": duration},
    }
    severity = ev.grade(SYN_FLOOD_SEVERITY, half_open=len(h), high_half_open=int(th["syn_flood.high_half_open"]))
    who = (f"{sources} distinct sources (spoofing likelihood {spoof})" if sources > 1
           else f"one source, {srcs.index[0]}")
    rate = details["peak_rate_per_s"]
    explanation = (
        f"{len(h)} connection attempts to {victim} never completed the handshake "
        f"(SYN:SYN-ACK:final ACK = {details['syn_synack_ack']}), from {who}; peak "
        f"{int(p['in_window'])} half-open in {width:g} s"
        + (f", bursts of {rate:.0f}/s" if rate else "") + f", over {duration:.3f} s. "
        "A SYN flood fills the listener's SYN backlog so real clients cannot connect."
    )
    next_step = ("Check the victim's SYN backlog and SyncookiesSent/ListenOverflows counters; enable "
                 "SYN cookies, rate-limit or filter upstream" + (" (sources look forged: filter by "
                 "destination, not source)." if spoof == "high" else "; block the source(s)."))
    return ev.finding(severity, "syn_flood", victim, victim, len(h), details,
                      ev.refs(h, input_name), explanation, next_step, start, end)


def _unsolicited(conv: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """Answers nobody asked for: SYN-ACK reflection (per receiver) and backscatter (per sender)."""
    un = ev.text_rows(conv, np.flatnonzero((conv["probe"] == "unsolicited").to_numpy()), _flood_columns(conv))
    if un.empty:
        return []
    return _reflection(un, th, input_name) + _backscatter(un, th, input_name)


def _reflection(un: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """SYN-ACK reflection: one finding per receiver of unsolicited SYN-ACKs from many hosts."""
    rows: list[dict] = []
    sa = un[un["shape"] == "syn_ack"]
    per_rcv = sa.groupby("peer_code").agg(victim=("peer_addr", "first"), n=("init_code", "nunique"))
    victims = per_rcv.loc[per_rcv["n"] >= int(th["reflection.min_sources"]), "victim"]
    rsts = un[un["shape"] == "rst"]
    sa_of, rst_of = (rows_of(t["peer_code"].to_numpy(), victims.index.to_numpy()) for t in (sa, rsts))
    for code, victim in victims.items():
        sub, rst = sa.iloc[sa_of[code]], rsts.iloc[rst_of.get(code, [])]
        start, end = sub["first_ts"].min(), sub["last_ts"].max()
        duration = (end - start).total_seconds()
        refl = sub["init_addr"].value_counts()
        details = {
            "victim": victim,
            "reflectors": int(len(refl)),
            "top_reflectors": {str(k): int(v) for k, v in refl.head(10).items()},
            "synack_conversations": int(len(sub)),
            "synack_segments": int(sub["init_pkts"].sum()),
            "rst_conversations": int(len(rst)),
            "victim_ports": int(sub["peer_port"].nunique()),
            "reflector_ports": ev.capped(sub["init_port"].dropna().astype(int), 10),
            "rate_per_s": len(sub) / duration if duration > 0 else None,
            "window": {"start": start, "end": end, "duration_s": duration},
        }
        explanation = (
            f"{victim} received {details['synack_segments']} SYN-ACKs it never asked for ({len(sub)} "
            f"conversations) from {len(refl)} hosts, plus {len(rst)} unsolicited RSTs: someone sent "
            f"SYNs to those hosts with {victim} "
            "as the forged source, so their answers converge on it (SYN-ACK reflection). The "
            "reflectors are not attacking on their own and are not scanners."
        )
        severity = ev.grade(REFLECTION_SEVERITY, conversations=len(sub),
                            high_conversations=int(th["reflection.high_conversations"]))
        rows.append(ev.finding(severity, "synack_reflection", victim, victim,
                               len(sub), details, ev.refs(sub, input_name), explanation,
                               "Filter unsolicited SYN-ACKs upstream of the victim (stateful firewall); "
                               "contact the upstream provider if the link is saturated.", start, end))
    return rows


def _backscatter(un: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """Backscatter: one finding per sender of unsolicited SYN-ACKs/RSTs to many hosts."""
    rows: list[dict] = []
    per_snd = un.groupby("init_code").agg(sender=("init_addr", "first"), n=("peer_code", "nunique"))
    senders = per_snd.loc[per_snd["n"] >= int(th["backscatter.min_peers"]), "sender"]
    un_of = rows_of(un["init_code"].to_numpy(), senders.index.to_numpy())
    for code, sender in senders.items():
        sub = un.iloc[un_of[code]]
        start, end = sub["first_ts"].min(), sub["last_ts"].max()
        details = {
            "sender": sender,
            "peers": int(sub["peer_addr"].nunique()),
            "synack_conversations": int((sub["shape"] == "syn_ack").sum()),
            "rst_conversations": int((sub["shape"] == "rst").sum()),
            "segments": int(sub["init_pkts"].sum()),
            "sender_ports": ev.capped(sub["init_port"].dropna().astype(int), 10),
            "window": {"start": start, "end": end, "duration_s": (end - start).total_seconds()},
        }
        explanation = (
            f"{sender} sent {details['segments']} SYN-ACK/RST segments ({details['synack_conversations']} "
            f"SYN-ACK and {details['rst_conversations']} RST conversations) to {details['peers']} hosts "
            "that never sent it a SYN in this capture: backscatter. "
            f"{sender} is most likely the victim of a SYN flood with forged sources, answering the "
            "forged addresses; it is not scanning them."
        )
        rows.append(ev.finding("low", "backscatter", sender, "*", len(sub), details,
                               ev.refs(sub, input_name), explanation,
                               f"Look for a SYN flood against {sender} (its ports {details['sender_ports']}); "
                               "do not block it as a scanner.", start, end))
    return rows


def _storms(conv: pd.DataFrame, packets: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """Zeek's RST_storm/FIN_storm per sender: >= N such packets, each < gap s after the last,
    inside real connections (answers to probes and backscatter are reported elsewhere)."""
    rows: list[dict] = []
    if packets.empty:
        return rows
    is_real = conv["probe"].isin(("session", "midstream")).to_numpy()
    flags = packets["flags"].to_numpy(dtype="int64")
    in_real = is_real[packets["conv"].to_numpy()]  # conv ids are 0..n-1, the table's row order
    for category, bit, name in (("rst_storm", RST, "RST"), ("fin_storm", FIN, "FIN")):
        sel = packets[in_real & ((flags & bit) != 0) & ((flags & RST) == 0 if bit == FIN else True)]
        if len(sel) < int(th["storm.min_packets"]):
            continue
        sel = sel.sort_values(["src_code", "ts"], kind="stable")
        src = sel["src_code"].to_numpy()
        t = sel["ts"].astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
        new = np.r_[True, (src[1:] != src[:-1]) | (np.diff(t) >= float(th["storm.max_gap_s"]))]
        run = np.cumsum(new) - 1
        size = np.bincount(run)
        big = np.flatnonzero(size >= int(th["storm.min_packets"]))
        for r in big:  # one pass per storm (rare)
            pk = sel[run == r]
            sender = _name(conv, int(pk["src_code"].iloc[0]))
            start, end = pk["ts"].min(), pk["ts"].max()
            details = {"sender": sender, "packets": int(len(pk)), "connections": int(pk["conv"].nunique()),
                       "peers": int(pk["dst_code"].nunique()), "max_gap_s": float(th["storm.max_gap_s"]),
                       "window": {"start": start, "end": end, "duration_s": (end - start).total_seconds()}}
            explanation = (f"{sender} sent {len(pk)} {name} segments in {details['connections']} connections "
                           f"with less than {th['storm.max_gap_s']} s between them (Zeek {name}_storm): "
                           "a broken stack, a middlebox tearing connections down, or injected segments.")
            rows.append(ev.finding("medium", category, sender, "*", len(pk), details,
                                   ev.frames(input_name, pk["frame"]), explanation,
                                   f"Find which process or device emits the {name}s (TTL, MAC) and why.",
                                   start, end))
    return rows


def _name(conv: pd.DataFrame, code: int) -> str:
    """The address behind an address code of the conversation table."""
    hit = conv.loc[conv["init_code"] == code, "init_addr"]
    if len(hit):
        return str(hit.iloc[0])
    return str(conv.loc[conv["peer_code"] == code, "peer_addr"].iloc[0])


def _connection_flood(conv: pd.DataFrame, th: dict, input_name: str) -> list[dict]:
    """Many completed but empty connections per second from one source to one service."""
    empty = ev.text_rows(conv, np.flatnonzero((conv["completed"] & ~conv["data_seen"] & conv["shape"].isin(SYN_SHAPES))
                                              .to_numpy()), _flood_columns(conv))
    if empty.empty:
        return []
    width = float(th["connection_flood.window_s"])
    need = int(np.ceil(float(th["connection_flood.min_rate"]) * width))
    empty = empty.assign(key=empty.groupby(["init_code", "peer_code", "peer_port"]).ngroup().to_numpy())
    counts = empty["key"].value_counts()
    cand = counts[counts >= need].index
    if not len(cand):
        return []
    sub_all = empty[empty["key"].isin(cand)]
    peaks = _peaks(sub_all, "key", width, need)
    rows = []
    for key, p in peaks[peaks["in_window"] >= need].iterrows():
        sub = sub_all[sub_all["key"] == key]
        source, target = str(sub["init_addr"].iloc[0]), f"{sub['peer_addr'].iloc[0]}:{int(sub['peer_port'].iloc[0])}"
        start, end = sub["first_ts"].min(), sub["last_ts"].max()
        details = {"source": source, "target": target, "connections": int(len(sub)),
                   "peak_in_window": int(p["in_window"]), "window_s": width,
                   "window": {"start": start, "end": end, "duration_s": (end - start).total_seconds()}}
        explanation = (f"{source} opened {len(sub)} connections to {target} that completed the handshake "
                       f"but carried no data, up to {int(p['in_window'])} in {width:g} s: a connection "
                       "flood exhausting the server's accept queue or connection slots.")
        rows.append(ev.finding("medium", "connection_flood", source, target, len(sub), details,
                               ev.refs(sub, input_name), explanation,
                               "Rate-limit new connections per source (firewall connlimit) and check the "
                               "server's accept backlog.", start, end))
    return rows
