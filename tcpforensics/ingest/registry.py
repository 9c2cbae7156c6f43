"""The registry of input formats: every module of ``tcpforensics/ingest/formats/`` is one.

Nothing lists the formats by hand. This registry finds them by listing the package
``tcpforensics.ingest.formats`` (modules and packages whose names do not start with ``_``) and
feeds content detection (``tcpforensics.ingest``), ``--input-format`` (``tcpforensics.cli``),
the docs tables (``docs/gen_formats.py``) and the fuzz targets (``fuzz/harness.py``).

A format module declares, at module level:

``NAME``
    the name ``--input-format`` takes; the module's own name.
``KIND``
    ``"text"`` (a dump read as lines), ``"capture"`` (binary packets) or ``"flowlog"`` (a log
    of flow records, read as lines: ``ingest/flowlogs.py``).
``DESCRIPTION``
    one line: what it reads (Markdown; the docs tables and ``--help`` show it).
``SAVE_WITH``
    a command that saves such an input (the docs tables show it).
``FIXTURES``
    globs of its test inputs under ``tests/fixtures/`` (absolute globs too); the tests and the
    fuzzer's seeds read them, and a format must have at least one.
``ORDER``
    its place in lists; between text formats whose detection scores tie, the lower wins.

and the functions of its kind:

- text: ``detect(lines: Lines) -> float`` (confidence 0..1 from content, never the file name)
  and ``parse(lines: Lines) -> Parsed`` (``tcpforensics/ingest/base.py``);
- capture: ``detect(head: bytes) -> bool`` (from the first 64 bytes),
  ``ingest(path, **options) -> Ingested`` and ``ingest_bytes(data, name, **options) -> Ingested``;
- flowlog: ``detect(lines: Lines) -> float`` and ``parse(lines: Lines) -> Parsed`` whose rows
  are flow records (``schema.FLOW_RECORD_DTYPES``).

Its docstring is its user documentation (what it reads, the columns it fills, an example,
its decisions); docs/formats.md shows it.

Listing the names (``names()``) reads the package folder only; everything else imports the
format modules, once, on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from tcpforensics.ingest import formats as _package

KINDS = ("text", "capture", "flowlog")
#: Functions a format module of each kind defines (a flow log's ``parse`` gives flow records:
#: ``tcpforensics/ingest/flowlogs.py``).
FUNCTIONS: dict[str, tuple[str, ...]] = {"text": ("detect", "parse"), "capture": ("detect", "ingest", "ingest_bytes"),
                                         "flowlog": ("detect", "parse")}
#: Where ``FIXTURES`` globs are read from (a source checkout; not part of an installed package).
FIXTURES_ROOT = Path(__file__).resolve().parents[2] / "tests" / "fixtures"


class FormatDeclarationError(TypeError):
    """A module of the formats package does not declare what a format must."""


@dataclass(frozen=True)
class Format:
    """One registered input format: its declarations and its module."""

    name: str
    kind: str
    description: str
    save_with: str
    fixtures: tuple[str, ...]
    order: int
    module: ModuleType

    @property
    def doc(self) -> str:
        """The module docstring: the format's user documentation."""
        return self.module.__doc__ or ""

    def fixture_files(self) -> list[Path]:
        """Every file its ``FIXTURES`` globs match (empty when the tests are not there)."""
        found: set[Path] = set()
        for pattern in self.fixtures:
            root, rel = (Path(pattern).anchor, pattern[len(Path(pattern).anchor):]) if Path(pattern).is_absolute() \
                else (FIXTURES_ROOT, pattern)
            found.update(p for p in Path(root).glob(rel) if p.is_file())
        return sorted(found)


def names() -> tuple[str, ...]:
    """Names of the formats, sorted, read from the package folder (no format is imported)."""
    return tuple(sorted(_module_names(tuple(_package.__path__))))


def formats() -> tuple[Format, ...]:
    """Every format, by ``ORDER`` (then name)."""
    return _load(tuple(_package.__path__))


def text_formats() -> tuple[Format, ...]:
    """The text formats, by ``ORDER``: the order detection breaks ties in."""
    return tuple(f for f in formats() if f.kind == "text")


def capture_formats() -> tuple[Format, ...]:
    """The capture formats, by ``ORDER``."""
    return tuple(f for f in formats() if f.kind == "capture")


def get(name: str) -> Format | None:
    """The format called ``name``, or None."""
    return next((f for f in formats() if f.name == name), None)


def _module_names(paths: tuple[str, ...]) -> list[str]:
    return [m.name for m in pkgutil.iter_modules(list(paths)) if not m.name.startswith("_")]


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[Format, ...]:
    """The formats found in the package folders ``paths`` (the cache key: a folder added to
    the package's ``__path__`` is read on the next call)."""
    found = [declared(importlib.import_module(f"{_package.__name__}.{name}")) for name in _module_names(paths)]
    return tuple(sorted(found, key=lambda f: (f.order, f.name)))


def declared(module: ModuleType) -> Format:
    """The ``Format`` a module declares; FormatDeclarationError naming what is wrong."""
    where = getattr(module, "__file__", None) or module.__name__

    def need(attr: str, kind: type | tuple[type, ...]) -> object:
        value = getattr(module, attr, None)
        empty = isinstance(value, str | tuple | list) and not value
        if not isinstance(value, kind) or isinstance(value, bool) or empty:
            raise FormatDeclarationError(f"{where}: a format must declare {attr} ({_what(kind)})")
        return value

    name, kind = need("NAME", str), need("KIND", str)
    if name != module.__name__.rpartition(".")[2]:
        raise FormatDeclarationError(f"{where}: NAME {name!r} is not the module's name")
    if kind not in KINDS:
        raise FormatDeclarationError(f"{where}: KIND must be one of {', '.join(KINDS)}, not {kind!r}")
    description, save_with = need("DESCRIPTION", str), need("SAVE_WITH", str)
    fixtures, order = need("FIXTURES", (tuple, list)), need("ORDER", int)
    if not all(isinstance(f, str) and f for f in fixtures):
        raise FormatDeclarationError(f"{where}: FIXTURES must be globs (strings)")
    missing = [fn for fn in FUNCTIONS[kind] if not callable(getattr(module, fn, None))]
    if missing:
        raise FormatDeclarationError(f"{where}: a {kind} format must define {', '.join(missing)}()")
    if not (module.__doc__ or "").strip():
        raise FormatDeclarationError(f"{where}: a format's docstring is its user documentation; it has none")
    return Format(name=name, kind=kind, description=description, save_with=save_with, fixtures=tuple(fixtures),
                  order=order, module=module)


def _what(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
