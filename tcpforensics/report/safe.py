"""Make cell values safe for the tool that reads them next: spreadsheets, Markdown, terminals."""

from __future__ import annotations

import re

import pandas as pd

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, 8-bit CSI.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
# C0 and C1 controls, DEL, and Unicode bidi overrides/isolates (text that reads differently
# from how it is stored, "Trojan Source").
_CTRL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"[\t\r\n\v\f]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Markdown punctuation that could start emphasis, code, links, tables or headings in a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")


def is_missing(value: object) -> bool:
    """True for None, NaN, NA and NaT (never for lists or dicts)."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict, set)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def terminal(value: object) -> str:
    """One line of plain text: ANSI escapes and control characters removed, whitespace folded.

    A process name, hostname or state token read from evidence is untrusted: it must not move
    the cursor, recolour the terminal, set its title, or reorder text.
    """
    if is_missing(value):
        return ""
    s = _SPACE.sub(" ", str(value))
    return _CTRL.sub("", _ANSI.sub("", s))


def csv_cell(value: object) -> object:
    """Neutralize spreadsheet formulas: cells beginning with = + - @ tab or CR get a ' prefix.

    Numbers stay numbers (a negative number is data, not a formula).
    """
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START) or terminal(value).startswith(_FORMULA_START):
        return "'" + value  # also when escapes or controls hide the formula until stripped
    return value


def markdown_cell(value: object) -> str:
    """Escape a value for a Markdown table cell: pipes, backticks, emphasis, links, HTML.

    Control characters and ANSI escapes are stripped first (as for the terminal), and line
    breaks become spaces, so a cell can neither break the table nor inject markup.
    """
    s = terminal(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def terminal_column(s: pd.Series) -> pd.Series:
    """``terminal`` over a whole string column (vectorized; NA stays NA)."""
    st = s.astype(pd.StringDtype("python"))
    return st.str.replace(_SPACE, " ", regex=True).str.replace(_ANSI, "", regex=True).str.replace(_CTRL, "", regex=True)


def csv_column(s: pd.Series) -> pd.Series:
    """``terminal`` then the ``csv_cell`` prefix over a whole string column (vectorized; NA stays NA)."""
    st = s.astype(pd.StringDtype("python"))
    clean = terminal_column(st)
    # a formula hidden behind an escape sequence or control character counts too
    formula = (st.str.startswith(_FORMULA_START) | clean.str.startswith(_FORMULA_START)).fillna(False).astype(bool)
    return clean.mask(formula, "'" + clean)


def flat(value: object) -> object:
    """Lists become ``a;b``, dicts ``k=v;k=v``, missing values None (a flat table cell)."""
    if isinstance(value, (list, tuple, set)):
        return ";".join(map(str, value))
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    return None if is_missing(value) else value
