"""PowerShell Get-NetTCPConnection: table view, Export-Csv (delimiters, #TYPE, UTF-16), ConvertTo-Json
(numeric states, /Date()/), Format-List; the same sockets in every form; hand counts of the README."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import powershell_tcp
from tests.conftest import FIXTURES

PS = FIXTURES / "windows" / "powershell"
SNOWCAP = "table-snowcapcyber-readme.txt"
SAME_HOST = [SNOWCAP, "kape-network-connections-status-crafted-from-docs.csv",
             "export-csv-type-semicolon-utf16-crafted-from-docs.csv", "convertto-json-ciminstance-crafted-from-docs.json",
             "convertto-json-select-processname-crafted-from-docs.json", "format-list-crafted-from-docs.txt"]
EIGHT = {"BOUND": 3, "LISTEN": 2, "ESTABLISHED": 2, "CLOSE_WAIT": 1}
#: The README's hand count: rows, states, structural lines.
COUNTS = {
    SNOWCAP: (8, EIGHT, {"command line": 1, "header": 2}),
    "table-getlisteningport-psgallery.txt": (1, {"LISTEN": 1}, {"command line": 1, "header": 2}),
    "kape-network-connections-status-crafted-from-docs.csv": (8, EIGHT, {"header": 1}),
    "export-csv-type-semicolon-utf16-crafted-from-docs.csv": (8, EIGHT, {"type line": 1, "header": 1}),
    "convertto-json-ciminstance-crafted-from-docs.json": (8, EIGHT, {"bracket": 2, "record line": 344}),
    "convertto-json-select-processname-crafted-from-docs.json": (8, EIGHT, {"bracket": 2, "record line": 72}),
    "format-list-crafted-from-docs.txt": (8, EIGHT, {"blank": 11, "record line": 64}),
    "table-ipv6-truncated-owningprocess-crafted-from-docs.txt": (
        12, {"LISTEN": 4, "ESTABLISHED": 1, "CLOSE_WAIT": 1, "BOUND": 1, "TIME_WAIT": 1, "SYN_RECEIVED": 1,
             "FIN_WAIT_2": 1, "LAST_ACK": 1, "SYN_SENT": 1}, {"blank": 3, "header": 2}),
}
KEY = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state"]


def _ingest(name: str):
    r = ingest(str(PS / name))
    assert r.format == "powershell_tcp"
    assert r.accounting["unaccounted"] == 0
    return r


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_hand_counts(name: str) -> None:
    rows, states, structural = COUNTS[name]
    r = _ingest(name)
    assert len(r.events) == rows and r.accounting["skipped"] == {}
    assert r.events["state"].astype(str).value_counts().to_dict() == states
    assert r.accounting["structural"] == structural
    assert r.accounting["snapshots"] == 1


def test_every_fixture_is_counted() -> None:
    assert sorted(p.name for p in PS.iterdir() if p.is_file() and p.name != "README.md") == sorted(COUNTS)


@pytest.mark.parametrize("name", SAME_HOST[1:])
def test_every_form_gives_the_same_sockets(name: str) -> None:
    want = _ingest(SNOWCAP).events[KEY].astype(str).reset_index(drop=True)
    got = _ingest(name).events[KEY].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("name", SAME_HOST[2:])
def test_owning_process_and_creation_time(name: str) -> None:
    e = _ingest(name).events
    assert e["pid"].tolist() == [4, 1148, 5120, 7332, 3804, 5120, 9016, 7332]
    ts = e["ts"]
    if "ciminstance" in name or "select" in name:  # /Date(ms)/ and +02:00 offsets: UTC
        assert ts.iloc[0] == pd.Timestamp("2021-08-09 07:05:11")
    else:  # culture-formatted local times, as printed
        assert ts.iloc[0] == pd.Timestamp("2021-08-09 09:05:11")
    assert ts.notna().all()


def test_numeric_states_keep_their_number() -> None:
    e = _ingest("convertto-json-ciminstance-crafted-from-docs.json").events
    assert dict(zip(e["raw_state"].astype(str), e["state"].astype(str), strict=True)) == {
        "2": "LISTEN", "100": "BOUND", "8": "CLOSE_WAIT", "5": "ESTABLISHED"}


def test_joined_process_names() -> None:
    e = _ingest("kape-network-connections-status-crafted-from-docs.csv").events
    assert e["process"].astype(str).tolist()[:3] == ["System", "svchost", "chrome"]
    assert _ingest("convertto-json-select-processname-crafted-from-docs.json").events["process"].iloc[-1] == "OneDrive"


def test_truncated_ipv6_is_kept_as_printed() -> None:
    e = _ingest("table-ipv6-truncated-owningprocess-crafted-from-docs.txt").events
    first = e.iloc[0]
    assert first["src_addr"] == "2a02:8109:9c40:1a00:b1e2:5c3f:21..." and first["family"] == "ipv6"
    assert (first["src_port"], first["dst_port"], first["pid"]) == (52144, 443, 6120)
    assert e.loc[e["state"] == "TIME_WAIT", "pid"].tolist() == [0]  # an empty AppliedSetting read right


@pytest.mark.parametrize("text, state, raw", [
    ('[{"LocalAddress":"10.0.0.1","LocalPort":5000,"RemoteAddress":"10.0.0.2","RemotePort":80,"State":12}]',
     "CLOSED", "12"),
    ('{"LocalAddress":"10.0.0.1","LocalPort":5000,"RemoteAddress":"10.0.0.2","RemotePort":80,"State":"DeleteTCB"}',
     "CLOSED", "DeleteTCB"),
    ("LocalAddress\tLocalPort\tRemoteAddress\tRemotePort\tState\n10.0.0.1\t5000\t10.0.0.2\t80\tSynSent\n",
     "SYN_SENT", "SynSent"),
])
def test_delimiters_and_single_objects(text: str, state: str, raw: str) -> None:
    r = ingest_text(text.encode(), "mem")
    assert r.format == "powershell_tcp" and r.accounting["unaccounted"] == 0
    e = r.events
    assert len(e) == 1 and (e["state"].iloc[0], e["raw_state"].iloc[0], e["dst_port"].iloc[0]) == (state, raw, 80)


def test_wrong_field_count_and_broken_json_are_skipped_with_reasons() -> None:
    csv = '"LocalAddress","LocalPort","RemoteAddress","RemotePort","State"\n"10.0.0.1","1","10.0.0.2","2","Listen"\n"x","y"\n'
    r = ingest_text(csv.encode(), "mem")
    assert r.accounting["skipped"] == {"wrong field count": 1} and len(r.events) == 1
    js = '[\n  {\n    "LocalAddress": "10.0.0.1",\n    "LocalPort": 1,\n    "RemotePort": 2\n  },\n  {\n    "Other": 1\n  }\n]\n'
    r = ingest_text(js.encode(), "mem", "powershell_tcp")
    assert r.accounting["skipped"] == {"unreadable JSON record": 3} and len(r.events) == 1
    compressed = '[{"LocalAddress":"::","LocalPort":1,"RemotePort":0},{"LocalAddress":"::","LocalPort":2,"RemotePort":0}]'
    r = ingest_text(compressed.encode(), "mem", "powershell_tcp")
    assert r.accounting["skipped"] == {"several JSON records on one line": 1} and len(r.events) == 0


def test_detect_own_forms_high_and_other_fixtures_low() -> None:
    for p in sorted(PS.glob("*.*")):
        if p.suffix != ".md":
            assert powershell_tcp.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".txt", ".csv", ".json", ".out", "")
              and "powershell" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert powershell_tcp.detect(to_lines(p.read_bytes(), p.name)) < 0.3, p.name


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ingest_text(b"", "mem", "powershell_tcp")
    with pytest.raises(InputError):
        ingest_text(b"\x00\x01\x02\x03" * 40, "mem", "powershell_tcp")


_SAMPLES = [line for name in ("format-list-crafted-from-docs.txt", SNOWCAP,
                              "kape-network-connections-status-crafted-from-docs.csv",
                              "convertto-json-select-processname-crafted-from-docs.json")
            for line in (PS / name).read_text(encoding="utf-8").splitlines()[:12]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(st.sampled_from(list('LocalAdrsPtRemState:{}[]",;\t 0123456789.-/\\')), max_size=80),
                          st.sampled_from(_SAMPLES)), min_size=1, max_size=16))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "powershell_tcp")
    assert r.accounting["unaccounted"] == 0
    assert len(r.events) + len(r.skipped) + sum(r.accounting["structural"].values()) == r.accounting["records_read"]
    assert np.isin(r.skipped["reason"].astype(str), ["unparseable line", "wrong field count",
                                                      "unreadable JSON record",
                                                      "several JSON records on one line"]).all()


@pytest.mark.parametrize("name", SAME_HOST[2:])
def test_netstat_of_the_same_host_gives_the_same_rows(name: str) -> None:
    """netstat -anoq (netstat_windows) and Get-NetTCPConnection of one host: the same events."""
    key = KEY + ["pid"]
    netstat = ingest(str(PS / "same-host" / "netstat-anoq-crafted-from-docs.txt"))
    assert netstat.format == "netstat_windows" and len(netstat.events) == 8
    order = ["src_addr", "src_port", "dst_addr", "dst_port"]

    def rows(e: pd.DataFrame) -> pd.DataFrame:
        return e[key].astype(str).sort_values(order).reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(_ingest(name).events), rows(netstat.events))


def test_format_table_of_selected_columns_with_process_and_time() -> None:
    text = ("PS C:\\> Get-NetTCPConnection -State Established | Select-Object -Property LocalAddress, LocalPort, "
            "RemoteAddress, RemotePort, State, @{name='Process';expression={(Get-Process -Id $_.OwningProcess).Name}}, "
            "CreationTime | Format-Table -AutoSize\n\n"
            "LocalAddress  LocalPort RemoteAddress  RemotePort       State Process  CreationTime\n"
            "------------  --------- -------------  ----------       ----- -------  ------------\n"
            "10.0.0.5          49822 45.137.21.9           443 Established rundll32 3/14/2023 9:40:05 AM\n"
            "10.0.0.5          49790 52.113.194.132        443   CloseWait Teams    3/14/2023 9:11:47 AM\n")
    r = ingest_text(text.encode(), "mem")
    assert r.format == "powershell_tcp" and r.accounting["unaccounted"] == 0 and r.accounting["skipped"] == {}
    e = r.events
    assert e["state"].astype(str).tolist() == ["ESTABLISHED", "CLOSE_WAIT"]
    assert e["process"].astype(str).tolist() == ["rundll32", "Teams"] and e["src_port"].tolist() == [49822, 49790]
    assert e["ts"].iloc[0] == pd.Timestamp("2023-03-14 09:40:05")
