"""ss -s summaries as counters: current and old layouts, readings of a loop."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import ss_summary
from tests.conftest import FIXTURES

SS_S = FIXTURES / "linux" / "ss-s"


def _counters(path: Path) -> tuple[dict, dict]:
    r = ingest(str(path))
    assert r.format == "ss_summary" and len(r.events) == 0
    assert r.accounting["unaccounted"] == 0
    c = r.counters
    assert set(c["group"].astype(str)) == {"SsSummary"}
    return dict(zip(c["counter"].astype(str), c["value"], strict=True)), r.accounting


def test_recorded_current_layout() -> None:
    got, acc = _counters(SS_S / "ss-s.txt")
    text = (SS_S / "ss-s.txt").read_text()
    tcp_line = next(line for line in text.splitlines() if line.startswith("TCP:"))
    assert f"estab {got['estab']}," in tcp_line and f"timewait {got['timewait']})" in tcp_line
    assert "synrecv" not in got and "kernel" not in got
    assert got["TCP_total"] == got["TCP_IP"] + got["TCP_IPv6"]
    assert acc["counter_lines"] == 7 and acc["structural"] == {"blank": 2, "header": 1}


def test_published_old_layout() -> None:
    got, acc = _counters(SS_S / "ss-s-published-kernel.txt")
    assert (got["total"], got["kernel"], got["tcp"], got["estab"], got["synrecv"], got["timewait"], got["ports"]) == \
        (556, 2442, 4, 1, 0, 0, 0)
    assert got["ALL_total"] == 2442 and "ALL_IP" not in got  # '-' is no value
    assert (got["UDP_IP"], got["TCP_IPv6"], got["INET_total"]) == (2, 1, 7)
    assert acc["structural"] == {"blank": 1, "header": 1, "command": 1}
    got, _ = _counters(SS_S / "ss-s-published-timewait.txt")
    assert (got["closed"], got["timewait"], got["TCP_total"]) == (708, 201, 343)


def test_a_loop_gives_one_reading_per_total_line() -> None:
    one = (SS_S / "ss-s.txt").read_text()
    r = ingest_text((one + one.replace("estab 10", "estab 12")).encode(), "mem", "ss_summary")
    c = r.counters
    estab = c[c["counter"] == "estab"]
    assert estab["snapshot"].tolist() == [0, 1] and estab["value"].tolist() == [10, 12]


def test_detect() -> None:
    for p in sorted(SS_S.glob("*.txt")):
        assert ss_summary.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    for p in sorted((FIXTURES / "linux").glob("ss-*.txt")) + sorted((FIXTURES / "counters").glob("*.txt")):
        assert ss_summary.detect(to_lines(p.read_bytes(), p.name)) == 0.0, p.name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(list("TCPUDRAWotal:(), estabclosedorphanedtimewait0123456789-*/\t")), max_size=80),
    st.sampled_from((SS_S / "ss-s-published-kernel.txt").read_text().splitlines()),
), min_size=1, max_size=12))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "ss_summary")
    assert r.accounting["unaccounted"] == 0


def test_summary_is_compared_with_the_socket_table(tmp_path: Path) -> None:
    """ss -s beside an ss -tan of 3 ESTABLISHED, 1 CLOSE_WAIT, 2 TIME_WAIT sockets: the
    socket_totals table puts the counts side by side."""
    from tcpforensics.pipeline import analyze

    table = tmp_path / "ss-tan.txt"
    table.write_text(
        "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
        + "".join(f"ESTAB      0      0      10.0.0.1:22        10.0.0.{i}:5000{i}\n" for i in range(3))
        + "CLOSE-WAIT 1      0      10.0.0.1:22        10.0.0.7:50007\n"
        + "".join(f"TIME-WAIT  0      0      10.0.0.1:5{i}000     10.0.0.8:443\n" for i in range(2)))
    report = analyze([str(table), str(SS_S / "ss-s.txt")])
    t = report.tables["socket_totals"]
    row = t.iloc[0].to_dict()
    assert (row["ss_s_estab"], row["listed_estab_close_wait"], row["ss_s_timewait"], row["listed_time_wait"],
            row["listing_inputs"]) == (10, 4, 3, 2, 1)
