"""Zeek conn.log as input (ingest/formats/zeek_conn.py, reconstruct/flowlogs.py): TSV, JSON lines,
zeek-cut output and gzip; the corpus's own conn.logs; flows written with ``--format zeek`` read
back unchanged."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tcpforensics.cli
from tcpforensics import pipeline
from tcpforensics.errors import InputError
from tcpforensics.ingest import flowlogs
from tcpforensics.reconstruct import flowlogs as rf
from tcpforensics.report.zeek import to_conn_log
from tests.conftest import CORPUS, FIXTURES, corpus_files, corpus_path

ZEEK = FIXTURES / "zeek"
CRAFTED = sorted(str(p) for p in (FIXTURES / "flows").glob("*.pcap"))
#: The flow columns a conn.log written by ``tcpforensics flows --format zeek`` carries.
CARRIED = ["orig_addr", "orig_port", "resp_addr", "resp_port", "conn_state", "history", "orig_pkts", "resp_pkts",
           "missed_bytes", "orig_states", "resp_states", "orig_final", "resp_final", "close"]


def flows_of(path: str) -> pd.DataFrame:
    ing = flowlogs.ingest(path)
    assert ing.accounting["unaccounted"] == 0
    return rf.flows_of_records(ing.meta["flows"])


def plain(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if pd.isna(v) else str(v) for v in row) for row in frame[columns].itertuples(index=False)]


def test_the_tsv_log_is_read_by_field_name() -> None:
    ing = flowlogs.ingest(str(ZEEK / "crafted.conn.log"))
    assert ing.format == "zeek_conn"
    assert ing.accounting["flows"] == 9 and ing.accounting["structural"] == {"header": 9}
    flows = rf.flows_of_records(ing.meta["flows"])
    assert flows["conn_state"].astype(str).tolist() == ["RSTO", "S1", "SF", "S2", "SF", "RSTR", "SF", "SF", "SF"]
    assert flows["history"].tolist()[:2] == ["ShADaI", "Sh"]
    assert flows["first_frame"].tolist() == [9, 10, 11, 12, 13, 14, 15, 17, 16]  # the log's lines, in start order


def test_json_lines_and_zeek_cut_give_the_same_flows_as_the_tsv() -> None:
    tsv = flows_of(str(ZEEK / "crafted.conn.log"))
    js = flows_of(str(ZEEK / "crafted-json.log"))
    cut = flows_of(str(ZEEK / "conn.2026-12-07-10.log.gz"))
    assert plain(js, CARRIED) == plain(tsv, CARRIED)
    assert js["start"].tolist() == tsv["start"].tolist()
    assert np.allclose(js["duration"], tsv["duration"])
    shared = ["orig_addr", "orig_port", "resp_addr", "resp_port", "conn_state", "history", "orig_pkts", "resp_pkts"]
    assert plain(cut, shared) == plain(tsv, shared)  # the cut lacks the endpoint-state fields: derived there


def test_flows_written_as_a_conn_log_read_back_identical(tmp_path) -> None:
    flows = pipeline.flows(CRAFTED)
    log = tmp_path / "conn.log"
    log.write_text(to_conn_log(flows))
    back = pipeline.flows(str(log))
    assert len(back) == len(flows)
    # several captures in one log: the log's flows are in start order, the captures' one after the other
    back, flows = (f.sort_values(["start", "history", "resp_pkts"], kind="stable").reset_index(drop=True)
                   for f in (back, flows))
    assert plain(back, CARRIED) == plain(flows, CARRIED)
    assert (back["start"] - flows["start"]).abs().max() < pd.Timedelta(microseconds=1)
    assert np.allclose(back["duration"], flows["duration"], atol=1e-6)
    # orig_bytes/resp_bytes: Zeek (and the writer) leave them unset when duration is 0; read as
    # 0 where the history shows no data from that side, which is all of these
    assert back["orig_bytes"].tolist() == flows["orig_bytes"].tolist()


def test_rows_that_cannot_be_flows_are_counted_by_reason() -> None:
    text = (
        b"#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\thistory\tconn_state\n"
        b"1.0\tC1\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\tS\tS0\n"
        b"1.0\tC2\t10.0.0.1\t53\t10.0.0.2\t53\tudp\tD\tS0\n"
        b"1.0\tC3\t-\t1\t10.0.0.2\t80\ttcp\tS\tS0\n"
        b"1.0\tC4\t10.0.0.1\n"
        b'{"ts":1.0,"id.orig_h":"10.0.0.9"\n'
        b"\n#close\tx\n"
    )
    ing = flowlogs.ingest_bytes(text, "t.log")
    assert ing.accounting["flows"] == 1 and ing.accounting["unaccounted"] == 0
    assert ing.accounting["skipped"] == {"not TCP": 1, "no endpoint addresses": 1, "wrong field count": 1,
                                         "unparseable JSON line": 1}
    assert ing.accounting["structural"] == {"header": 3, "blank": 1}


def test_unusable_input_is_one_input_error() -> None:
    for data in (b"", b"\x1f\x8b\x08\x00broken", b"\x00\x01\x02" * 50, b"no conn log here\n"):
        with pytest.raises(InputError) as e:
            flowlogs.ingest_bytes(data, "x.log")
        assert "\n" not in str(e.value)


def test_a_rotated_gzip_log_is_a_flow_log_of_the_pipeline(tmp_path) -> None:
    log = tmp_path / "conn.2026-12-07-11.log.gz"
    log.write_bytes(gzip.compress((ZEEK / "crafted.conn.log").read_bytes()))
    assert flowlogs.claims(str(log))
    report = pipeline.analyze([str(log)])
    assert report.accounting[0]["format"] == "zeek_conn" and report.accounting[0]["flows"] == 9


# --- the corpus's conn.logs -------------------------------------------------------------------

def zeek_manifest() -> dict[str, dict]:
    path = CORPUS / "pcap" / "zeek" / "manifest.tsv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {r["name"]: r for r in csv.DictReader(fh, delimiter="\t")}


@pytest.mark.corpus
@pytest.mark.parametrize("log", corpus_files("*.conn.*", "pcap", "zeek"), ids=lambda p: p.name)
def test_every_corpus_conn_log_is_read_whole(log) -> None:
    corpus_path("pcap", "zeek")
    ing = flowlogs.ingest(str(log))
    row = zeek_manifest()[log.name.split(".conn.")[0]]
    acc = ing.accounting
    assert acc["unaccounted"] == 0
    no_addr = acc["skipped"].get("no endpoint addresses", 0)  # (a cut without id.orig_h / id.resp_h)
    assert acc["flows"] + no_addr == int(row["n_tcp_rows"])
    assert acc["skipped"].get("not TCP", 0) == int(row["n_rows"]) - int(row["n_tcp_rows"])
    flows = rf.flows_of_records(ing.meta["flows"])
    if row["conn_state_counts"] != "-":  # the log's own conn_state, kept as written
        want = dict(x.split(":") for x in row["conn_state_counts"].split(","))
        got = flows["conn_state"].astype(str).value_counts().to_dict()
        assert {k: int(v) for k, v in want.items()} == got or no_addr


@pytest.mark.corpus
def test_conn_state_derived_for_cuts_without_it() -> None:
    """The cuts without conn_state get it from the letters: ``^hAfdtFr`` (both FINs before the
    RST) is SF, as the packets of tcp-ctu-64702-888.pcap give; ``ShADadgtFr`` (only the
    originator's FIN before the responder's RST) is RSTR, as Zeek logs ShADadFr in ssh.conn.log."""
    corpus_path("pcap", "zeek")
    ctu = flows_of(str(CORPUS / "pcap" / "zeek" / "tcp-ctu-64702-888.conn.cut"))
    gap = flows_of(str(CORPUS / "pcap" / "zeek" / "ldap-gap.conn.cut"))
    assert ctu["conn_state"].astype(str).tolist() == ["SF"] and ctu["close"].astype(str).tolist() == ["graceful"]
    assert gap["conn_state"].astype(str).tolist() == ["RSTR"]


@pytest.mark.corpus
@pytest.mark.parametrize("capture", corpus_files("*.pcap*", "pcap", "zeek"), ids=lambda p: p.name)
def test_corpus_capture_flows_round_trip_through_a_conn_log(capture, tmp_path) -> None:
    corpus_path("pcap", "zeek")
    flows = pipeline.flows(str(capture))
    log = tmp_path / "conn.log"
    log.write_text(to_conn_log(flows))
    back = pipeline.flows(str(log))
    assert plain(back, CARRIED) == plain(flows, CARRIED)
    timed = (flows["duration"] > 0).to_numpy()  # sizes are written only then (Zeek's convention)
    assert plain(back[timed], ["orig_bytes", "resp_bytes"]) == plain(flows[timed], ["orig_bytes", "resp_bytes"])
    assert (back["start"] - flows["start"]).abs().max() < pd.Timedelta(microseconds=1)


# --- properties --------------------------------------------------------------------------------

HIST = st.text(alphabet="ShADadFfRrTtWwCcGgIiQq^", max_size=12)
ROW = st.tuples(st.integers(0, 2**31), st.integers(1, 65535), st.integers(1, 65535), HIST,
                st.sampled_from(["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR",
                                 "OTH", "-"]),
                st.integers(0, 10**6), st.integers(0, 10**6))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30), order=st.permutations(list(range(8))))
def test_any_field_order_reads_the_same_values(rows, order) -> None:
    names = ["ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "history", "conn_state", "orig_pkts"]
    values = [[f"{t}.5", "10.0.0.1", str(op), "10.0.0.2", str(rp), h or "-", cs, str(n)] for t, op, rp, h, cs, n, _ in rows]
    text = "#fields\t" + "\t".join(names[i] for i in order) + "\n"
    text += "".join("\t".join(v[i] for i in order) + "\n" for v in values)
    ing = flowlogs.ingest_bytes(text.encode(), "p.log", "zeek_conn")
    rec = ing.meta["flows"]
    assert ing.accounting["unaccounted"] == 0 and len(rec) == len(rows)
    assert rec["orig_port"].tolist() == [op for _, op, *_ in rows]
    assert rec["history"].fillna("").tolist() == [h for *_, h, _, _, _ in rows]
    flows = rf.flows_of_records(rec)
    assert flows["close"].notna().all() and flows["orig_final"].notna().all()
    conv = rf.conversations_of_flows(flows)
    assert len(conv) == len({(op, rp) for _, op, rp, *_ in rows})  # one conversation per 4-tuple


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_flows_or_one_input_error(data) -> None:
    for fmt in ("zeek_conn", "suricata_eve", "vpc_flow"):
        try:
            ing = flowlogs.ingest_bytes(data, "fuzz", fmt)
        except InputError as e:
            assert "\n" not in str(e)
            continue
        assert ing.accounting["unaccounted"] == 0
        rf.evidence("fuzz", [ing.meta["flows"]])


def test_the_cli_writes_a_conn_log_it_reads_back(tmp_path) -> None:
    """``tcpforensics flows CAPTURE --format zeek -o conn.log``, then ``tcpforensics flows conn.log``."""
    log, back = tmp_path / "conn.log", tmp_path / "back.csv"
    capture = str(FIXTURES / "flows" / "lost_final_ack.pcap")
    run = CliRunner().invoke(tcpforensics.cli.app, ["flows", capture, "--format", "zeek", "-o", str(log)])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(tcpforensics.cli.app, ["flows", str(log), "--format", "csv", "-o", str(back)])
    assert run.exit_code == 0, run.output
    got = pd.read_csv(back)
    want = pipeline.flows(capture)
    assert got["close"].tolist() == want["close"].astype(str).tolist()
    assert got["history"].tolist() == want["history"].tolist()


def test_json_times_in_iso_8601() -> None:
    """``LogAscii::json_timestamps=JSON::TS_ISO8601`` writes ``ts`` as text."""
    line = (b'{"ts":"2026-12-07T10:00:01.500000Z","uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5,'
            b'"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp","duration":2.0,"conn_state":"S0","history":"S"}\n')
    flows = rf.flows_of_records(flowlogs.ingest_bytes(line, "conn.json").meta["flows"])
    assert flows["start"].tolist() == [pd.Timestamp("2026-12-07 10:00:01.5")]
    assert flows["end"].tolist() == [pd.Timestamp("2026-12-07 10:00:03.5")]
    assert flows["close"].astype(str).tolist() == ["no_answer"]
