"""Coverage-guided fuzzing (atheris) of the ss ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("ss")
