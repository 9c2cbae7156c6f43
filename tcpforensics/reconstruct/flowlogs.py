"""Evidence from flow logs: the flow records of Zeek conn.log, Suricata eve.json and VPC flow
logs (``ingest/flowlogs.py``) as the flows and conversations the capture detectors read.

``flows_of_records`` completes each record into a flow of ``schema.FLOW_COLUMNS``:

1. one-way records (VPC: a reply is another record) are joined per 4-tuple, both directions
   together, oriented by who sent the bare SYN (else the first record's source);
2. a record without history gets letters from its OR-ed TCP flags (``flowlog_rules.FLAG_LETTERS``),
   one without conn_state gets it from the letters (``CONN_STATE_RULES``);
3. the endpoint paths and finals come from ``ENDPOINT_RULES`` and the close kind from
   ``endpoint_states.CLOSE_RULES`` unless the log carries them (``tcpforensics flows -f zeek``).

``conversations_of_flows`` makes the conversation table (one row per 4-tuple, oriented by its
first packet: the first history letter tells whose it was) with the columns the scan and
flood detectors read, typed by the same rule tables as packets (``conversation_rules``);
wire detail a log lacks (TCP options, window, TTL) is NA, so a SYN probe is typed ``syn``,
never ``syn_half_open``/``stateless_syn`` from its shape. ``evidence`` gives a
``CaptureEvidence`` with no packets and no FIN/RST segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.reconstruct import flowlog_rules as fr
from tcpforensics.reconstruct.conversation_columns import COLUMNS, _empty, _empty_packets
from tcpforensics.reconstruct.conversation_rules import (
    FAILED_RULES,
    FAMILY_RULES,
    OUTCOME_RULES,
    PROBE_RULES,
)
from tcpforensics.reconstruct.endpoint_states import close_category
from tcpforensics.reconstruct.evidence import CaptureEvidence, concat_flows
from tcpforensics.reconstruct.rules import first_match

#: What a finding made from a flow log cannot rest on (each finding's ``details["log_limits"]``).
LOG_LIMITS = ("from a flow log, not packets: no checksums, TCP options, windows, TTLs or retransmission "
              "detail, no order of events beyond the history letters, no FIN/RST segments (RST storms are "
              "not looked for); 'input#N' evidence is line N of the log")


@dataclass
class FlowLogEvidence(CaptureEvidence):
    """A capture evidence made from a flow log: no packets; ``limits`` says what it cannot show."""

    limits: str = LOG_LIMITS


def evidence(name: str, records: list[pd.DataFrame]) -> FlowLogEvidence:
    """The capture evidence of one flow log (or several pieces read as one)."""
    flows = concat_flows([flows_of_records(r) for r in records])
    conv = conversations_of_flows(flows)
    return FlowLogEvidence(input=name, packets=schema.empty_events("packet"), flows=flows, conversations=conv,
                           conv_packets=_empty_packets())


def flows_of_records(records: pd.DataFrame) -> pd.DataFrame:
    """The flows of one log's records (``schema.FLOW_RECORD_DTYPES``), in start order."""
    if records.empty:
        return schema.conform_flows(pd.DataFrame())
    rec = records.reset_index(drop=True)
    one_way = rec["one_way"].to_numpy(dtype=bool, na_value=False)
    if one_way.any():
        rec = pd.concat([rec[~one_way], _joined(rec[one_way])], ignore_index=True)
    hist = rec["history"].astype("string")
    no_hist = hist.isna().to_numpy() & rec["orig_flags"].notna().to_numpy()
    if no_hist.any():
        hist = hist.where(~no_hist, pd.Series(_flag_letters(rec), dtype="string"))
    refused = hist.isna().to_numpy() & rec["tool_reason"].astype(object).eq("REJECT").to_numpy()
    if refused.any():  # a VPC REJECT without tcp-flags: a refused attempt (security groups are stateful)
        hist = hist.where(~refused, "S")
        no_hist = no_hist | refused
    conn_state = rec["conn_state"].astype(object)
    no_state = conn_state.isna().to_numpy()
    if no_state.any():
        conn_state = conn_state.where(~no_state, pd.Series(fr.conn_states(hist), index=rec.index))
    out = rec.assign(history=hist, conn_state=conn_state)
    out = _ends(out, ordered=~no_hist)
    out["uid"] = out["uid"].astype("string").where(out["uid"].notna(), _uids(out))
    order = np.lexsort((out["first_frame"].to_numpy(dtype=np.int64, na_value=0),
                        out["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)))
    return schema.conform_flows(out.take(order).reset_index(drop=True))


def _ends(out: pd.DataFrame, ordered: np.ndarray) -> pd.DataFrame:
    """Paths, finals and close kind where the log does not carry them."""
    got = fr.ends(out["conn_state"], out["history"], ordered)
    named = fr.suricata_finals(out["tool_state"])
    got["resp_final"] = np.where(named != "", named, got["resp_final"])
    for name, values in got.items():
        have = out[name].notna().to_numpy()
        out[name] = np.where(have, out[name].astype(object).to_numpy(), values)
    have = out["close"].notna().to_numpy()
    derived = close_category(out["conn_state"].astype(object).to_numpy(), out["history"].fillna("").to_numpy(object),
                             {"orig_final": out["orig_final"], "resp_final": out["resp_final"]})
    out["close"] = np.where(have, out["close"].astype(object).to_numpy(), derived)
    return out


def _uids(flows: pd.DataFrame) -> pd.Series:
    """Deterministic ids for records without one: a hash of input, line and 4-tuple."""
    key = pd.DataFrame({c: flows[c].astype(str) for c in ("input", "first_frame", "orig_addr", "orig_port",
                                                          "resp_addr", "resp_port")})
    h = pd.util.hash_pandas_object(key, index=False).to_numpy()
    return pd.Series(np.char.add("L", np.char.mod("%016x", h)), index=flows.index, dtype="string")


def _flag_letters(rec: pd.DataFrame) -> np.ndarray:
    def side(p: str) -> dict[str, np.ndarray]:
        return {"flags": rec[f"{p}_flags"].to_numpy(dtype=np.int64, na_value=0),
                "known": rec[f"{p}_flags"].notna().to_numpy(),
                "pkts": rec[f"{p}_pkts"].to_numpy(dtype=np.int64, na_value=0),
                "bytes": rec[f"{p}_ip_bytes"].to_numpy(dtype=np.int64, na_value=0) if f"{p}_ip_bytes" in rec
                else np.zeros(len(rec), dtype=np.int64)}

    vpc = rec["interface"].notna().to_numpy() | rec["tool_reason"].astype(object).isin(["ACCEPT", "REJECT"]).to_numpy()
    return fr.flag_history(side("orig"), side("resp"), vpc)


def _joined(rec: pd.DataFrame) -> pd.DataFrame:
    """One-way records joined per 4-tuple (both directions), oriented by the bare SYN: the
    leading record of a 4-tuple is its first with a bare SYN, else its first."""
    rec = rec.reset_index(drop=True)
    a, b = (rec[f"{s}_addr"].astype(object).fillna("").astype(str).to_numpy(dtype=object) + "|"
            + rec[f"{s}_port"].to_numpy(dtype=np.int64, na_value=-1).astype(str).astype(object) for s in ("orig", "resp"))
    lo = a <= b
    key = pd.factorize(np.where(lo, a, b) + "#" + np.where(lo, b, a))[0]
    flags = rec["orig_flags"].to_numpy(dtype=np.int64, na_value=0)
    known = rec["orig_flags"].notna().to_numpy()
    t = rec["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((rec["line"].to_numpy(dtype=np.int64, na_value=0), t, ~((flags & 0x12) == 0x02), key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]  # one leading record per key, by key
    fwd = a == a[first][key]  # sent by the leading record's source
    g = pd.DataFrame({"k": key, "o_pkts": np.where(fwd, rec["orig_pkts"].to_numpy(dtype=np.int64, na_value=0), 0)})
    g["r_pkts"] = np.where(fwd, 0, rec["orig_pkts"].to_numpy(dtype=np.int64, na_value=0))
    ip = rec["orig_ip_bytes"].to_numpy(dtype=np.int64, na_value=0)
    g["o_bytes"], g["r_bytes"] = np.where(fwd, ip, 0), np.where(fwd, 0, ip)
    g["o_known"], g["r_known"] = fwd & known, ~fwd & known
    for bit in range(9):  # OR of the flags per side, a bit at a time (groupby any, no Python per group)
        g[f"o{bit}"] = fwd & ((flags >> bit) & 1).astype(bool)
        g[f"r{bit}"] = ~fwd & ((flags >> bit) & 1).astype(bool)
    g["start"], g["end"] = rec["start"].to_numpy(), rec["end"].to_numpy()
    g["reject"] = rec["tool_reason"].astype(object).eq("REJECT").to_numpy()
    grouped = g.groupby("k", sort=True)
    agg = grouped[["o_pkts", "r_pkts", "o_bytes", "r_bytes"]].sum().join(
        grouped[["o_known", "r_known", "reject"] + [f"{s}{bit}" for s in "or" for bit in range(9)]].any()).join(
        grouped.agg(start=("start", "min"), end=("end", "max")))
    o_fl, r_fl = ((agg[[f"{s}{bit}" for bit in range(9)]].to_numpy(dtype=np.int64) << np.arange(9)).sum(axis=1)
                  for s in "or")
    any_known = (agg["o_known"] | agg["r_known"]).to_numpy()
    lead = rec.take(first[np.argsort(key[first])])  # the leading records, in key order
    return lead.assign(
        orig_pkts=pd.array(agg["o_pkts"].to_numpy(), dtype="Int64"), resp_pkts=pd.array(agg["r_pkts"].to_numpy(), dtype="Int64"),
        orig_ip_bytes=agg["o_bytes"].to_numpy(), resp_ip_bytes=agg["r_bytes"].to_numpy(),
        orig_bytes=pd.arrays.IntegerArray(np.zeros(len(agg), np.int64), np.ones(len(agg), bool)),  # payload: unknown
        resp_bytes=pd.arrays.IntegerArray(np.zeros(len(agg), np.int64), np.ones(len(agg), bool)),
        orig_flags=pd.arrays.IntegerArray(np.where(agg["o_known"], o_fl, 0).astype(np.uint16), ~any_known),
        resp_flags=pd.arrays.IntegerArray(np.where(agg["r_known"], r_fl, 0).astype(np.uint16), ~any_known),
        start=agg["start"].to_numpy(), end=agg["end"].to_numpy(),
        duration=np.nan_to_num((agg["end"] - agg["start"]).dt.total_seconds().to_numpy(), nan=0.0),
        tool_reason=np.where(agg["reject"].to_numpy(), "REJECT", lead["tool_reason"].astype(object).to_numpy()),
        one_way=False,
    ).reset_index(drop=True)


# --- conversations ---------------------------------------------------------------------------


def conversations_of_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """One row per 4-tuple of the flows (``conversation_columns.COLUMNS``), oriented by the
    first flow's first packet, in order of first flow."""
    if flows.empty:
        return _empty()
    f = flows.reset_index(drop=True)
    hist = f["history"].astype("string").fillna("")
    bare = hist.str.lstrip("^")
    first = bare.str.slice(0, 1)
    lower_first = first.str.islower().fillna(False).to_numpy(dtype=bool)
    flipped = hist.str.startswith("^").to_numpy(dtype=bool)
    orig_pkts = f["orig_pkts"].to_numpy(dtype=np.int64, na_value=0)
    by_resp = lower_first & (flipped | (orig_pkts == 0))  # the responder's packet came first
    oa, ra = f["orig_addr"].astype(object).to_numpy(), f["resp_addr"].astype(object).to_numpy()
    op, rp = f["orig_port"].to_numpy(dtype=np.int64, na_value=-1), f["resp_port"].to_numpy(dtype=np.int64, na_value=-1)
    ia, pa_, ip, pp = np.where(by_resp, ra, oa), np.where(by_resp, oa, ra), np.where(by_resp, rp, op), np.where(by_resp, op, rp)
    codes, _ = pd.factorize(np.concatenate([ia, pa_]).astype(str))
    ic, pc_ = codes[: len(f)], codes[len(f):]
    lo_first = (ic < pc_) | ((ic == pc_) & (ip <= pp))
    key = np.stack([np.where(lo_first, ic, pc_), np.where(lo_first, ip, pp), np.where(lo_first, pc_, ic),
                    np.where(lo_first, pp, ip)], axis=1)
    conv_of = pd.MultiIndex.from_arrays(list(key.T)).factorize()[0] if len(f) else np.zeros(0, np.int64)
    ts = f["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    frame_no = f["first_frame"].to_numpy(dtype=np.int64, na_value=0)
    order = np.lexsort((frame_no, ts, conv_of))
    lead = order[np.r_[True, conv_of[order][1:] != conv_of[order][:-1]]]  # first flow of each 4-tuple
    lead = lead[np.lexsort((frame_no[lead], ts[lead]))]
    conv_id = np.empty(conv_of.max() + 1, dtype=np.int64)
    conv_id[conv_of[lead]] = np.arange(len(lead))
    cid = conv_id[conv_of]
    # each flow's facts from the conversation's initiator's side
    same = (ia == ia[lead][cid]) & (ip == ip[lead][cid])
    init_is_orig = same != by_resp
    facts = _side_facts(f, hist, init_is_orig)
    out = _aggregate(facts, cid, len(lead))
    out["conv"] = np.arange(len(lead))
    out["input"] = f["input"].astype(object).to_numpy()[lead]
    out["init_addr"], out["peer_addr"] = ia[lead], pa_[lead]
    out["init_port"] = pd.array(np.where(ip[lead] >= 0, ip[lead], 0), dtype="Int64")
    out["init_port"] = out["init_port"].where(ip[lead] >= 0, pd.NA)
    out["peer_port"] = pd.array(pp[lead], dtype="Int64").astype("Int64")
    out["peer_port"] = out["peer_port"].where(pp[lead] >= 0, pd.NA)
    out["init_code"], out["peer_code"] = ic[lead].astype(np.int64), pc_[lead].astype(np.int64)
    out["first_frame"] = frame_no[lead]
    out["reply_frame"] = pd.NA
    out["ttl"] = pd.array([pd.NA] * len(lead), dtype="Int64")
    out["shape"] = _shapes(bare.to_numpy(dtype=object)[lead], by_resp[lead], orig_pkts[lead])
    return _typed(out)[COLUMNS]


def _side_facts(f: pd.DataFrame, hist: pd.Series, init_is_orig: np.ndarray) -> pd.DataFrame:
    """Per flow, from its initiator's side: letters, packets, data, SYNs, times."""
    L = fr.letters(hist)
    io = init_is_orig

    def mine(up: str) -> np.ndarray:
        return np.where(io, L[up].to_numpy(), L[up.lower()].to_numpy())

    def theirs(up: str) -> np.ndarray:
        return np.where(io, L[up.lower()].to_numpy(), L[up].to_numpy())

    o_p, r_p = (f[c].to_numpy(dtype=np.int64, na_value=0) for c in ("orig_pkts", "resp_pkts"))
    data = L["data"].to_numpy() | (f["orig_bytes"].to_numpy(dtype=np.int64, na_value=0) > 0) | (
        f["resp_bytes"].to_numpy(dtype=np.int64, na_value=0) > 0)
    init_pkts = np.where(io, o_p, r_p)
    syn = mine("S")
    no_answer = syn & ~theirs("H") & ~data
    return pd.DataFrame({
        "data_seen": data, "answered_sa": theirs("H"), "answered_rst": theirs("R"), "init_acked": mine("A"),
        "init_rst": mine("R"), "init_fin": mine("F"), "peer_fin": theirs("F"),
        "init_pkts": init_pkts, "peer_pkts": np.where(io, r_p, o_p),
        "init_syns": np.where(no_answer, np.maximum(init_pkts, 1), syn.astype(np.int64)),
        "init_syn_letter": syn, "peer_any": np.where(io, r_p, o_p) > 0,
        "first_ts": f["start"].to_numpy(dtype="datetime64[ns]"), "last_ts": f["end"].to_numpy(dtype="datetime64[ns]"),
    })


def _aggregate(facts: pd.DataFrame, cid: np.ndarray, n: int) -> pd.DataFrame:
    g = facts.groupby(cid, sort=True)
    anys = g[["data_seen", "answered_sa", "answered_rst", "init_acked", "init_rst", "init_fin", "peer_fin",
              "init_syn_letter"]].any()
    sums = g[["init_pkts", "peer_pkts", "init_syns"]].sum()
    times = g.agg(first_ts=("first_ts", "min"), last_ts=("last_ts", "max"))
    out = pd.concat([anys, sums, times], axis=1).reindex(range(n))
    return out.reset_index(drop=True)


#: The first packet's shape from the first history letter of its sender (a log keeps no
#: flags beyond the letters, no options, window or TTL). F stands for FIN, Xmas and Maimon
#: probes alike (Zeek writes F for each).
_SHAPE_OF_LETTER = {"S": "syn", "H": "syn_ack", "R": "rst", "D": "data", "F": "fin", "A": "ack", "Q": "odd_flags"}


def _shapes(bare_hist: np.ndarray, by_resp: np.ndarray, orig_pkts: np.ndarray) -> np.ndarray:
    h = pd.Series(bare_hist, dtype="string").fillna("")
    letter = h.str.slice(0, 1).str.upper().to_numpy(dtype=object, na_value="")
    shape = pd.Series(letter).map(_SHAPE_OF_LETTER).to_numpy(dtype=object)
    lower = h.str.slice(0, 1).str.islower().fillna(False).to_numpy(dtype=bool)
    null = (letter == "") | (lower & ~by_resp & (orig_pkts > 0))  # the originator's packet left no letter
    shape = np.where(null, "null", shape)
    return np.where(pd.isna(shape), "odd_flags", shape).astype(object)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    """probe, family, outcome, is_probe, completed and failed (the packet rule tables)."""
    out["stateless_only"] = ~out["data_seen"] & ~out["init_syn_letter"] & ~out["answered_sa"] & ~out["peer_fin"]
    out["probe"] = first_match(out, PROBE_RULES)
    out["family"] = first_match(out, FAMILY_RULES)
    out["outcome"] = first_match(out, OUTCOME_RULES)
    out["is_probe"] = out["family"] != ""
    out["completed"] = out["answered_sa"] & (out["init_acked"] | out["data_seen"])
    out["failed"] = first_match(out, FAILED_RULES, default=False).astype(bool)
    return out
