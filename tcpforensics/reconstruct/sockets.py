"""Socket timelines: each socket's states across snapshots, and how its close maps to flow terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.rules import Row, always, first_match

#: What identifies one socket across snapshots of one input.
KEY: list[str] = ["input", "proto", "src_addr", "src_port", "dst_addr", "dst_port", "pid"]

#: Closing states a socket should leave quickly; seeing it there long means it is stuck.
CLOSING_STATES: tuple[str, ...] = ("FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK")


@dataclass(frozen=True)
class Socket:
    """The condition of a close-kind rule, over a frame of timelines (``last_state``,
    ``present``, ``role``): the socket's last state, whether it is still there at the last
    snapshot (None: either way), its local role (None: either)."""

    state: str
    present: bool | None = None
    role: str | None = None

    def __call__(self, f: pd.DataFrame) -> pd.Series:
        hit = f["last_state"] == self.state
        if self.present is not None:
            hit &= f["present"] == self.present
        if self.role is not None:
            hit &= f["role"] == self.role
        return hit


#: A socket's close in the flow vocabulary (column ``close_kind``), first match wins; a None
#: label: not a connection, or no term applies. docs/states.md shows this table.
CLOSE_KIND_RULES: tuple[Row, ...] = (
    Row(None, Socket("LISTEN"), "a listener, not a connection"),
    Row(None, Socket("BOUND"), "bound, never connected"),
    Row(None, Socket("CLOSED"), "ss UNCONN, Windows CLOSED: nothing to say"),
    Row(None, Socket("UNKNOWN"), "nothing to say"),
    Row("no_answer", Socket("SYN_SENT", present=True), "our SYN has no answer so far"),
    Row(None, Socket("SYN_SENT", present=False), "refused (RST) or gave up: a snapshot cannot tell which"),
    Row("half_open", Socket("SYN_RECEIVED"), "SYN-ACK sent, final ACK never seen"),
    Row("open_at_end", Socket("ESTABLISHED", present=True), "still open at the last snapshot"),
    Row(None, Socket("ESTABLISHED", present=False), "closed between snapshots, how is unseen"),
    Row("half_closed_orig", Socket("FIN_WAIT_1", role="orig"), "we (the originator) sent FIN, the peer has not"),
    Row("half_closed_resp", Socket("FIN_WAIT_1", role="resp"), "we (the responder) sent FIN, the peer has not"),
    Row("half_closed_orig", Socket("FIN_WAIT_2", role="orig"), "our FIN was acknowledged, the peer (responder) never sent its own"),
    Row("half_closed_resp", Socket("FIN_WAIT_2", role="resp"), "our FIN was acknowledged, the peer (originator) never sent its own"),
    Row("half_closed_resp", Socket("CLOSE_WAIT", present=True, role="orig"), "the peer (responder) sent FIN, our application never closed"),
    Row("half_closed_orig", Socket("CLOSE_WAIT", present=True, role="resp"), "the peer (originator) sent FIN, our application never closed"),
    Row("graceful", Socket("CLOSE_WAIT", present=False), "the application closed at last (then LAST_ACK, gone)"),
    Row("graceful", Socket("CLOSING"), "simultaneous close: both FINs sent"),
    Row("lost_final_ack", Socket("LAST_ACK", present=True), "both FINs sent, the last ACK never came"),
    Row("graceful", Socket("LAST_ACK", present=False), "the last ACK came (or the FIN retries ran out)"),
    Row("graceful", Socket("TIME_WAIT"), "we closed first and the close completed"),
)

#: The local end's role in the connection (column ``local_role``), first match wins, over
#: what the snapshots show of the socket.
LOCAL_ROLE_RULES: tuple[Row, ...] = (
    Row("resp", lambda f: f["seen_syn_received"], "seen in SYN_RECEIVED: it answered a SYN"),
    Row("orig", lambda f: f["seen_syn_sent"], "seen in SYN_SENT: it sent the SYN"),
    Row("resp", lambda f: f["listened_on"], "its local port is listened on in the same input"),
    Row("orig", lambda f: f["higher_port"], "a guess: its port is the higher one (ephemeral ports sit high)"),
    Row("resp", always, "a guess: otherwise"),
)

#: Output columns of :func:`timelines`, in order.
TIMELINE_COLUMNS: list[str] = KEY + [
    "process", "states", "first_state", "last_state", "transitions",
    "first_snapshot", "last_snapshot", "snapshots_total", "snapshots_seen", "sightings",
    "first_seen", "last_seen", "duration_s",
    "last_state_sightings", "last_state_since", "last_state_s", "state_times",
    "appeared", "vanished", "changed", "local_role", "close_kind", "first_line", "last_line",
]


def timelines(events: pd.DataFrame, snapshots: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per socket (``KEY``) with its state sequence across the snapshots of its input.

    ``snapshots`` gives the number of snapshots per input (default: the highest snapshot seen
    in that input's events, plus one). Times come from snapshot timestamps when every
    snapshot of the socket has one; otherwise durations are NA and counts of sightings stand
    in (``last_state_sightings``, ``state_times`` in sightings). A sighting is one row: one
    per snapshot normally, several when a headerless loop repeats the socket in one snapshot.
    """
    ev = events[events["kind"].astype(object).eq("socket")] if "kind" in events else events
    if ev.empty:
        return _empty()
    cols = KEY + ["snapshot", "ts", "state", "process", "line"]
    df = ev[cols].copy()
    df["state"] = df["state"].astype(object).fillna("-")
    df["snapshot"] = df["snapshot"].fillna(0).astype("int64")
    df["sid"] = df.groupby(KEY, observed=True, dropna=False, sort=False).ngroup()
    df["total"] = _totals(df, snapshots)
    # a socket sighted once is its own single run (most sockets of a one-snapshot dump): those
    # take the cheap path, the others the run analysis
    sid = df["sid"].to_numpy()
    once = np.bincount(sid)[sid] == 1
    parts = [part(df[rows]) for part, rows in ((_single_sightings, once), (_sighting_runs, ~once)) if rows.any()]
    out = (pd.concat(parts) if len(parts) > 1 else parts[0]).sort_index(kind="stable")
    return _finish(df, ev, out)


