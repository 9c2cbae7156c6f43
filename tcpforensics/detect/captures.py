"""Capture detections: scans, floods and abnormal closes, each with evidence and an explanation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import closes, evidence, floods, flowjoin, probes, scans
from tcpforensics.ingest.base import Ingested

SCAN_CATEGORIES = ("port_scan", "address_scan", "block_scan", "distributed_scan")

register_defaults({
    # ours: when at least this share of the verifiable TCP checksums is bad, the capture was
    # taken on a host with checksum offload (tcpdump on the sender, loopback); the bad sums
    # are an artefact and flows are rebuilt ignoring them, as Zeek's docs advise (zeek -C)
    "capture.offload_bad_share": 0.5,
})


def offloaded(events: pd.DataFrame, config: Config) -> bool:
    """True when most verifiable checksums are bad (checksum offload on the capturing host)."""
    if "checksum" not in events.columns or events.empty:
        return False
    cs = events["checksum"]
    bad, ok = int((cs == "bad").sum()), int((cs == "ok").sum())
    return bad + ok > 0 and bad / (bad + ok) >= float(config.get("capture.offload_bad_share"))


def offloading_senders(events: pd.DataFrame) -> np.ndarray:
    """Mask of packets sent by an endpoint (address, port) whose every verifiable checksum is
    bad: the signature of checksum offload on the capturing host (the kernel's own segments
    on loopback or from the sender), not of corruption in transit, which hits some segments
    of an endpoint, not all. Raw-socket tools (nmap, hping3) fill their sums, so a capture can
    mix both; this rule keeps validating the endpoints that do have good sums."""
    if "checksum" not in events.columns or events.empty:
        return np.zeros(len(events), dtype=bool)
    cs = events["checksum"]
    bad = (cs == "bad").to_numpy(dtype=bool, na_value=False)
    ok = (cs == "ok").to_numpy(dtype=bool, na_value=False)
    key = pd.MultiIndex.from_arrays([events["src_addr"], events["src_port"]])
    codes, _ = pd.factorize(key)
    n = int(codes.max()) + 1 if len(codes) else 0
    n_ok = np.bincount(codes, weights=ok, minlength=n)
    n_bad = np.bincount(codes, weights=bad, minlength=n)
    sender_offloads = (n_bad > 0) & (n_ok == 0)
    return bad & sender_offloads[codes]


def reconstruct(events: pd.DataFrame, config: Config | None = None) -> pd.DataFrame | None:
    """The flows table of these packets (None while flow reconstruction is not installed).

    Checksums are ignored altogether when the capture looks offloaded (see :func:`offloaded`);
    otherwise the bad sums of offloading senders (see :func:`offloading_senders`) count as
    unverifiable, and every other bad segment is dropped as Zeek does."""
    try:
        from tcpforensics.reconstruct.flows import flows
    except ImportError:
        return None
    config = config or Config()
    if offloaded(events, config):
        return flows(events, {"ignore_checksums": True})
    mask = offloading_senders(events)
    if mask.any():
        events = events.copy()
        events.loc[mask, "checksum"] = "unverifiable"
    return flows(events, {"ignore_checksums": False})


def tcp_packets(events: pd.DataFrame) -> pd.DataFrame:
    """The TCP packet rows of an event table."""
    if events.empty:
        return events
    keep = (events["kind"] == "packet").to_numpy(dtype=bool, na_value=False) & (events["proto"] == "tcp").to_numpy(
        dtype=bool, na_value=False)
    return events if keep.all() else events[keep]


def diagnose_one(
    events: pd.DataFrame, config: Config, input_name: str, flows: pd.DataFrame | None = None
) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Findings (as rows) and tables for the packets of one capture (``flows`` optional)."""
    pkts = tcp_packets(events)
    conv, packets = probes.conversations(pkts, packets=True)
    conv = flowjoin.attach(conv, flows)
    scan_rows, walks = scans.detect(conv, config, input_name)
    flood_rows = floods.detect(conv, packets, config, input_name)
    explained = _explained(flows, scan_rows + flood_rows)
    close_rows = closes.detect(flows, config, explained)
    tables = closes.tables(flows) if flows is not None else {}
    flagged = scans.summary(walks)
    if len(flagged):
        tables["scan_candidates"] = flagged[flagged["failures"] > 0].head(20).reset_index(drop=True)
    return scan_rows + flood_rows + close_rows, tables


def _explained(flows: pd.DataFrame | None, rows: list[dict]) -> np.ndarray | None:
    """Mask of the flows without data that a scan or flood finding already explains (the
    scanner's probes, half-open attempts on a flooded service, answers around reflection and
    backscatter hosts); they are not repeated as abnormal closes."""
    if flows is None or flows.empty or not rows:
        return None
    scanners = {r["subject"] for r in rows if r["category"] in SCAN_CATEGORIES}
    for r in rows:
        if r["category"] == "distributed_scan":
            scanners.update(r["details"].get("scanners", []))
    hosts = list({r["subject"] for r in rows if r["category"] in ("synack_reflection", "backscatter", "connection_flood")})
    orig, resp = flows["orig_addr"], flows["resp_addr"]
    hit = orig.isin(list(scanners)).to_numpy() | orig.isin(hosts).to_numpy() | resp.isin(hosts).to_numpy()
    port = flows["resp_port"].to_numpy(dtype="int64", na_value=-1)
    for r in rows:  # one pass per flooded service (few)
        if r["category"] == "syn_flood":
            addr, _, svc_port = r["details"]["victim"].rpartition(":")
            hit |= (resp == addr).to_numpy() & (port == int(svc_port))
    empty = (flows["orig_bytes"].to_numpy(dtype="float64", na_value=0) == 0) & (
        flows["resp_bytes"].to_numpy(dtype="float64", na_value=0) == 0)
    return hit & empty


def diagnose(inputs: list[Ingested], config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings and summary tables from packet captures (each input analysed on its own)."""
    rows: list[dict] = []
    per_input: dict[str, list[pd.DataFrame]] = {}
    for item in inputs:  # one pass per capture file
        pkts = tcp_packets(item.events)
        flows = reconstruct(pkts, config) if len(pkts) else None
        item.meta["flows"] = flows  # kept for what reads the same flows later (plots)
        found, tables = diagnose_one(pkts, config, item.input, flows)
        rows.extend(found)
        for name, table in tables.items():
            per_input.setdefault(name, []).append(table.assign(input=item.input) if len(inputs) > 1 else table)
    tables = {name: pd.concat(parts, ignore_index=True) for name, parts in per_input.items()}
    return evidence.dedup(evidence.to_frame(rows)), tables
