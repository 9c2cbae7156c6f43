"""Source expansion (tcpforensics.ingest.inputs): case folders, globs, '-', rotated captures and
the first/last packet times of captures, against real corpus captures and dumps."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tcpforensics
from tcpforensics.capture import headers as h
from tcpforensics.capture.pcapfile import NAT, Walker
from tcpforensics.errors import InputError
from tcpforensics.ingest import archives, capture_times, contents, detect_capture, flowlogs, ingest
from tcpforensics.ingest import inputs as inp
from tests.conftest import corpus_files, corpus_path

# Corpus files the case folder links to, by the name they get there.
EVIDENCE = {
    "ssh.pcap": ("pcap", "zeek", "ssh.pcap"),
    "flip.pcapng": ("pcap", "zeek", "tcp-flip-without-syn.pcapng"),
    "sweep.pcapng": ("pcap", "labeled", "sgr_ack_ping_sweep.pcapng"),  # pcap content, pcapng name
    "ss.out": ("text", "jc", "centos-7.7", "ss-sudo-a.out"),
    "netstat.out": ("text", "jc", "ubuntu-18.04", "netstat.out"),
    "net_tcp": ("text", "jc", "linux-proc", "net_tcp"),
    "net_netstat": ("text", "jc", "linux-proc", "net_netstat"),
    "win/netstat-an.out": ("text", "jc", "windows", "windows-10", "netstat-an.out"),
    "win/de_cp850.txt": ("text", "wild", "windows", "de_win7_netstat-an_cp850-mojibake.txt"),
    "sub/deeper/bsd.out": ("text", "jc", "freebsd12", "netstat-an.out"),
    ".hidden_ss.txt": ("text", "wild", "ss", "ss-peanut_htb_tabs-in-line.txt"),
}
NOT_EVIDENCE = {
    "README.md": ("text", "jc", "LICENSE.md"),
    "ss.json": ("text", "jc", "centos-7.7", "ss-sudo-a.json"),
    "lsof.out": ("text", "jc", "centos-7.7", "lsof.out"),
    "sub/conn.log": ("pcap", "zeek", "ssh.conn.log"),
}


def _oracle(path: Path | str) -> tuple[int, int] | None:
    """First and last valid timestamps of every record, by the project's own reader."""
    stamps = _all_stamps(path)
    return None if not len(stamps) else (int(stamps[0]), int(stamps[-1]))


