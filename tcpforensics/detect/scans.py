"""Scan detection from failed connection attempts: port, address, block and distributed scans."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics import heap
from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import findings as ev
from tcpforensics.detect import trw
from tcpforensics.groups import first_rows, rows_of
from tcpforensics.reconstruct.conversation_rules import SYN_SHAPES
from tcpforensics.reconstruct.rules import Row, always, first_match

#: The scan finding categories.
SCAN_CATEGORIES = ("port_scan", "address_scan", "block_scan", "distributed_scan")

#: Thresholds (sources in docs/detection-captures.md). Counts are distinct (host, port)
#: pairs of *failed* attempts (no answer, rejected, reset before any data), never raw SYNs.
DEFAULTS = {
    "scan.port_min_ports": 15,  # Zeek scan.zeek port_scan_threshold (15 ports on one host)
    "scan.address_min_hosts": 20,  # bro-simple-scan knockknock_threshold (one port, 20 hosts)
    "scan.block_min_pairs": 25,  # bro-simple-scan scan_threshold (25 unique host/port pairs)
    "scan.block_min_hosts": 5,  # ours: fewer hosts read better as one port_scan per host
    "scan.block_min_ports": 5,  # Snort low-sensitivity portscan port count (5)
    "scan.high_pairs": 250,  # bro-simple-scan local_scan_threshold: a scan this big is high
    "scan.distributed_min_scanners": 5,  # ours: several sources, each below the port_scan bar
    "scan.distributed_min_ports": 15,  # same bar as a single-source port scan
}
register_defaults(DEFAULTS)

#: Port state order when one port was probed more than once: the most informative answer wins.
OUTCOME_ORDER = ("open", "closed", "unfiltered", "open|filtered", "filtered")

#: Probe type of a scanner from its probes' types: a SYN of plain OS shape with no answer to
#: tell connect from half-open ("syn") yields to any specific SYN type the scanner showed.
PROBE_TEXT = {
    "syn_half_open": "SYN half-open probes (nmap -sS: the scanner never completes the handshake; "
    "open ports answer SYN-ACK and get a bare RST)",
    "connect": "connect() probes (nmap -sT: handshakes completed then reset at once, no data)",
    "stateless_syn": "stateless SYN probes without TCP options (masscan/zmap-like or crafted packets)",
    "syn": "SYN probes (answers never completed the handshake, so connect and half-open look alike)",
    "fin": "FIN probes (nmap -sF: closed ports answer RST, open or filtered ones stay silent)",
    "null": "NULL probes with no flags (nmap -sN: closed ports answer RST)",
    "xmas": "Xmas probes FIN+PSH+URG (nmap -sX: closed ports answer RST)",
    "maimon": "Maimon probes FIN+ACK (nmap -sM)",
    "ack": "bare ACK probes (nmap -sA, or -sW which sends the same packet; RST = unfiltered)",
    "odd_flags": "probes with unusual flag combinations (OS fingerprinting or crafted packets)",
}

NEXT_STEP = {
    "port_scan": "Check which of the open ports should be reachable from the scanner; block or "
    "rate-limit the source if it is not an authorised scanner.",
    "address_scan": "Find what the responsive hosts run on this port; a sweep usually precedes "
    "exploitation of one service. Block the source if not authorised.",
    "block_scan": "Treat the source as hostile unless it is an authorised scanner; review what "
    "answered as open across the swept hosts.",
    "distributed_scan": "Several sources share the work: look for a common owner (same /24, "
    "ASN, TTL) and block them together.",
}


def first_contacts(conv: pd.DataFrame) -> pd.DataFrame:
    """First contact of each initiator with each (host, port), with its outcome, for TRW."""
    started = conv["is_probe"] | ((conv["probe"] == "session") & conv["shape"].isin(SYN_SHAPES))
    rows = np.flatnonzero(started.to_numpy(dtype=bool))
    rows = rows[np.argsort(conv["first_ts"].to_numpy()[rows], kind="stable")]
    view = _Rows(conv, rows, ["init_addr", "first_ts", "failed", "init_code"])
    at = view.rows[first_rows(*_pair_keys(view))]
    return pd.DataFrame({"actor": conv["init_addr"].array.take(at), "ts": conv["first_ts"].to_numpy()[at],
                         "failed": conv["failed"].to_numpy()[at], "code": conv["init_code"].to_numpy()[at]})


def detect(conv: pd.DataFrame, config: Config, input_name: str) -> tuple[list[dict], pd.DataFrame]:
    """Scan findings from the conversation table; also returns the TRW table (one row per source)."""
    if conv.empty:
        return [], trw.walk(pd.DataFrame(), config)
    walks = trw.walk(first_contacts(conv), config)
    heap.give_back()  # (the walk's working arrays, before the counts')
    cols = [c for c in PROBE_COLUMNS if c in conv.columns]
    is_probe = conv["is_probe"].to_numpy(dtype=bool)
    probes = _Rows(conv, np.flatnonzero(is_probe), cols)
    failed = _Rows(conv, np.flatnonzero(is_probe & conv["failed"].to_numpy(dtype=bool)), cols)
    if not len(failed.rows):
        return [], walks
    th = {k: int(config.get(k)) for k in DEFAULTS}
    trw_by = walks.drop(columns="actor").set_index("code")  # (no text: a row is read by code)
    per, per_host, per_port = _counts(failed, walks, trw_by, th)
    flagged = per[per["mode"] != ""]
    by_scanner = rows_of(failed.column("init_code"), flagged.index.to_numpy())
    probes_of = rows_of(probes.column("init_code"), flagged.index.to_numpy())
    rows: list[dict] = []
    covered: set[tuple[int, int]] = set()  # (scanner, host) already reported, as address codes
    for code, r in flagged.iterrows():  # one pass per flagged scanner (few)
        scanner = _Scanner(
            r, failed.frame(by_scanner[code]),  # (every flagged scanner has failed attempts)
            probes.frame(probes_of.get(code, np.zeros(0, dtype=np.int64))),
            per_host[per_host["init_code"] == code], per_port[per_port["init_code"] == code],
            trw.details(trw_by, code))
        rows += _scanner_findings(scanner, th, input_name, covered)
    rows.extend(_distributed(failed, probes, covered, th, input_name))
    return rows, walks


def _counts(failed: _Rows, walks: pd.DataFrame, trw_by: pd.DataFrame,
            th: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Failed (scanner, host, port) pairs counted per scanner (with its ``mode``, "" when no
    :func:`mode_rules` row holds), per (scanner, host) and per (scanner, port)."""
    firsts = first_rows(*_pair_keys(failed))
    pairs = failed.frame(firsts[_may_flag(failed, firsts, walks, th)])
    per = pairs.groupby("init_code").agg(
        scanner=("init_addr", "first"), pairs=("peer_port", "size"), hosts=("peer_code", "nunique"),
        ports=("peer_port", "nunique"),
    )
    per_host = pairs.groupby(["init_code", "peer_code"]).agg(
        ports=("peer_port", "size"), peer_addr=("peer_addr", "first")).reset_index()
    per_port = pairs.groupby(["init_code", "peer_port"]).size().rename("hosts").reset_index()
    per["max_ports_on_host"] = per_host.groupby("init_code")["ports"].max()
    per["max_hosts_on_port"] = per_port.groupby("init_code")["hosts"].max()
    per["trw"] = (trw_by["decision"].reindex(per.index) == "scanner").to_numpy()
    per["mode"] = first_match(per, mode_rules(th))
    return per, per_host, per_port


