"""Coverage-guided fuzzing (atheris) of one input format, or of all; see fuzz/README.md.

Usage: python fuzz/fuzz.py TARGET [libFuzzer options] [corpus dirs]

TARGET is the name of a registered format (``python fuzz/harness.py targets`` lists them) or
``all`` (the first byte of each input picks the format).
"""

import sys

import harness

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python fuzz/fuzz.py TARGET [libFuzzer options] [corpus dirs] (TARGET: a format or all)")
    harness.main(sys.argv.pop(1))
