#!/bin/bash
# History in the node: a live agent's reports carry what it measured, the
# node keeps it per view and serves it at /api/v1/history; it survives
# kill -9 of the node; hostile queries get one clear error.  Then a day of
# history for 20 hosts x 3 observers, and the console in a headless
# chromium: cells in milliseconds, and a host's page with a chart per
# observer.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
S=$BIN/hview-server
P=$(free_port) HP=$(free_port)
URL=http://127.0.0.1:$HP
start() {
	"$S" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile h.db nh 2>>h.log &
	node=$!
	on_exit "kill -9 $node"
	wait_node 127.0.0.1:$P
}
check "a node" start
"$BIN/sonar-agent" --interval 0.2 --no-htm --server 127.0.0.1:$P --observer obs-a --log-dir logs \
	--duration 25 127.0.0.1 2>agent.err
hist() { curl -s "$URL/api/v1/history?subject=127.0.0.1${1:-}"; }
hist >h1.json
check "the agent's measurements are the view's history" python3 -c '
import json, sys
h = json.load(open("h1.json"))
s = h["series"]
assert h["step"] == 60 and len(s) == 1 and s[0]["observer"] == "obs-a", h
pts = s[0]["points"]
probes = sum(p[1] for p in pts)
assert 50 <= probes <= 130, probes          # 25 s at 0.2 s, less what came after the last report
for t, n, lost, lo, med, p90, hi, bad in pts:
    assert lost == 0 and 0 < lo <= med <= p90 <= hi < 50, (lo, med, p90, hi)
'
check "a cell of the matrix says the newest median in ms" \
	bash -c "curl -s $URL/api/v1/matrix | grep -Eq '\"obs-a\":\[2,[0-9.]+,[0-9.]+,0,[0-9.]+,'"
kill -9 $node
wait $node 2>/dev/null
check "the node again, after kill -9" start
hist >h2.json
hist "&observer=obs-a" >h3.json
same_series() { python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); assert a["series"] == b["series"] and a["series"]' "$@"; }
check "serves the same history" same_series h1.json h2.json
check "one observer's" same_series h1.json h3.json
check "an unknown subject has no series" bash -c "curl -s '$URL/api/v1/history?subject=nobody' | grep -q '\"series\":\[\]'"
bad_query() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/history?$1")" = "$2" ]; }
check "no subject: 400" bad_query "" 400
check "a time that is not a number: 400" bad_query "subject=x&from=yesterday" 400
check "from after to: 400" bad_query "subject=x&from=200&to=100" 400
check "a step past 2^40: 400" bad_query "subject=x&step=99999999999999999999" 400
check "a span of a century is answered, in few points" \
	bash -c "curl -s '$URL/api/v1/history?subject=127.0.0.1&from=0' | grep -q '\"step\":'"
check "the node still answers" wait_node 127.0.0.1:$P

"$ROOT/build/tests/pano-history" 127.0.0.1:$P 20 3 86400 300 >fill.out 2>&1
check "a day of history for 20 hosts x 3 observers ($(cat fill.out))" grep -q '^17340 reports acknowledged' fill.out
check "a day of host-0 in 5-minute points" bash -c "curl -s '$URL/api/v1/history?subject=host-0&observer=obs-1&from=$(($(date +%s) - 86400))&step=300' |
	python3 -c 'import json, sys; p = json.load(sys.stdin)[\"series\"][0][\"points\"]; assert 285 <= len(p) <= 290, len(p); assert sum(q[7] > 0 for q in p) >= 4'"

BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ] || [ ! -r /usr/share/javascript/dygraphs/dygraph.min.js ]; then
	skip "the history in a browser" "chromium or libjs-dygraphs is not installed"
	exit $FAILED
fi
B="python3 $ROOT/tests/helpers/browser.py"
DP=$(free_port)
start_browser $DP
$B $DP eval $URL/ "document.getElementById('r-host-0').children[2].textContent" "typeof Dygraph" >page.out 2>&1
check "the page shows a cell in ms ($(sed -n 1p page.out))" grep -Eq '^[0-9.]+ ms$' <(sed -n 1p page.out)
check "the charting library is served by the node" test "$(sed -n 2p page.out)" = function
$B $DP run "range = 86400, detail('host-0'), 1" >/dev/null
check "host-0's page draws a chart per observer" \
	$B $DP wait "document.querySelectorAll('#detail .chart canvas').length >= 3 && performance.getEntriesByName('charts drawn').length > 0" 10
$B $DP shot host.png 1400 900
check "and a screenshot of it" test -s host.png
[ "$FAILED" = 1 ] && show h.log agent.err h1.json page.out browser.log
exit $FAILED
