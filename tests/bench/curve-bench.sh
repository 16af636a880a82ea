#!/bin/bash
# curve-bench.sh - what CURVE costs a Panorama node's ingest:
# the same load against a node without keys and one with CURVE on every
# socket.  A CURVE key speaks for one observer, so each of the 10 client
# threads is one observer (obs@0..9) with its own key, reporting over 100
# subjects; the plain run has the same shape.  Target: CURVE costs < 30%.
# BENCH_SECONDS sets each run (default 10); each side runs twice, and the
# better of the two counts (this machine's speed swings from minute to
# minute; see the README).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
trap cleanup EXIT
SECS=${BENCH_SECONDS:-10}
LOAD=$ROOT/build/tests/pano-bench
CLIENTS=10 WINDOW=13
cd "$WORK"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

mkdir keys
$BIN/sonar-keygen -dir keys -role node bench >/dev/null
for o in $(seq 0 9); do $BIN/sonar-keygen -dir keys "obs@$o" >/dev/null; done

best() { # best MODE: the better rate of two runs, and that run's line
	local out best_rate=0 best_line="" mode=$1
	for _ in 1 2; do
		out=$($LOAD 127.0.0.1:$P $CLIENTS $WINDOW "$SECS" 100 10 0 "$mode")
		rate=$(echo "$out" | field rate)
		if [ "${rate:-0}" -gt "$best_rate" ]; then best_rate=$rate best_line=$out; fi
	done
	echo "$best_line"
}
row() {
	printf "%-26s %8s reports/s  p50 %5.2f ms  p99 %5.2f ms  errors %s\n" "$1" "$(echo "$2" | field rate)" \
		"$(echo "$2" | field p50_us | awk '{ print $1 / 1000 }')" \
		"$(echo "$2" | field p99_us | awk '{ print $1 / 1000 }')" "$(echo "$2" | field errors)"
}

echo "CURVE cost: $CLIENTS client threads (one observer each) x $WINDOW in flight, $SECS s per run, best of 2"
P=$(free_port)
start_node 127.0.0.1:$P plain.db bench plain.log
plain=$(best plain)
kill -TERM $node; wait $node
row "no keys" "$plain"

P=$(free_port)
$BIN/hview-server -addr 127.0.0.1:$P -dbfile curve.db -key keys/bench.key -allow keys bench 2>curve.log &
node=$!
on_exit "kill -9 $node"
eventually 5 "$BIN/hview-client" -server 127.0.0.1:$P -timeout 200 -key keys/obs@0.key -serverkey keys/bench.pub ping >/dev/null 2>&1
curve=$(best keys)
kill -TERM $node; wait $node
row "CURVE" "$curve"
awk -v a="$(echo "$plain" | field rate)" -v b="$(echo "$curve" | field rate)" \
	'BEGIN { if (a > 0) printf "CURVE costs %.1f%% of the plain throughput (target: under 30%%)\n", (a - b) * 100 / a }'