def _all_stamps(path: Path | str) -> np.ndarray:
    with open(path, "rb") as fh:
        walker = Walker(fh)
        parts = [b.ts_ns[~b.bad & (b.ts_ns != NAT)] for b in walker.batches()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _link(case: Path, rel: str, parts: tuple[str, ...]) -> Path:
    dst = case / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(corpus_path(*parts))
    return dst


def _case(root: Path, reverse: bool = False) -> Path:
    """A responder's folder: evidence (linked from the corpus) and everything else."""
    case = root / "case"
    case.mkdir()
    items = sorted({**EVIDENCE, **NOT_EVIDENCE}.items(), reverse=reverse)
    for rel, parts in items:
        _link(case, rel, parts)
    (case / "capture.pcap.gz").write_bytes(gzip.compress(corpus_path(*EVIDENCE["ssh.pcap"]).read_bytes()))
    (case / "syslog.gz").write_bytes(gzip.compress(b"Dec  7 sshd[1]: Accepted publickey\n" * 50))
    (case / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40)
    (case / "empty.txt").write_bytes(b"")
    (case / "blank.txt").write_bytes(b"  \n\n\t\n")
    (case / "notes.txt").write_text("Timeline\n10:02 user reported slowness\n10:05 took captures\n")
    (case / "sub" / "deeper" / "nothing.bin").write_bytes(os.urandom(64) + b"\0" * 64)
    (case / "empty_dir").mkdir()
    os.mkfifo(case / "pipe")
    (case / "dangling").symlink_to(root / "gone")
    (case / "sub" / "loop").symlink_to("..")
    (case / "sub" / "mem").symlink_to("/proc/self/mem")  # regular, reading fails with EIO
    return case


EXPECTED_ORDER = [  # folder walk: name order (code points), folders expanded in place
    ".hidden_ss.txt",
    "capture.pcap.gz",
    "flip.pcapng",
    "lsof.out",
    "net_netstat",
    "net_tcp",
    "netstat.out",
    "ss.out",
    "ssh.pcap",
    "sub/conn.log",
    "sub/deeper/bsd.out",
    "sweep.pcapng",
    "win/de_cp850.txt",
    "win/netstat-an.out",
]
EXPECTED_SKIPS = {
    "README.md": inp.SKIP_NOT_EVIDENCE,
    "ss.json": inp.SKIP_NOT_EVIDENCE,
    "notes.txt": inp.SKIP_NOT_EVIDENCE,
    "syslog.gz": inp.SKIP_GZIP,
    "photo.jpg": inp.SKIP_BINARY,
    "sub/deeper/nothing.bin": inp.SKIP_BINARY,
    "empty.txt": inp.SKIP_EMPTY,
    "blank.txt": inp.SKIP_EMPTY,
    "pipe": inp.SKIP_SPECIAL,
    "dangling": inp.SKIP_BROKEN_LINK,
    "sub/loop": inp.SKIP_WALKED,
    "sub/mem": "unreadable: Input/output error",
}


def _rel(case: Path, paths: list[str]) -> list[str]:
    return [os.path.relpath(p, case) for p in paths]


# --- case folders ---------------------------------------------------------------------------


@pytest.mark.corpus
def test_case_folder_takes_evidence_and_accounts_for_the_rest(tmp_path: Path) -> None:
    case = _case(tmp_path)
    exp = inp.expand([str(case)])
    assert _rel(case, exp.paths()) == EXPECTED_ORDER
    kinds = {os.path.relpath(i.path, case): i.kind for i in exp.inputs}
    assert {r for r, k in kinds.items() if k == "capture"} == {"capture.pcap.gz", "flip.pcapng", "ssh.pcap", "sweep.pcapng"}
    assert {r for r, k in kinds.items() if k == "flowlog"} == {"sub/conn.log"}
    assert all(k in ("capture", "text", "flowlog") for k in kinds.values())
    assert dict(zip(_rel(case, [p for p, _ in exp.skipped]), [r for _, r in exp.skipped], strict=True)) == EXPECTED_SKIPS
    assert exp.skipped_counts() == dict(sorted(Counter(EXPECTED_SKIPS.values()).items(), key=lambda kv: (-kv[1], kv[0])))
    assert exp.groups == [] and all(i.group is None for i in exp.inputs)


@pytest.mark.corpus
def test_every_taken_input_ingests(tmp_path: Path) -> None:
    exp = inp.expand([str(_case(tmp_path))])
    for i in exp.inputs:  # no InputError: what expansion takes, the ingestors read
        flowlogs.ingest(i.path) if i.kind == "flowlog" else ingest(i.path)


@pytest.mark.corpus
def test_order_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ea, eb = inp.expand([str(_case(a))]), inp.expand([str(_case(b, reverse=True))])
    assert _rel(a / "case", ea.paths()) == _rel(b / "case", eb.paths())
    assert _rel(a / "case", [p for p, _ in ea.skipped]) == _rel(b / "case", [p for p, _ in eb.skipped])
    assert inp.expand([str(a / "case")]) == ea  # and the same again


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_member_is_skipped_with_its_reason(tmp_path: Path) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("Proto Recv-Q Send-Q Local Address Foreign Address State\n")
    f.chmod(0)
    try:
        exp = inp.expand([str(tmp_path)])
    finally:
        f.chmod(0o600)
    assert exp.inputs == [] and exp.skipped == [(str(f), "unreadable: Permission denied")]


@pytest.mark.corpus
def test_unreadable_member_as_root_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _link(tmp_path, "ss.out", EVIDENCE["ss.out"])
    real = open

    def refuse(path, *args, **kwargs):
        if str(path).endswith("ss.out"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    for module in (contents, archives):  # (the modules that read a member's head)
        monkeypatch.setattr(module, "open", refuse, raising=False)
    exp = inp.expand([str(tmp_path)])
    assert exp.inputs == [] and exp.skipped == [(str(tmp_path / "ss.out"), "unreadable: Permission denied")]
    assert inp.expand([str(tmp_path / "ss.out")]).inputs == [inp.Input(str(tmp_path / "ss.out"), "text")]


def test_unreadable_folder_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()

    def refuse(path: str):
        raise PermissionError(13, "Permission denied", path)

    real = os.scandir
    monkeypatch.setattr(inp.os, "scandir", lambda p: refuse(p) if p.endswith("locked") else real(p))
    exp = inp.expand([str(tmp_path)])
    assert exp.skipped == [(str(tmp_path / "locked"), "unreadable: Permission denied")]


@pytest.mark.corpus
def test_explicit_files_are_always_taken(tmp_path: Path) -> None:
    case = _case(tmp_path)
    names = ["README.md", "photo.jpg", "empty.txt", "pipe", "ssh.pcap", "ss.out"]
    exp = inp.expand([str(case / n) for n in names])  # a pipe is not read (it would block)
    assert _rel(case, exp.paths()) == names and exp.skipped == []
    assert [i.kind for i in exp.inputs] == ["text", "text", "text", "text", "capture", "text"]


@pytest.mark.corpus
def test_stdin_is_kept_once(tmp_path: Path) -> None:
    f = _link(tmp_path, "ss.out", EVIDENCE["ss.out"])
    exp = inp.expand(["-", str(f), "-"])
    assert exp.inputs == [inp.Input("-", "stdin"), inp.Input(str(f), "text")]
    assert exp.skipped == [("-", inp.SKIP_DUPLICATE)]


@pytest.mark.corpus
def test_a_file_reached_twice_is_taken_once(tmp_path: Path) -> None:
    case = _case(tmp_path)
    (case / "again.pcap").symlink_to(case / "ssh.pcap")
    exp = inp.expand([str(case / "ss.out"), str(case)])
    assert exp.paths().count(str(case / "ss.out")) == 1 and exp.paths()[0] == str(case / "ss.out")
    assert (str(case / "ss.out"), inp.SKIP_DUPLICATE) in exp.skipped
    assert (str(case / "ssh.pcap"), inp.SKIP_DUPLICATE) in exp.skipped  # again.pcap came first


@pytest.mark.parametrize("source", ["nope", "nope/*.pcap", "no[ne].txt", "**/nothing-*.pcap"])
def test_missing_source_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.pcap").write_bytes(b"")
    with pytest.raises(InputError) as e:
        inp.expand(["a.pcap", source])
    assert e.value.input_name == source and e.value.reason == "no such file or directory"
    assert str(e.value) == f"{source}: no such file or directory"


def test_dangling_symlink_source_is_missing(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match="no such file or directory"):
        inp.expand([str(tmp_path / "link")])


@pytest.mark.corpus
def test_big_members_are_read_by_their_head_only(tmp_path: Path) -> None:
    with open(tmp_path / "disk.img", "wb") as fh:  # sparse: 4 GiB of zeros, never read whole
        fh.truncate(4 * 1024**3)
    lines = b"Dec  7 11:00:00 host sshd[42]: Accepted publickey for root from 10.0.0.1 port 4000\n"
    (tmp_path / "auth.log").write_bytes(lines * 200_000)  # 17 MB of text
    _link(tmp_path, "ss.out", EVIDENCE["ss.out"])
    exp = inp.expand([str(tmp_path)])
    assert _rel(tmp_path, exp.paths()) == ["ss.out"]
    assert exp.skipped_counts() == {inp.SKIP_BINARY: 1, inp.SKIP_NOT_EVIDENCE: 1}


@pytest.mark.corpus
def test_evidence_after_a_long_preamble_within_the_head(tmp_path: Path) -> None:
    ss = corpus_path(*EVIDENCE["ss.out"]).read_bytes()
    (tmp_path / "collected.txt").write_bytes(b"collected by ir-script v2\n" * 300 + ss)
    assert inp.expand([str(tmp_path)]).paths() == [str(tmp_path / "collected.txt")]


@pytest.mark.corpus
def test_utf16_dump_is_evidence(tmp_path: Path) -> None:
    text = corpus_path(*EVIDENCE["win/netstat-an.out"]).read_bytes().decode("utf-8")
    (tmp_path / "netstat16.txt").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "netstat16-nobom.txt").write_bytes(text.encode("utf-16-le") * 40)  # longer than the head
    exp = inp.expand([str(tmp_path)])
    assert _rel(tmp_path, exp.paths()) == ["netstat16-nobom.txt", "netstat16.txt"]


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_expansion_agrees_with_the_ingestors() -> None:
    """Every corpus file: taken by expansion exactly when an ingestor (of text, or of flow
    logs such as the Zeek conn.logs beside the captures) reads it (the head decides as the
    whole file does)."""
    root = corpus_path()
    exp = inp.expand([str(root)])
    taken = set(exp.paths())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            is_capture = detect_capture(fh.read(64)) is not None
        if is_capture:
            assert str(path) in taken, path
            continue
        try:
            flowlogs.ingest(str(path)) if flowlogs.claims(str(path)) else ingest(str(path))
            readable = True
        except InputError:
            readable = False
        assert (str(path) in taken) == readable, path
    assert len(exp.inputs) + len(exp.skipped) == sum(1 for p in root.rglob("*") if p.is_file())


# --- globs ----------------------------------------------------------------------------------


@pytest.mark.corpus
def test_globs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(tmp_path)
    (case / "fake.pcap").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    monkeypatch.chdir(case)
    assert inp.expand(["*.pcap*"]).paths() == ["capture.pcap.gz", "flip.pcapng", "ssh.pcap", "sweep.pcapng"]
    assert inp.expand(["*.pcap*"]).skipped == [("fake.pcap", inp.SKIP_BINARY)]
    assert inp.expand(["**/*.out"]).paths() == ["lsof.out", "netstat.out", "ss.out", "sub/deeper/bsd.out",
                                                "win/netstat-an.out"]
    assert inp.expand(["**/*.out"]).skipped == []
    assert inp.expand(["sub/loop/ss.out"]).paths() == ["sub/loop/ss.out"]  # a named link is followed
    assert inp.expand(["net_???"]).paths() == ["net_tcp"]
    assert inp.expand(["[nw]*"]).paths() == ["net_netstat", "net_tcp", "netstat.out", "win/de_cp850.txt", "win/netstat-an.out"]


def test_a_file_named_like_a_glob_is_taken_as_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a[1].txt").write_text("not evidence\n")
    Path("a1.txt").write_text("not evidence either\n")
    assert inp.expand(["a[1].txt"]).inputs == [inp.Input("a[1].txt", "text")]


# --- rotated captures -------------------------------------------------------------------------


def _pcap_split(data: bytes) -> tuple[bytes, str, list[bytes]]:
    """File header, byte order and raw records of a pcap."""
    order = "<" if int.from_bytes(data[:4], "little") in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS) else ">"
    pos, recs = h.PCAP_FILE.size, []
    while pos + 16 <= len(data):
        caplen = struct.unpack_from(order + "I", data, pos + 8)[0]
        recs.append(data[pos : pos + 16 + caplen])
        pos += 16 + caplen
    return data[: h.PCAP_FILE.size], order, recs


