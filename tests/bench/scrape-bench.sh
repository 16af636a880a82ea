#!/bin/bash
# scrape-bench.sh - do scrapes of /metrics move the response times?  (make bench; as root)
#
# An agent probes 1,000 hosts 1 ms away every second, with default
# options: they live in a second network namespace, behind the delay line
# of tests/helpers/delayline.c (500 us each way), and ICMP datagram sockets
# are open in the agent's, as systemd sets them.  In pairs, the same
# agent's response times over SCRAPE_SECONDS without scrapers, then with 16
# clients fetching /metrics back to back (their CPU counts: they saturate
# both cores); the 99th percentile of each, and the ratio.  The goal is a
# ratio within 10%: the loop that times the probes renders no scrape, and
# the response times are the kernel's.  Then the same on the agent's own
# loopback (127.0.x.y): there the "network" is the CPU the scrapers take,
# and a few microseconds move.
#   SCRAPE_PAIRS (default 3), SCRAPE_SECONDS (default 20)
set -u
cd "$(dirname "$0")/../.."
B=$PWD/bin
PAIRS=${SCRAPE_PAIRS:-3} SECS=${SCRAPE_SECONDS:-20}
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v curl >/dev/null; then
	echo "scrape-bench: needs root, iproute2 and curl; skipped"
	exit 0
fi
W=$(mktemp -d /tmp/cloudsonar-scrape.XXXXXX)
NS=csscrape-$$ FAR=csscrapefar-$$
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}
cleanup() {
	stop_all
	ip netns del $NS 2>/dev/null
	ip netns del $FAR 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ip netns add $NS && ip netns add $FAR && ip -n $NS link set lo up && ip -n $FAR link set lo up &&
	ip netns exec $NS sysctl -qw net.ipv4.ping_group_range="0 2147483647"
"$PWD/build/tests/delayline" $NS wire0 $FAR wire1 500 >"$W/delay.out" 2>"$W/delay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$W/delay.out" 2>/dev/null && break; sleep 0.1; done
ip -n $NS addr add 10.78.0.1/32 dev wire0 && ip -n $NS link set wire0 up && ip -n $NS route add 10.79.0.0/16 dev wire0
ip -n $FAR link set wire1 up && ip -n $FAR route add 10.78.0.1/32 dev wire1
for i in $(seq 0 999); do echo "10.79.$((i / 250)).$((i % 250 + 1))"; done >"$W/far"
for i in $(seq 0 999); do echo "127.0.$((i / 250 + 1)).$((i % 250 + 1))"; done >"$W/near"
# the far hosts: every address on the far side's loopback answers (a route
# to the whole /16 there)
ip -n $FAR route add local 10.79.0.0/16 dev lo

p99() { # p99 of the response times logged from $1 (seconds since 1970) on, in microseconds
	awk -F, -v from="$(date -u -d @"$1" +%Y-%m-%dT%H:%M:%S)" 'NR > 1 && substr($1, 1, 19) >= from && $3 != "" { print $3 }' \
		"$W/$2.logs/sonar.csv" | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; printf "%.1f", v[i] / 1000 }'
}
pairs() { # pairs TARGETS TITLE
	local HP=17$((RANDOM % 900 + 100)) t0 t1 alone scraped
	ip netns exec $NS "$B/sonar-agent" --targets "$W/$1" --log-dir "$W/$1.logs" --http 127.0.0.1:$HP 2>"$W/$1.err" &
	local agent=$!
	sleep 40 # every host answered, the HTM models made, the phi windows warm
	echo "### $2"
	printf '%-6s %12s %12s %8s %10s\n' pair "alone (us)" "scraped (us)" ratio "scrapes"
	for pair in $(seq "$PAIRS"); do
		t0=$(date +%s)
		sleep "$SECS"
		alone=$(p99 "$t0" "$1")
		t1=$(date +%s)
		: >"$W/scrapes"
		local scrapers=()
		for _ in $(seq 16); do
			ip netns exec $NS bash -c "while :; do curl -s -o /dev/null http://127.0.0.1:$HP/metrics && echo >>'$W/scrapes'; done" &
			scrapers+=($!)
		done
		sleep "$SECS"
		kill "${scrapers[@]}" 2>/dev/null
		pkill -f "curl -s -o /dev/null http://127.0.0.1:$HP/metrics" 2>/dev/null
		wait "${scrapers[@]}" 2>/dev/null
		scraped=$(p99 "$t1" "$1")
		printf '%-6s %12s %12s %8s %10s\n' "$pair" "$alone" "$scraped" \
			"$(awk -v a="$alone" -v b="$scraped" 'BEGIN { printf "%.3f", b / a }')" "$(wc -l <"$W/scrapes")"
		sleep 5
	done
	kill $agent
	wait $agent 2>/dev/null
}
echo "Response-time p99 of an agent probing 1,000 hosts every second, alone and under 16 scrapers ($SECS s each)"
pairs far "1,000 hosts 1 ms away (behind a delay line)"
pairs near "1,000 addresses on the agent's own loopback"
