"""Turn decoded TCP columns (numpy) into the schema's packet event table, compactly."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd

from tcpforensics import schema

#: numpy columns every decoded chunk carries (see ``native.decode_batch``)
RAW_COLUMNS = (
    "ts_ns", "frame", "iface", "caplen", "wirelen", "src_hi", "src_lo", "dst_hi", "dst_lo", "is_v6",
    "src_port", "dst_port", "flags", "seq", "ack", "payload_len", "window", "wscale", "wscale_na",
    "opt_mss", "opt_sack_perm", "opt_ts", "ttl", "ip_id", "ip_id_na", "checksum", "tunnel_depth",
)
_MASKED = {  # column -> (nullable dtype, numpy dtype, NA-mask column or None)
    "src_port": ("UInt16", np.uint16, None),
    "dst_port": ("UInt16", np.uint16, None),
    "frame": ("Int64", np.int64, None),
    "flags": ("UInt16", np.uint16, None),
    "seq": ("UInt32", np.uint32, None),
    "ack": ("UInt32", np.uint32, None),
    "payload_len": ("UInt32", np.uint32, None),
    "window": ("UInt16", np.uint16, None),
    "wscale": ("Int8", np.int8, "wscale_na"),
    "ttl": ("UInt8", np.uint8, None),
    "ip_id": ("UInt32", np.uint32, "ip_id_na"),
    "caplen": ("UInt32", np.uint32, None),
    "wirelen": ("UInt32", np.uint32, None),
    "iface": ("UInt16", np.uint16, None),
    "tunnel_depth": ("UInt8", np.uint8, None),
}


def concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate decoded chunks column by column."""
    if not chunks:
        return empty()
    if len(chunks) == 1:
        return chunks[0]
    return {c: np.concatenate([ch[c] for ch in chunks]) for c in RAW_COLUMNS}


def empty() -> dict[str, np.ndarray]:
    """A decoded chunk with no rows."""
    out = {c: np.zeros(0, dtype=_MASKED.get(c, (None, np.int64))[1]) for c in RAW_COLUMNS}
    for c in ("is_v6", "wscale_na", "ip_id_na", "opt_mss", "opt_sack_perm", "opt_ts"):
        out[c] = np.zeros(0, dtype=bool)
    for c in ("src_hi", "src_lo", "dst_hi", "dst_lo"):
        out[c] = np.zeros(0, dtype=np.uint64)
    out["checksum"] = np.zeros(0, dtype=np.int8)
    return out


def take(cols: dict[str, np.ndarray], sl: slice) -> dict[str, np.ndarray]:
    """Rows ``sl`` of a decoded chunk."""
    return {c: v[sl] for c, v in cols.items()}


def build(cols: dict[str, np.ndarray], input_name: str) -> pd.DataFrame:
    """The packet event table (schema dtypes) of decoded columns."""
    n = len(cols["frame"])
    src, dst, names = addresses(cols)
    zeros = np.zeros(n, dtype=bool)
    data: dict[str, object] = {
        "ts": cols["ts_ns"].astype(np.int64).view("datetime64[ns]"),
        "input": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[input_name]),
        "kind": pd.Categorical.from_codes(np.full(n, schema.KINDS.index("packet"), dtype=np.int8),
                                          dtype=schema.KIND_DTYPE),
        "proto": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=["tcp"]),
        "family": pd.Categorical.from_codes(cols["is_v6"].astype(np.int8), categories=["ipv4", "ipv6"]),
        "src_addr": pd.Categorical.from_codes(src, categories=names),
        "dst_addr": pd.Categorical.from_codes(dst, categories=names),
        "line": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
        "checksum": pd.Categorical.from_codes(cols["checksum"], dtype=schema.CHECKSUM_DTYPE),
    }
    for name, (_, np_dtype, mask_col) in _MASKED.items():
        mask = cols[mask_col] if mask_col else zeros
        values = cols[name].astype(np_dtype, copy=False)
        cls = pd.arrays.IntegerArray
        data[name] = cls(values, mask.copy())
    for name in ("opt_mss", "opt_sack_perm", "opt_ts"):
        data[name] = pd.arrays.BooleanArray(cols[name].astype(bool, copy=False), zeros.copy())
    df = pd.DataFrame(data)
    return schema.conform(df, "packet")


def addresses(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Codes of source and destination addresses into one list of unique address strings.

    Addresses are factorized as integers (IPv4 32-bit, IPv6 two 64-bit halves); only the
    unique ones are turned into text.
    """
    n = len(cols["frame"])
    v6 = np.concatenate([cols["is_v6"], cols["is_v6"]])
    lo = np.concatenate([cols["src_lo"], cols["dst_lo"]])
    if not v6.any():
        codes, uniq = pd.factorize(lo)
        names = [socket.inet_ntoa(int(x).to_bytes(4, "big")) for x in uniq]
    else:
        hi = np.concatenate([cols["src_hi"], cols["dst_hi"]])
        hcodes, huniq = pd.factorize(hi)
        lcodes, luniq = pd.factorize(lo)
        key = (hcodes.astype(np.int64) * len(luniq) + lcodes) * 2 + v6
        codes, uniq = pd.factorize(key)
        uniq = np.asarray(uniq, dtype=np.int64)
        is6 = (uniq & 1).astype(bool)
        pair = uniq >> 1
        uhi = np.asarray(huniq)[pair // len(luniq)]
        ulo = np.asarray(luniq)[pair % len(luniq)]
        names = [
            socket.inet_ntop(socket.AF_INET6, int(a).to_bytes(8, "big") + int(b).to_bytes(8, "big"))
            if s else socket.inet_ntoa(int(b).to_bytes(4, "big"))
            for s, a, b in zip(is6.tolist(), uhi.tolist(), ulo.tolist(), strict=True)
        ]
    codes = codes.astype(np.int32)
    return codes[:n], codes[n:], names
