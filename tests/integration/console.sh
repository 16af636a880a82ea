#!/bin/bash
# hview-server -http: the console page, the JSON API with the content of the
# matching hview-client commands, Prometheus /metrics that promtool accepts,
# live changes as server-sent events, and hostile HTTP that never stops the
# node answering reports.
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client S=$BIN/hview-server
cd "$WORK"
rss() { awk '/VmRSS/ { print $2 }' /proc/$1/status; }
P=$(free_port) HP=$(free_port)
URL=http://127.0.0.1:$HP
"$S" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile c.db nc 2>>c.log &
node=$!
on_exit "kill -9 $node"
check "a node with -http answers" wait_node 127.0.0.1:$P
check "and says where its console is" grep -q "console on http://127.0.0.1:$HP/" c.log
{ echo "me o1"; echo "report db-1 rtt:h:90"; echo "report db-2 rtt:u:10 cpu:p:50"
  echo "me o2"; echo "report db-1 rtt:p:40"; } | $C -server 127.0.0.1:$P >/dev/null

check "/ is the console page" bash -c "curl -sf $URL/ | grep -q '<title>Panorama</title>'"
check "/api/v1/subjects lists what list subject lists" \
	bash -c "[ \"\$(curl -sf $URL/api/v1/subjects | python3 -c 'import json,sys; print(\" \".join(s[\"subject\"] for s in json.load(sys.stdin)))')\" = \"\$($C -server 127.0.0.1:$P list subject | cut -f1 | tr '\n' ' ' | sed 's/ \$//')\" ]"
check "/api/v1/observers lists what list observer lists" \
	bash -c "[ \"\$(curl -sf $URL/api/v1/observers | python3 -c 'import json,sys; print(\" \".join(json.load(sys.stdin)))')\" = \"\$($C -server 127.0.0.1:$P list observer | tr '\n' ' ' | sed 's/ \$//')\" ]"
infer() { curl -sf "$URL/api/v1/inference" | python3 -c "import json,sys; d=json.load(sys.stdin)['$1']['metrics']; print('; '.join('%s: %s, %.1f' % (k, v['status'], v['score']) for k, v in sorted(d.items())))"; }
check "/api/v1/inference says what get inference says (db-1: $(infer db-1))" \
	bash -c "$C -server 127.0.0.1:$P get inference db-1 | grep -qF '{ $(infer db-1); }'"
check "/api/v1/panorama?subject=db-1 has both views" \
	bash -c "curl -sf '$URL/api/v1/panorama?subject=db-1' | python3 -c 'import json,sys; assert [v[\"observer\"] for v in json.load(sys.stdin)[\"views\"]] == [\"o1\", \"o2\"]'"
check "/api/v1/matrix colours each cell by its view (db-2 by o1: UNHEALTHY)" \
	bash -c "curl -sf $URL/api/v1/matrix | python3 -c 'import json,sys; m=json.load(sys.stdin); r=[x for x in m[\"subjects\"] if x[\"subject\"]==\"db-2\"][0]; assert r[\"cells\"][\"o1\"][0]==5 and \"o2\" not in r[\"cells\"]'"
check "an unknown subject is a 404" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/api/v1/panorama?subject=nope') = 404 ]"
curl -sf $URL/metrics >metrics.txt
if command -v promtool >/dev/null; then
	check "promtool check metrics passes on /metrics" bash -c "promtool check metrics <metrics.txt"
else
	skip "promtool check metrics" "promtool (prometheus) not installed"
fi
if command -v promtool >/dev/null; then
	check "the alerting rules pass promtool check rules" promtool check rules "$ROOT/tools/prometheus/panorama.rules.yml"
	check "and promtool test rules on synthetic series" \
		bash -c "cd '$ROOT/tools/prometheus' && promtool test rules panorama.rules.test.yml"
	check "the scrape config example is valid" promtool check config "$ROOT/tools/prometheus/prometheus.yml"
fi
check "/metrics has each subject's inferred status" grep -q 'pano_subject_status_code{subject="db-2",metric="rtt",status="UNHEALTHY"} 5' metrics.txt

