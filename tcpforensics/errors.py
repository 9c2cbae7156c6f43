"""Exceptions that carry a one-line message for the user (never a traceback)."""

from __future__ import annotations


class InputError(Exception):
    """Unusable input: the CLI prints ``tcpforensics: <input>: <reason>`` and exits 2."""

    def __init__(self, input_name: str, reason: str) -> None:
        super().__init__(f"{input_name}: {reason}")
        self.input_name = input_name
        self.reason = reason


class UsageError(Exception):
    """Bad options or configuration: exit 2 with one line."""
