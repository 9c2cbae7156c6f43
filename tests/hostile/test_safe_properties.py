"""Property tests of the output sanitizers: for any text, cells are inert in their target."""

from __future__ import annotations

import re

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tcpforensics.report import safe

HOSTILE = st.text(alphabet=st.sampled_from(list("=+-@\t\r\n|`<>&*_[]()#!~\\\x1b\x07\x9b\u202e\u2066 a1é東")) | st.characters(),
                  max_size=60)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FAST = settings(max_examples=300, deadline=None, database=None)


@FAST
@given(HOSTILE)
def test_terminal_text_has_no_controls(s):
    out = safe.terminal(s)
    assert not _CONTROL.search(out)


@FAST
@given(HOSTILE)
def test_markdown_cell_cannot_break_its_table_or_inject_markup(s):
    out = safe.markdown_cell(s)
    assert not _CONTROL.search(out)
    assert _escaped_ok(out)
    assert "<" not in out and ">" not in out


def _escaped_ok(out: str) -> bool:
    # a pipe or backtick is fine when preceded by an odd number of backslashes
    for m in re.finditer(r"[|`]", out):
        run = len(out[: m.start()]) - len(out[: m.start()].rstrip("\\"))
        if run % 2 == 0:
            return False
    return True


@FAST
@given(HOSTILE)
def test_csv_cell_never_starts_a_formula(s):
    out = safe.csv_cell(s)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(HOSTILE | st.none(), max_size=20))
def test_terminal_column_agrees_with_terminal(values):
    term = safe.terminal_column(pd.Series(values, dtype=object))
    for v, t in zip(values, term, strict=True):
        assert pd.isna(t) if v is None else t == safe.terminal(v)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(HOSTILE | st.none(), max_size=20))
@example(["\x1b[0m=cmd|' /C calc'!A0"])
@example(["\u202e=1+1", "\x00@x"])
def test_csv_column_never_starts_a_formula(values):
    csv = safe.csv_column(pd.Series(values, dtype=object))
    for v, c in zip(values, csv, strict=True):
        if v is None:
            assert pd.isna(c)
        else:
            assert not _CONTROL.search(c) and not c.startswith(("=", "+", "-", "@", "\t", "\r")), (v, c)