@dataclass(frozen=True)
class _Scanner:
    """One flagged scanner: its row of the per-scanner counts, its failed attempts, its own
    probes, its failed pairs per host and per port, and its threshold random walk."""

    counts: pd.Series
    failed: pd.DataFrame
    probes: pd.DataFrame
    per_host: pd.DataFrame
    per_port: pd.DataFrame
    trw_info: dict


def _scanner_findings(s: _Scanner, th: dict, input_name: str, covered: set[tuple[int, int]]) -> list[dict]:
    """The findings of one flagged scanner by its mode; adds the (scanner, host) pairs they
    explain to ``covered`` (address codes)."""
    scanner, mode, mine = s.counts["scanner"], s.counts["mode"], s.failed
    code = int(s.counts.name)

    def cover(sub: pd.DataFrame) -> None:
        covered.update((code, int(h)) for h in sub["peer_code"].unique())

    def scan(sub: pd.DataFrame, category: str, target: str, trigger: str) -> dict:
        return _scan(sub, s.probes, category, scanner, target, trigger, th, s.trw_info, input_name)

    if mode == "block_scan":
        cover(mine)
        return [scan(mine, "block_scan", f"{s.counts['hosts']} hosts x {s.counts['ports']} ports", "threshold")]
    rows = []
    if mode == "per_target":
        for host in s.per_host.loc[s.per_host["ports"] >= th["scan.port_min_ports"], "peer_addr"]:
            sub = mine[mine["peer_addr"] == host]
            rows.append(scan(sub, "port_scan", host, "threshold"))
            cover(sub)
        for port in s.per_port.loc[s.per_port["hosts"] >= th["scan.address_min_hosts"], "peer_port"]:
            sub = mine[mine["peer_port"] == port]
            rows.append(scan(sub, "address_scan", f"port {int(port)}", "threshold"))
            cover(sub)
        return rows
    # TRW decided "scanner" before any count threshold: name the dominant shape
    top_host = s.per_host.nlargest(1, "ports").iloc[0]
    top_port = s.per_port.nlargest(1, "hosts").iloc[0]
    if top_host["ports"] >= top_port["hosts"]:
        sub = mine[mine["peer_addr"] == top_host["peer_addr"]]
        rows.append(scan(sub, "port_scan", top_host["peer_addr"], "trw"))
    else:
        sub = mine[mine["peer_port"] == top_port["peer_port"]]
        rows.append(scan(sub, "address_scan", f"port {int(top_port['peer_port'])}", "trw"))
    cover(sub)
    return rows


