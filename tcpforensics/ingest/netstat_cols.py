"""Endpoint, port and family columns for the BSD/Windows netstat parsers, on distinct values only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import arrowcols as ac
from tcpforensics.ingest import endpoints


def split_dot(endpoint: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(address, port text) of BSD/macOS endpoints ``addr.port``: the port is the text after
    the last dot, leading blanks dropped (as ``endpoints.split(style="dot")``, which the tests
    compare); without a dot the text is the address and the port is null."""
    dot = pc.fill_null(pc.match_substring(endpoint, "."), False)
    dotted = pc.if_else(dot, endpoint, pc.binary_join_element_wise(endpoint, pa.scalar(".", endpoint.type), pa.scalar("", endpoint.type)))
    parts = pc.split_pattern(dotted, ".", max_splits=1, reverse=True)
    addr = pc.if_else(dot, pc.utf8_ltrim_whitespace(pc.list_element(parts, 0)), endpoint)
    port = pc.if_else(dot, pc.list_element(parts, 1), pa.scalar(None, endpoint.type))
    return addr, port


def ports(port_text: pa.Array, proto: pa.Array) -> pd.Series:
    """Port text -> UInt16: digits converted in pyarrow; service names (``https``) through
    ``endpoints.service_ports`` on the distinct (name, protocol) pairs only; ``*`` and others NA."""
    out = ac.integers(port_text, "UInt16")
    named = ac.matches(pc.fill_null(port_text, ""), r"^[A-Za-z][\w.+-]*$")
    if named.any():
        sel = pa.array(named)
        out[named] = endpoints.service_ports(port_text.filter(sel), pc.fill_null(proto, "tcp").filter(sel))
    return out


def family(local: pa.Array, foreign: pa.Array, told: np.ndarray | None = None) -> pd.Categorical:
    """ipv4/ipv6 from the local address, else from the foreign one ('*' and names tell nothing);
    ``told`` (per row: 0 ipv4, 1 ipv6, -1 not told), the family the protocol column names
    (``tcp4``, ``tcp6``, ``TCPv6``), wins where given."""
    code = endpoints.family_codes(local)
    code = np.where(code >= 0, code, endpoints.family_codes(foreign))
    if told is not None:
        code = np.where(told >= 0, told, code)
    return pd.Categorical.from_codes(code, categories=list(endpoints.FAMILIES))


def categorical(a: pa.Array) -> pd.Categorical:
    """Strings -> Categorical (shared helper)."""
    return ac.categorical(a)
