"""Minimal reproducers of crashes found by fuzzing and property tests (see fuzz/FINDINGS.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from tcpforensics.ingest import ingest_text
from tests.hostile.test_properties import check_text_account


@pytest.mark.parametrize("value", ["9223372036854775808", "18446744073709551615", "99999999999999999999"])
def test_counter_value_beyond_int64(value):
    # F7: found by test_properties (mutated /proc/net/netstat); a kernel counter is an unsigned
    # 64-bit number, so values past int64 are possible, and a damaged dump can hold anything.
    data = f"TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 {value}\n".encode()
    # Fixed in counters._values: a value that does not fit int64 is NA (unknown), the rest stay exact.
    check_text_account(data, "counters")
    ing = ingest_text(data, "x", "counters")
    values = dict(zip(ing.counters["counter"], ing.counters["value"], strict=True))
    assert values["SyncookiesSent"] == 0 and values["ListenOverflows"] is pd.NA
