#!/usr/bin/env bash
# SYN flood against a local listener, recorded with real tools on loopback only.
#
# A Python listener ("webapp", backlog 128, never accepts) on 127.0.0.1:8080 receives
# 8 x 1500 SYNs from hping3 (each sender one SYN per 2 ms, 3 s), spoofed from 8 addresses
# inside 127.66.0.0/16; the snapshots are taken 1.5 s into the flood. In the private
# namespace (see ../_netns.sh) 127.66.0.0/16 is routed to a tun device nobody reads, so the
# kernel's SYN-ACKs are dropped instead of being answered with RST by the loopback stack:
# the half-open connections stay in SYN-RECV as they would behind a real spoofed flood.
# Net.ipv4.tcp_syncookies is left at the namespace default (1): once the SYN queue is full
# the kernel answers with syncookies (see counters-after.txt, TcpExtSyncookiesSent).
# Three genuine clients also connect, so the dump shows ESTABLISHED beside the pile.
# Output: ss-tanp.txt, netstat-tanp.txt, counters-before.txt / counters-after.txt
# (/proc/net/netstat), counters-nstat.txt (nstat -az after), capture.pcap (tcpdump -i lo,
# first 3000 packets of port 8080: the SYN side; SYN-ACKs leave through the tun sink).
source "$(dirname "$0")/../_netns.sh"

ip tuntap add sink0 mode tun
ip link set sink0 up
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.sink0.route_localnet=1
ip route add 127.66.0.0/16 dev sink0 table local

python3 "$SERVERS" backlog --port 8080 --backlog 128 --seconds 40 --name webapp & PIDS+=($!)
wait_listen 8080
cat /proc/net/netstat > counters-before.txt
timeout 20 tcpdump -i lo -Z root -n -c 3000 -w capture.pcap 'tcp port 8080' 2>/dev/null & TCPDUMP=$!
sleep 1
python3 "$SERVERS" clients --port 8080 --count 3 --hold 20 --name client & PIDS+=($!)
for i in 1 2 3 4 5 6 7 8; do
    timeout 10 hping3 -q -S -p 8080 -i u2000 -c 1500 -a "127.66.$i.$((i * 17))" 127.0.0.1 >/dev/null 2>&1 &
    PIDS+=($!)
done
sleep 1.5
ss -tanp > ss-tanp.txt
netstat -tanp > netstat-tanp.txt
cat /proc/net/netstat > counters-after.txt
nstat -az > counters-nstat.txt
wait "$TCPDUMP" 2>/dev/null || true  # stops by itself after 3000 packets
echo "synflood: $(grep -c SYN-RECV ss-tanp.txt) SYN-RECV sockets, $(tcpdump -r capture.pcap 2>/dev/null | wc -l) packets captured"