def _sighting_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Per socket sighted several times: its runs of one state, joined into sequences."""
    # every row is a sighting, in snapshot then line order: a socket printed again within one
    # snapshot comes from a loop without separators (``while :; do ss -tan | grep X; done``)
    df = df.sort_values(["sid", "snapshot", "line"], kind="stable").reset_index(drop=True)

    sid = df["sid"].to_numpy()
    new_sock = np.r_[True, sid[1:] != sid[:-1]]
    state = df["state"].to_numpy(dtype=object)
    run_start = new_sock | np.r_[True, state[1:] != state[:-1]]
    df["run"] = np.cumsum(run_start) - 1

    # runs of one state: where they begin and end, and how long they lasted
    runs = df.groupby("run", sort=True).agg(
        sid=("sid", "first"), state=("state", "first"),
        s0=("snapshot", "first"), s1=("snapshot", "last"),
        t0=("ts", "first"), t1=("ts", "last"), n=("snapshot", "size"),
    )
    runs["pos"] = runs.groupby("sid").cumcount()
    next_t0 = runs.groupby("sid")["t0"].shift(-1)
    runs["end"] = next_t0.fillna(runs["t1"])  # until the next state was first seen, else last seen
    runs["secs"] = (runs["end"] - runs["t0"]).dt.total_seconds()
    timed = df["ts"].notna().groupby(df["sid"]).all()
    runs["timed"] = runs["sid"].map(timed)
    secs_txt = runs["secs"].round(1).astype(str).str.removesuffix(".0") + "s"
    snaps_txt = runs["n"].astype(str) + (np.where(runs["n"] == 1, " sighting", " sightings"))
    runs["txt"] = runs["state"] + "=" + secs_txt.where(runs["timed"], snaps_txt)

    seq = _join_by_position(runs, "state", ">")
    times = _join_by_position(runs, "txt", ", ")
    last_run = runs.groupby("sid").tail(1).set_index("sid")

    g = df.groupby("sid", sort=True)
    out = g.agg(
        **{k: (k, "first") for k in KEY},
        process=("process", "last"),
        first_state=("state", "first"), last_state=("state", "last"),
        first_snapshot=("snapshot", "first"), last_snapshot=("snapshot", "last"),
        snapshots_total=("total", "first"), snapshots_seen=("snapshot", "nunique"),
        sightings=("snapshot", "size"),
        first_seen=("ts", "first"), last_seen=("ts", "last"),
        first_line=("line", "first"), last_line=("line", "last"),
    )
    out["states"] = seq
    out["state_times"] = times
    out["transitions"] = runs.groupby("sid").size() - 1
    out["duration_s"] = (out["last_seen"] - out["first_seen"]).dt.total_seconds().where(timed)
    out["last_state_sightings"] = last_run["n"]
    out["last_state_since"] = last_run["t0"]
    out["last_state_s"] = last_run["secs"].where(last_run["timed"])
    return out


def _totals(df: pd.DataFrame, snapshots: dict[str, int] | None) -> np.ndarray:
    """Number of snapshots of each row's input (given, else the highest seen plus one)."""
    total = df.groupby("input", observed=True)["snapshot"].transform("max") + 1
    if snapshots:
        given = df["input"].astype(object).map(snapshots)
        total = given.fillna(total).astype("int64")
    return total.to_numpy()


