"""Make cell values safe for the tool that reads them next: spreadsheets, Markdown, terminals."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal(value: object) -> str:
    """Strip ANSI escape sequences and control characters (a process name is untrusted)."""
    s = "" if value is None else str(value)
    return _CTRL.sub("", _ANSI.sub("", s))


def csv_cell(value: object) -> object:
    """Neutralize spreadsheet formulas: cells beginning with = + - @ tab or CR get a ' prefix.

    Numbers stay numbers (a negative number is data, not a formula).
    """
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def markdown_cell(value: object) -> str:
    """Escape a value for a Markdown table cell: pipes, backticks, HTML, newlines."""
    s = terminal(value)
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("\r", " ").replace("\n", " ")
    return s