def _pcapng_split(data: bytes) -> tuple[bytes, list[bytes]]:
    """Section and interface blocks, then the other blocks, of a one-section little-endian pcapng."""
    pos, head, blocks = 0, b"", []
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        block = data[pos : pos + blen]
        if btype in (h.BT_SHB, h.BT_IDB) and not blocks:
            head += block
        else:
            blocks.append(block)
        pos += blen
    return head, blocks


def _thirds(items: list[bytes]) -> list[list[bytes]]:
    k = len(items) // 3
    return [items[:k], items[k : 2 * k], items[2 * k :]]


def _rotate(src: Path, folder: Path, names: list[str]) -> list[Path]:
    """``src`` cut into 3 pieces by packet count, written under ``names``."""
    data = src.read_bytes()
    if data[:4] == h.BT_SHB.to_bytes(4, "little"):
        head, blocks = _pcapng_split(data)
    else:
        head, _, blocks = _pcap_split(data)
    folder.mkdir(exist_ok=True)
    out = []
    for name, part in zip(names, _thirds(blocks), strict=True):
        (folder / name).write_bytes(head + b"".join(part))
        out.append(folder / name)
    return out


def _ordered(path: Path) -> bool:
    return bool(np.all(np.diff(_all_stamps(path)) >= 0))