def _single_sightings(df: pd.DataFrame) -> pd.DataFrame:
    """Per socket sighted once: one run of one state, nothing to join."""
    df = df.set_index(pd.Index(df["sid"].to_numpy(), name="sid"))
    timed = df["ts"].notna()
    secs = (df["ts"] - df["ts"]).dt.total_seconds()
    secs_txt = secs.round(1).astype(str).str.removesuffix(".0") + "s"
    txt = df["state"] + "=" + secs_txt.where(timed, "1 sighting")
    ones = np.ones(len(df), dtype="int64")
    out = df[KEY + ["process"]].copy()
    out["first_state"] = df["state"]
    out["last_state"] = df["state"]
    out["first_snapshot"] = df["snapshot"]
    out["last_snapshot"] = df["snapshot"]
    out["snapshots_total"] = df["total"]
    out["snapshots_seen"] = ones
    out["sightings"] = ones
    out["first_seen"] = df["ts"]
    out["last_seen"] = df["ts"]
    out["first_line"] = df["line"]
    out["last_line"] = df["line"]
    out["states"] = df["state"].astype(object)
    out["state_times"] = txt.astype(object)
    out["transitions"] = np.zeros(len(df), dtype="int64")
    out["duration_s"] = secs.where(timed)
    out["last_state_sightings"] = ones
    out["last_state_since"] = df["ts"]
    out["last_state_s"] = secs.where(timed)
    return out


def _finish(df: pd.DataFrame, ev: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Derived flags, role, close kind and line references; key dtypes as in the events."""
    out["appeared"] = out["first_snapshot"] > 0
    out["vanished"] = out["last_snapshot"] < out["snapshots_total"] - 1
    out["changed"] = out["transitions"] > 0
    out["local_role"] = _local_role(df, out)
    out["close_kind"] = close_kind(out["last_state"], ~out["vanished"], out["local_role"])
    out["first_line"] = out["input"].astype(str) + ":" + out["first_line"].astype("Int64").astype(str)
    out["last_line"] = out["input"].astype(str) + ":" + out["last_line"].astype("Int64").astype(str)
    out = out.reset_index(drop=True)
    for k in KEY:
        out[k] = out[k].astype(ev[k].dtype)
    return out[TIMELINE_COLUMNS]


def _join_by_position(runs: pd.DataFrame, column: str, sep: str) -> pd.Series:
    """Join a column of the runs of each socket in order (pivot, then concatenate columns)."""
    wide = runs.pivot(index="sid", columns="pos", values=column)
    out = wide[0].astype(object)
    for pos in wide.columns[1:]:  # one pass per run position (a handful), not per socket
        nxt = wide[pos]
        out = out.where(nxt.isna(), out + sep + nxt.astype(object))
    return out


def _local_role(df: pd.DataFrame, out: pd.DataFrame) -> pd.Series:
    """Whether the local end of each socket is the originator or the responder
    (``LOCAL_ROLE_RULES``); None for listeners and bound sockets."""
    codes, names = pd.factorize(df["state"])
    sid = df["sid"].to_numpy()
    at = out.index.to_numpy()

    def seen(state: str) -> np.ndarray:  # per socket of ``out``: ever sighted in ``state``
        return (np.bincount(sid[codes == _code(names, state)], minlength=len(at)) > 0)[at]

    syn_recv, syn_sent = seen("SYN_RECEIVED"), seen("SYN_SENT")
    listen = df.loc[codes == _code(names, "LISTEN"), ["input", "proto", "src_port"]].drop_duplicates()
    listen = listen.assign(listening=True)
    probe = out[["input", "proto", "src_port"]].reset_index()
    merged = probe.merge(listen, on=["input", "proto", "src_port"], how="left").set_index("sid")
    listening = merged["listening"].eq(True).reindex(out.index)
    high = (out["src_port"].astype("Float64") > out["dst_port"].astype("Float64")).fillna(False).astype(bool)
    shown = pd.DataFrame({"seen_syn_received": syn_recv, "seen_syn_sent": syn_sent,
                          "listened_on": listening.to_numpy(), "higher_port": high.to_numpy()})
    role = pd.Series(first_match(shown, LOCAL_ROLE_RULES), index=out.index, dtype=object)
    return role.where(~out["last_state"].isin(["LISTEN", "BOUND", "-"]), None)


def close_kind(last_state: pd.Series, present: pd.Series, role: pd.Series) -> pd.Series:
    """Flow close term for sockets (``CLOSE_KIND_RULES``, first match wins; None: no term)."""
    frame = pd.DataFrame({
        "last_state": pd.Categorical(last_state.astype(object)),  # compares category codes
        "present": present.astype(bool).to_numpy(),
        "role": pd.Categorical(role.astype(object).fillna("-")),
    })
    return pd.Series(first_match(frame, CLOSE_KIND_RULES, default=None), index=last_state.index, dtype=object)


def _code(names: pd.Index, value: str) -> int:
    """Position of ``value`` among factorized names (-2, matching no code, when absent)."""
    hit = names.get_indexer([value])[0]
    return int(hit) if hit >= 0 else -2


def socket_close_kind(events: pd.DataFrame) -> pd.DataFrame:
    """Per socket: its key, last state, whether it was still there at the end, and close kind."""
    t = timelines(events)
    return t[KEY + ["last_state", "vanished", "local_role", "close_kind"]]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TIMELINE_COLUMNS})
