"""Checksum offload: which bad TCP checksums are artefacts of the capturing host, not corruption.

A capture taken on a host with checksum offload (tcpdump on the sender, loopback) shows the
host's own segments with bad sums: the NIC fills them after the capture point. Zeek's docs
advise ``zeek -C`` for such captures. The rule, as an ordered table (first match wins):

| decision | condition | why |
|---|---|---|
| ignore all checksums | bad sums are at least ``capture.offload_bad_share`` of the verifiable ones | the whole capture was taken on an offloading host |
| an endpoint's bad sums are unverifiable | every verifiable sum the endpoint (address, port) sent is bad | its stack offloads; corruption in transit hits some segments, not all |
| drop bad segments | otherwise | as Zeek does by default |

Raw-socket tools (nmap, hping3) fill their sums, so one capture can mix both; the endpoint
rule keeps validating the endpoints that do have good sums. The tally behind the rule is
mergeable (sums per endpoint), so chunks and partitions of one capture decide as the whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.reconstruct.partition_hashes import sender_hashes

register_defaults({
    # ours: when at least this share of the verifiable TCP checksums is bad, the capture was
    # taken on a host with checksum offload; flows are rebuilt ignoring them (zeek -C)
    "capture.offload_bad_share": 0.5,
})

#: Columns of a checksum tally: one row per sending endpoint, keyed by its hash.
TALLY_COLUMNS = ("sender", "ok", "bad")


def tally(events: pd.DataFrame) -> pd.DataFrame:
    """Verifiable checksums per sending endpoint (``partition_hashes.sender_hashes``): ok and bad
    counts (mergeable by :func:`merge`)."""
    if "checksum" not in events.columns or events.empty:
        return _empty()
    cs = events["checksum"]
    ok = (cs == "ok").to_numpy(dtype=bool, na_value=False)
    bad = (cs == "bad").to_numpy(dtype=bool, na_value=False)
    keep = ok | bad
    return _summed(sender_hashes(events[keep]), ok[keep], bad[keep])


def merge(tallies: list[pd.DataFrame]) -> pd.DataFrame:
    """One tally from several (chunks, partitions or files of one capture)."""
    parts = [t for t in tallies if len(t)]
    if len(parts) <= 1:
        return parts[0] if parts else _empty()
    both = pd.concat(parts, ignore_index=True)
    return _summed(both["sender"].to_numpy(), both["ok"].to_numpy(), both["bad"].to_numpy())


def _summed(sender: np.ndarray, ok: np.ndarray, bad: np.ndarray) -> pd.DataFrame:
    keys, at = np.unique(sender, return_inverse=True)
    return pd.DataFrame({"sender": keys, "ok": np.bincount(at, weights=ok, minlength=len(keys)).astype(np.int64),
                         "bad": np.bincount(at, weights=bad, minlength=len(keys)).astype(np.int64)})


@dataclass(frozen=True)
class Decision:
    """What flow reconstruction does with bad checksums (see the module's rule table)."""

    ignore_all: bool
    offloading: np.ndarray  # sender hashes of endpoints whose bad sums are unverifiable


def decide(counts: pd.DataFrame, config: Config) -> Decision:
    """Apply the rule table to a capture's tally."""
    ok, bad = int(counts["ok"].sum()), int(counts["bad"].sum())
    if bad + ok > 0 and bad / (bad + ok) >= float(config.get("capture.offload_bad_share")):
        return Decision(True, np.zeros(0, dtype=np.uint64))
    senders = (counts["bad"] > 0) & (counts["ok"] == 0)
    return Decision(False, counts.loc[senders, "sender"].to_numpy(dtype=np.uint64))


def apply(events: pd.DataFrame, decision: Decision) -> pd.DataFrame:
    """The packets with the bad sums of offloading endpoints marked unverifiable."""
    if decision.ignore_all or not len(decision.offloading) or "checksum" not in events.columns:
        return events
    mask = (events["checksum"] == "bad").to_numpy(dtype=bool, na_value=False).copy()
    mask[mask] = np.isin(sender_hashes(events[mask]), decision.offloading)
    if not mask.any():
        return events
    checksum = events["checksum"].copy()
    checksum.iloc[np.flatnonzero(mask)] = "unverifiable"
    return events.assign(checksum=checksum)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"sender": pd.Series(dtype=np.uint64), "ok": pd.Series(dtype="int64"),
                         "bad": pd.Series(dtype="int64")})
