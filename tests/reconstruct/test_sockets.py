"""Socket timelines across snapshots and the mapping of socket states to flow close kinds."""

from __future__ import annotations

import pandas as pd
import pytest

from tcpforensics import schema
from tcpforensics.reconstruct.sockets import (
    CLOSE_KIND_RULES,
    close_kind,
    socket_close_kind,
    timelines,
)

T = pd.to_datetime(["2024-01-01 00:00:00", "2024-01-01 00:00:30", "2024-01-01 00:01:30"])


def _events(spec: list[tuple[int, str, int, int]], timed: bool = True) -> pd.DataFrame:
    """(snapshot, state, local port, remote port) rows of one input."""
    rows = [
        {"input": "s.txt", "kind": "socket", "proto": "tcp", "src_addr": "10.0.0.1", "src_port": sp,
         "dst_addr": "10.0.0.9" if dp else "0.0.0.0", "dst_port": dp or None, "state": st,
         "snapshot": snap, "ts": T[snap] if timed else pd.NaT, "line": i + 1}
        for i, (snap, st, sp, dp) in enumerate(spec)
    ]
    return schema.conform(pd.DataFrame(rows), "socket")


SPEC = [
    (0, "LISTEN", 80, 0), (1, "LISTEN", 80, 0), (2, "LISTEN", 80, 0),
    (0, "SYN_RECEIVED", 80, 5000), (1, "ESTABLISHED", 80, 5000), (2, "CLOSE_WAIT", 80, 5000),
    (0, "ESTABLISHED", 40000, 443), (1, "TIME_WAIT", 40000, 443),
    (1, "LAST_ACK", 80, 5001), (2, "LAST_ACK", 80, 5001),
    (0, "FIN_WAIT_2", 40001, 443), (1, "FIN_WAIT_2", 40001, 443), (2, "FIN_WAIT_2", 40001, 443),
]


def _by_port(t: pd.DataFrame) -> dict[tuple[int, int], dict]:
    return {(int(r["src_port"]), int(r["dst_port"]) if pd.notna(r["dst_port"]) else 0): r for r in t.to_dict("records")}


def test_timelines_over_three_timed_snapshots() -> None:
    t = _by_port(timelines(_events(SPEC)))
    assert len(t) == 5
    s = t[(80, 5000)]
    assert s["states"] == "SYN_RECEIVED>ESTABLISHED>CLOSE_WAIT"
    assert s["state_times"] == "SYN_RECEIVED=30s, ESTABLISHED=60s, CLOSE_WAIT=0s"
    assert (s["transitions"], s["snapshots_seen"], s["duration_s"]) == (2, 3, 90.0)
    assert s["local_role"] == "resp" and s["close_kind"] == "half_closed_orig"
    tw = t[(40000, 443)]
    assert tw["vanished"] and not tw["appeared"] and tw["close_kind"] == "graceful"
    assert tw["last_line"] == "s.txt:8"
    la = t[(80, 5001)]
    assert la["appeared"] and la["last_state_s"] == 60.0 and la["close_kind"] == "lost_final_ack"
    fw = t[(40001, 443)]
    assert (fw["last_state_sightings"], fw["last_state_s"], fw["changed"]) == (3, 90.0, False)
    assert fw["local_role"] == "orig" and fw["close_kind"] == "half_closed_orig"
    assert t[(80, 0)]["close_kind"] is None  # a listener is not a connection


def test_untimed_snapshots_count_snapshots_instead_of_seconds() -> None:
    t = _by_port(timelines(_events(SPEC, timed=False)))
    s = t[(80, 5000)]
    assert s["state_times"] == "SYN_RECEIVED=1 sighting, ESTABLISHED=1 sighting, CLOSE_WAIT=1 sighting"
    assert pd.isna(s["duration_s"]) and pd.isna(t[(40001, 443)]["last_state_s"])
    assert t[(40001, 443)]["last_state_sightings"] == 3


