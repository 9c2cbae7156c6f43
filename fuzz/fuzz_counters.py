"""Coverage-guided fuzzing (atheris) of the counters ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("counters")
