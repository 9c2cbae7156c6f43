"""The rule tables that type a conversation (``reconstruct.conversations``): the wire shape of
its first packet (nmap/masscan probes), its probe type, family and outcome, and whether it is a
failed connection attempt; and the steps that apply them to the conversation table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.conversation_columns import _text
from tcpforensics.reconstruct.packets import ACK, FIN, PSH, RST, SYN, URG
from tcpforensics.reconstruct.rules import Rule, first_match

CORE = FIN | SYN | RST | PSH | ACK | URG  # ECE/CWR/NS ignored when typing a probe

#: Shape of the first packet of a conversation, first matching rule wins (one rule a line).
#: Sources: nmap and masscan wire notes in ../shared/reference/detection.md.
#: Columns: core (flags & CORE), window, opts (any TCP option), mss_only, payload (> 0 bytes).
SHAPE_RULES: tuple[Rule, ...] = (
    ("data", lambda f: f["payload"]),                                   # mid-stream data, not a probe
    ("syn_ack", lambda f: f["core"] == SYN | ACK),                      # an answer, never a probe
    ("rst", lambda f: (f["core"] & RST) != 0),                          # an answer or an abort
    ("stateless_syn", lambda f: (f["core"] == SYN) & ~f["opts"]),        # masscan-like: no TCP options
    ("syn_half_open", lambda f: (f["core"] == SYN) & (f["window"] == 1024) & f["mss_only"]),  # nmap -sS
    ("syn", lambda f: f["core"] == SYN),                                # the OS's own SYN
    ("null", lambda f: f["core"] == 0),                                 # nmap -sN
    ("fin", lambda f: f["core"] == FIN),                                # nmap -sF
    ("xmas", lambda f: f["core"] == FIN | PSH | URG),                   # nmap -sX
    ("maimon", lambda f: f["core"] == FIN | ACK),                       # nmap -sM
    ("ack", lambda f: f["core"] == ACK),                                # nmap -sA and -sW (same probe)
    ("odd_flags", lambda f: True),                                      # OS-detection probes, tools
)

SYN_SHAPES = ("stateless_syn", "syn_half_open", "syn")
STATELESS_SHAPES = ("null", "fin", "xmas", "maimon", "ack", "odd_flags")

#: Probe type of a conversation: the first packet's shape refined by what the initiator did
#: after the answer (first match wins).
PROBE_RULES: tuple[Rule, ...] = (
    ("session", lambda f: f["data_seen"]),                                           # real use
    ("connect", lambda f: f["shape"].isin(SYN_SHAPES) & f["answered_sa"] & f["init_acked"]),
    ("syn_half_open", lambda f: f["shape"].isin(SYN_SHAPES) & f["answered_sa"] & f["init_rst"]),
    ("unsolicited", lambda f: f["shape"].isin(("syn_ack", "rst"))),                   # answer, no ask
    ("midstream", lambda f: f["shape"] == "data"),
    ("midstream", lambda f: f["shape"].isin(STATELESS_SHAPES) & ~f["stateless_only"]),
    (lambda f: f["shape"], lambda f: True),                                           # its shape
)

#: Probe family of a probe type (first match wins); "" = not a probe.
FAMILY_RULES: tuple[Rule, ...] = (
    ("syn", lambda f: f["probe"].isin(SYN_SHAPES + ("connect",))),
    ("ack", lambda f: f["probe"] == "ack"),
    ("stateless", lambda f: f["probe"].isin(STATELESS_SHAPES)),
)

#: What the target's answer says about the port, by probe family (nmap's port states).
OUTCOME_RULES: tuple[Rule, ...] = (
    ("open", lambda f: (f["family"] == "syn") & f["answered_sa"]),
    ("closed", lambda f: (f["family"] == "syn") & f["answered_rst"]),
    ("filtered", lambda f: f["family"] == "syn"),
    ("unfiltered", lambda f: (f["family"] == "ack") & f["answered_rst"]),
    ("filtered", lambda f: f["family"] == "ack"),
    ("closed", lambda f: (f["family"] == "stateless") & f["answered_rst"]),
    ("open|filtered", lambda f: f["family"] == "stateless"),
)

#: Is a probe a failed connection attempt? Zeek's is_failed_conn (scan.zeek): no answer,
#: rejected, or answered and then reset by the prober before any data (first match wins).
FAILED_RULES: tuple[Rule, ...] = (
    (False, lambda f: ~f["is_probe"]),
    (False, lambda f: f["data_seen"]),
    (True, lambda f: f["family"] != "syn"),     # stateless probes never open a connection
    (True, lambda f: ~f["answered_sa"]),        # S0, REJ, RSTOS0, SH: no SYN-ACK
    (True, lambda f: f["init_rst"]),            # ShR / ShAR: open port, reset without data
    (False, lambda f: True),                    # handshake answered and left open or closed
)


def _described(out: pd.DataFrame, first: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the endpoints, input and wire shape of each conversation's first packet."""
    out["first_frame"] = first["frame"].astype("int64").to_numpy()
    out["init_addr"] = _text(first["src_addr"], out.index)
    out["init_port"] = first["src_port"].astype("Int64").to_numpy()
    out["peer_addr"] = _text(first["dst_addr"], out.index)
    out["peer_port"] = first["dst_port"].astype("Int64").to_numpy()
    out["ttl"] = first["ttl"].astype("Int64").to_numpy()
    out["input"] = _text(first["input"], out.index)
    shape_in = pd.DataFrame(
        {
            "core": (first["flags"].fillna(0).astype("int64") & CORE).to_numpy(),
            "window": first["window"].fillna(-1).astype("int64").to_numpy(),
            "opts": _any_option(first),
            "mss_only": _mss_only(first),
            "payload": first["payload_len"].fillna(0).astype("int64").to_numpy() > 0,
        }
    )
    out["shape"] = _text(first_match(shape_in, SHAPE_RULES), out.index)
    return out


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` with probe type, family, outcome, completion and failure (the rule tables)."""
    # stateless probes: every initiator packet is an empty probe and the peer only answers
    out["stateless_only"] = (out["init_probe_pkts"] == out["init_pkts"]) & (
        out["peer_answers"] == out["peer_pkts"]
    ) & ~out["data_seen"]
    out["probe"] = _text(first_match(out, PROBE_RULES), out.index)
    out["family"] = _text(first_match(out, FAMILY_RULES), out.index)
    out["outcome"] = _text(first_match(out, OUTCOME_RULES), out.index)
    out["is_probe"] = out["family"] != ""
    out["completed"] = out["answered_sa"] & (out["init_acked"] | out["data_seen"])
    out["failed"] = first_match(out, FAILED_RULES, default=False).astype(bool)
    return out


def _any_option(first: pd.DataFrame) -> np.ndarray:
    cols = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_mss", "opt_sack_perm", "opt_ts")]
    cols.append(first["wscale"].notna().to_numpy())
    return np.logical_or.reduce(cols)


def _mss_only(first: pd.DataFrame) -> np.ndarray:
    mss = first["opt_mss"].fillna(False).astype(bool).to_numpy()
    others = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_sack_perm", "opt_ts")]
    others.append(first["wscale"].notna().to_numpy())
    return mss & ~np.logical_or.reduce(others)
