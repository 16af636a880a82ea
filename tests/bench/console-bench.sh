#!/bin/bash
# console-bench.sh - the node's history and the console on a week of it
# (make bench).
#
#  - what history costs a node: the same day of reports (100 hosts x 5
#    observers, one report a view every 5 minutes) into a fresh node with
#    summaries and without, in pairs, PAIRS times: the rate ratio;
#  - a week of history for 100 hosts x 5 observers, then
#    GET /api/v1/history for one subject over 30 days (target: under
#    100 ms), 20 times;
#  - the console in a headless chromium: the page until its matrix is
#    drawn, and a host's page over 7 days until its five charts are
#    (target: under 1 s), 5 times each;
#  - the history's bytes a row (sqlite's dbstat), and what a year of it
#    takes for 1,000 views at any report rate (a bucket a minute for 3
#    days and an hour for 400: 13,920 rows a view; target: under 1 GB).
# Everything on loopback; chromium talks to nothing else.
set -u
cd "$(dirname "$0")/../.."
B=$PWD/bin H=$PWD/build/tests/pano-history BR="python3 $PWD/tests/helpers/browser.py"
PAIRS=${PAIRS:-3}
W=$(mktemp -d /tmp/cloudsonar-console.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
port() { echo $((20000 + RANDOM % 10000)); }
# node NAME: a node in $W/NAME, its ports in P and HP, its pid in pids
node() {
	mkdir -p "$W/$1"
	P=$(port) HP=$(port)
	"$B/hview-server" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile "$W/$1/n.db" "$1" 2>"$W/$1/log" &
	pids+=($!)
	NODE=$!
	for _ in $(seq 50); do "$B/hview-client" -server 127.0.0.1:$P -timeout 200 ping >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "console-bench: the node did not start: $(cat "$W/$1/log")" >&2
	exit 1
}
rate() { sed -n 's/.*(\([0-9]*\) a second).*/\1/p'; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %s, max %s", v[int((NR + 1) / 2)], v[NR] }'; }

echo "console benchmark: history of 100 hosts x 5 observers"
ratios=""
for i in $(seq "$PAIRS"); do
	node plain$i
	plain=$("$H" 127.0.0.1:$P 100 5 86400 300 plain | rate)
	kill -9 $NODE
	node hist$i
	hist=$("$H" 127.0.0.1:$P 100 5 86400 300 | rate)
	kill -9 $NODE
	ratios="$ratios $(awk -v a="$hist" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')"
	echo "  reports a second, with history / without: $hist / $plain"
done
echo "history's cost: rate ratio with / without, $PAIRS pairs:$ratios"

node week
"$H" 127.0.0.1:$P 100 5 $((7 * 86400)) 300 | sed 's/^/  a week: /'
now=$(date +%s)
q=""
for _ in $(seq 20); do
	q="$q $(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$HP/api/v1/history?subject=host-7&from=$((now - 30 * 86400))&to=$now" |
		awk '{ printf "%.1f", $1 * 1000 }')"
done
echo "30-day history of one subject (5 series): ms, $(echo $q | tr ' ' '\n' | stats) (target: under 100)"

BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$BROWSER" ]; then
	DP=$(port)
	"$BROWSER" --headless --no-sandbox --disable-gpu --no-first-run --disable-quic --disable-background-networking \
		--disable-component-update --disable-sync --disable-default-apps --disable-domain-reliability \
		--disable-breakpad --no-pings --proxy-server=http://127.0.0.1:9 \
		--remote-debugging-address=127.0.0.1 --remote-debugging-port=$DP --user-data-dir="$W/profile" \
		about:blank >"$W/browser.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do curl -sf http://127.0.0.1:$DP/json/version >/dev/null && break; sleep 0.2; done
	page="" host=""
	for _ in $(seq 5); do
		page="$page $($BR $DP eval "http://127.0.0.1:$HP/" "performance.getEntriesByName('matrix rendered')[0].startTime.toFixed(0)" | tail -1)"
		$BR $DP run "range = 7 * 86400, window.t0 = performance.now(), detail('host-0'), 1" >/dev/null
		$BR $DP wait "performance.getEntriesByName('charts drawn').length > 0" 10 >/dev/null
		host="$host $($BR $DP run "(performance.getEntriesByName('charts drawn')[0].startTime - t0).toFixed(0)")"
	done
	echo "the page, until its matrix of 100 x 5 is drawn: ms, $(echo $page | tr ' ' '\n' | stats) (target: under 1000)"
	echo "a host's page over 7 days, until its 5 charts are drawn: ms, $(echo $host | tr ' ' '\n' | stats) (target: under 1000)"
	$BR $DP shot "$W/host.png" 1400 900 >/dev/null
	[ -n "${SHOTS:-}" ] && cp "$W/host.png" "$SHOTS/console-history.png"
else
	echo "the page: chromium is not installed; skipped"
fi

if command -v sqlite3 >/dev/null; then
	kill $NODE; wait $NODE 2>/dev/null
	read -r bytes rows < <(sqlite3 "$W/week/n.db" "SELECT (SELECT sum(pgsize) FROM dbstat WHERE name = 'history'), (SELECT count(*) FROM history)" | tr '|' ' ')
	per=$(awk -v b="$bytes" -v r="$rows" 'BEGIN { printf "%.1f", b / r }')
	echo "history on disk: $rows rows in $((bytes / 1048576)) MB, $per bytes a row"
	echo "a year for 1,000 views: 13,920 rows a view, $(awk -v p="$per" 'BEGIN { printf "%.0f", 1000 * 13920 * p / 1048576 }') MB (target: under 1024)"
else
	echo "history on disk: sqlite3 is not installed; skipped"
fi
