"""Exceptions that carry a one-line message for the user (never a traceback)."""

from __future__ import annotations

import re

# C0/C1 controls (newlines, ESC), DEL and bidi overrides: a file name or a tool's error text
# holding them could split the one-line message or drive the terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x1b``): one safe line."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class InputError(Exception):
    """Unusable input: the CLI prints ``tcpforensics: <input>: <reason>`` and exits 2.

    ``input_name`` and ``reason`` keep the raw text; the message escapes control characters.
    """

    def __init__(self, input_name: str, reason: str) -> None:
        super().__init__(f"{one_line(input_name)}: {one_line(reason)}")
        self.input_name = input_name
        self.reason = reason


class UsageError(Exception):
    """Bad options or configuration: exit 2 with one line."""
