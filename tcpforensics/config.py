"""Thresholds and options: documented defaults, overridden by config files and CLI flags."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpforensics.errors import UsageError

#: Every configurable threshold, with its default. Each detector documents the reasoning
#: for its defaults beside the rule that uses them (and docs/detection.md collects them).
#: Detector modules register their own keys here with ``register_defaults``.
DEFAULTS: dict[str, Any] = {}


def register_defaults(values: dict[str, Any]) -> None:
    """Add a detector's default thresholds (called at import time of the detector)."""
    for k, v in values.items():
        DEFAULTS.setdefault(k, v)


@dataclass
class Config:
    """Resolved settings for one run."""

    thresholds: dict[str, Any] = field(default_factory=dict)
    expected_listeners: list[str] | None = None
    source: str = "defaults"

    def get(self, key: str) -> Any:
        """The value of threshold ``key`` (the default when not overridden)."""
        if key in self.thresholds:
            return self.thresholds[key]
        if key in DEFAULTS:
            return DEFAULTS[key]
        raise KeyError(f"unknown threshold {key!r}")


def _table_from(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read config: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from None
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("tcpforensics", {})
    return data.get("tcpforensics", data)


def load(path: str | None = None, cwd: Path | None = None) -> Config:
    """Load settings from ``path`` or, when None, ``tcpforensics.toml`` or the
    ``[tool.tcpforensics]`` table of ``pyproject.toml`` in the working directory."""
    cwd = cwd or Path.cwd()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"{path}: config file not found")
        table, source = _table_from(p), str(p)
    elif (cwd / "tcpforensics.toml").is_file():
        table, source = _table_from(cwd / "tcpforensics.toml"), str(cwd / "tcpforensics.toml")
    elif (cwd / "pyproject.toml").is_file():
        table, source = _table_from(cwd / "pyproject.toml"), "pyproject.toml [tool.tcpforensics]"
    else:
        table, source = {}, "defaults"
    thresholds = dict(table.get("thresholds", {}))
    expected = table.get("expected_listeners")
    if expected is not None and not isinstance(expected, list):
        raise UsageError(f"{source}: expected_listeners must be a list of strings")
    return Config(thresholds=thresholds, expected_listeners=expected, source=source)
