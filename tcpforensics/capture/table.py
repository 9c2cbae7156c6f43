"""Turn decoded TCP columns (numpy) into the schema's packet event table, compactly."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd

from tcpforensics import schema

#: numpy columns every decoded chunk carries (see ``native.decode_batch``)
RAW_COLUMNS = (
    "ts_ns", "frame", "iface", "caplen", "wirelen", "src", "dst", "is_v6",
    "src_port", "dst_port", "flags", "seq", "ack", "payload_len", "window", "wscale", "wscale_na",
    "opt_mss", "opt_sack_perm", "opt_ts", "ttl", "ip_id", "ip_id_na", "checksum", "tunnel_depth",
)
_MASKED = {  # column -> (numpy dtype, NA-mask column or None); nullable dtype from the schema
    "src_port": (np.uint16, None),
    "dst_port": (np.uint16, None),
    "frame": (np.int64, None),
    "flags": (np.uint16, None),
    "seq": (np.uint32, None),
    "ack": (np.uint32, None),
    "payload_len": (np.uint32, None),
    "window": (np.uint16, None),
    "wscale": (np.int8, "wscale_na"),
    "ttl": (np.uint8, None),
    "ip_id": (np.uint32, "ip_id_na"),
    "caplen": (np.uint32, None),
    "wirelen": (np.uint32, None),
    "iface": (np.uint16, None),
    "tunnel_depth": (np.uint8, None),
}
_DTYPES = {
    **{c: dt for c, (dt, _) in _MASKED.items()},
    "ts_ns": np.int64, "src": np.int32, "dst": np.int32, "is_v6": bool, "wscale_na": bool,
    "opt_mss": bool, "opt_sack_perm": bool, "opt_ts": bool, "ip_id_na": bool, "checksum": np.int8,
}


class AddressBook:
    """Addresses of one capture as int32 codes into a growing list of their text forms.

    Each batch is factorized on integer keys (IPv4 32-bit, IPv6 two 64-bit halves); only
    addresses never seen before are looked up in the dictionaries and turned into text.
    """

    def __init__(self) -> None:
        self.v4_keys = np.zeros(0, dtype=np.uint32)  # sorted IPv4 keys seen so far ...
        self.v4_codes = np.zeros(0, dtype=np.int32)  # ... and their codes
        self.v6: dict[tuple[int, int], int] = {}
        self.names: list[str] = []

    def codes(self, v6: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        out = np.empty(len(v6), dtype=np.int32)
        four = np.flatnonzero(~v6)
        if len(four):
            local, uniq = pd.factorize(lo[four].astype(np.uint32))
            out[four] = self._lookup4(np.asarray(uniq, dtype=np.uint32))[local]
        six = np.flatnonzero(v6)
        if len(six):
            hcodes, huniq = pd.factorize(hi[six])
            lcodes, luniq = pd.factorize(lo[six])
            local, uniq = pd.factorize(hcodes.astype(np.int64) * len(luniq) + lcodes)
            uniq = np.asarray(uniq, dtype=np.int64)
            pairs = zip(np.asarray(huniq)[uniq // len(luniq)].tolist(),
                        np.asarray(luniq)[uniq % len(luniq)].tolist(), strict=True)
            out[six] = self._lookup6(list(pairs))[local]
        return out

    def _lookup4(self, keys: np.ndarray) -> np.ndarray:
        """Codes of distinct IPv4 keys: a sorted search, new addresses appended (vectorized)."""
        pos = np.searchsorted(self.v4_keys, keys)
        known = pos < len(self.v4_keys)
        known[known] = self.v4_keys[pos[known]] == keys[known]
        new = keys[~known]
        if len(new):
            start = len(self.names)
            self.names += [socket.inet_ntoa(k.to_bytes(4, "big")) for k in new.tolist()]
            order = np.argsort(new)
            at = np.searchsorted(self.v4_keys, new[order])
            self.v4_keys = np.insert(self.v4_keys, at, new[order])
            self.v4_codes = np.insert(self.v4_codes, at, (start + order).astype(np.int32))
            pos = np.searchsorted(self.v4_keys, keys)
        return self.v4_codes[pos]

    def _lookup6(self, keys: list[tuple[int, int]]) -> np.ndarray:
        book, names = self.v6, self.names
        for k in keys:
            if k not in book:
                book[k] = len(names)
                names.append(socket.inet_ntop(socket.AF_INET6, k[0].to_bytes(8, "big") + k[1].to_bytes(8, "big")))
        return np.array([book[k] for k in keys], dtype=np.int32)


def concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate decoded chunks column by column, emptying them as it goes (bounded peak)."""
    if not chunks:
        return empty()
    if len(chunks) == 1:
        return chunks[0]
    return {c: np.concatenate([ch.pop(c) for ch in chunks]) for c in RAW_COLUMNS}


def empty() -> dict[str, np.ndarray]:
    """A decoded chunk with no rows."""
    return {c: np.zeros(0, dtype=_DTYPES[c]) for c in RAW_COLUMNS}


def take(cols: dict[str, np.ndarray], sl: slice) -> dict[str, np.ndarray]:
    """Rows ``sl`` of a decoded chunk."""
    return {c: v[sl] for c, v in cols.items()}


def build(cols: dict[str, np.ndarray], input_name: str, names: list[str], compact: bool = False) -> pd.DataFrame:
    """The packet event table (schema dtypes) of decoded columns.

    ``names`` are the address texts the ``src``/``dst`` codes point into; ``compact`` keeps
    only the addresses this table uses as categories (for chunks of a longer capture).
    """
    n = len(cols["frame"])
    src, dst = cols["src"], cols["dst"]
    if compact and n:
        codes, used = pd.factorize(np.concatenate([src, dst]))
        src, dst = codes[:n].astype(np.int32), codes[n:].astype(np.int32)
        names = [names[i] for i in used.tolist()]
    elif compact:
        names = []
    data: dict[str, object] = {
        "ts": cols["ts_ns"].astype(np.int64, copy=False).view("datetime64[ns]"),
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
    for name, (np_dtype, mask_col) in _MASKED.items():
        mask = cols[mask_col] if mask_col else np.zeros(n, dtype=bool)  # one mask per column
        data[name] = pd.arrays.IntegerArray(cols[name].astype(np_dtype, copy=False), mask)
    for name in ("opt_mss", "opt_sack_perm", "opt_ts"):
        data[name] = pd.arrays.BooleanArray(cols[name].astype(bool, copy=False), np.zeros(n, dtype=bool))
    order = schema.event_columns("packet")
    df = pd.DataFrame({c: data[c] for c in order}, copy=False)  # built in schema order and dtypes
    return df if _conforms(df) else schema.conform(df, "packet")


def _conforms(df: pd.DataFrame) -> bool:
    return all(str(t) == str(schema.EVENT_DTYPES[c]) for c, t in df.dtypes.items())
