"""Minimal reproducers of crashes found by fuzzing and property tests (see fuzz/FINDINGS.md)."""

from __future__ import annotations

import pytest

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest_text
from tests.hostile.test_properties import check_text_account


@pytest.mark.xfail(strict=True, raises=TypeError, reason="F7 (ingest/counters.py _readings): a value past "
                   "int64 raises 'cannot safely cast non-equivalent uint64/float64 to int64'")
@pytest.mark.parametrize("value", ["9223372036854775808", "18446744073709551615", "99999999999999999999"])
def test_counter_value_beyond_int64(value):
    # F7: found by test_properties (mutated /proc/net/netstat); a kernel counter is an unsigned
    # 64-bit number, so values past int64 are possible, and a damaged dump can hold anything.
    data = f"TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 {value}\n".encode()
    check_text_account(data, "counters")
    try:
        ing = ingest_text(data, "x", "counters")
    except InputError:
        return
    assert ing.counters is not None and len(ing.counters) >= 1
