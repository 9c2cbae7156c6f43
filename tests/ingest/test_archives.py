"""Collections as archives (tcpforensics.ingest.archives, .origins): a UAC collection of the
project's samples read in one call as a folder, a tar.gz and a zip with the same result; a
Velociraptor offline collection; and hostile archives (traversal, links, bombs, too many
members, nested, corrupt), each refused member counted by reason and the rest still read."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcpforensics
from tcpforensics.ingest import archives, origins
from tcpforensics.ingest import inputs as inp

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
FIXTURES = ROOT / "tests" / "fixtures"
STAMP = "20261207101500"
SS = (SAMPLES / "synflood" / "ss-tanp.txt").read_bytes()

#: A UAC collection (tclahr/uac 3.x layout: no wrapping folder, uac.log first, network state
#: in live_response/network/ under UAC's own file names) holding the project's own outputs.
#: The uac.log header follows lib/log_msg.sh ("%Y-%m-%d %H:%M:%S %z LEVEL message").
UAC_EVIDENCE = {
    "live_response/network/ss_-tanp.txt": ("ss", SAMPLES / "synflood" / "ss-tanp.txt"),
    "live_response/network/netstat_-anp.txt": ("netstat_linux", SAMPLES / "close_wait" / "netstat-tanp.txt"),
    "live_response/network/lsof_-nPli.txt": ("lsof", FIXTURES / "linux" / "lsof" / "lsof-i-n-P.txt"),
    "live_response/system/nstat_-az.txt": ("counters", SAMPLES / "synflood" / "counters-nstat.txt"),
}
UAC_OTHER = {
    "uac.log": ("2026-12-07 10:15:00 +0000 INF Unix-like Artifacts Collector 3.3.0\n"
                "2026-12-07 10:15:00 +0000 INF Operating system: linux\n"
                "2026-12-07 10:15:00 +0000 INF Hostname: web01\n"),
    "live_response/network/hostname.txt": "web01\n",
    "live_response/network/ip_addr_show.txt": "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n",
    "bodyfile/bodyfile.txt": "0|/etc/hostname|1234|-rw-r--r--|0|0|6|1700000000|1700000000|1700000000|0\n",
    "[root]/etc/hostname": "web01\n",
}


def _uac_folder(tmp_path: Path) -> Path:
    folder = tmp_path / f"uac-web01-linux-{STAMP}"
    for rel, (_, src) in UAC_EVIDENCE.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / rel)
    for rel, text in UAC_OTHER.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def _tar(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tf:
        for path in sorted(folder.rglob("*")):
            tf.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return target


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, str(path.relative_to(folder)))
    return target


def _findings(report: tcpforensics.Report, prefix: str) -> list[tuple]:
    """(category, subject, count, severity), the collection's own name taken out of subjects
    ("local host (INPUT)")."""
    return sorted((f.category, f.subject.replace(prefix, ""), int(f["count"]), str(f.severity))
                  for _, f in report.findings.iterrows())


def test_a_uac_collection_is_read_whole_as_folder_tar_and_zip(tmp_path: Path) -> None:
    folder = _uac_folder(tmp_path)
    tgz = _tar(folder, tmp_path / f"{folder.name}.tar.gz")
    zipped = _zip(folder, tmp_path / f"{folder.name}.zip")
    seen = []
    for source in (folder, tgz, zipped):
        report = tcpforensics.analyze([str(source)])
        prefix = f"{source}/" if source.is_dir() else f"{source}{archives.SEP}"
        got = {i["input"].removeprefix(prefix): i["format"] for i in report.inputs}
        assert got == {rel: fmt for rel, (fmt, _) in UAC_EVIDENCE.items()}  # every evidence file, nothing else
        assert {i["host"] for i in report.inputs} == {"web01"}
        assert {i["collection"] for i in report.inputs} == {str(source)}
        left = report.tables["not_evidence"]
        assert int(left["files"].sum()) == len(UAC_OTHER)  # counted by reason, not listed one by one
        assert all(f["host"] == "web01" and f["collection"] == str(source) for f in report.findings["details"])
        seen.append(_findings(report, prefix))
    assert seen[0] == seen[1] == seen[2] and ("syn_flood", "127.0.0.1:8080", 129, "high") in seen[0]


def test_the_host_comes_from_the_collectors_own_records_first(tmp_path: Path) -> None:
    """uac.log's Hostname line names the host even when the archive was renamed; without any
    record, UAC's default output name does; a folder that says nothing has none."""
    folder = _uac_folder(tmp_path)
    renamed = _tar(folder, tmp_path / "case-42.tgz")
    assert {i["host"] for i in tcpforensics.analyze([str(renamed)]).inputs} == {"web01"}
    for rel in ("uac.log", "live_response/network/hostname.txt"):
        (folder / rel).unlink()
    named = _tar(folder, tmp_path / f"uac-db-02.example-linux-{STAMP}.tar.gz")
    assert {i["host"] for i in tcpforensics.analyze([str(named)]).inputs} == {"db-02.example"}
    plain = tmp_path / "case"
    shutil.copytree(folder / "live_response", plain)
    assert {i["host"] for i in tcpforensics.analyze([str(plain)]).inputs} == {None}


