#!/bin/bash
# pano-bench.sh - Panorama under load over loopback:
#  1. one node, concurrent clients pipelining SubmitReports over 100 subjects
#     x 10 observers, one metric each: acknowledged (fsynced) reports/s and
#     p50/p99 latency, node RSS;
#  2. the same against node 0 of a 3-node cluster that propagates every
#     report to the other two, and how many of them the peers learned;
#  3. node RSS holding 10,000 subjects x 10 observers x 10 observations.
# Targets: >= 100,000 reports/s on one node, p99 < 2 ms, RSS < 256 MB.
# BENCH_SECONDS sets each load phase (default 10).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
trap cleanup EXIT
SECS=${BENCH_SECONDS:-10}
LOAD=$ROOT/build/tests/pano-bench
cd "$WORK"

rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' /proc/$1/status; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# /proc/stat's steal and total CPU time; steal_pct BEFORE AFTER is the
# share of the time between them the hypervisor took away.  On a shared
# virtual machine it explains most of the spread between runs, so every
# row says how much of the machine there was.
steal_mark() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t }' /proc/stat; }
steal_pct() { echo "$1 $2" | awk '{ d = $4 - $2; printf "%.0f", (d > 0 ? 100 * ($3 - $1) / d : 0) }'; }

run() { # run LABEL ARGS...: one timed load (pano-bench ARGS), and its row
	local label=$1; shift
	local before out
	before=$(steal_mark)
	out=$($LOAD "$@")
	printf "%-34s %8s reports/s  p50 %5.2f ms  p99 %5.2f ms  (steal %s%%)\n" "$label" "$(echo "$out" | field rate)" \
		"$(echo "$out" | field p50_us | awk '{ print $1 / 1000 }')" \
		"$(echo "$out" | field p99_us | awk '{ print $1 / 1000 }')" "$(steal_pct "$before" "$(steal_mark)")"
}

echo "Panorama benchmark: $SECS s per phase; 'C x W' = C client threads, W reports in flight each"
for mode in "" -fsync; do
	P=$(free_port)
	$BIN/hview-server -addr 127.0.0.1:$P -dbfile one$mode.db $mode bench 2>one.log &
	node=$!
	on_exit "kill -9 $node"
	wait_node 127.0.0.1:$P
	label="one node${mode:+ (-fsync)}"
	run "$label, 2 x 32" 127.0.0.1:$P 2 32 "$SECS" 100 10
	run "$label, 3 x 32" 127.0.0.1:$P 3 32 "$SECS" 100 10
	run "$label, 1 x 128" 127.0.0.1:$P 1 128 "$SECS" 100 10
	echo "  node RSS $(rss_mb $node) MB"
	kill -TERM $node; wait $node
done

CP=$(free_port)
pids=()
for i in 0 1 2; do
	$BIN/hview-mkrc -fix_port $CP -nserver 3 -addressp "127.0.5.%d" -namep "c%d" -id c$i -dbfile c$i.db -output c$i.cfg >/dev/null
	$BIN/hview-server -config c$i.cfg 2>c$i.log &
	pids+=($!)
	on_exit "kill -9 $!"
done
for i in 0 1 2; do wait_node 127.0.5.$i:$CP; done
run "3-node cluster (to node 0), 2 x 32" 127.0.5.0:$CP 2 32 "$SECS" 100 10
sleep 2
n0=$($BIN/hview-client -server 127.0.5.0:$CP dump panorama | grep -c '^  |')
n1=$($BIN/hview-client -server 127.0.5.1:$CP dump panorama | grep -c '^  |')
echo "  node 0 RSS $(rss_mb ${pids[0]}) MB"
printf "  propagation: node 1 holds %s of node 0's %s stored observations (newest 10 per view)\n" "$n1" "$n0"
kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null

# fill_and_restart NAME SUBJECTS OBSERVERS DEPTH LABEL: a node filled with
# SUBJECTS x OBSERVERS views of DEPTH reports each, then restarted on its
# database (checked with quick_check first): how long until it serves.
fill_and_restart() {
	local name=$1 subjects=$2 observers=$3 depth=$4 label=$5 out start
	P=$(free_port)
	$BIN/hview-server -addr 127.0.0.1:$P -dbfile $name.db $name 2>$name.log &
	node=$!
	on_exit "kill -9 $node"
	wait_node 127.0.0.1:$P
	out=$($LOAD 127.0.0.1:$P 2 32 0 $subjects $observers $depth)
	printf "%s: %s reports in %s s, node RSS %s MB\n" "$label" \
		"$(echo "$out" | field reports)" "$(echo "$out" | field seconds)" "$(rss_mb $node)"
	kill -TERM $node; wait $node
	start=$(date +%s%N)
	$BIN/hview-server -addr 127.0.0.1:$P -dbfile $name.db $name 2>$name-2.log &
	node=$!
	eventually 120 "$BIN/hview-client" -server 127.0.0.1:$P -timeout 200 ping >/dev/null 2>&1
	printf "  restart: %s (%s MB of database), ready in %d ms, RSS %s MB\n" \
		"$(grep -o 'loaded [0-9]* observations of [0-9]* subjects' $name-2.log)" \
		$(( $(stat -c %s $name.db) >> 20 )) $(( ($(date +%s%N) - start) / 1000000 )) "$(rss_mb $node)"
	if [ -n "${6:-}" ]; then
		# ingest on the full store against the same node's over 100 x 10
		# views, back to back: a large store must not slow it down
		run "  load over all its views, 2 x 32" 127.0.0.1:$P 2 32 "$SECS" $subjects $observers
		run "  load over 100 x 10 of them, 2 x 32" 127.0.0.1:$P 2 32 "$SECS" 100 10
	fi
	kill -TERM $node; wait $node
}
fill_and_restart big 10000 10 10 "10,000 subjects x 10 observers x 10 observations"
# a million views, the node's bound
fill_and_restart million 100000 10 1 "100,000 subjects x 10 observers (1,000,000 views, the default bound) x 1 observation" load
echo "targets: >= 100,000 reports/s on one node, p99 < 2 ms, RSS < 256 MB at 10,000 x 10"
echo "(without -fsync a report is acknowledged once in sqlite's WAL: it survives kill -9;"
echo " with -fsync once the WAL is fsynced: it survives power loss too)"
