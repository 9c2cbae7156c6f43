"""Coverage-guided fuzzing (atheris) of the netstat_windows ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("netstat_windows")
