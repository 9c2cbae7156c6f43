"""The helper library of the text formats: where two variants differ, the keyword says how."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints

LINES = pa.array(["users:((\"sshd\",pid=7", "users:((\"\",pid=8", "no match", None], type=pa.large_string())
USERS = r'users:\(\("(?P<proc>[^"]*)",pid=(?P<pid>[0-9]+)'


def test_extract_gives_null_or_empty_text_where_nothing_was_matched() -> None:
    as_null = cols.extract(LINES, USERS, empty_as_null=True)
    kept = cols.extract(LINES, USERS, empty_as_null=False)
    assert as_null["proc"].to_pylist() == ["sshd", None, None, None]
    assert kept["proc"].to_pylist() == ["sshd", "", "", ""]
    assert kept["pid"].to_pylist() == ["7", "8", "", ""]


def test_categorical_keeps_or_drops_the_empty_string() -> None:
    a = pa.array(["b", "", "a", None, "b"], type=pa.large_string())
    kept = cols.categorical(a, empty_as_na=False)
    dropped = cols.categorical(a, empty_as_na=True)
    assert list(kept.categories) == ["b", "", "a"] and kept.categories.dtype == object
    assert list(dropped.categories) == ["b", "a"] and pd.isna(dropped[1]) and pd.isna(dropped[3])
    as_str = cols.categorical(a, empty_as_na=True, str_categories=True)
    assert list(as_str.categories) == ["b", "a"] and as_str.categories.dtype != object
    assert list(cols.categorical(pa.array([None, None], type=pa.large_string()), empty_as_na=False).codes) == [-1, -1]


def test_first_match_takes_the_first_rule_that_claims_a_line() -> None:
    arr = pa.array(["", "  ", "tcp 1", "header", "x"], type=pa.large_string())
    header = np.array([False, False, False, True, False])
    assert cols.first_match(arr, [r"^\s*$", r"^tcp ", header, r"."]).tolist() == [0, 0, 1, 2, 3]
    assert cols.first_match(arr, [r"^tcp "]).tolist() == [-1, -1, 0, -1, -1]


def test_integers_decimal_and_hexadecimal() -> None:
    a = pa.array(["12", "", None, "0x1", "99999999999999999999", "00080"], type=pa.large_string())
    assert cols.integers(a, "UInt16").tolist() == [12, pd.NA, pd.NA, pd.NA, pd.NA, 80]
    h = pa.array(["0A", "", None, "zz", "FFFF"], type=pa.large_string())
    assert cols.hex_integers(h).tolist() == [10, pd.NA, pd.NA, pd.NA, 65535]


def test_clean_lines_reads_missing_as_empty_and_no_break_spaces_as_spaces() -> None:
    got = cols.clean_lines(pd.Series(["a\u00a0b", None, "c"], dtype=object))
    assert got.to_pylist() == ["a b", "", "c"]
    assert cols.strings_or_empty(pd.Series(["a\u00a0b", None], dtype=object)).to_pylist() == ["a\u00a0b", ""]


def test_port_numbers_resolve_service_names_per_protocol() -> None:
    ports = pa.array(["22", "00022", "*", None, "domain", "70000"], type=pa.large_string())
    got = endpoints.port_numbers(ports, pa.array(["tcp", "tcp", "tcp", "tcp", "udp", None], type=pa.large_string()))
    assert got.tolist()[:4] == [22, 22, pd.NA, pd.NA]
    assert got.tolist()[5] is pd.NA
    # the Series reading of tests and scripts takes 1 to 5 digits only
    assert endpoints.ports(pd.Series(["22", "000022"])).tolist() == [22, pd.NA]
