#!/bin/bash
# accuracy-bench.sh - are the response times the wire's?  (make bench; as root)
#
# Two network namespaces joined by a wire of our own with a fixed delay
# (tests/helpers/delayline.c, at real-time priority: this kernel has no
# netem), 2.5 ms each way.  On the prober's side, at once and for the same
# time: the agent by ICMP datagram sockets, by liboping's raw sockets and by
# TCP connect, and fping, each to an address of its own behind the wire,
# every 0.2 s.  A capture of the prober's end of the wire gives each
# probe's true response time; each prober's figures are compared with it.
# Three conditions: idle; both cores busy (a busy loop on each, at the
# agent's priority); both busy with loops at a higher priority (nice -5).
#   ACCURACY_PROBES probes a prober and condition (default 600)
set -u
cd "$(dirname "$0")/../.."
B=$PWD/bin R=$PWD/build/tests
N=${ACCURACY_PROBES:-600}
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v tcpdump >/dev/null; then
	echo "accuracy-bench: needs root, iproute2 and tcpdump; skipped"
	exit 0
fi
if ! command -v fping >/dev/null; then
	echo "accuracy-bench: fping is not installed (make deps installs it); skipped"
	exit 0
fi
W=$(mktemp -d /tmp/cloudsonar-accuracy.XXXXXX)
A=csacc-a-$$ T=csacc-b-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del $A 2>/dev/null
	ip netns del $T 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ip netns add $A && ip netns add $T || exit 1
ip -n $A link set lo up && ip -n $T link set lo up
"$R/delayline" $A wire0 $T wire1 2500 >"$W/delay.out" 2>"$W/delay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$W/delay.out" 2>/dev/null && break; sleep 0.1; done
ip -n $A addr add 10.77.1.1/32 dev wire0 && ip -n $A link set wire0 up && ip -n $A route add 10.77.2.0/24 dev wire0
ip -n $T link set wire1 up
for k in 1 2 3 4; do ip -n $T addr add 10.77.2.$k/32 dev wire1; done
ip -n $T route add 10.77.1.1/32 dev wire1
# ICMP datagram sockets open to all in the prober's namespace, as systemd sets them
ip netns exec $A sysctl -qw net.ipv4.ping_group_range="0 2147483647"
# something listening on 10.77.2.3:7 for the TCP prober (its handshake is the probe)
ip netns exec $T socat TCP-LISTEN:7,bind=10.77.2.3,fork,reuseaddr SYSTEM:true 2>/dev/null &
pids+=($!)
sleep 0.5

hog() { # hog NICE: a busy loop on each core
	for _ in 1 2; do nice -n "$1" bash -c 'while :; do :; done' & pids+=($!); done
}
run() { # run NAME: one condition, every prober at once
	local d=$W/$1 secs
	mkdir -p "$d"
	secs=$(awk -v n="$N" 'BEGIN { print n * 0.2 + 1 }')
	ip netns exec $A tcpdump -i wire0 -n -U -s 128 --time-stamp-precision=nano -w "$d/cap.pcap" \
		'icmp or tcp' 2>/dev/null &
	local cap=$!
	sleep 1
	ip netns exec $A "$B/sonar-agent" --method icmp:dgram --interval 0.2 --no-htm --duration "$secs" \
		--log-dir "$d/dgram" 10.77.2.1 2>"$d/dgram.err" &
	local a1=$!
	ip netns exec $A "$B/sonar-agent" --method icmp:liboping --interval 0.2 --no-htm --duration "$secs" \
		--log-dir "$d/liboping" 10.77.2.2 2>"$d/liboping.err" &
	local a2=$!
	ip netns exec $A "$B/sonar-agent" --method tcp:7 --interval 0.2 --no-htm --duration "$secs" \
		--log-dir "$d/tcp" 10.77.2.3 2>"$d/tcp.err" &
	local a3=$!
	ip netns exec $A fping -D -p 200 -c "$N" 10.77.2.4 >"$d/fping.out" 2>&1 &
	local f=$!
	wait $a1 $a2 $a3 $f
	sleep 0.5
	kill $cap; wait $cap 2>/dev/null
	tcpdump -n -tt --time-stamp-precision=nano -r "$d/cap.pcap" >"$d/cap.txt" 2>/dev/null
	echo "### $2"
	python3 tests/bench/accuracy.py "$d/cap.txt" "agent icmp (datagram)=agent:$d/dgram/sonar.csv" \
		"agent icmp (liboping)=agent:$d/liboping/sonar.csv" "agent tcp connect=agent:$d/tcp/sonar.csv" \
		"fping=fping:$d/fping.out"
}
echo "Response-time error against the wire (microseconds; $N probes a prober, 5 ms away, every 0.2 s)"
run idle "idle"
hog 0
run busy "both cores busy (nice 0)"
for p in "${pids[@]:2}"; do kill "$p" 2>/dev/null; done
pids=("${pids[@]:0:2}")
hog -5
run hog "both cores busy at a higher priority (nice -5)"
