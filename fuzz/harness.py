"""The fuzz targets: one per input format of the registry, seeds, and the atheris entry point.

A target is the name of a format (``tcpforensics.ingest.registry``: every module of
``tcpforensics/ingest/formats/``), or ``all``, where the first byte of each input picks the
format. A text format is fuzzed through ``ingest_text`` with the format forced, a capture
format through its ``ingest_bytes``. Seeds: the format's ``FIXTURES`` and, where the shared
corpus has inputs of that format, ``CORPUS_SEEDS``.

Nothing of tcpforensics is imported at module level: atheris instruments only what is
imported after it starts (``main``).
"""

from __future__ import annotations

import operator
import shutil
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
if str(ROOT) not in sys.path:  # fuzz from a checkout whether or not the package is installed
    sys.path.insert(0, str(ROOT))

#: Extra seeds from the shared corpus (read in place), by format name: globs under it.
CORPUS_SEEDS: dict[str, tuple[str, ...]] = {
    "ss": ("text/**/ss*.out", "text/wild/ss/*.txt"),
    "netstat_linux": ("text/jc/*/netstat*.out", "text/wild/linux/*.txt"),
    "netstat_bsd": ("text/jc/freebsd12/*.out", "text/jc/osx-10.14.6/*.out", "text/wild/macos/*.txt"),
    "netstat_windows": ("text/jc/windows/**/*.out", "text/wild/windows/*.txt"),
    "proc_net_tcp": ("text/jc/linux-proc/net_tcp*[!n]",),
    "counters": ("text/jc/linux-proc/net_netstat",),
    "pcap": ("pcap/**/*.pcap", "pcap/**/*.pcapng", "pcap/**/*.gz"),
    "zeek_conn": ("pcap/zeek/*.conn.log", "pcap/zeek/*.conn.cut", "pcap/labeled/labels/*.conn.log"),
}


def targets() -> tuple[str, ...]:
    """Every fuzz target but ``all``: the registered formats, in registry order."""
    from tcpforensics.ingest import registry

    return tuple(f.name for f in registry.formats())


def _format(target: str):
    from tcpforensics.ingest import registry

    fmt = registry.get(target)
    if fmt is None:
        raise SystemExit(f"fuzz: no format {target!r}; targets: all, {', '.join(targets())}")
    return fmt


def max_len(target: str) -> int:
    """libFuzzer's ``-max_len`` for a target: captures need room for a few packets."""
    return 65536 if target != "all" and _format(target).kind == "capture" else 8192


def seed_files(target: str) -> list[Path]:
    """Every seed file of a target that exists (the corpus may be absent)."""
    out = set(_format(target).fixture_files())
    for pattern in CORPUS_SEEDS.get(target, ()):
        if CORPUS.is_dir():
            out.update(p for p in CORPUS.glob(pattern) if p.is_file() and not p.name.endswith(".json"))
    return sorted(out)


def seed_dir(target: str, dest: Path, max_len: int) -> Path:
    """Copy the seeds (cut to ``max_len`` bytes) into ``dest`` for libFuzzer to start from."""
    dest.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(seed_files(target)):
        (dest / f"seed{i:03d}_{p.name}").write_bytes(p.read_bytes()[:max_len])
    return dest


def check_text(target: str, data: bytes) -> None:
    """Parse ``data`` as ``target``: InputError or an exact account, nothing else."""
    from tcpforensics.ingest import ingest_text

    _checked_account(lambda: ingest_text(data, "fuzz-input", target))


def check_flowlog(target: str, data: bytes) -> None:
    """Read ``data`` as the flow log ``target``: InputError or an exact account (records =
    flows + skipped + structural); one input in eight with flows also has its flows and
    conversations built (the costly part; the property tests build them on every input)."""
    from tcpforensics.ingest import flowlogs
    from tcpforensics.reconstruct import flowlogs as evidence

    got = []
    acc = _checked_account(lambda: got.append(flowlogs.ingest_bytes(data, "fuzz-input", target)) or got[0])
    if acc is not None:
        assert acc["records_read"] == acc["flows"] + sum(acc["skipped"].values()) + sum(acc["structural"].values())
        if acc["flows"] and zlib.crc32(data) % 8 == 0:
            assert len(evidence.evidence("fuzz-input", [got[0].meta["flows"]]).flows) <= acc["flows"]


def check_capture(target: str, data: bytes) -> None:
    """Read ``data`` as a capture: InputError or packets read == TCP + non-TCP + skipped."""
    acc = _checked_account(lambda: _format(target).module.ingest_bytes(data, "fuzz-input", progress=False))
    if acc is not None:
        assert acc["records_read"] == acc["events"] + sum(acc["non_tcp"].values()) + sum(acc["skipped"].values())


