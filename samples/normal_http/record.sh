#!/usr/bin/env bash
# Normal control: 200 short HTTP requests with curl to python3 -m http.server on
# 127.0.0.1:8000 (HTTP/1.0: the server closes first, so its side keeps TIME_WAIT), beside an
# application pool ("app_pool") holding 4 idle connections to a database-like listener
# ("db_server", 127.0.0.1:5432). A healthy workload: no flood, no scan, no leak. Loopback only, private namespace.
# Output: ss-tanp.txt, netstat-tanp.txt.
source "$(dirname "$0")/../_netns.sh"

WWW="$(mktemp -d)"
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
rm -rf "$WWW"
echo "normal_http: $(grep -c TIME-WAIT ss-tanp.txt) TIME-WAIT, $(grep -c ESTAB ss-tanp.txt) ESTAB"
