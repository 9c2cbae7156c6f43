"""Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan 2004) over first-contact outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults

#: Parameters of the paper (IEEE S&P 2004, section 4): a benign host's first contact succeeds
#: with probability theta0, a scanner's with theta1; target detection and false-positive
#: probabilities P_D and P_F give the thresholds eta1 = P_D/P_F and eta0 = (1-P_D)/(1-P_F).
DEFAULTS = {
    "trw.theta0": 0.8,
    "trw.theta1": 0.2,
    "trw.p_d": 0.99,
    "trw.p_f": 0.01,
}
register_defaults(DEFAULTS)


def thresholds(config: Config) -> tuple[float, float, float, float]:
    """(log step on failure, log step on success, log eta1, log eta0) from the config."""
    t0, t1 = float(config.get("trw.theta0")), float(config.get("trw.theta1"))
    pd_, pf = float(config.get("trw.p_d")), float(config.get("trw.p_f"))
    fail = math.log((1 - t1) / (1 - t0))  # 0.8 / 0.2 -> x4
    ok = math.log(t1 / t0)  # 0.2 / 0.8 -> x0.25
    return fail, ok, math.log(pd_ / pf), math.log((1 - pd_) / (1 - pf))


#: The decisions of a walk, in report order (codes of the ``decision`` column).
DECISIONS = ("scanner", "pending", "benign")


#: First contacts walked at a time (whole actors): bounds the walk's working arrays.
BATCH_ROWS = 1 << 18


def walk(contacts: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Run the walk per actor over its first contacts, in time order.

    ``contacts`` has columns actor, ts, failed (one row per first contact to a new
    (host, port)), and may have ``code``, an integer per actor (then the walk groups by it and
    keeps it). Returns one row per actor: contacts, failures, decision ("scanner", "benign" or
    "pending", a categorical of DECISIONS), contacts_to_decision, decided_at, llr (final log
    ratio), and code when given.

    Unlike the paper's walk, which stops at the first decision, a walk that reaches the benign
    boundary stays there (floor at log eta0) and goes on, so a host that behaved well at
    first and scans later is still caught; the floor keeps the test's step sizes.
    """
    cols = ["actor", "contacts", "failures", "decision", "contacts_to_decision", "decided_at", "llr"]
    if contacts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    coded = "code" in contacts.columns
    code = contacts["code"].to_numpy() if coded else pd.factorize(contacts["actor"].astype(object))[0]
    order = np.lexsort((contacts["ts"].to_numpy(), code))  # by actor, then time (stable)
    bounds = _batches(code[order])
    out = pd.concat([_walk_sorted(contacts.iloc[order[a:b]].assign(code=code[order[a:b]]), config)
                     for a, b in zip(bounds[:-1], bounds[1:], strict=True)], ignore_index=True)
    out["decision"] = pd.Categorical.from_codes(out["decision"].to_numpy(), categories=list(DECISIONS))
    return out[cols + ["code"]] if coded else out[cols]


def _batches(code: np.ndarray) -> np.ndarray:
    """Row bounds of batches of about BATCH_ROWS rows of sorted ``code``, cut between actors."""
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    cuts = starts[np.searchsorted(starts, np.arange(BATCH_ROWS, len(code), BATCH_ROWS)).clip(max=len(starts) - 1)]
    return np.unique(np.r_[0, cuts, len(code)].astype(np.int64))


def _walk_sorted(c: pd.DataFrame, config: Config) -> pd.DataFrame:
    """:func:`walk` of contacts sorted by (code, ts), with every actor's contacts all there."""
    fail, ok, up, down = thresholds(config)
    c = c.reset_index(drop=True)
    step = np.where(c["failed"].to_numpy(dtype=bool), fail, ok)
    code = c["code"].to_numpy()
    g = c.groupby("code", sort=False)
    cum = pd.Series(step).groupby(code, sort=False).cumsum().to_numpy()
    # Lindley recursion S_n = max(down, S_{n-1} + x_n), S_0 = 0, in closed form:
    low = pd.Series(cum - down).groupby(code, sort=False).cummin().to_numpy()
    s = cum - np.minimum(0.0, low)
    hit = np.flatnonzero(s >= up)
    n = g.cumcount().to_numpy() + 1
    out = g.agg(actor=("actor", "first"), contacts=("failed", "size"), failures=("failed", "sum"))
    out["llr"] = pd.Series(s).groupby(code, sort=False).last().to_numpy()
    decision = np.where(out["llr"].to_numpy() <= down + 1e-12, 2, 1).astype(np.int8)
    out["contacts_to_decision"] = pd.NA
    out["decided_at"] = pd.NaT
    if len(hit):
        first_hit = hit[np.r_[True, code[hit][1:] != code[hit][:-1]]]  # each actor's first crossing
        at = out.index.get_indexer(code[first_hit])
        decision[at] = 0
        out.iloc[at, out.columns.get_loc("contacts_to_decision")] = n[first_hit]
        out.iloc[at, out.columns.get_loc("decided_at")] = c["ts"].to_numpy()[first_hit]
    out["decision"] = decision  # (codes of DECISIONS)
    return out.reset_index()


def details(walks_by_code: pd.DataFrame, code: int) -> dict:
    """What a finding says of one actor's walk (``walk``'s table indexed by ``code``): its
    decision, first contacts, failures and when it was decided ("pending" when not walked)."""
    if code not in walks_by_code.index:
        return {"decision": "pending"}
    r = walks_by_code.loc[code]
    return {
        "decision": r["decision"],
        "first_contacts": int(r["contacts"]),
        "failed_first_contacts": int(r["failures"]),
        "contacts_to_decision": None if pd.isna(r["contacts_to_decision"]) else int(r["contacts_to_decision"]),
        "decided_at": None if pd.isna(r["decided_at"]) else pd.Timestamp(r["decided_at"]).isoformat(),
    }
