"""Endpoint columns: printed endpoints ('addr:port', '[v6%zone]:port', BSD 'addr.port') split
into addresses, port numbers and families, vectorized.

The format modules work on pyarrow columns (``split_dot``, ``port_numbers``, ``family_codes``,
``families``, ``service_ports``); ``split`` and ``ports`` take and give pandas Series, the
reading that tests and scripts check the formats' faster splits against."""

from __future__ import annotations

import socket
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.parsing import columns as cols

# addr:port with optional [brackets]; the port is the text after the LAST separator.
_COLON = r"^\s*(?:\[(?P<b>[^\]]*)\]|(?P<a>.*?))(?::(?P<p>[^:\]]*))?\s*$"
# BSD/macOS: the port is the text after the LAST dot ("10.0.0.1.22", "*.*", "fe80::1%lo0.123").
_DOT = r"^\s*(?P<a>.*)\.(?P<p>[^.]*)\s*$"


def split(endpoints: pd.Series, style: str = "colon") -> tuple[pd.Series, pd.Series]:
    """Return (address, port text) for each printed endpoint; brackets removed.

    ``style="colon"``: Linux/Windows ``addr:port`` (IPv6 in brackets or bare with the port
    after the last colon). ``style="dot"``: BSD/macOS ``addr.port``.
    """
    s = endpoints.astype(object).fillna("").astype(str)
    if style == "dot":
        m = s.str.extract(_DOT)
        return m["a"].fillna(s), m["p"]
    m = s.str.extract(_COLON)
    addr = m["b"].where(m["b"].notna(), m["a"])
    return addr, m["p"]


FAMILIES = ("ipv4", "ipv6")


def family_codes(addresses: pa.Array) -> np.ndarray:
    """Per address: 1 (ipv6: a colon), 0 (ipv4: dotted quad) or -1 (unknown, null)."""
    v6 = cols.mask(pc.match_substring(addresses, ":"))
    v4 = cols.matches(addresses, r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")
    return np.where(v6, 1, np.where(v4, 0, -1)).astype(np.int8)


@lru_cache(maxsize=4096)
def _service(name: str, proto: str) -> int | None:
    try:
        return socket.getservbyname(name, proto)
    except (OSError, UnicodeError, ValueError):  # unknown, unencodable, NUL inside
        return None


def service_ports(names: pa.Array, protos: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Service names (``http``, ``ssh``) -> UInt16 port numbers through the system services
    table, per row's protocol (``udp``/``udp6`` look up udp, anything else tcp); NA when unknown.
    Looks up each distinct (name, protocol) pair once."""
    names = _text(names)
    udp = pc.equal(pc.utf8_rtrim(pc.utf8_lower(_text(protos)), "6"), "udp")
    names = names.cast(pa.large_string())
    tag = pc.if_else(udp, pa.scalar("u", pa.large_string()), pa.scalar("t", pa.large_string()))
    key = pc.binary_join_element_wise(tag, names, pa.scalar("\x00", pa.large_string()))
    d = pc.dictionary_encode(key)
    found = [_service(k[2:], "udp" if k[0] == "u" else "tcp") for k in d.dictionary.to_pylist()]
    table = np.array([np.nan if f is None else f for f in found], dtype=float)
    codes = np.asarray(d.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.array(table[codes] if len(table) else np.full(len(codes), np.nan), dtype="Float64").astype("UInt16")


def ports(text: pd.Series | pa.Array, proto: pd.Series | pa.Array | str = "tcp") -> pd.Series:
    """Port text -> UInt16 (Series index kept): numbers of 1 to 5 digits, blanks around them
    ignored; service names (``http``, ``ssh``) through the system services table; ``*``, empty
    and unknown names -> NA. Looks up unique names only."""
    t = pc.utf8_trim_whitespace(_text(text))
    num = cols.integers(pc.if_else(pc.match_substring_regex(t, r"^[0-9]{1,5}$"), t, ""), "UInt16")
    named = cols.matches(t, r"^[A-Za-z][\w.+-]*$")
    if named.any():
        sel = pa.array(named)
        pr = pa.array(np.full(len(t), proto, dtype=object), type=pa.large_string()) if isinstance(proto, str) \
            else _text(proto)
        num[named] = service_ports(t.filter(sel), pr.filter(sel))
    if isinstance(text, pd.Series):
        num.index = text.index
    return num


def _text(values: pd.Series | pd.Categorical | pa.Array) -> pa.Array:
    """Strings as a pyarrow string array, missing -> "" (other values of a Series as ``str``)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pd.Series(values)
        if not isinstance(values.dtype, pd.StringDtype):
            values = values.astype(object).fillna("").astype(str)
    return pc.fill_null(cols.strings(values), "")


def port_numbers(port_text: pa.Array, proto: pa.Array | pd.Series) -> pd.Series:
    """Port text -> UInt16: digit strings within 0..65535 (leading zeros allowed); service
    names (``https``) through ``service_ports`` on the distinct (name, protocol) pairs only,
    a missing protocol read as tcp; ``*`` and anything else NA."""
    out = cols.integers(port_text, "UInt16")
    named = cols.matches(pc.fill_null(port_text, ""), r"^[A-Za-z][\w.+-]*$")
    if named.any():
        sel = pa.array(named)
        if isinstance(proto, pd.Series):
            protos = pd.Series(proto[named])
        else:
            protos = pc.fill_null(proto, "tcp").filter(sel)
        out[named] = service_ports(port_text.filter(sel), protos)
    return out


def split_dot(endpoint: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(address, port text) of BSD/macOS endpoints ``addr.port``: the port is the text after
    the last dot, leading blanks dropped (as ``split(style="dot")``, which the tests compare);
    without a dot the text is the address and the port is null."""
    dot = pc.fill_null(pc.match_substring(endpoint, "."), False)
    dotted = pc.if_else(dot, endpoint, pc.binary_join_element_wise(endpoint, pa.scalar(".", endpoint.type), pa.scalar("", endpoint.type)))
    parts = pc.split_pattern(dotted, ".", max_splits=1, reverse=True)
    addr = pc.if_else(dot, pc.utf8_ltrim_whitespace(pc.list_element(parts, 0)), endpoint)
    port = pc.if_else(dot, pc.list_element(parts, 1), pa.scalar(None, endpoint.type))
    return addr, port


def families(local: pa.Array, foreign: pa.Array, told: np.ndarray | None = None) -> pd.Categorical:
    """ipv4/ipv6 from the local address, else from the foreign one ('*' and names tell nothing);
    ``told`` (per row: 0 ipv4, 1 ipv6, -1 not told), the family the protocol column names
    (``tcp4``, ``tcp6``, ``TCPv6``), wins where given."""
    code = family_codes(local)
    code = np.where(code >= 0, code, family_codes(foreign))
    if told is not None:
        code = np.where(told >= 0, told, code)
    return pd.Categorical.from_codes(code, categories=list(FAMILIES))


def socket_columns(proto: pa.Array, local: pa.Array, local_port: pa.Array, remote: pa.Array, remote_port: pa.Array,
                   told: np.ndarray | None = None) -> dict[str, object]:
    """The proto, family, src/dst address and port columns of a socket table's rows, from their
    texts (``told``: the family a column stated, as for :func:`families`)."""
    return {
        "proto": cols.categorical(proto, empty_as_na=True),
        "family": families(local, remote, told),
        "src_addr": cols.categorical(local, empty_as_na=True),
        "src_port": port_numbers(local_port, proto).array,
        "dst_addr": cols.categorical(remote, empty_as_na=True),
        "dst_port": port_numbers(remote_port, proto).array,
    }
