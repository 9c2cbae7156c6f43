"""Coverage-guided fuzzing (atheris) of the proc_net_tcp ingestor; see fuzz/README.md."""

import harness

if __name__ == "__main__":
    harness.main("proc_net_tcp")
