"""Exceptions that carry a one-line message for the user (never a traceback)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def reading(input_name: str) -> Iterator[None]:
    """Turn the OS errors of opening or reading ``input_name`` into one-line InputErrors."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(input_name, "no such file") from None
    except IsADirectoryError:
        raise InputError(input_name, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(input_name, "permission denied") from None
    except OSError as e:
        raise InputError(input_name, f"cannot read: {e.strerror or e}") from None
