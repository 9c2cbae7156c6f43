"""Coverage-guided fuzzing (atheris) of every ingestor at once: the first byte picks the target."""

import harness

if __name__ == "__main__":
    harness.main("all")