def test_repeats_within_one_snapshot_are_later_sightings() -> None:
    # a headerless `while :; do ss -tan | grep 5000; sleep 1; done` loop has one snapshot
    spec = [(0, "FIN_WAIT_2", 50094, 5000)] * 3 + [(0, "TIME_WAIT", 50094, 5000)] * 2
    t = timelines(_events(spec, timed=False))
    assert len(t) == 1
    row = t.iloc[0]
    assert row["states"] == "FIN_WAIT_2>TIME_WAIT" and row["sightings"] == 5 and row["snapshots_seen"] == 1
    assert row["state_times"] == "FIN_WAIT_2=3 sightings, TIME_WAIT=2 sightings"


def test_snapshot_count_given_per_input_marks_vanished() -> None:
    ev = _events([(0, "ESTABLISHED", 40000, 443)])
    assert not timelines(ev)["vanished"].iloc[0]
    assert timelines(ev, {"s.txt": 3})["vanished"].iloc[0]


def test_empty_events() -> None:
    assert timelines(schema.empty_events("socket")).empty


@pytest.mark.parametrize(
    "state, present, role, expected",
    [
        ("SYN_SENT", True, "orig", "no_answer"),
        ("SYN_SENT", False, "orig", None),
        ("SYN_RECEIVED", True, "resp", "half_open"),
        ("ESTABLISHED", True, "orig", "open_at_end"),
        ("ESTABLISHED", False, "orig", None),
        ("FIN_WAIT_2", True, "resp", "half_closed_resp"),
        ("CLOSE_WAIT", True, "orig", "half_closed_resp"),
        ("CLOSE_WAIT", False, "orig", "graceful"),
        ("LAST_ACK", True, "resp", "lost_final_ack"),
        ("LAST_ACK", False, "resp", "graceful"),
        ("TIME_WAIT", True, "orig", "graceful"),
        ("LISTEN", True, None, None),
    ],
)
def test_close_kind_rules(state: str, present: bool, role: str | None, expected: str | None) -> None:
    got = close_kind(pd.Series([state]), pd.Series([present]), pd.Series([role], dtype=object))
    assert got.iloc[0] == expected


def test_every_rule_state_is_a_canonical_state() -> None:
    assert {r.when.state for r in CLOSE_KIND_RULES} <= set(schema.STATES)


def test_socket_close_kind_columns() -> None:
    out = socket_close_kind(_events(SPEC))
    assert list(out.columns[-4:]) == ["last_state", "vanished", "local_role", "close_kind"]
    assert out["close_kind"].value_counts().to_dict() == {"half_closed_orig": 2, "graceful": 1, "lost_final_ack": 1}


@pytest.mark.corpus
def test_corpus_grep_loop_without_separators() -> None:
    """12 rows of 2 sockets from `while true; do ss -tanop | grep 5000; sleep 1; done`."""
    import tcpforensics
    from tests.conftest import corpus_path

    ev = tcpforensics.read(str(corpus_path("text", "wild", "ss", "ss-tanop_loop_grep_no-header_timers.txt")))
    t = _by_port(timelines(ev))
    assert set(t) == {(50094, 5000), (50097, 5000)}
    a = t[(50094, 5000)]
    # 8 printed FIN-WAIT-2 rows then 2 TIME-WAIT rows (the author elided more with "...")
    assert a["states"] == "FIN_WAIT_2>TIME_WAIT" and a["sightings"] == 10 and a["snapshots_seen"] == 1
    assert a["local_role"] == "orig" and a["close_kind"] == "graceful"
    assert t[(50097, 5000)]["states"] == "TIME_WAIT"


@pytest.mark.corpus
def test_corpus_date_loop_listener_appears() -> None:
    """`while true; do date; netstat -ntlup; ...`: envoy starts listening on :80 in snapshot 2."""
    import tcpforensics
    from tests.conftest import corpus_path

    ing = tcpforensics.ingest(str(corpus_path("text", "wild", "linux", "netstat-ntlup_while-date-loop_istio.txt")))
    t = timelines(ing.events, {ing.input: ing.accounting["snapshots"]})
    assert len(t) == 4 and not t["vanished"].any()
    new = t[t["appeared"]]
    assert len(new) == 1 and int(new["src_port"].iloc[0]) == 80 and int(new["pid"].iloc[0]) == 28
    # the first snapshot has no date line before it, so its sightings have no time:
    # sockets seen in both are measured in sightings, the new one in seconds
    assert set(t["state_times"]) == {"LISTEN=2 sightings", "LISTEN=0s"}
