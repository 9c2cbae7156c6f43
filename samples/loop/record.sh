#!/usr/bin/env bash
# Multi-snapshot loop, as an operator records it: five times `date; netstat -ant` (and the
# same with `ss -tan`) one second apart, while sockets change state. Scenario: a leaky
# server ("leaky_server", 127.0.0.1:9191) never closes accepted sockets; 10 clients connect
# at once (ESTABLISHED), a second batch of 10 connects a second later, then the first batch
# closes (CLOSE_WAIT on the server, FIN_WAIT_2 on the client) and then the second batch.
# Loopback only, private namespace.
# Output: netstat-loop.txt, ss-loop.txt, capture.pcap (tcpdump -i lo -s 128 of port 9191 from
# before the server starts until after the last snapshot, at most 2000 packets).
source "$(dirname "$0")/../_netns.sh"

timeout 60 tcpdump -i lo -Z root -nn -s 128 -U -c 2000 -w capture.pcap 'tcp port 9191' 2>/dev/null & TCPDUMP=$!; PIDS+=("$TCPDUMP")
sleep 1  # let tcpdump open lo before the workload starts
python3 "$SERVERS" leak --port 9191 --seconds 30 --name leaky_server & PIDS+=($!)
wait_listen 9191
python3 "$SERVERS" clients --port 9191 --count 10 --hold 2.5 --name client & PIDS+=($!)
( sleep 1; python3 "$SERVERS" clients --port 9191 --count 10 --hold 2.5 --name client ) & PIDS+=($!)
: > netstat-loop.txt
: > ss-loop.txt
for i in 1 2 3 4 5; do
    { date; netstat -ant; } >> netstat-loop.txt
    { date; ss -tan; } >> ss-loop.txt
    sleep 1
done
kill "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true
echo "loop: $(grep -c CLOSE_WAIT netstat-loop.txt) CLOSE_WAIT rows over 5 snapshots"
echo "capture.pcap: $(tcpdump -nn -r capture.pcap 2>/dev/null | wc -l) packets"