# live: a report turns a subject's row over the event stream within a second
timeout 5 curl -sN $URL/events >events.out &
sleep 0.5
printf 'me o3\nreport db-3 rtt:d:0\n' | $C -server 127.0.0.1:$P >/dev/null
sent=$(date +%s%N)
eventually 3 grep -q '"subject":"db-3"' events.out
ms=$(( ($(date +%s%N) - sent) / 1000000 ))
check "the event stream carries the new row within a second ($ms ms)" \
	bash -c "grep -q '\"subject\":\"db-3\"' events.out && [ $ms -lt 1000 ]"

# hostile HTTP: nothing stops the node answering reports
before=$(rss $node)
python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $HP)); s.sendall(b'GARBAGE\x00\xff\r\n\r\n' * 100); s.close()"
check "a huge header is refused" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H \"X-Big: \$(head -c 65536 /dev/zero | tr '\\0' a)\" $URL/) != 200 ]"
check "POST is refused (405)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 $URL/metrics) = 405 ]"
check "a path with bytes that are not UTF-8 is refused (400)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/%ff%fe') = 400 ]"
check "path tricks find nothing (404)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' --path-as-is '$URL/../../etc/passwd') = 404 ]"
python3 - 127.0.0.1 $HP <<'PY' &
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
idle = []
for _ in range(1000):
    try:
        s = socket.create_connection((host, port), timeout=1)
        s.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never finishes
        idle.append(s)
    except OSError:
        pass
time.sleep(4)
PY
crowd=$!
sleep 2
check "with 1,000 idle and half-sent connections, the node still takes reports" \
	bash -c "printf 'me o4\nreport db-4 rtt:h:80\n' | $C -server 127.0.0.1:$P | grep -q Accepted"
wait $crowd
check "and serves HTTP again once they are gone" eventually 15 bash -c "curl -sf -m 2 $URL/api/v1/subjects | grep -q db-4"
after=$(rss $node)
check "its memory stays bounded (RSS $before -> $after kB)" test "$after" -lt $((before + 65536))
kill -TERM $node; wait $node
check "it stops cleanly on SIGTERM with the console on" grep -q "node nc stopping" c.log

# --- a bearer token, for an address beyond loopback ------------------------------------------
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
echo >>token
P=$(free_port) HP=$(free_port)
"$S" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -http-token token -dbfile t.db nt 2>>t.log &
node=$!
on_exit "kill -9 $node"
wait_node 127.0.0.1:$P
check "with -http-token, a request without the token gets 401" \
	bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HP/metrics) = 401 ]"
check "one with the wrong token too" \
	bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 0123456789abcdef0123' http://127.0.0.1:$HP/metrics) = 401 ]"
check "one with the token is served" \
	bash -c "curl -sf -H \"Authorization: Bearer \$(head -1 token)\" http://127.0.0.1:$HP/metrics | grep -q pano_store_subjects"
kill -TERM $node; wait $node
echo short >short.token
"$S" -addr 127.0.0.1:$(free_port) -http 127.0.0.1:$(free_port) -http-token short.token -dbfile s.db ns 2>short.err
check "a token shorter than 16 characters is refused at start" bash -c "[ $? -ne 0 ] && grep -q 'the token must be one line of 16' short.err"

# --- the page in a real browser: chromium, headless --------------------------------------
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
	skip "the console in a browser" "chromium is not installed"
	exit $FAILED
fi
B="python3 $ROOT/tests/helpers/browser.py"
P=$(free_port) HP=$(free_port) DP=$(free_port)
URL=http://127.0.0.1:$HP
"$S" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile b.db nb 2>>b.log &
node=$!
on_exit "kill -9 $node"
wait_node 127.0.0.1:$P
{ echo "me o1"; echo "report db-1 rtt:h:90"; echo "report db-2 rtt:u:10"; echo "me o2"; echo "report db-1 rtt:h:80"
  echo "report db-2 rtt:h:70"; echo "me o3"; echo "report db-3 rtt:p:50"; } | $C -server 127.0.0.1:$P >/dev/null
start_browser $DP
cell() { echo "document.getElementById('r-$1').children[$2].className"; }
$B $DP eval $URL/ "document.querySelectorAll('tbody tr').length" "$(cell db-1 2)" "$(cell db-2 2)" "$(cell db-2 3)" \
	"$(cell db-3 2)" "document.querySelector('tbody tr').id" >page.out 2>&1
