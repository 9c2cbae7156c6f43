"""Shared fuzz targets: one per ingestor, seeds from the corpus, and the atheris entry point."""

from __future__ import annotations

import operator
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLES = ROOT / "samples"
if str(ROOT) not in sys.path:  # fuzz from a checkout whether or not the package is installed
    sys.path.insert(0, str(ROOT))

TEXT = ("ss", "netstat_linux", "netstat_bsd", "netstat_windows", "proc_net_tcp", "counters")
TARGETS = TEXT + ("pcap",)

#: Seed files per target: globs under the corpus, the project's fixtures and samples (read in
#: place; ``seed_dir`` copies them to a scratch directory outside the project for libFuzzer).
SEED_GLOBS: dict[str, tuple[tuple[Path, str], ...]] = {
    "ss": ((CORPUS / "text", "**/ss*.out"), (CORPUS / "text/wild/ss", "*.txt"), (FIXTURES / "linux", "ss-*.txt")),
    "netstat_linux": ((CORPUS / "text/jc", "*/netstat*.out"), (CORPUS / "text/wild/linux", "*.txt"),
                      (FIXTURES / "linux", "netstat-*.txt"), (FIXTURES / "linux", "snapshots-*.txt")),
    "netstat_bsd": ((CORPUS / "text/jc/freebsd12", "*.out"), (CORPUS / "text/jc/osx-10.14.6", "*.out"),
                    (CORPUS / "text/wild/macos", "*.txt"), (FIXTURES / "macos", "*.txt"), (FIXTURES / "freebsd", "*.txt")),
    "netstat_windows": ((CORPUS / "text/jc/windows", "**/*.out"), (CORPUS / "text/wild/windows", "*.txt"),
                        (FIXTURES / "windows", "*.txt")),
    "proc_net_tcp": ((CORPUS / "text/jc/linux-proc", "net_tcp*[!n]"), (FIXTURES / "linux", "proc-*.txt")),
    "counters": ((CORPUS / "text/jc/linux-proc", "net_netstat"), (FIXTURES / "counters", "*.txt")),
    "pcap": ((CORPUS / "pcap", "**/*.pcap"), (CORPUS / "pcap", "**/*.pcapng"), (CORPUS / "pcap", "**/*.gz"),
             (FIXTURES / "captures", "*.pcap*"), (FIXTURES / "flows", "*.pcap")),
}


def seed_files(target: str) -> list[Path]:
    """Every seed file of a target that exists (the corpus may be absent)."""
    out: set[Path] = set()
    for base, pattern in SEED_GLOBS[target]:
        if base.is_dir():
            out.update(p for p in base.glob(pattern) if p.is_file() and not p.name.endswith(".json"))
    return sorted(out)


def seed_dir(target: str, dest: Path, max_len: int) -> Path:
    """Copy the seeds (cut to ``max_len`` bytes) into ``dest`` for libFuzzer to start from."""
    dest.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(seed_files(target)):
        (dest / f"seed{i:03d}_{p.name}").write_bytes(p.read_bytes()[:max_len])
    return dest


def check_text(target: str, data: bytes) -> None:
    """Parse ``data`` as ``target``: InputError or an exact account, nothing else."""
    from tcpforensics.errors import InputError
    from tcpforensics.ingest import ingest_text

    try:
        ing = ingest_text(data, "fuzz-input", target)
    except InputError as e:
        assert "\n" not in str(e), "an InputError message must be one line"
        return
    acc = ing.accounting
    assert acc["unaccounted"] == 0, f"unaccounted lines: {acc}"
    assert acc["events"] == len(ing.events)
    assert sum(acc["skipped"].values()) == len(ing.skipped)


def check_capture(data: bytes) -> None:
    """Read ``data`` as a capture: InputError or packets read == TCP + non-TCP + skipped."""
    from tcpforensics.errors import InputError
    from tcpforensics.ingest import pcap

    try:
        ing = pcap.ingest_bytes(data, "fuzz-input", progress=False)
    except InputError as e:
        assert "\n" not in str(e), "an InputError message must be one line"
        return
    acc = ing.accounting
    assert acc["unaccounted"] == 0, f"unaccounted packets: {acc}"
    assert acc["events"] == len(ing.events)
    assert acc["records_read"] == acc["events"] + sum(acc["non_tcp"].values()) + sum(acc["skipped"].values())
    assert sum(acc["skipped"].values()) == len(ing.skipped)


def target_fn(target: str) -> Callable[[bytes], None]:
    """The one-input function of a target."""
    if target == "pcap":
        return check_capture
    return lambda data: check_text(target, data)


def check_any(data: bytes) -> None:
    """All targets in one: the first byte picks the ingestor, the rest is its input."""
    if data:
        target_fn(TARGETS[data[0] % len(TARGETS)])(data[1:])


def any_seed_dir(dest: Path, per_target: int, max_len: int) -> Path:
    """Seeds for :func:`check_any`: a few per target, each prefixed with its target byte."""
    dest.mkdir(parents=True, exist_ok=True)
    for t, target in enumerate(TARGETS):
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
        for m in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{name}.{m.name}")


def main(target: str) -> None:
    """atheris entry point: ``python fuzz/fuzz_<target>.py [libFuzzer options] [corpus dirs]``."""
    import atheris
    from atheris.version_dependent import CMP_OP_SHIFT_AMOUNT

    global _CMP_SHIFT
    _CMP_SHIFT = CMP_OP_SHIFT_AMOUNT
    with atheris.instrument_imports(include=["tcpforensics"]):
        _import_all()
    fn = check_any if target == "all" else target_fn(target)

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
    """atheris' comparison hook, for plain scalars only (F12 in FINDINGS.md).

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


if __name__ == "__main__":  # python fuzz/harness.py seed TARGET DIR MAX_LEN
    if len(sys.argv) == 5 and sys.argv[1] == "seed" and sys.argv[2] == "all":
        print(any_seed_dir(Path(sys.argv[3]) / "all", 3, int(sys.argv[4])))
    elif len(sys.argv) == 5 and sys.argv[1] == "seed":
        print(prepare(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
    else:
        sys.exit("usage: python fuzz/harness.py seed TARGET DIR MAX_LEN")
