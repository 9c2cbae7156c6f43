"""Compare textio.decode with charset-normalizer on the Windows fixtures in each code page."""

from __future__ import annotations

from pathlib import Path

from tcpforensics.ingest import textio

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "windows"
PAGES = ("utf-16", "cp437", "cp850", "cp1252", "cp866", "cp1251", "cp936", "cp932")


def main() -> None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        from_bytes = None
    n = ours = theirs = 0
    for path in sorted(FIXTURES.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for enc in PAGES:
            try:
                data = text.encode(enc)
            except UnicodeEncodeError:  # not a code page of this language
                continue
            expected = text
            n += 1
            ours += textio.decode(data)[0] == expected
            if from_bytes is not None:
                best = from_bytes(data).best()
                theirs += best is not None and str(best).lstrip("\ufeff") == expected
    print(f"{n} encoded fixtures: textio.decode right {ours}, charset-normalizer right "
          f"{theirs if from_bytes else 'n/a (not installed)'}")


if __name__ == "__main__":
    main()
