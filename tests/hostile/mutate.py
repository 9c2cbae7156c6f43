"""Near-valid hostile inputs: real dumps and captures mutated the way damage and attackers do."""

from __future__ import annotations

import gzip
import random
import sys
from pathlib import Path

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "fuzz"))
import harness  # noqa: E402  (fuzz/harness.py: the seed lists shared with the fuzzers)

#: Tokens that replace a field: empty, signs, huge numbers, bad addresses, controls, markup.
HOSTILE_TOKENS = (
    "", "-", "-1", "0", "99999999999999999999", "0x", "0xZZ", ":::", "[", "]:80", "*:*", "*.*",
    "::ffff:1.2.3.4:80", "1.2.3.4:", ":65536", "999.1.1.1:22", "fe80::1%eth0:22", "%", "nan", "NaN",
    "ESTABLISHED", "LISTEN", "UNKNOWN", "SYN-RECV", "\x00", "\x1b[31mred\x1b[0m", "é", "Ω", "\u202e",
    "=cmd|' /C calc'!A0", "<script>", "a|b", "users:((\"x\",pid=1,fd=2))", "x" * 5000, "\t", "\r",
)
ENCODINGS = ("utf-16-le", "utf-16-be", "utf-16", "utf-8-sig", "cp850", "cp1252", "latin-1", "cp932")


def seeds(target: str, limit_bytes: int = 200_000) -> list[Path]:
    """Seed files of a target no larger than ``limit_bytes`` (keeps each example cheap)."""
    return [p for p in harness.seed_files(target) if p.stat().st_size <= limit_bytes]


def mutate_text(data: bytes, seed: int, n_ops: int) -> bytes:
    """Apply ``n_ops`` line- and field-level mutations chosen by ``seed``; maybe re-encode."""
    rng = random.Random(seed)
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines()
    for _ in range(n_ops):
        op = rng.randrange(10)
        if not lines:
            lines = [rng.choice(HOSTILE_TOKENS)]
        i = rng.randrange(len(lines))
        if op == 0:  # truncate at a random character
            cut = rng.randrange(len(text) + 1)
            lines = text[:cut].splitlines()
        elif op == 1:  # replace one field of one line
            fields = lines[i].split()
            if fields:
                fields[rng.randrange(len(fields))] = rng.choice(HOSTILE_TOKENS)
            lines[i] = " ".join(fields)
        elif op == 2:  # duplicate a run of lines
            j = min(len(lines), i + rng.randrange(1, 20))
            lines[i:i] = lines[i:j]
        elif op == 3:  # shuffle a window of lines
            j = min(len(lines), i + rng.randrange(2, 30))
            window = lines[i:j]
            rng.shuffle(window)
            lines[i:j] = window
        elif op == 4:  # delete a run of lines
            del lines[i : i + rng.randrange(1, 10)]
        elif op == 5:  # cut a line short
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 6:  # splice a hostile token inside a line
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + rng.choice(HOSTILE_TOKENS) + lines[i][at:]
        elif op == 7:  # swap two fields (column order changes)
            fields = lines[i].split()
            if len(fields) > 1:
                a, b = rng.sample(range(len(fields)), 2)
                fields[a], fields[b] = fields[b], fields[a]
            lines[i] = " ".join(fields)
        elif op == 8:  # join two lines (a lost newline) or split one (wrapping)
            if i + 1 < len(lines) and rng.random() < 0.5:
                lines[i : i + 2] = [lines[i] + lines[i + 1]]
            else:
                at = rng.randrange(len(lines[i]) + 1)
                lines[i : i + 1] = [lines[i][:at], "\t" + lines[i][at:]]
        else:  # a run of repeated header/garbage lines
            lines.insert(i, rng.choice(lines) if rng.random() < 0.5 else rng.choice(HOSTILE_TOKENS))
        text = "\n".join(lines)
    eol = rng.choice(("\n", "\n", "\r\n", "\r"))
    out = eol.join(lines) + (eol if rng.random() < 0.8 else "")
    if rng.random() < 0.25:
        return out.encode(rng.choice(ENCODINGS), errors="replace")
    return out.encode("utf-8", errors="surrogateescape")


def mutate_bytes(data: bytes, seed: int, n_ops: int) -> bytes:
    """Byte-level damage for captures: cuts, flips, lying lengths, duplicated spans, gzip."""
    rng = random.Random(seed)
    a = bytearray(data)
    for _ in range(n_ops):
        if not a:
            break
        op = rng.randrange(7)
        i = rng.randrange(len(a))
        if op == 0:  # cut
            del a[rng.randrange(min(24, len(a)), len(a) + 1) :]
        elif op == 1:  # flip a few bytes after the file header
            for _ in range(rng.randrange(1, 8)):
                a[rng.randrange(min(24, len(a) - 1), len(a))] = rng.randrange(256)
        elif op == 2:  # a 32-bit field that lies: 0xFFFFFFFF, 0, or a huge length
            a[i : i + 4] = rng.choice((b"\xff\xff\xff\xff", b"\0\0\0\0", b"\0\0\0\x80", b"\x10\0\0\0"))
        elif op == 3:  # duplicate a span (records repeated)
            j = min(len(a), i + rng.randrange(1, 4096))
            a[i:i] = a[i:j]
        elif op == 4:  # delete a span (records lose their alignment)
            del a[i : i + rng.randrange(1, 64)]
        elif op == 5:  # insert random bytes
            a[i:i] = rng.randbytes(rng.randrange(1, 32))
        else:  # splice the file onto itself (a second header mid-file)
            a[i:i] = bytes(a[: rng.randrange(1, min(len(a), 4096) + 1)])
    out = bytes(a)
    if rng.random() < 0.15:
        out = gzip.compress(out, compresslevel=1)
        if rng.random() < 0.5:
            out = out[: rng.randrange(10, len(out) + 1)]
    return out