def test_a_velociraptor_offline_collection(tmp_path: Path) -> None:
    """Velociraptor's layout (results/<artifact>[%2F<source>].json as JSON lines,
    client_info.json with info()'s Hostname); its own test data as the results."""
    results = (FIXTURES / "windows" / "velociraptor" / "windows-network-netstatenriched-testdata.json").read_bytes()
    target = tmp_path / "Collection-WIN-E5K9RC5GU23-2021-11-21T18_05_56-08_00.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("results/Windows.Network.NetstatEnriched%2FNetstat.json", results)
        zf.writestr("client_info.json", json.dumps({"Hostname": "DESKTOP-7", "Fqdn": "desktop-7.corp", "OS": "windows"}))
        zf.writestr("collection_context.json", json.dumps({"session_id": "F.1", "total_collected_rows": 40}))
        zf.writestr("log.json", json.dumps({"_ts": 1637546756, "level": "DEFAULT", "message": "Starting"}) + "\n")
        zf.writestr("uploads.json", "")
    report = tcpforensics.analyze([str(target)])
    assert [(i["format"], i["host"]) for i in report.inputs] == [("velociraptor_netstat", "DESKTOP-7")]
    leak = report.findings[report.findings["category"] == "close_wait_leak"].iloc[0]
    assert leak["details"]["host"] == "DESKTOP-7" and leak["count"] == 13
    assert leak["evidence"][0].startswith(f"{target}{archives.SEP}results/Windows.Network.NetstatEnriched%2FNetstat.json:")
    older = tmp_path / "older" / target.name  # an older collection without client_info.json: the name says
    older.parent.mkdir()
    with zipfile.ZipFile(target) as src, zipfile.ZipFile(older, "w") as zf:
        for info in src.infolist():
            if info.filename != "client_info.json":
                zf.writestr(info, src.read(info))
    assert [i["host"] for i in tcpforensics.analyze([str(older)]).inputs] == ["WIN-E5K9RC5GU23"]


# --- hostile archives ---------------------------------------------------------------------


def _expand(path: Path) -> inp.Expansion:
    return inp.expand([str(path)])


def _reasons(found: inp.Expansion) -> dict[str, int]:
    return found.skipped_counts()


def test_names_outside_the_archive_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "evil.zip"
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("../../escaped-ss.txt", SS)
        zf.writestr("/etc/cron.d/ss.txt", SS)
        zf.writestr("C:/Windows/ss.txt", SS)
        zf.writestr("ok/ss.txt", SS)
    found = _expand(target)
    assert [i.name for i in found.inputs] == [f"{target}{archives.SEP}ok/ss.txt"]
    assert _reasons(found) == {archives.SKIP_TRAVERSAL: 3}
    assert not (tmp_path.parent / "escaped-ss.txt").exists() and not (tmp_path / "escaped-ss.txt").exists()
    assert Path(found.inputs[0].path).read_bytes() == SS  # its copy, in the private folder
    assert Path(found.inputs[0].path).parent.stat().st_mode & 0o077 == 0