ROTATIONS = {
    "tcpdump -C": ["x.pcap", "x.pcap1", "x.pcap2"],
    "tcpdump -C beyond 9": ["x.pcap9", "x.pcap10", "x.pcap11"],  # name order is not time order
    "tcpdump -W -C": ["ring.pcap07", "ring.pcap08", "ring.pcap09"],
    "tcpdump -G": ["trace-2024-01-02_10:00:00.pcap", "trace-2024-01-02_10:05:00.pcap", "trace-2024-01-02_10:10:00.pcap"],
    "gzip": ["x.pcap.gz", "x.pcap1.gz", "x.pcap2.gz"],
    "tcpdump -z gzip": ["x.pcap.gz", "x.pcap1.gz", "x.pcap2"],  # the piece being written is plain
}


@pytest.mark.corpus
@pytest.mark.parametrize("style", list(ROTATIONS))
@pytest.mark.parametrize("capture", [("pcap", "zeek", "ssh.pcap"), ("pcap", "zeek", "redis-django-cloud.pcapng")],
                         ids=["pcap", "pcapng"])
def test_rotated_pieces_form_one_group_in_time_order(tmp_path: Path, capture: tuple[str, ...], style: str) -> None:
    src = corpus_path(*capture)
    assert _ordered(src)  # the premise: one capture whose time only goes forward
    pieces = _rotate(src, tmp_path / "case", ROTATIONS[style])
    for p in pieces:
        if p.suffix == ".gz":
            p.write_bytes(gzip.compress(p.read_bytes()))
    _link(tmp_path / "case", "ss.out", EVIDENCE["ss.out"])
    _link(tmp_path / "case", "other.pcap", EVIDENCE["ssh.pcap"])  # same folder, another name
    exp = inp.expand([str(tmp_path / "case")])
    assert exp.groups == [[str(p) for p in pieces]]
    grouped = [i for i in exp.inputs if i.group is not None]
    assert [i.path for i in grouped] == exp.groups[0] and {i.group for i in grouped} == {0}
    first = exp.paths().index(str(pieces[0]))
    assert exp.paths()[first : first + 3] == exp.groups[0]  # together, where the first piece was
    # read in group order, the pieces are the original capture again
    ts = np.concatenate([tcpforensics.read(p)["ts"].to_numpy() for p in exp.groups[0]])
    assert np.array_equal(ts, tcpforensics.read(str(src))["ts"].to_numpy())


