"""Thresholds and options: documented defaults, overridden by config files and CLI flags."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpforensics.errors import UsageError

#: Every configurable threshold, with its default. Each detector documents the reasoning
#: for its defaults beside the rule that uses them (and docs/detection-*.md collects them).
#: Detector modules register their own keys here with ``register_defaults``.
DEFAULTS: dict[str, Any] = {}

#: One line per threshold (what it measures and why the default), for ``--help``-style listings.
DESCRIPTIONS: dict[str, str] = {}

#: Keys accepted in ``[tool.tcpforensics]`` / ``tcpforensics.toml``.
KNOWN_KEYS: tuple[str, ...] = ("thresholds", "expected_listeners")


def register_defaults(values: dict[str, Any], descriptions: dict[str, str] | None = None) -> None:
    """Add a detector's default thresholds (called at import time of the detector)."""
    for k, v in values.items():
        DEFAULTS.setdefault(k, v)
    for k, v in (descriptions or {}).items():
        DESCRIPTIONS.setdefault(k, v)


def all_defaults() -> dict[str, Any]:
    """Every registered default. The detector modules register theirs when they are imported
    (``tcpforensics.detect``, which the pipeline imports; ``tcpforensics.Config`` loads it too)."""
    return dict(DEFAULTS)


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

    def validate(self) -> Config:
        """Check every override names a registered threshold and has a usable value.

        Raises :class:`UsageError` (exit 2) naming the offending key and where it came from.
        """
        defaults = all_defaults()
        for key, value in self.thresholds.items():
            if key not in defaults:
                close = difflib.get_close_matches(key, list(defaults), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(f"unknown threshold {key!r} (--threshold or {self.source}){hint}")
            self.thresholds[key] = _coerce(key, value, defaults[key], self.source)
        return self


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int | float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            return float(value) if isinstance(default, float) or "." in str(value) else int(value)
        except (TypeError, ValueError):
            pass
    elif isinstance(default, str):
        return str(value)
    raise UsageError(
        f"threshold {key}={value!r} ({source}): expected a {type(default).__name__} like {default!r}"
    )


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
    if not isinstance(table, dict):
        raise UsageError(f"{source}: the tcpforensics settings must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise UsageError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}")
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise UsageError(f"{source}: thresholds must be a table of NAME = VALUE")
    expected = table.get("expected_listeners")
    if isinstance(expected, str):
        expected = [x.strip() for x in expected.split(",") if x.strip()]
    if expected is not None and not (isinstance(expected, list) and all(isinstance(x, str | int) for x in expected)):
        raise UsageError(f"{source}: expected_listeners must be a list of strings")
    if expected is not None:
        expected = [str(x) for x in expected]
    return Config(thresholds=dict(thresholds), expected_listeners=expected, source=source)


def with_overrides(config: Config, thresholds: list[str], expected_listeners: str | None = None) -> Config:
    """``config`` with command-line overrides applied: ``NAME=VALUE`` threshold items (numbers
    parsed as int or float) and a comma-separated listener allow-list."""
    for item in thresholds:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--threshold {item!r}: expected NAME=VALUE")
        config.thresholds[name.strip()] = _number(value.strip())
    if expected_listeners is not None:
        config.expected_listeners = [x.strip() for x in expected_listeners.split(",") if x.strip()]
    return config


def _number(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
