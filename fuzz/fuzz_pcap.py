"""Coverage-guided fuzzing (atheris) of the pcap ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("pcap")
