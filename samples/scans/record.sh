#!/usr/bin/env bash
# Scans, a SYN flood and a normal HTTP workload on loopback, each captured with tcpdump.
# Listeners: python3 http.server on 127.0.0.1:8080 and backlog servers on :2222 and :9090
# (_servers.py). Scans: nmap -sS -sT -sF -sN -sX -sA on ports 1-1024 plus 2222,8080,9090 of
# 127.0.0.1. Flood: hping3 SYNs to :9090 (1000 SYNs at 200 us from 127.0.0.1, then 20
# forged sources inside 127.0.1.0/24, 50 SYNs each). Control: 150 HTTP GETs, one connection
# each, from a python client to :8080. Loopback only, private namespace (see _netns.sh);
# every capture is bounded by tcpdump -c and by timeout.
# Output: nmap_sS.pcap nmap_sT.pcap nmap_sF.pcap nmap_sN.pcap nmap_sX.pcap nmap_sA.pcap
#         hping3_synflood.pcap hping3_synflood_spoofed.pcap normal_http.pcap
source "$(dirname "$0")/../_netns.sh"

PORTS=1-1024,2222,8080,9090
python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 & PIDS+=($!)
python3 "$SERVERS" backlog --port 2222 --backlog 128 --seconds 120 --name sshd_like & PIDS+=($!)
python3 "$SERVERS" backlog --port 9090 --backlog 128 --seconds 120 --name app_server & PIDS+=($!)
wait_listen 8080; wait_listen 2222; wait_listen 9090

# capture NAME MAXPKTS COMMAND...: tcpdump on lo around one bounded command
capture() {
    local name=$1 max=$2; shift 2
    timeout 60 tcpdump -i lo -nn -s 128 -U -c "$max" -w "$name.pcap" tcp 2>/dev/null & local tp=$!
    sleep 1
    timeout 50 "$@" >/dev/null 2>&1 || true
    sleep 1
    kill "$tp" 2>/dev/null || true; wait "$tp" 2>/dev/null || true
    echo "$name: $(tcpdump -nn -r "$name.pcap" 2>/dev/null | wc -l) packets"
}

for t in sS sT sF sN sX sA; do
    capture "nmap_$t" 4000 nmap -n -Pn "-$t" -p "$PORTS" --max-retries 1 127.0.0.1
done
capture hping3_synflood 3000 hping3 -S -p 9090 -c 1000 -i u200 127.0.0.1
capture hping3_synflood_spoofed 3000 bash -c '
for i in $(seq 1 20); do hping3 -S -p 9090 -c 50 -i u2000 -a "127.0.1.$i" 127.0.0.1 & done; wait'

capture normal_http 4000 python3 -c '
import urllib.request
for i in range(150):
    urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5).read()
'
