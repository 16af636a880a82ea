#!/bin/bash
# agent-bench.sh - the agent at scale: 1,000 and 10,000 hosts at a 1 s
# interval, phi only, every address in 127.0.0.0/8 (all answer on loopback);
# then 1,000 hosts with the HTM model on, beside the same without it.
# Prints probes/s achieved, lost probes, CPU % of one core (steady state,
# after start-up), RSS, the p50/p99 lateness of probes against their
# schedule, and the state file's size and save time.  Targets: 10,000 hosts
# with < 2% lost, < 30% CPU, < 100 MB, p99 lateness < 5 ms; 1,000 hosts
# with HTM under 25% of a core and 400 MB.
#
# As root each run gets a network namespace of its own with its loopback up
# and net.ipv4.ping_group_range open, as systemd sets it on a stock Debian
# host, so --method auto uses ICMP datagram sockets there; the liboping and
# TCP engines are measured beside it at 10,000 hosts.  BENCH_SECONDS sets the
# length of each run (default 30).
#
# AGENT_BEFORE=PATH (another build's sonar-agent) adds paired runs at 10,000
# hosts, that build and this one in turn (AGENT_PAIRS times, default 3), and
# the ratio of their CPU: a change's cost measured against the machine's
# speed of the same minutes (AGENT_PAIRED_ONLY=1: those alone).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AGENT=${SONAR_AGENT:-$ROOT/bin/sonar-agent}
SECS=${BENCH_SECONDS:-30}
OUT=$(mktemp -d /tmp/cloudsonar-bench.XXXXXX)
NS=""
cleanup() { [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

hosts() { # N unique addresses in 127.0.0.0/8, never 127.0.0.0 or .255
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "127.%d.%d.%d\n", 1 + int(i / 62500), int(i / 250) % 250, 1 + i % 250 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

run() { # run HOSTS METHOD [--no-htm|--htm]
	local n=$1 method=$2 htm=${3:---no-htm} pid t0 t1 c0 c1 hwm stats
	local prefix=()
	if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
		NS=cs-bench-$$
		ip netns add $NS && ip -n $NS link set lo up &&
			ip netns exec $NS sysctl -qw net.ipv4.ping_group_range="0 2147483647"
		prefix=(ip netns exec $NS)
	fi
	hosts "$n" >"$OUT/hosts"
	local opt=()
	[ "$htm" = --no-htm ] && opt=(--no-htm)
	rm -rf "$OUT/logs-$n-$method"
	"${prefix[@]}" "${AGENT_RUN:-$AGENT}" "${opt[@]}" --method "$method" --interval 1 --duration "$SECS" --stats \
		--log-dir "$OUT/logs-$n-$method" $(cat "$OUT/hosts") 2>"$OUT/err" &
	pid=$!
	sleep 5 # start-up (argument parsing, first touch of memory) is not steady state
	c0=$(cpu_ticks $pid); t0=$(date +%s%N)
	sleep $((SECS - 7))
	c1=$(cpu_ticks $pid); t1=$(date +%s%N)
	hwm=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status)
	wait $pid
	[ -n "$NS" ] && { ip netns del $NS; NS=""; }
	stats=$(grep "stats:" "$OUT/err")
	engine=$(sed -n 's/.* by \(.*\)$/\1/p' "$OUT/err" | head -1)
	local hz; hz=$(getconf CLK_TCK)
	awk -v n="$n" -v engine="$engine$([ "$htm" = --htm ] && echo " + HTM")" -v stats="$stats" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
		-v hz="$hz" -v hwm="$hwm" -v secs="$SECS" -v htm="$htm" 'BEGIN {
		split(stats, kv, " "); for (i in kv) { split(kv[i], p, "="); v[p[1]] = p[2] }
		cpu = 100 * (c1 - c0) / hz / ((t1 - t0) / 1e9)
		lost = v["sent"] ? 100 * (v["lost"] + v["errors"]) / v["sent"] : 100
		# phi windows fill to 1000 samples (8 bytes each) over 1000 s; a
		# short run has not yet paid for them, so add what is still to come
		full = hwm / 1024 + n * 8 * (1000 - secs) / 1048576
		if (ENVIRON["CPU_ONLY"] != "") { printf "%.2f\n", cpu; exit }
		printf "%-6d  %-36s %9.0f  %6.2f%%  %6.1f%%  %7.1f MB  %9.1f MB  %7.3f ms  %7.3f ms  %7.1f MB  %6.0f ms\n",
			n, engine, v["probes_per_s"], lost, cpu, hwm / 1024, full,
			v["lateness_p50_us"] / 1000, v["lateness_p99_us"] / 1000, v["state_bytes"] / 1048576,
			v["state_save_ms"]
	}'
}

if [ -z "${AGENT_PAIRED_ONLY:-}" ]; then
echo "sonar-agent benchmark: ${SECS} s per run at a 1 s interval, phi only but where it says HTM"
printf "%-6s  %-36s %9s  %7s  %7s  %10s  %12s  %10s  %10s  %10s  %9s\n" hosts method "probes/s" lost "CPU" "RSS" \
	"RSS (full)" "late p50" "late p99" "state" "save"
run 1000 auto
run 10000 auto
run 10000 icmp:liboping
run 10000 tcp
echo "targets at 10,000 hosts: lost < 2%, CPU < 30%, RSS < 100 MB (full windows), p99 lateness < 5 ms"
run 1000 auto --no-htm
run 1000 auto --htm
echo "target at 1,000 hosts with HTM: CPU < 25% of a core, RSS < 400 MB (HTM models reach their full size at once)"
fi
if [ -n "${AGENT_BEFORE:-}" ]; then
	echo "paired at 10,000 hosts (auto, phi only): CPU % of a core, $AGENT_BEFORE then this build"
	for i in $(seq "${AGENT_PAIRS:-3}"); do
		b=$(AGENT_RUN=$AGENT_BEFORE CPU_ONLY=1 run 10000 auto)
		a=$(CPU_ONLY=1 run 10000 auto)
		awk -v b="$b" -v a="$a" -v i="$i" 'BEGIN { printf "pair %d: before %.1f%%, after %.1f%%, after/before %.2f\n", i, b, a, a / b }'
	done
fi
