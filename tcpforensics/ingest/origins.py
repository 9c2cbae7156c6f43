"""Which host and collection an input came from, when the collection says so.

A collection is a folder or an archive named as a source, or an archive met in a folder. A
collector records the host it ran on, in its log or beside its results, and names its output
after it; the first rule that holds names the collection's host, and every input of it is
shown with that host (``inputs`` of the report) and that collection:

* ``HOST_RULES``: a file of the collection (by its path inside it) whose first lines name the
  host: UAC's ``uac.log``, Velociraptor's ``client_info.json``, KAPE's console log, UAC's
  ``hostname.txt``; a CyLR zip (it holds ``CyLR_Collection_Log_*.log``) is named after the host.
* ``NAME_RULES``: the collection's own name, as the collectors name their output by default
  (``uac-web01-linux-20240101120000.tar.gz``, ``Collection-WIN10-2021-11-21T18_05_56Z.zip``).

A collection that says nothing gets no host (its inputs are still named by their paths). The
files a rule reads are read only for that: at most :data:`HINT_BYTES` of each.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

#: Bytes of a file read to find the host in it (the collectors write it in their first lines).
HINT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Origin:
    """Where an input came from: its collection (as named) and, when it says, its host."""

    collection: str
    host: str | None = None
    collector: str | None = None


class HostRule(NamedTuple):
    """A file of a collection that names its host: which collector writes it, its path inside
    the collection (a regular expression over the whole relative path, '/' separated), how the
    host is read from its text and the collection's name, and what the rule relies on."""

    collector: str
    path: str
    host: Callable[[str, str], str | None]
    why: str


class NameRule(NamedTuple):
    """A collector's default output name (the ``host`` group of a regular expression over the
    collection's name without its archive extensions)."""

    collector: str
    pattern: str
    why: str


def _line(pattern: str) -> Callable[[str, str], str | None]:
    rx = re.compile(pattern, re.MULTILINE)
    return lambda text, _name: (m.group(1).strip() or None) if (m := rx.search(text)) else None


def _json_host(text: str, _name: str) -> str | None:
    try:
        info = json.loads(text)
    except ValueError:
        return None
    keys = {k.lower(): v for k, v in info.items()} if isinstance(info, dict) else {}
    return next((str(keys[k]) for k in ("hostname", "fqdn") if keys.get(k)), None)


def _first_line(text: str, _name: str) -> str | None:
    return next((s for line in text.splitlines() if (s := line.strip())), None)


#: Files that name the host, first match wins.
HOST_RULES: tuple[HostRule, ...] = (
    HostRule("UAC", r"(?:.*/)?uac\.log", _line(r"^\d{4}-\d\d-\d\d \S+ [+-]\d{4} INFO? Hostname: (\S.*)$"),
             "uac.log's header line 'YYYY-MM-DD HH:MM:SS +zzzz INF Hostname: <host>'"),
    HostRule("Velociraptor", r"(?:.*/)?client_info\.json", _json_host,
             "the offline collection's client_info.json: its Hostname (else Fqdn), keys in any case"),
    HostRule("KAPE", r"(?:.*/)?[^/]*_ConsoleLog\.txt", _line(r"Machine name: ([^,\r\n]+)"),
             "KAPE's console log: 'System info: Machine name: <host>, ...'"),
    HostRule("UAC", r"(?:.*/)?live_response/network/hostname\.txt", _first_line,
             "UAC's output of `hostname` (live_response/network/hostname.txt)"),
    HostRule("CyLR", r"(?:.*/)?CyLR_Collection_Log_[^/]*\.log", lambda _text, name: _stem(name) or None,
             "a CyLR zip (it holds CyLR_Collection_Log_*.log) is named after the machine: <host>.zip"),
)

#: Collectors' default output names, first match wins.
NAME_RULES: tuple[NameRule, ...] = (
    NameRule("UAC", r"uac-(?P<host>.+)-(?P<os>[A-Za-z0-9_]+)-\d{14}",
             "UAC's default output name uac-%hostname%-%os%-%timestamp% (timestamp YYYYMMDDhhmmss)"),
    NameRule("Velociraptor", r"Collection-(?P<host>.+)-\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d(?:_\d+)*(?:Z|[-_]\d\d_\d\d)?",
             "the offline collector's default name Collection-%Hostname%-%TIMESTAMP% (non-alphanumerics as _)"),
)

_HINT = re.compile("|".join(f"(?:{r.path})" for r in HOST_RULES))
_ARCHIVE_SUFFIX = re.compile(r"(?:\.(?:tar|zip|tgz|tbz2?|txz))?(?:\.(?:gz|bz2|xz))?$", re.IGNORECASE)


def is_hint(relative: str) -> bool:
    """Whether a file at this path inside a collection is one a host rule reads."""
    return _HINT.fullmatch(relative.replace("\\", "/")) is not None


def origin(collection: str, hints: dict[str, bytes]) -> Origin:
    """The origin of a collection named ``collection``, from the heads of its hint files
    (relative path -> first bytes) and its own name."""
    name = os.path.basename(os.path.normpath(collection))
    for rule in HOST_RULES:
        for rel in sorted(hints):
            if re.fullmatch(rule.path, rel.replace("\\", "/")):
                host = rule.host(hints[rel][:HINT_BYTES].decode("utf-8", "replace"), name)
                if host:
                    return Origin(collection, host, rule.collector)
    stem = _stem(name)
    for n in NAME_RULES:
        if m := re.fullmatch(n.pattern, stem):
            return Origin(collection, m.group("host"), n.collector)
    return Origin(collection)


def _stem(name: str) -> str:
    """A collection's name without its archive extensions."""
    return _ARCHIVE_SUFFIX.sub("", name)
