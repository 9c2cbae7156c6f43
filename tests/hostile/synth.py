"""Synthesize hostile inputs cheaply (numpy): many-flow captures, lying headers, gzip bombs."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet, us
_FRAME = 14 + 20 + 20  # Ethernet + IPv4 + TCP, no payload


def syn_flows(path: Path, n: int) -> Path:
    """A pcap of ``n`` SYN packets, each a distinct flow (source address and port vary)."""
    rec = np.zeros((n, 16 + _FRAME), dtype=np.uint8)
    i = np.arange(n, dtype=np.uint32)
    hdr = rec[:, :16].view("<u4")
    hdr[:, 0] = 1_700_000_000 + i // 100_000  # ts_sec
    hdr[:, 1] = i % 1_000_000  # ts_usec
    hdr[:, 2] = _FRAME
    hdr[:, 3] = _FRAME
    eth = rec[:, 16:30]
    eth[:, 12:14] = (0x08, 0x00)
    ip = rec[:, 30:50]
    ip[:, 0] = 0x45
    ip[:, 2:4] = (0, 40)
    ip[:, 8] = 64
    ip[:, 9] = 6
    src = (np.uint32(10 << 24) + i // 60000).astype(">u4").view(np.uint8).reshape(n, 4)
    ip[:, 12:16] = src
    ip[:, 16:20] = (127, 0, 0, 1)
    tcp = rec[:, 50:70]
    sport = (1024 + i % 60000).astype(">u2").view(np.uint8).reshape(n, 2)
    tcp[:, 0:2] = sport
    tcp[:, 2:4] = (0, 80)
    tcp[:, 4:8] = i.astype(">u4").view(np.uint8).reshape(n, 4)
    tcp[:, 12] = 0x50
    tcp[:, 13] = 0x02  # SYN
    tcp[:, 14:16] = (0xFF, 0xFF)
    path.write_bytes(PCAP_HEADER + rec.tobytes())
    return path


def lying_caplen(path: Path, good: int = 3, claim: int = 0xFFFFFFF0) -> Path:
    """``good`` valid SYN records, then a record header that claims ``claim`` captured bytes."""
    syn_flows(path, good)
    bad = struct.pack("<IIII", 1_700_000_100, 0, claim, claim) + b"\0" * 64
    path.write_bytes(path.read_bytes() + bad)
    return path


def gzip_zero_bomb(path: Path, gib: float, member_mib: int = 16) -> Path:
    """A multi-member gzip pcap: a pcap header, then ``gib`` GiB of zero bytes (~1000:1)."""
    member = gzip.compress(b"\0" * (member_mib << 20), compresslevel=9)
    first = gzip.compress(PCAP_HEADER + b"\0" * ((member_mib << 20) - len(PCAP_HEADER)), compresslevel=9)
    count = max(1, int(gib * 1024 / member_mib))
    with path.open("wb") as fh:
        fh.write(first)
        for _ in range(count - 1):
            fh.write(member)
    return path


def syn_frames(n: int) -> list[bytes]:
    """The Ethernet frames of :func:`syn_flows` (for building pcapng files)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        data = syn_flows(Path(d) / "s.pcap", n).read_bytes()[len(PCAP_HEADER):]
    size = 16 + _FRAME
    return [data[i * size + 16 : (i + 1) * size] for i in range(n)]


def pcapng_block(btype: int, body: bytes, length: int | None = None) -> bytes:
    """One little-endian pcapng block; ``length`` overrides (lies in) both length fields."""
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body) if length is None else length
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def pcapng(frames: list[bytes], tail: bytes = b"") -> bytes:
    """Section header, one Ethernet interface, an enhanced packet block per frame, then ``tail``."""
    out = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           pcapng_block(1, struct.pack("<HHI", 1, 0, 65535))]
    for i, f in enumerate(frames):
        out.append(pcapng_block(6, struct.pack("<IIIII", 0, 0, i, len(f), len(f)) + f))
    return b"".join(out) + tail
