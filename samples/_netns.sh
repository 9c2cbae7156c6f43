# Sourced by samples/*/record.sh: run the rest of the script inside a private network
# namespace that has only a loopback interface, so every packet stays on 127.0.0.0/8, no
# sysctl or socket of the host is touched, and the dumps show only the scenario's sockets.
# Needs root (unshare -n). Everything the script changes dies with the namespace.
set -euo pipefail
if [ "${TCPF_IN_NETNS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "record.sh: needs root (network namespace, raw sockets)" >&2; exit 1; }
    export TCPF_IN_NETNS=1
    exec unshare --net bash "$0" "$@"
fi
ip link set lo up
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVERS="$HERE/../_servers.py"
cd "$HERE"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
# Wait until something listens on 127.0.0.1:$1.
wait_listen() { for _ in $(seq 50); do ss -Htln "sport = :$1" | grep -q . && return 0; sleep 0.1; done; echo "no listener on $1" >&2; exit 1; }
