#!/usr/bin/env bash
# CLOSE_WAIT leak: a server ("leaky_server", 127.0.0.1:9090) accepts, reads to EOF and never
# closes; 60 clients connect, send a line and close. Each server-side socket stays in
# CLOSE_WAIT (the peer's FIN was received, the application never called close), and each
# client side sits in FIN_WAIT_2 until tcp_fin_timeout. Loopback only, private namespace.
# Output: ss-tanp.txt, netstat-tanp.txt, capture.pcap (tcpdump -i lo -s 128 of port 9090 from
# before the server starts until after the snapshots, at most 2000 packets).
source "$(dirname "$0")/../_netns.sh"

timeout 60 tcpdump -i lo -Z root -nn -s 128 -U -c 2000 -w capture.pcap 'tcp port 9090' 2>/dev/null & TCPDUMP=$!; PIDS+=("$TCPDUMP")
sleep 1  # let tcpdump open lo before the workload starts
python3 "$SERVERS" leak --port 9090 --seconds 30 --name leaky_server & PIDS+=($!)
wait_listen 9090
python3 "$SERVERS" clients --port 9090 --count 60 --pause 0.01 --name client
sleep 1
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
sleep 0.5
kill "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true
echo "close_wait: $(grep -c CLOSE-WAIT ss-tanp.txt) CLOSE-WAIT sockets"
echo "capture.pcap: $(tcpdump -nn -r capture.pcap 2>/dev/null | wc -l) packets"
