"""Resource bounds: lying lengths, gzip bombs, huge lines, a million flows stay cheap and clear."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pytest

from tcpforensics.errors import InputError
from tcpforensics.ingest import pcap
from tests.conftest import ROOT
from tests.hostile import synth


def measured(code: str, timeout: float = 60) -> dict:
    """Run ``code`` in a fresh interpreter; its dict ``result`` plus the peak RSS it added (MB).

    The baseline is taken after the imports, so the figure is what the input itself costs.
    """
    script = textwrap.dedent(
        """
        import json, resource, sys
        import tcpforensics.ingest, tcpforensics.pipeline, tcpforensics.capture.pcapfile
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {}
        """
    ) + textwrap.dedent(code) + textwrap.dedent(
        """
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result["rss_added_mb"] = (peak - base) / 1024
        print(json.dumps(result))
        """
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_record_claiming_4gb_keeps_the_good_packets(tmp_path):
    ing = pcap.ingest(str(synth.lying_caplen(tmp_path / "lie.pcap", good=3)), progress=False)
    assert ing.accounting["events"] == 3 and ing.accounting["unaccounted"] == 0
    assert "corrupt record header" in ing.accounting["stopped"]["reason"]
    assert ing.accounting["stopped"]["after_frame"] == 3


def test_huge_snaplen_and_caplen_read_only_what_is_there(tmp_path):
    # The file header allows 2 GB records and one record claims ~2 GB; 8 MB really follow.
    p = tmp_path / "big.pcap"
    hdr = bytearray(synth.PCAP_HEADER)
    hdr[16:20] = (0x7FFFFFF0).to_bytes(4, "little")
    p.write_bytes(bytes(hdr) + (0x7FFFFF00).to_bytes(4, "little").rjust(12, b"\1") + b"\0\0\xff\x7f"
                  + b"\0" * (8 << 20))
    res = measured(f"""
        from tcpforensics.ingest import pcap
        ing = pcap.ingest({str(p)!r}, progress=False)
        result["acc"] = ing.accounting
    """)
    assert res["acc"]["records_read"] == 0 and res["acc"]["unaccounted"] == 0
    assert "ends in the middle of a record" in res["acc"]["stopped"]["reason"]
    assert res["rss_added_mb"] < 200, res


@pytest.mark.parametrize("length", [0, 8, 13, 0xFFFFFFF0, 0x7FFFFFFC])
def test_pcapng_block_length_that_lies_or_loops(length):
    data = synth.pcapng(synth.syn_frames(5), tail=synth.pcapng_block(6, b"\0" * 40, length=length))
    ing = pcap.ingest_bytes(data, "lie.pcapng", progress=False)
    acc = ing.accounting
    assert acc["events"] == 5 and acc["unaccounted"] == 0
    assert acc["stopped"] and acc["stopped"]["after_frame"] == 5


def test_pcapng_block_length_beyond_the_file_is_bounded(tmp_path):
    # 60 MB claimed (under the 64 MB block cap), 1 KB present: the reader waits for no more.
    data = synth.pcapng(synth.syn_frames(2), tail=synth.pcapng_block(6, b"\0" * 1024, length=60 << 20))
    ing = pcap.ingest_bytes(data, "lie.pcapng", progress=False)
    assert ing.accounting["events"] == 2
    assert "ends in the middle of a block" in ing.accounting["stopped"]["reason"]


def test_gzip_bomb_end_to_end_is_bounded(tmp_path):
    # F1 (fixed in capture/pcapfile.py): 10 GiB of zeros in a 10 MB file stops at the ratio limit.
    bomb = synth.gzip_zero_bomb(tmp_path / "bomb.pcap.gz", gib=10)
    res = measured(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        from tcpforensics.ingest import pcap
        ing = pcap.ingest({str(bomb)!r}, progress=False)
        result["stopped"] = ing.accounting["stopped"]
        result["records"] = ing.accounting["records_read"]
    """, timeout=120)
    assert "ratio" in res["stopped"]["reason"], res
    assert res["records"] < 8_000_000 and res["rss_added_mb"] < 1024, res


@pytest.mark.slow
def test_100mb_single_line_is_refused_in_bounded_memory(tmp_path):
    p = tmp_path / "line.txt"
    with p.open("wb") as fh:
        fh.write(b"tcp   ESTAB 0 0 ")
        chunk = b"A" * (1 << 20)
        for _ in range(100):
            fh.write(chunk)
        fh.write(b"\n")
    res = measured(f"""
        from tcpforensics.errors import InputError
        from tcpforensics.ingest import ingest
        try:
            ingest({str(p)!r})
            result["error"] = None
        except InputError as e:
            result["error"] = str(e)
    """, timeout=120)
    assert res["error"] and "not a recognised socket table" in res["error"] and "\n" not in res["error"]
    assert res["rss_added_mb"] < 12 * 100, res  # decoded str, line table, one regex pass: ~8x


@pytest.mark.slow
def test_a_million_flows_are_read_in_bounded_memory(tmp_path):
    p = synth.syn_flows(tmp_path / "flows.pcap", 1_000_000)  # 70 MB
    res = measured(f"""
        from tcpforensics.ingest import pcap
        ing = pcap.ingest({str(p)!r}, progress=False)
        result["events"] = len(ing.events)
        result["flows"] = int(ing.events[["src_addr", "src_port"]].drop_duplicates().shape[0])
        result["unaccounted"] = ing.accounting["unaccounted"]
    """, timeout=120)
    assert res["events"] == res["flows"] == 1_000_000 and res["unaccounted"] == 0
    assert res["rss_added_mb"] < 1024, res


def test_stdin_beyond_the_limit_is_refused(monkeypatch):
    ingest_pkg = sys.modules["tcpforensics.ingest"]  # the package (tcpforensics.ingest is also a function)
    monkeypatch.setattr(ingest_pkg, "MAX_STDIN_BYTES", 1000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 5000)))
    with pytest.raises(InputError, match="larger than the 1000 byte limit"):
        ingest_pkg.read_input("-")
