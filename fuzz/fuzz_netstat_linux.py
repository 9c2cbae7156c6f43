"""Coverage-guided fuzzing (atheris) of the netstat_linux ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("netstat_linux")