#: Conversation columns the scan rules read.
PROBE_COLUMNS = ("init_addr", "init_code", "peer_addr", "peer_code", "peer_port", "first_ts", "last_ts", "probe",
                 "outcome", "failed", "first_frame", "uid", "input")


@dataclass(frozen=True)
class _Rows:
    """Some rows of the conversation table, by row number: a column is taken for those rows
    alone, a frame of the probe columns only for the rows a finding reads."""

    conv: pd.DataFrame
    rows: np.ndarray
    columns: list[str]

    def column(self, name: str) -> np.ndarray:
        col = self.conv[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            return np.asarray(col.array.take(self.rows), dtype=object)
        return col.to_numpy()[self.rows]

    def frame(self, at: np.ndarray) -> pd.DataFrame:
        return ev.text_rows(self.conv, self.rows[at], self.columns)


def _pair_keys(probes: _Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(initiator code, peer code, peer port) of each row, as integers (port NA: -1 -> 65536)."""
    port = probes.conv["peer_port"].to_numpy(dtype=np.int64, na_value=-1)[probes.rows]
    return probes.column("init_code"), probes.column("peer_code"), np.where(port < 0, 65536, port)


def _may_flag(failed: _Rows, pairs: np.ndarray, walks: pd.DataFrame, th: dict) -> np.ndarray:
    """Mask of the (scanner, host, port) pairs (rows ``pairs`` of ``failed``) of initiators a
    mode rule can flag: those with as many distinct pairs as the lowest count threshold (every
    count a rule reads is at most the number of pairs), and those the threshold random walk
    called scanners."""
    least = min(th["scan.block_min_pairs"], th["scan.port_min_ports"], th["scan.address_min_hosts"])
    codes = failed.column("init_code")[pairs]
    enough = np.bincount(codes)[codes] >= least
    by_walk = walks.loc[(walks["decision"] == "scanner").to_numpy(), "code"]
    return enough | np.isin(codes, by_walk.to_numpy())


def mode_rules(th: dict) -> tuple[Row, ...]:
    """Per-scanner rule table over the counts of its failed pairs, with thresholds ``th``
    (first match wins); "" = not a scanner."""
    return (
        Row("block_scan", lambda f: (f["pairs"] >= th["scan.block_min_pairs"])
            & (f["hosts"] >= th["scan.block_min_hosts"]) & (f["ports"] >= th["scan.block_min_ports"]),
            "at least `scan.block_min_pairs` failed (host, port) pairs on at least `scan.block_min_hosts` "
            "hosts and `scan.block_min_ports` ports: one `block_scan`, target \"H hosts x P ports\""),
        Row("per_target", lambda f: f["max_ports_on_host"] >= th["scan.port_min_ports"],
            "some host has at least `scan.port_min_ports` failed ports: one `port_scan` per such host "
            "(target = the host), and the `address_scan`s of the next row"),
        Row("per_target", lambda f: f["max_hosts_on_port"] >= th["scan.address_min_hosts"],
            "some port has at least `scan.address_min_hosts` failed hosts: one `address_scan` per such "
            "port (target = \"port N\"), and the `port_scan`s of the row above"),
        Row("trw", lambda f: f["trw"],
            "the threshold random walk says \"scanner\": the dominant shape, a `port_scan` of the top "
            "host or an `address_scan` of the top port"),
    )


#: Severity of a scan finding (first match wins).
SCAN_SEVERITY: tuple[Row, ...] = (
    Row("high", lambda f: f["failed_pairs"] >= f["high_pairs"],
        "at least `scan.high_pairs` failed (host, port) pairs in the finding"),
    Row("medium", lambda f: f["trigger"] == "threshold", "a count threshold (a `mode_rules` row) fired"),
    Row("low", always, "only the threshold random walk flagged the scanner"),
)


def probe_type(types: pd.Series) -> str:
    """The scanner's probe type from its probes' types (most frequent, specific SYN types first)."""
    counts = types.value_counts()
    specific = counts.drop(labels=["syn"], errors="ignore")
    if "syn" in counts.index and specific.index.isin(SYN_SHAPES + ("connect",)).any():
        counts = specific
    return str(counts.index[0]) if len(counts) else ""


def _port_states(probes: pd.DataFrame, label: pd.Series) -> tuple[dict[str, list], dict[str, int]]:
    """For each port state, the labels (ports, hosts or host:port) in it (capped) and how many;
    a label probed more than once takes its most informative answer."""
    rank = probes["outcome"].map({o: i for i, o in enumerate(OUTCOME_ORDER)}).fillna(len(OUTCOME_ORDER))
    best = pd.DataFrame({"label": label.to_numpy(), "rank": rank.to_numpy()}).groupby("label")["rank"].min()
    out: dict[str, list] = {}
    counts: dict[str, int] = {}
    for i, state in enumerate(OUTCOME_ORDER):
        hit = best.index[best == i]
        if len(hit):
            out[state] = ev.capped(hit)
            counts[state] = int(len(hit))
    return out, counts


def _scan(mine: pd.DataFrame, probes: pd.DataFrame, category: str, scanner: str, target: str, trigger: str,
          th: dict, trw_info: dict, input_name: str) -> dict:
    """One scan finding from the failed attempts ``mine`` of one scanner against one target."""
    hosts = mine["peer_addr"].unique()
    ports = mine["peer_port"].dropna().astype(int).unique()
    # ``probes``: the scanner's own probes; those to the failed attempts' hosts and ports
    mask = np.isin(probes["peer_code"].to_numpy(), mine["peer_code"].unique()) & probes["peer_port"].isin(ports).to_numpy()
    seen = probes[mask]
    if category == "port_scan":
        label = seen["peer_port"].astype(int)
    elif category == "address_scan":
        label = seen["peer_addr"]
    else:
        label = seen["peer_addr"] + ":" + seen["peer_port"].astype(int).astype(str)
    states, state_counts = _port_states(seen, label)
    ptype = probe_type(mine["probe"])
    n_pairs = int(len(mine.drop_duplicates(["peer_addr", "peer_port"])))
    start, end = mine["first_ts"].min(), mine["last_ts"].max()
    duration = (end - start).total_seconds() if pd.notna(start) and pd.notna(end) else 0.0
    severity = ev.grade(SCAN_SEVERITY, failed_pairs=n_pairs, high_pairs=th["scan.high_pairs"], trigger=trigger)
    details = {
        "scanner": scanner,
        "targets": ev.capped(hosts),
        "hosts": int(len(hosts)),
        "ports_probed": int(len(ports)),
        "probe_type": ptype,
        "probe_types": {str(k): int(v) for k, v in mine["probe"].value_counts().items()},
        "port_states": states,
        "port_state_counts": state_counts,
        "failed_attempts": n_pairs,
        "rate_per_s": n_pairs / duration if duration > 0 else None,
        "trigger": "count threshold" if trigger == "threshold" else "threshold random walk",
        "trw": trw_info,
        "window": {"start": start, "end": end, "duration_s": duration},
    }
    evidence = ev.refs(mine, input_name)
    where = {"port_scan": f"{len(ports)} ports on {target}", "address_scan": f"{len(hosts)} hosts on {target}",
             "block_scan": target}[category]
    opened = states.get("open", [])
    explanation = (
        f"{scanner} probed {where} with {PROBE_TEXT.get(ptype, ptype)}; {n_pairs} attempts failed "
        f"(no answer, rejected or reset before any data)"
        + (f"; answered as open: {', '.join(map(str, opened[:10]))}" if opened else "")
        + (f". Flagged by the threshold random walk after {trw_info.get('contacts_to_decision')} first contacts"
           if trigger == "trw" else "")
        + (f". The threshold random walk had flagged {scanner} after {trw_info['contacts_to_decision']} first "
           f"contacts, at {trw_info['decided_at']}" if trigger != "trw" and trw_info.get("decision") == "scanner"
           else "")
        + "."
    )
    return ev.finding(severity, category, scanner, target, n_pairs, details, evidence, explanation,
                      NEXT_STEP[category], start, end)


def _distributed(failed: _Rows, probes: _Rows, covered: set, th: dict, input_name: str) -> list[dict]:
    """Many sources sharing a scan of one host, none of them over the single-scanner bar."""
    init_code, peer_code = failed.column("init_code"), failed.column("peer_code")
    left = np.ones(len(failed.rows), dtype=bool)
    if covered:
        width = int(max(init_code.max(), peer_code.max(), *(max(p) for p in covered))) + 1
        maybe = np.flatnonzero(np.isin(init_code, [s for s, _ in covered]))
        pairs = init_code[maybe].astype(np.int64) * width + peer_code[maybe]
        left[maybe] = ~np.isin(pairs, [s * width + h for s, h in covered])
    if not left.any():
        return []
    rest = _Rows(failed.conv, failed.rows[left], failed.columns)
    keys = pd.DataFrame({"peer_code": peer_code[left], "init_code": init_code[left],
                         "peer_port": rest.conv["peer_port"].array.take(rest.rows)})
    per = keys.groupby("peer_code").agg(scanners=("init_code", "nunique"), ports=("peer_port", "nunique"))
    del keys
    hit = per[(per["scanners"] >= th["scan.distributed_min_scanners"]) & (per["ports"] >= th["scan.distributed_min_ports"])]
    of_host = rows_of(rest.column("peer_code"), hit.index.to_numpy())
    probe_peer, probe_init = probes.column("peer_code"), probes.column("init_code")
    rows = []
    for code in hit.index:
        sub = rest.frame(of_host[code])
        host = sub["peer_addr"].iloc[0]
        scanners = sub["init_addr"].unique()
        start, end = sub["first_ts"].min(), sub["last_ts"].max()
        seen = probes.frame(np.flatnonzero((probe_peer == code) & np.isin(probe_init, sub["init_code"].unique())))
        states, state_counts = _port_states(seen, seen["peer_port"].astype(int))
        n = int(len(sub.drop_duplicates(["init_addr", "peer_port"])))
        details = {
            "target": host,
            "scanners": ev.capped(scanners),
            "n_scanners": int(len(scanners)),
            "ports_probed": int(sub["peer_port"].nunique()),
            "probe_type": probe_type(sub["probe"]),
            "port_states": states,
            "port_state_counts": state_counts,
            "per_scanner_max_ports": int(sub.groupby("init_addr")["peer_port"].nunique().max()),
            "window": {"start": start, "end": end, "duration_s": (end - start).total_seconds()},
        }
        subject = f"{len(scanners)} sources" if len(scanners) > 1 else str(scanners[0])
        explanation = (
            f"{len(scanners)} sources together probed {details['ports_probed']} ports on {host} "
            f"with failed attempts, each source staying below the single-scanner threshold: a "
            f"distributed (or decoy) scan."
        )
        evidence = ev.refs(sub, input_name)
        rows.append(ev.finding("medium", "distributed_scan", subject, host, n, details, evidence, explanation,
                               NEXT_STEP["distributed_scan"], start, end))
    return rows


def candidates(walks: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The first ``n`` actors of the TRW table with failed first contacts, scanners first,
    then by failures (for reports; text as plain strings)."""
    if walks.empty:
        return walks
    failing = np.flatnonzero(walks["failures"].to_numpy() > 0)
    rank = pd.Categorical(walks["decision"], categories=list(trw.DECISIONS)).codes[failing]
    order = failing[np.lexsort((-walks["failures"].to_numpy()[failing], rank))][:n]
    table = ev.text_rows(walks, order, [c for c in walks.columns if c != "code"])
    return table.assign(decision=table["decision"].astype(object)).reset_index(drop=True)


__all__ = ["DEFAULTS", "candidates", "detect", "first_contacts", "probe_type"]