check "the page shows 3 subjects x 3 observers" test "$(sed -n 1p page.out)" = 3
check "each cell is coloured by its view's newest status (HEALTHY, UNHEALTHY, HEALTHY, none)" \
	test "$(sed -n 2,5p page.out | tr '\n' ' ')" = "s2 s5 s2 none "
check "worst first: db-2 (UNHEALTHY) on top" test "$(sed -n 6p page.out)" = r-db-2
printf 'me o1\nreport db-1 rtt:u:5\n' | $C -server 127.0.0.1:$P >/dev/null
sent=$(date +%s%N)
$B $DP wait "document.getElementById('r-db-1').children[2].classList.contains('s5')" 3
rc=$?
ms=$(( ($(date +%s%N) - sent) / 1000000 ))
check "a report that turns db-1 UNHEALTHY changes its cell without a reload, within a second ($ms ms)" \
	bash -c "[ $rc -eq 0 ] && [ $ms -lt 1000 ]"
mkdir -p "$ROOT/build/console"
$B $DP shot "$ROOT/build/console/3x3.png" 900 300
check "a screenshot of it (build/console/3x3.png)" test -s "$ROOT/build/console/3x3.png"
# 1,000 subjects x 10 observers
"$ROOT/build/tests/pano-bench" 127.0.0.1:$P 2 32 0 1000 10 1 >/dev/null
# (the matrix a page loads may be up to a second old: the events since
# bring it up to date)
start=$(date +%s%N)
$B $DP eval $URL/ "1" >/dev/null
$B $DP wait "document.querySelectorAll('tbody tr').length === 1003 && document.querySelectorAll('thead th').length === 15" 5
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "at 1,000 subjects x 10 observers the matrix has every row and column (in $ms ms)" test $rc -eq 0
$B $DP shot "$ROOT/build/console/1000x10.png" 1280 800
check "a screenshot of it (build/console/1000x10.png)" test -s "$ROOT/build/console/1000x10.png"
# observers named as what every JavaScript object inherits
printf 'me constructor\nreport db-9 rtt:h:90\nme toString\nreport db-9 rtt:u:9\nme __proto__\nreport db-9 rtt:h:80\n' |
	$C -server 127.0.0.1:$P >/dev/null
$B $DP eval $URL/ "1" >/dev/null
$B $DP wait "document.getElementById('r-db-9') !== null && document.querySelectorAll('tbody tr').length === 1004" 5
check "observers named constructor, toString and __proto__ do not blank the matrix" test $? -eq 0
$B $DP eval $URL/ "document.querySelectorAll('#r-db-9 td.s5').length" "document.querySelectorAll('#r-db-1 td.s2').length" \
	>proto.out 2>&1
check "their cells show what they reported, others' rows are as before" \
	bash -c "[ \"\$(sed -n 1p proto.out)\" -ge 1 ] && [ \"\$(sed -n 2p proto.out)\" -ge 1 ]"
kill -TERM $node; wait $node

# --- peers: configured, and reachable (they answer the node's pings) ------------------
CP=$(free_port) H0=$(free_port)
for i in 0 1; do
	$BIN/hview-mkrc -fix_port $CP -nserver 2 -addressp "127.0.7.%d" -namep "k%d" -id k$i -dbfile k$i.db \
		-output k$i.cfg >/dev/null
done
"$S" -config k0.cfg -http 127.0.0.1:$H0 2>>k0.log &
k0=$!
on_exit "kill -9 $k0"
"$S" -config k1.cfg 2>>k1.log &
k1=$!
on_exit "kill -9 $k1"
wait_node 127.0.7.0:$CP
check "a node with a peer that answers counts it reachable" eventually 12 bash -c "[ \"\$(curl -sf http://127.0.0.1:$H0/metrics | awk '\$1 == \"pano_peers_reachable\" { print \$2 }')\" = 1 ]"
check "and /api/v1/peers says so" bash -c "curl -sf http://127.0.0.1:$H0/api/v1/peers | grep -q '\"reachable\":true'"
check "the node is not its own peer ($(curl -sf http://127.0.0.1:$H0/metrics | grep '^pano_peers '))" \
	bash -c "curl -sf http://127.0.0.1:$H0/metrics | grep -qx 'pano_peers 1'"
kill -TERM $k0 $k1; wait $k0 $k1
[ "$FAILED" = 1 ] && show page.out browser.log b.log k0.log
exit $FAILED