def test_links_are_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "links.tar"
    with tarfile.open(target, "w") as tf:
        for name, kind, to in (("passwd", tarfile.SYMTYPE, "/etc/passwd"), ("up", tarfile.SYMTYPE, "../../../etc"),
                               ("hard", tarfile.LNKTYPE, "../../etc/shadow"), ("fifo", tarfile.FIFOTYPE, "")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, to
            tf.addfile(info)
        info = tarfile.TarInfo("ss.txt")
        info.size = len(SS)
        tf.addfile(info, io.BytesIO(SS))
    found = _expand(target)
    assert [i.name for i in found.inputs] == [f"{target}{archives.SEP}ss.txt"]
    assert _reasons(found) == {archives.SKIP_LINK: 3, archives.SKIP_SPECIAL: 1}
    zipped = tmp_path / "links.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (0o120777 << 16)  # a symbolic link, as Info-ZIP stores one (its target as data)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ss.txt", SS)
    found = _expand(zipped)
    assert [Path(i.name).name for i in found.inputs] == ["ss.txt"] and _reasons(found) == {archives.SKIP_LINK: 1}


def test_a_zip_bomb_and_the_total_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "bomb.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.txt", b"\0" * (64 * 1024**2))  # 64 MiB in about 64 KiB: 1000 to 1
        zf.writestr("ss.txt", SS)
    found = _expand(target)
    assert [i.name for i in found.inputs] == [f"{target}{archives.SEP}ss.txt"]
    assert _reasons(found) == {archives.SKIP_BOMB: 1}
    monkeypatch.setattr(archives, "LIMITS", archives.Limits(total_bytes=len(SS) + 10))
    many = tmp_path / "many.tar.gz"
    with tarfile.open(many, "w:gz") as tf:
        for n in range(3):
            info = tarfile.TarInfo(f"ss-{n}.txt")
            info.size = len(SS)
            tf.addfile(info, io.BytesIO(SS))
    found = _expand(many)
    assert [Path(i.name).name for i in found.inputs] == ["ss-0.txt"]
    assert _reasons(found) == {archives.SKIP_TOTAL: 2}


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_members_past_the_count_limit_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(archives, "LIMITS", archives.Limits(members=50))
    target = tmp_path / f"many.{kind}"
    names = [f"d/{n:04d}.txt" for n in range(120)]
    if kind == "zip":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("ss.txt", SS)
            for n in names:
                zf.writestr(n, "x\n")
    else:
        with tarfile.open(target, "w") as tf:
            for n, data in [("ss.txt", SS), *((n, b"x\n") for n in names)]:
                info = tarfile.TarInfo(n)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    found = _expand(target)
    assert [Path(i.name).name for i in found.inputs] == ["ss.txt"]
    assert sum(1 for _, r in found.skipped if r.startswith(archives.SKIP_MEMBERS)) == 1
    assert len(found.skipped) == 49 + 1  # 49 members looked at and not evidence, then the one line


