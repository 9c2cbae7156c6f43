"""Flow reconstruction on arbitrary packet tables: never fails, and accounts for every packet."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics import schema
from tcpforensics.reconstruct.flows import flows

ADDRS = ["10.0.0.1", "10.0.0.2", "2001:db8::1"]
packet = st.fixed_dictionaries(
    {
        "dt": st.floats(0, 400, allow_nan=False),
        "a": st.integers(0, 2),
        "b": st.integers(0, 2),
        "sp": st.sampled_from([80, 40000, 40001]),
        "dp": st.sampled_from([80, 40000]),
        "flags": st.integers(0, 0x1FF),
        "seq": st.integers(0, 2**32 - 1),
        "ack": st.integers(0, 2**32 - 1),
        "len": st.integers(0, 3000),
        "win": st.sampled_from([0, 1, 65535]),
        "ck": st.sampled_from(["ok", "ok", "bad", "unverifiable"]),
    }
)


def _table(pkts: list[dict]) -> pd.DataFrame:
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(pd.Series([p["dt"] for p in pkts], dtype=float).cumsum(), unit="s")
    df = pd.DataFrame(
        {
            "ts": t, "kind": "packet", "proto": "tcp",
            "src_addr": [ADDRS[p["a"]] for p in pkts], "src_port": [p["sp"] for p in pkts],
            "dst_addr": [ADDRS[p["b"]] for p in pkts], "dst_port": [p["dp"] for p in pkts],
            "flags": [p["flags"] for p in pkts], "seq": [p["seq"] for p in pkts], "ack": [p["ack"] for p in pkts],
            "payload_len": [p["len"] for p in pkts], "window": [p["win"] for p in pkts],
            "checksum": [p["ck"] for p in pkts], "frame": range(1, len(pkts) + 1),
        }
    )
    return schema.conform(df, "packet")


@settings(max_examples=150, deadline=None)
@given(st.lists(packet, min_size=1, max_size=40))
def test_any_packets(pkts: list[dict]) -> None:
    ev = _table(pkts)
    got = flows(ev)
    valid = int((ev["checksum"] != "bad").sum())
    assert int(got["orig_pkts"].sum() + got["resp_pkts"].sum()) == valid
    assert got["conn_state"].notna().all() and got["close"].notna().all()
    assert got["history"].str.fullmatch(r"\^?[SsHhAaDdFfRrQqIiCcTtWwGg]*").all()
    assert (got["duration"] >= 0).all()
    # the same packets with checksums ignored: every packet counted
    got = flows(ev, {"ignore_checksums": True})
    assert int(got["orig_pkts"].sum() + got["resp_pkts"].sum()) == len(ev)
