#!/usr/bin/env bash
# TIME_WAIT storm: 4000 short connections to a local server ("kv_server", 127.0.0.1:7070),
# each opened, used for one line and closed first by the client, as a client without
# connection reuse does. The active closer keeps every socket in TIME_WAIT for 60 s, all
# towards the same remote 127.0.0.1:7070: 4000 of the 28232 ports of the default ephemeral
# range (32768-60999), 14%, are held for that one destination. Loopback only, private
# namespace.
# Output: ss-tanp.txt, netstat-tanp.txt.
source "$(dirname "$0")/../_netns.sh"

python3 "$SERVERS" echo-close --port 7070 --seconds 60 --name kv_server & PIDS+=($!)
wait_listen 7070
python3 "$SERVERS" clients --port 7070 --count 4000 --name batch_client
sleep 0.5
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
echo "time_wait: $(grep -c TIME-WAIT ss-tanp.txt) TIME-WAIT sockets"
