"""textio.decode: BOMs, BOM-less UTF-16, UTF-8 and Windows OEM/ANSI code pages told apart."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import textio
from tests.conftest import FIXTURES

WINDOWS = FIXTURES / "windows"


def _text(name: str) -> str:
    return (WINDOWS / name).read_text(encoding="utf-8")


def test_utf8_plain_and_with_bom() -> None:
    t = _text("de_netstat-an.txt")
    assert textio.decode(t.encode("utf-8")) == (t, "utf-8")
    assert textio.decode(codecs.BOM_UTF8 + t.encode("utf-8")) == (t, "utf-8-sig")


@pytest.mark.parametrize("enc, name", [("utf-16", "utf-16"), ("utf-16-be", None)])
def test_utf16_with_bom(enc: str, name: str | None) -> None:
    t = _text("ru_netstat-a.txt")
    data = t.encode(enc) if enc == "utf-16" else codecs.BOM_UTF16_BE + t.encode(enc)
    text, got = textio.decode(data)
    assert text == t
    assert got == (name or "utf-16-be")


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(enc: str) -> None:
    t = _text("fr_netstat-abo.txt")
    data = t.encode(enc)
    assert not textio.looks_binary(data[:65536])
    assert textio.decode(data) == (t, enc)


def test_ansi_and_oem_german_are_told_apart() -> None:
    """ABHÖREN: Ö is 0x99 in cp850/cp437 and 0xD6 in cp1252; read the wrong way it would be
    ABH™REN or ABHÍREN. The state vocabulary decides."""
    t = _text("de_netstat-an.txt")
    assert textio.decode(t.encode("cp850"))[0] == t
    assert textio.decode(t.encode("cp1252")) == (t, "cp1252")


def test_mostly_utf8_with_one_bad_byte_stays_utf8() -> None:
    t = _text("es_netstat-nabo.txt")
    data = t.encode("utf-8").replace(b"LISTENING       4\n", b"LISTENING       4\xff\n")
    text, enc = textio.decode(data)
    assert enc == "utf-8"
    assert "Dirección local" in text and "\ufffd" in text


def test_non_ascii_after_the_sampled_head_is_seen() -> None:
    """The scorer samples the head plus later lines with non-ASCII bytes."""
    filler = "  TCP    10.0.0.1:1000          10.0.0.2:2000          ESTABLISHED     4\n" * 2000
    t = filler + " No se puede obtener información de propiedad\n"
    assert textio.decode(t.encode("cp850"))[0] == t


def test_binary_is_binary() -> None:
    assert textio.looks_binary(b"\x00\x01\x02\x03binary\x00\xff" * 100)
    assert not textio.looks_binary(_text("en_netstat-ano.txt").encode("utf-16"))
    assert not textio.looks_binary(b"")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_decode_never_raises(data: bytes) -> None:
    text, enc = textio.decode(data)
    assert isinstance(text, str) and isinstance(enc, str)
