"""Streaming gzip decompression that keeps the data before damage and stops gzip bombs."""

from __future__ import annotations

import io
import zlib


class Gunzip(io.RawIOBase):
    """gzip decompression (any number of members) that keeps every byte before damage.

    Unlike ``gzip.GzipFile`` it does not lose the last read's data when the stream is cut,
    inflates at most about a read's worth at a time, and stops a stream that inflates more than
    ``MAX_RATIO`` times its compressed size (a gzip bomb). ``error`` says why it ended early.
    """

    MAX_RATIO = 250  # real captures compress 2-50x; zeros 1000x
    RATIO_FROM = 32 * 1024 * 1024  # checked once this much has been inflated

    def __init__(self, fh: io.BufferedIOBase) -> None:
        self.fh = fh
        self.z = zlib.decompressobj(wbits=31)
        self.inbuf = b""  # compressed bytes not yet given to zlib
        self.fed = False  # the current member has started
        self.out = b""
        self.pos = 0
        self.read_in = 0
        self.inflated = 0
        self.error = ""
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:
        while self.pos >= len(self.out) and not self.done:
            self._inflate(max(len(b), 1 << 16))
        n = min(len(b), len(self.out) - self.pos)
        b[:n] = self.out[self.pos : self.pos + n]
        self.pos += n
        return n

    def _inflate(self, want: int) -> None:
        if not self.z.unconsumed_tail and not self.inbuf:
            self.inbuf = self.fh.read(1 << 20)
            self.read_in += len(self.inbuf)
            if not self.inbuf:
                self.done = True
                if self.fed:
                    self.error = "compressed stream ends early (cut gzip file)"
                return
        data = self.z.unconsumed_tail or self.inbuf
        if data is self.inbuf:
            self.inbuf = b""
        try:
            self.out, self.pos = self.z.decompress(data, want), 0
        except zlib.error as e:
            self.error, self.done = f"compressed stream is corrupt ({e})", True
            return
        self.fed = True
        if self.z.eof:  # end of a member: another may follow
            self.inbuf = self.z.unused_data + self.inbuf
            self.z = zlib.decompressobj(wbits=31)
            self.fed = False
            if not self.inbuf.strip(b"\0") and not self.fh.peek(1):
                self.inbuf = b""  # zero padding after the last member
        self.inflated += len(self.out)
        consumed = self.read_in - len(self.inbuf) - len(self.z.unconsumed_tail)
        if self.inflated > self.RATIO_FROM and self.inflated > self.MAX_RATIO * max(consumed, 1):
            self.error = f"decompression ratio over {self.MAX_RATIO}:1, taken as a gzip bomb"
            self.done = True