def _checked_account(read: Callable[[], object]) -> dict | None:
    """The accounting of ``read()`` once checked (nothing unaccounted, events and skipped
    tables as counted), or None when ``read`` raised an InputError of one line."""
    from tcpforensics.errors import InputError

    try:
        ing = read()
    except InputError as e:
        assert "\n" not in str(e), "an InputError message must be one line"
        return None
    acc = ing.accounting
    assert acc["unaccounted"] == 0, f"unaccounted records: {acc}"
    assert acc["events"] == len(ing.events)
    assert sum(acc["skipped"].values()) == len(ing.skipped)
    return acc


def target_fn(target: str) -> Callable[[bytes], None]:
    """The one-input function of a format's target."""
    if _format(target).kind == "capture":
        return lambda data: check_capture(target, data)
    if _format(target).kind == "flowlog":
        return lambda data: check_flowlog(target, data)
    return lambda data: check_text(target, data)


def check_any(data: bytes) -> None:
    """All targets in one: the first byte picks the format, the rest is its input."""
    if data:
        names = targets()
        target_fn(names[data[0] % len(names)])(data[1:])


def any_seed_dir(dest: Path, per_target: int, max_len: int) -> Path:
    """Seeds for :func:`check_any`: a few per target, each prefixed with its target byte."""
    dest.mkdir(parents=True, exist_ok=True)
    for t, target in enumerate(targets()):
        files = sorted(seed_files(target), key=lambda p: p.stat().st_size)[:per_target]
        for i, p in enumerate(files):
            (dest / f"{target}-{i:02d}").write_bytes(bytes([t]) + p.read_bytes()[:max_len])
    return dest


def _import_all() -> None:
    """Import every module a target reaches (so atheris instruments them, not lazily later)."""
    import importlib
    import pkgutil

    for name in ("tcpforensics.ingest", "tcpforensics.capture"):
        pkg = importlib.import_module(name)  # the module (``tcpforensics.ingest`` is also a function)
        for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            importlib.import_module(m.name)


def main(target: str) -> None:
    """atheris entry point of ``target`` (a format name or ``all``): ``fuzz/fuzz.py``."""
    import atheris
    from atheris.version_dependent import CMP_OP_SHIFT_AMOUNT

    global _CMP_SHIFT
    _CMP_SHIFT = CMP_OP_SHIFT_AMOUNT
    with atheris.instrument_imports(include=["tcpforensics"]):
        _import_all()
    fn = check_any if target == "all" else target_fn(target)  # exits naming the targets if unknown

    def one(data: bytes) -> None:
        global _native_cmp
        if atheris._trace_cmp is not _scalar_trace_cmp:  # atheris.Fuzz() rebinds it at start
            _native_cmp = atheris._trace_cmp
            atheris._trace_cmp = _scalar_trace_cmp
        fn(data)

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


_CMP_SHIFT = 0  # COMPARE_OP's argument shift on this Python (set by main)
_native_cmp: Callable[..., object] = operator.eq  # atheris' own hook (set by main)
_PLAIN = (int, str, bytes, bool, float)
_CMP_OPS = (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge)


def _scalar_trace_cmp(a: object, b: object, op: int, counter: int, is_const: bool) -> object:
    """atheris' comparison hook, for plain scalars only.

    atheris 3.0 keeps ~120 bytes per instrumented comparison whose operands are numpy arrays
    (``mask == 3``): 12 KB per input here, 4 GB after 319k inputs. It learns nothing from such
    comparisons (its value profile reads ints, strings and bytes), so they are evaluated
    directly and only scalar ones go to atheris."""
    if type(a) in _PLAIN and type(b) in _PLAIN:
        return _native_cmp(a, b, op, counter, is_const)
    return _CMP_OPS[op >> _CMP_SHIFT](a, b)


def prepare(target: str, workdir: Path, max_len: int) -> Path:
    """A fresh scratch corpus directory seeded for ``target``."""
    d = workdir / target
    if d.exists() and not any(d.iterdir()):
        shutil.rmtree(d)
    return seed_dir(target, d, max_len)


if __name__ == "__main__":  # python fuzz/harness.py targets | max-len TARGET | seed TARGET DIR MAX_LEN
    if sys.argv[1:] == ["targets"]:
        print(" ".join(targets()))
    elif len(sys.argv) == 3 and sys.argv[1] == "max-len":
        print(max_len(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "seed" and sys.argv[2] == "all":
        print(any_seed_dir(Path(sys.argv[3]) / "all", 3, int(sys.argv[4])))
    elif len(sys.argv) == 5 and sys.argv[1] == "seed":
        print(prepare(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
    else:
        sys.exit("usage: python fuzz/harness.py targets | max-len TARGET | seed TARGET DIR MAX_LEN")
