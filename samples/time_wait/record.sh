#!/usr/bin/env bash
# TIME_WAIT storm: 4000 short connections to a local server ("kv_server", 127.0.0.1:7070),
# each opened, used for one line and closed first by the client, as a client without
# connection reuse does. The active closer keeps every socket in TIME_WAIT for 60 s, all
# towards the same remote 127.0.0.1:7070: 4000 of the 28232 ports of the default ephemeral
# range (32768-60999), 14%, are held for that one destination. Loopback only, private
# namespace.
# Output: ss-tanp.txt, netstat-tanp.txt, capture.pcap (tcpdump -i lo -s 128 of port 7070:
# the first 3000 packets, i.e. the first few hundred of the 4000 connections).
source "$(dirname "$0")/../_netns.sh"

timeout 60 tcpdump -i lo -Z root -nn -s 128 -U -c 3000 -w capture.pcap 'tcp port 7070' 2>/dev/null & TCPDUMP=$!; PIDS+=("$TCPDUMP")
sleep 1  # let tcpdump open lo before the workload starts
python3 "$SERVERS" echo-close --port 7070 --seconds 60 --name kv_server & PIDS+=($!)
wait_listen 7070
python3 "$SERVERS" clients --port 7070 --count 4000 --name batch_client
sleep 0.5
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
kill "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true
echo "time_wait: $(grep -c TIME-WAIT ss-tanp.txt) TIME-WAIT sockets"
echo "capture.pcap: $(tcpdump -nn -r capture.pcap 2>/dev/null | wc -l) packets"
