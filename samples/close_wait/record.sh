#!/usr/bin/env bash
# CLOSE_WAIT leak: a server ("leaky_server", 127.0.0.1:9090) accepts, reads to EOF and never
# closes; 60 clients connect, send a line and close. Each server-side socket stays in
# CLOSE_WAIT (the peer's FIN was received, the application never called close), and each
# client side sits in FIN_WAIT_2 until tcp_fin_timeout. Loopback only, private namespace.
# Output: ss-tanp.txt, netstat-tanp.txt.
source "$(dirname "$0")/../_netns.sh"

python3 "$SERVERS" leak --port 9090 --seconds 30 --name leaky_server & PIDS+=($!)
wait_listen 9090
python3 "$SERVERS" clients --port 9090 --count 60 --pause 0.01 --name client
sleep 1
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
echo "close_wait: $(grep -c CLOSE-WAIT ss-tanp.txt) CLOSE-WAIT sockets"