def test_an_archive_inside_and_a_corrupt_archive(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("ss.txt", SS)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("inner.zip", inner.getvalue())
        zf.writestr("ss.txt", SS)
    found = _expand(outer)
    assert [Path(i.name).name for i in found.inputs] == ["ss.txt"]
    assert _reasons(found) == {archives.SKIP_NESTED: 1}
    cut = tmp_path / "cut.tar.gz"
    whole = _tar(_uac_folder(tmp_path), tmp_path / "whole.tar.gz").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    found = _expand(cut)
    assert all(Path(i.path).read_bytes() for i in found.inputs)  # what was whole before the cut
    assert any(r.startswith(("unreadable archive", "unreadable:")) for _, r in found.skipped)


def test_the_cli_names_members_and_fails_in_one_line(tmp_path: Path) -> None:
    target = _zip(_uac_folder(tmp_path), tmp_path / "c.zip")
    run = subprocess.run([sys.executable, "-m", "tcpforensics", "events", str(target), "--format", "csv"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert f"{target}{archives.SEP}live_response/network/ss_-tanp.txt" in run.stdout
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("notes.txt", "nothing here\n")
    run = subprocess.run([sys.executable, "-m", "tcpforensics", "analyze", str(empty)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and str(empty) in run.stderr
    assert "Traceback" not in run.stderr


def test_host_rules_read_what_the_collectors_write() -> None:
    got = origins.origin("x.zip", {"client_info.json": b'{"hostname": "h1"}'})
    assert (got.host, got.collector) == ("h1", "Velociraptor")
    got = origins.origin("x", {"2023-05-04T11_51_06_5397121_ConsoleLog.txt":
                               b"System info: Machine name: UMAIR-THINKBOOK, 64-bit: True, User: Umair\n"})
    assert (got.host, got.collector) == ("UMAIR-THINKBOOK", "KAPE")
    got = origins.origin("/cases/WS042.zip", {"CyLR_Collection_Log_2024-01-02_10-00-00.log": b"..."})
    assert (got.host, got.collector) == ("WS042", "CyLR")
    got = origins.origin("uac-web-01-linux-20240101120000.tar.gz", {"uac.log": b"no header\n"})
    assert (got.host, got.collector) == ("web-01", "UAC")
    assert origins.origin("notes", {}).host is None


def _small_archives() -> dict[str, bytes]:
    zipped, tarred = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/ss.txt", SS)
        zf.writestr("uac.log", UAC_OTHER["uac.log"])
    with tarfile.open(fileobj=tarred, mode="w") as tf:
        for name, data in (("a/ss.txt", SS), ("uac.log", UAC_OTHER["uac.log"].encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return {"zip": zipped.getvalue(), "tar.gz": gzip.compress(tarred.getvalue(), mtime=0)}


ARCHIVES = _small_archives()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(ARCHIVES)), cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       keep=st.integers(1, 10**6))
def test_damaged_archives_never_raise(tmp_path: Path, kind: str, cuts: list[tuple[int, int]], keep: int) -> None:
    """Bytes changed or cut anywhere: the archive gives what it still holds, never a traceback;
    every input taken is a copy whose name is inside the archive."""
    data = bytearray(ARCHIVES[kind])
    for at, value in cuts:
        data[at % len(data)] = value
    target = tmp_path / f"damaged.{kind}"
    target.write_bytes(bytes(data[: max(1, keep % (len(data) + 1))]))
    found = _expand(target)
    if not archives.is_archive(str(target)):  # no longer an archive: a file named, read (and judged) as one
        assert [i.path for i in found.inputs] == [str(target)]
        return
    for item in found.inputs:
        assert item.name is not None and item.name.startswith(f"{target}{archives.SEP}")
        assert Path(item.path).is_file() and not Path(item.path).is_relative_to(tmp_path)


def _empty_members_tar_gz(n: int) -> bytes:
    """A tar.gz of ``n`` empty members (one header repeated: fast to write)."""
    info = tarfile.TarInfo("m/x.txt")
    header = info.tobuf(tarfile.USTAR_FORMAT)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        for _ in range(n // 10_000):
            gz.write(header * 10_000)
        gz.write(b"\0" * 1024)
    return out.getvalue()


def test_a_million_members(tmp_path: Path) -> None:
    """A tar.gz of 1,000,000 members with the default limits: the first 200,000 looked at
    (empty, so not evidence), the rest one line; the evidence beside it is still read."""
    (tmp_path / "million.tar.gz").write_bytes(_empty_members_tar_gz(1_000_000))
    (tmp_path / "ss.txt").write_bytes(SS)
    found = inp.expand([str(tmp_path)])
    assert [Path(i.path).name for i in found.inputs] == ["ss.txt"]
    assert found.skipped_counts() == {inp.SKIP_EMPTY: archives.LIMITS.members,
                                      f"{archives.SKIP_MEMBERS} ({archives.LIMITS.members:,})": 1}


def test_a_zip_directory_too_long_to_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "LIMITS", archives.Limits(zip_directory=1000))
    target = tmp_path / "long.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for n in range(1001):
            zf.writestr(f"{n}.txt", "")
    found = _expand(target)
    assert found.inputs == [] and found.skipped == [
        (str(target), "unreadable archive: its directory lists 1,001 members, over the limit of 1,000")]


def test_a_damaged_deflate_stream_skips_what_it_spoils(tmp_path: Path) -> None:
    """Regression (hypothesis, 2026-12-08): a byte changed inside a tar.gz's deflate stream made
    a member's read raise zlib.error ("invalid distance too far back"), which escaped. Every
    byte of the stream changed in turn: never an exception, the damage named when it shows."""
    data = ARCHIVES["tar.gz"]
    reasons: set[str] = set()
    for at in range(10, len(data) - 8):
        target = tmp_path / f"d{at}.tar.gz"
        target.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:])
        found = _expand(target)
        reasons |= {r.split(":")[0] for _, r in found.skipped}
        target.unlink()
    assert {"unreadable", "unreadable archive"} <= reasons
