#!/usr/bin/env bash
# Normal control: 200 short HTTP requests with curl to python3 -m http.server on
# 127.0.0.1:8000 (HTTP/1.0: the server closes first, so its side keeps TIME_WAIT), beside an
# application pool ("app_pool") holding 4 idle connections to a database-like listener
# ("db_server", 127.0.0.1:5432). A healthy workload: no flood, no scan, no leak. Loopback only, private namespace.
# Output: ss-tanp.txt, netstat-tanp.txt, capture.pcap (tcpdump -i lo -s 128 of ports 8000 and
# 5432 from before the servers start until after the snapshots, at most 4000 packets).
source "$(dirname "$0")/../_netns.sh"

WWW="$(mktemp -d)"
timeout 60 tcpdump -i lo -Z root -nn -s 128 -U -c 4000 -w capture.pcap 'tcp port 8000 or tcp port 5432' 2>/dev/null & TCPDUMP=$!; PIDS+=("$TCPDUMP")
sleep 1  # let tcpdump open lo before the workload starts
echo "hello" > "$WWW/index.html"
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$WWW" >/dev/null 2>&1 & PIDS+=($!)
wait_listen 8000
for _ in $(seq 200); do curl -s -o /dev/null http://127.0.0.1:8000/index.html; done
python3 "$SERVERS" echo-close --port 5432 --seconds 30 --name db_server & PIDS+=($!)
wait_listen 5432
python3 "$SERVERS" clients --port 5432 --count 4 --hold 10 --name app_pool & PIDS+=($!)
sleep 1
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
kill "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true
rm -rf "$WWW"
echo "normal_http: $(grep -c TIME-WAIT ss-tanp.txt) TIME-WAIT, $(grep -c ESTAB ss-tanp.txt) ESTAB"
echo "capture.pcap: $(tcpdump -nn -r capture.pcap 2>/dev/null | wc -l) packets"