@pytest.mark.corpus
def test_pieces_given_as_arguments_or_glob_are_grouped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pieces = _rotate(corpus_path(*EVIDENCE["ssh.pcap"]), tmp_path, ["x.pcap", "x.pcap1", "x.pcap2"])
    monkeypatch.chdir(tmp_path)
    assert inp.expand(["x.pcap2", "x.pcap", "x.pcap1"]).groups == [["x.pcap", "x.pcap1", "x.pcap2"]]
    assert inp.expand(["x.pcap*"]).groups == [["x.pcap", "x.pcap1", "x.pcap2"]]
    assert inp.expand(["x.pcap", "x.pcap2"]).groups == [["x.pcap", "x.pcap2"]]  # a gap is no overlap
    assert inp.expand([str(pieces[0])]).groups == []


@pytest.mark.corpus
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_tcpdump_rotation(tmp_path: Path) -> None:
    src = corpus_path("pcap", "labeled", "stopddos_synflood_spoofed.pcap")  # 2.9 MB: 3 pieces of 1 MB
    as_root = ["-Z", "root"] if os.geteuid() == 0 else []  # else tcpdump drops to its own user
    subprocess.run(["tcpdump", "-r", str(src), "-w", str(tmp_path / "flood.pcap"), "-C", "1", *as_root],
                   check=True, capture_output=True)
    names = sorted(os.listdir(tmp_path), key=lambda n: (len(n), n))
    assert names == ["flood.pcap", "flood.pcap1", "flood.pcap2"]
    exp = inp.expand([str(tmp_path)])
    assert exp.groups == [[str(tmp_path / n) for n in names]]
    assert capture_times.first_last_times(str(tmp_path / "flood.pcap"))[0] == _oracle(src)[0]
    assert capture_times.first_last_times(str(tmp_path / "flood.pcap2"))[1] == _oracle(src)[1]


@pytest.mark.corpus
@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap not installed")
def test_editcap_pieces_renamed_like_tcpdump(tmp_path: Path) -> None:
    src = corpus_path("pcap", "zeek", "redis-django-cloud.pcapng")
    work = tmp_path / "split"
    work.mkdir()
    subprocess.run(["editcap", "-c", "160", str(src), str(work / "piece.pcapng")], check=True, capture_output=True)
    made = sorted(os.listdir(work))
    assert len(made) == 3
    case = tmp_path / "case"
    case.mkdir()
    names = ["x.pcapng", "x.pcapng1", "x.pcapng2"]
    for old, new in zip(made, names, strict=True):
        (work / old).rename(case / new)
    assert inp.expand([str(case)]).groups == [[str(case / n) for n in names]]


def _shifted(data: bytes, shift_us: int) -> bytes:
    """A pcap with every timestamp moved by ``shift_us`` microseconds."""
    head, order, recs = _pcap_split(data)
    out = [head]
    for r in recs:
        sec, usec = struct.unpack_from(order + "II", r)
        t = sec * 1_000_000 + usec + shift_us
        out.append(struct.pack(order + "II", t // 1_000_000, t % 1_000_000) + r[8:])
    return b"".join(out)


@pytest.mark.corpus
def test_simultaneous_captures_are_not_grouped(tmp_path: Path) -> None:
    src = corpus_path(*EVIDENCE["ssh.pcap"])
    data = src.read_bytes()
    (tmp_path / "eth0.pcap").write_bytes(data)
    (tmp_path / "eth1.pcap").write_bytes(_shifted(data, 1_000))  # same traffic, 1 ms later
    (tmp_path / "copy1.pcap").write_bytes(data)
    (tmp_path / "copy2.pcap").write_bytes(data)
    single = corpus_path("pcap", "labeled", "sv_single_syn.pcap").read_bytes()  # one packet: no duration
    (tmp_path / "one1.pcap").write_bytes(single)
    (tmp_path / "one2.pcap").write_bytes(single)
    exp = inp.expand([str(tmp_path)])
    assert len(exp.inputs) == 6 and exp.groups == []


@pytest.mark.corpus
def test_two_rotated_interfaces_give_two_groups(tmp_path: Path) -> None:
    src = corpus_path(*EVIDENCE["ssh.pcap"])
    eth0 = _rotate(src, tmp_path, ["eth0.pcap", "eth0.pcap1", "eth0.pcap2"])
    lo, hi = capture_times.first_last_times(str(eth0[0]))
    for p in eth0:  # eth1: the same capture, half a piece later, rotated at the same sizes
        (tmp_path / p.name.replace("eth0", "eth1")).write_bytes(_shifted(p.read_bytes(), (hi - lo) // 2000))
    exp = inp.expand([str(tmp_path)])
    assert exp.groups == [[str(p) for p in eth0], [str(tmp_path / p.name.replace("eth0", "eth1")) for p in eth0]]


@pytest.mark.corpus
def test_other_link_type_is_not_grouped(tmp_path: Path) -> None:
    null = corpus_path("pcap", "zeek", "http-connect-with-header.pcap")  # BSD loopback, 2015
    eth = corpus_path("pcap", "zeek", "redis-django-cloud.pcapng")  # Ethernet, 2024
    eth_old = corpus_path("pcap", "zeek", "ssh.pcap")  # Ethernet, before 2015
    assert capture_times.first_last_times(str(null))[1] < capture_times.first_last_times(str(eth))[0]
    assert capture_times.first_last_times(str(eth_old))[1] < capture_times.first_last_times(str(null))[0]
    shutil.copy(null, tmp_path / "a1.pcap")
    shutil.copy(eth, tmp_path / "a2.pcap")
    assert inp.expand([str(tmp_path)]).groups == []
    shutil.copy(eth_old, tmp_path / "a0.pcap")  # same link type, earlier: the rule groups them
    assert inp.expand([str(tmp_path)]).groups == [[str(tmp_path / "a0.pcap"), str(tmp_path / "a2.pcap")]]


@pytest.mark.corpus
def test_captures_in_other_folders_are_not_grouped(tmp_path: Path) -> None:
    pieces = _rotate(corpus_path(*EVIDENCE["ssh.pcap"]), tmp_path / "a", ["x.pcap", "x.pcap1", "x.pcap2"])
    (tmp_path / "b").mkdir()
    pieces[2].rename(tmp_path / "b" / "x.pcap2")
    exp = inp.expand([str(tmp_path)])
    assert exp.groups == [[str(pieces[0]), str(pieces[1])]]


# --- first and last packet times ------------------------------------------------------------


CAPTURES = corpus_files("**/*.pcap*", "pcap")


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_first_last_times_of_corpus_captures(path: Path, tmp_path: Path) -> None:
    path = corpus_path(*path.relative_to(corpus_path()).parts)
    expected = _oracle(path)
    assert expected is not None
    assert capture_times.first_last_times(str(path)) == expected
    gz = tmp_path / (path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert capture_times.first_last_times(str(gz)) == expected
    ing = ingest(str(path))  # where the first and last packets are TCP, read() says the same
    ev = ing.events
    if len(ev) and ev["frame"].iloc[0] == 1:
        assert expected[0] == ev["ts"].iloc[0].value
    if len(ev) and ev["frame"].iloc[-1] == ing.accounting["records_read"]:
        assert expected[1] == ev["ts"].iloc[-1].value


@pytest.mark.corpus
def test_first_last_times_match_read_for_most_corpus_captures() -> None:
    corpus_path()
    exact = 0
    for path in CAPTURES:
        ev = tcpforensics.read(str(path))
        if len(ev) and capture_times.first_last_times(str(path)) == (ev["ts"].iloc[0].value, ev["ts"].iloc[-1].value):
            exact += 1
    # read() holds TCP only: 3 captures start or end with another protocol (UDP, Teredo)
    assert exact == len(CAPTURES) - 3


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_last_packet_is_found_from_the_end(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With small windows the tail is really searched (pcap resync, pcapng walk back), and
    never by walking the whole file."""
    path = corpus_path(*path.relative_to(corpus_path()).parts)
    monkeypatch.setattr(capture_times, "TAIL_BYTES", 2048)
    monkeypatch.setattr(capture_times, "CAPTURE_HEAD_BYTES", 16384)
    monkeypatch.setattr(capture_times, "_span_by_walking", lambda fh: pytest.fail("walked the whole file"))
    assert capture_times.first_last_times(str(path)) == _oracle(path)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["ssh.pcap", "redis-django-cloud.pcapng"])
@pytest.mark.parametrize("cut", [1, 7, 300])
def test_cut_capture_is_walked(name: str, cut: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = corpus_path("pcap", "zeek", name).read_bytes()
    p = tmp_path / name
    p.write_bytes(data[:-cut])
    monkeypatch.setattr(capture_times, "TAIL_BYTES", 4096)
    assert capture_times.first_last_times(str(p)) == _oracle(p)


def test_first_last_times_of_what_is_no_capture(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "text").write_text("hello\n")
    (tmp_path / "header-only.pcap").write_bytes(h.PCAP_FILE.pack("<"))
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + bytes(50))
    for name in ("empty", "text", "header-only.pcap", "bad.gz", "missing"):
        assert capture_times.first_last_times(str(tmp_path / name)) is None
    assert capture_times.first_last_times(str(tmp_path)) is None


def _epb(ts: int, data: bytes, iface: int = 0) -> bytes:
    body = h.EPB.pack("<", total_len=32 + len(data) + (-len(data) % 4), iface=iface, ts_high=ts >> 32,
                      ts_low=ts & 0xFFFFFFFF, caplen=len(data), wirelen=len(data))
    return body + data + bytes(-len(data) % 4) + struct.pack("<I", 32 + len(data) + (-len(data) % 4))


def _section(tsresol: int, stamps: list[int]) -> bytes:
    shb = h.SHB.pack("<") + struct.pack("<I", 28)
    opt = struct.pack("<HHB3x", h.IDB_OPT_TSRESOL, 1, tsresol) + bytes(4)
    idb = h.IDB.pack("<", total_len=20 + len(opt), snaplen=65535) + opt + struct.pack("<I", 20 + len(opt))
    return shb + idb + b"".join(_epb(t, bytes(60)) for t in stamps)


def test_pcapng_with_sections_of_other_resolutions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = 1_700_000_000
    p = tmp_path / "merged.pcapng"  # cat a.pcapng b.pcapng: µs, then ns, a second apart
    p.write_bytes(_section(6, [t0 * 10**6 + i for i in range(10)])
                  + _section(9, [(t0 + 1) * 10**9 + i * 1000 for i in range(500)]))
    assert capture_times.first_last_times(str(p)) == _oracle(p) == (t0 * 10**9, (t0 + 1) * 10**9 + 499_000)
    monkeypatch.setattr(capture_times, "TAIL_BYTES", 1024)  # the second section header is out of sight
    monkeypatch.setattr(capture_times, "CAPTURE_HEAD_BYTES", 1024)
    assert capture_times.first_last_times(str(p)) == _oracle(p)


def test_last_block_larger_than_the_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = 1_700_000_000 * 10**6
    p = tmp_path / "jumbo.pcapng"
    p.write_bytes(_section(6, [t0 + i for i in range(300)]) + _epb(t0 + 300, bytes(9000)))
    monkeypatch.setattr(capture_times, "TAIL_BYTES", 1024)
    monkeypatch.setattr(capture_times, "CAPTURE_HEAD_BYTES", 1024)
    monkeypatch.setattr(capture_times, "_span_by_walking", lambda fh: pytest.fail("walked the whole file"))
    assert capture_times.first_last_times(str(p)) == (t0 * 1000, (t0 + 300) * 1000)


def _pcap(records: list[tuple[int, bytes]], snaplen: int = 65535) -> bytes:
    out = [h.PCAP_FILE.pack("<", snaplen=snaplen)]
    for ts_us, data in records:
        out.append(h.PCAP_RECORD.pack("<", ts_sec=ts_us // 10**6, ts_frac=ts_us % 10**6,
                                      caplen=len(data), wirelen=len(data)) + data)
    return b"".join(out)


def test_pcap_resync_is_not_fooled_by_a_header_in_the_last_payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = 1_700_000_000 * 10**6
    recs = [(t + i, bytes([i % 251]) * 100) for i in range(200)]
    fake = h.PCAP_RECORD.pack("<", ts_sec=t // 10**6 + 5, ts_frac=0, caplen=20, wirelen=20)
    recs.append((t + 999, bytes(40) + fake + bytes(20)))  # ends where the fake record would
    p = tmp_path / "trap.pcap"
    p.write_bytes(_pcap(recs))
    monkeypatch.setattr(capture_times, "TAIL_BYTES", 1024)
    monkeypatch.setattr(capture_times, "CAPTURE_HEAD_BYTES", 1024)
    assert capture_times.first_last_times(str(p)) == (t * 1000, (t + 999) * 1000)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=80),
    steps=st.lists(st.integers(0, 3_000_000), min_size=80, max_size=80),
    fill=st.one_of(
        st.sampled_from([b"\0", b"\xff", b"\x01\x00\x00\x00", b"\xa1\xb2\xc3\xd4"]),
        st.sampled_from([0, 4, 16, 100]).map(  # payloads made of record headers
            lambda c: h.PCAP_RECORD.pack("<", ts_sec=1_600_000_000, caplen=c, wirelen=c) + bytes(c))),
    window=st.sampled_from([64, 512, 4096]),
)
def test_pcap_tail_resync_property(sizes: list[int], steps: list[int], fill: bytes, window: int) -> None:
    t = 1_600_000_000 * 10**6
    recs = []
    for i, n in enumerate(sizes):
        t += steps[i]
        recs.append((t, (fill * (n // len(fill) + 1))[:n]))
    data = _pcap(recs, snaplen=512)  # records up to 416 bytes: the window holds two
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.pcap"
        p.write_bytes(data)
        old = capture_times.TAIL_BYTES, capture_times.CAPTURE_HEAD_BYTES
        capture_times.TAIL_BYTES, capture_times.CAPTURE_HEAD_BYTES = window, window
        try:
            assert capture_times.first_last_times(str(p)) == (recs[0][0] * 1000, recs[-1][0] * 1000)
        finally:
            capture_times.TAIL_BYTES, capture_times.CAPTURE_HEAD_BYTES = old
