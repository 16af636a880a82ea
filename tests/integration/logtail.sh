#!/bin/bash
# hview-logtail: the rules and ZooKeeper plugins on the shipped samples, a
# log followed across rename rotation and copytruncate, -stale, a node that
# is down, hostile rules files and log lines.
. "$(dirname "$0")/../lib.sh"
L=$BIN/hview-logtail C=$BIN/hview-client S=$BIN/hview-server
T=$ROOT/tools/logtail
cd "$WORK"
P=$(free_port)
check "the node answers" start_node 127.0.0.1:$P n.db n0 n.log
C="$C -server 127.0.0.1:$P"

# --- the generic rules plugin on the sample nginx-style log ------------------------
$L -server 127.0.0.1:$P -log $T/app.log -queue q.app -stale -1 -once rules --rules $T/app-rules.json 2>app.err
check "rules plugin: -once exits 0 when all is delivered" test $? -eq 0
check "it says what it follows, and as whom" grep -q "following $T/app.log with 3 rules (rules), reporting to Panorama 127.0.0.1:$P as observer frontend-1" app.err
check "counts: 6 lines, 4 reports, 1 with a bad status" grep -q "6 lines read, 4 reports, 0 stale, 1 with bad values, 0 not about a known subject; all delivered" app.err
$C dump inference >app.inf
check "refused upstream: UNHEALTHY 0 at the line's own time" grep -qx '\[frontend-1\] ==> 10.0.0.12:8080: 2026-11-23T10:00:01Z { http: UNHEALTHY, 0.0; }' app.inf
check "timed-out upstream: PENDING 40" grep -q '10.0.0.13:8080: 2026-11-23T10:00:02Z { http: PENDING, 40.0; }' app.inf
check "status and score from the line's groups" grep -q 'db-2: .* { health: HEALTHY, 97.5; }' app.inf
check "a status no one knows (SIDEWAYS) reports nothing" bash -c "! grep -q db-3 app.inf"

# --- the ZooKeeper plugin (Panorama's) on a sample zookeeper.out --------------------
$L -server 127.0.0.1:$P -log $T/zookeeper/zookeeper.out -queue q.zk -stale=-1 -once zookeeper \
	--ensemble $T/zookeeper/zoo.cfg --filter $T/zookeeper/zoo_filter.json 2>zk.err
check "zookeeper plugin: exits 0" test $? -eq 0
check "the observer is this server, from dataDir/myid" grep -q "as observer peer@1" zk.err
$C get view peer@1 peer@2 >zk.view
check "peer@2: the election notification, connection and sync, then the broken connection, in order" \
	test "$(sed -n 's/^  |peer@1| [^ ]* { \(.*\) }$/\1/p' zk.view | tr '\n' '/')" = \
	"election: HEALTHY, 100.0;/quorum: HEALTHY, 100.0;/sync: HEALTHY, 100.0;/quorum: UNHEALTHY, 20.0;/"
check "peer@3: cannot open a channel to it: UNHEALTHY" \
	bash -c "$C get inference peer@3 | grep -q 'election: UNHEALTHY, 10.0'"
check "nothing about itself, nor about an address outside the ensemble" \
	test "$($C list subject | cut -f1 | grep -c '^peer@')" -eq 2
check "those two lines are counted" grep -q "2 not about a known subject" zk.err

# --- following a live log across rename rotation and copytruncate -------------------
cat >live.json <<'EOF'
{ "observer": "tail", "rules": [ { "match": "backend=([a-z0-9]+) (up|down)", "subject": "$1", "metric": "m",
  "status": "HEALTHY", "stop": true } ] }
EOF
$L -server 127.0.0.1:$P -log live.log -queue q.live rules --rules live.json 2>live.err &
tail_pid=$!
on_exit "kill -9 $tail_pid"
sleep 0.3
check "a log that does not exist yet is waited for" grep -q "live.log: No such file or directory; waiting for it" live.err
echo "backend=a1 up" >>live.log
printf 'backend=a2 up\nbackend=a3 ' >>live.log # a3's line is not finished yet
sleep 0.3
printf 'up\n' >>live.log
mv live.log live.log.1 # rotation: a writer still holding the old file adds one more line
echo "backend=a4 up" >>live.log.1
sleep 0.3
echo "backend=b1 up" >live.log
echo "backend=b2 up" >>live.log
sleep 0.4
: >live.log # copytruncate
echo "backend=c1 up" >>live.log
sleep 0.4
kill -TERM $tail_pid
wait $tail_pid
check "SIGTERM: exit 0" test $? -eq 0
got=$($C list subject | cut -f1 | grep -E '^[abc][0-9]$' | sort | tr '\n' ' ')
check "every line came through rotation and truncation ($got)" test "$got" = "a1 a2 a3 a4 b1 b2 c1 "
check "rotation was noticed" grep -q "live.log was rotated" live.err
check "truncation was noticed" grep -q "live.log was truncated" live.err

# --- -stale: old news is not reported ------------------------------------------------
{
	echo "$(date -u -d '-1 hour' '+%Y/%m/%d %H:%M:%S') [error] upstream timed out (110) upstream: \"http://10.9.9.1:80/\""
	echo "$(date -u -d '-10 seconds' '+%Y/%m/%d %H:%M:%S') [error] upstream timed out (110) upstream: \"http://10.9.9.2:80/\""
	echo "health backend=db-9 status=h score=99"
} >stale.log
$L -server 127.0.0.1:$P -log stale.log -queue q.stale -once rules --rules $T/app-rules.json 2>stale.err
check "-stale 300 (default): an hour-old line is skipped; a recent one and an undated one are reported" \
	grep -q "3 lines read, 2 reports, 1 stale" stale.err
$L -server 127.0.0.1:$P -log stale.log -queue q.stale -stale 5 -once rules --rules $T/app-rules.json 2>stale5.err
check "-stale 5: the 10-second-old line is skipped too" grep -q "3 lines read, 1 reports, 2 stale" stale5.err

# --- the node is down: reports wait on disk, then arrive ------------------------------
P2=$(free_port)
echo "backend=d1 up" >down.log
$L -server 127.0.0.1:$P2 -log down.log -queue q.down -once -wait 1 rules --rules live.json 2>down.err
check "node down: -once exits 1" test $? -eq 1
check "and says the reports stay on disk" grep -q "1 reports not yet acknowledged stay in q.down" down.err
: >down.log
$L -server 127.0.0.1:$P -log down.log -queue q.down -once rules --rules live.json 2>down2.err
check "the next run delivers them" bash -c "$C list subject | grep -q '^d1'"

# --- hostile input ---------------------------------------------------------------------
bad() { # NAME EXPECTED-TEXT RULES-JSON
	printf '%s' "$3" >bad.json
	$L -server 127.0.0.1:$P -log down.log -queue q.bad -once rules --rules bad.json 2>bad.err
	local rc=$?
	check "bad rules ($1): exit 2 and one line naming the file" \
		bash -c "[ $rc -eq 2 ] && [ \$(wc -l <bad.err) -eq 1 ] && grep -q '^hview-logtail: bad.json: .*$2' bad.err"
}
bad "not JSON" "line 1" '{"rules": ['
bad "unknown field" "rules\[0\].colour: unknown field" '{"rules": [{"match": "x", "subject": "s", "metric": "m", "status": "h", "colour": 1}]}'
bad "bad regex" "bad regular expression" '{"rules": [{"match": "(", "subject": "s", "metric": "m", "status": "h"}]}'
bad "missing group" "names a group the expression does not have" '{"rules": [{"match": "(a)", "subject": "$2", "metric": "m", "status": "h"}]}'
bad "bad status" "not a Panorama status" '{"rules": [{"match": "a", "subject": "s", "metric": "m", "status": "fine"}]}'
bad "no rules" "rules: must be a non-empty array" '{"rules": []}'
bad "NUL byte" "NUL" '{"rules": [{"match": "a\u0000b", "subject": "s", "metric": "m", "status": "h"}]}'
$L -log x rules 2>e1.err; check "no --rules: exit 2" test $? -eq 2
$L -log x nosuch 2>e2.err; rc=$?
check "unknown plugin: exit 2, named" bash -c "[ $rc -eq 2 ] && grep -q \"unknown plugin 'nosuch'\" e2.err"
$L rules --rules live.json 2>e3.err; check "no -log: exit 2" test $? -eq 2
$L -server 127.0.0.1:$P -log /nonexistent.log -queue q.none -once rules --rules live.json 2>e7.err; rc=$?
check "-once on a log that does not exist: exit 1 naming it" \
	bash -c "[ $rc -eq 1 ] && grep -q '/nonexistent.log: cannot open it: No such file or directory' e7.err"
$L -log x -stale -5 rules --rules live.json 2>e4.err; check "-stale -5: exit 2" test $? -eq 2
$L -log x zookeeper --ensemble /nonexistent/zoo.cfg 2>e5.err; rc=$?
check "missing zoo.cfg: exit 2 naming it" bash -c "[ $rc -eq 2 ] && grep -q '/nonexistent/zoo.cfg: cannot open' e5.err"
printf 'tickTime=2000\n' >nozk.cfg
$L -log x zookeeper --ensemble nozk.cfg 2>e6.err
check "zoo.cfg without servers: a clear error" grep -q "nozk.cfg: no server.N lines" e6.err
{
	head -c 200000 /dev/urandom | tr -d '\n'
	echo
	printf 'backend=e1 up\r\n'
	head -c 3000 /dev/urandom
	printf '\nbackend=e2 up\n'
	printf 'backend=%0300d up\n' 7
} >hostile.log
$L -server 127.0.0.1:$P -log hostile.log -queue q.h -once rules --rules live.json 2>hostile.err
check "hostile log: exit 0" test $? -eq 0
check "a 200 kB line is skipped and said so" grep -q "1 lines longer than 65536 bytes skipped" hostile.err
check "lines after garbage (and CRLF) still count" bash -c "$C list subject | grep -q '^e1' && $C list subject | grep -q '^e2'"
check "an oversized subject is dropped, not sent" grep -q "1 with bad values" hostile.err

if command -v valgrind >/dev/null; then
	: >vg.log
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		$L -server 127.0.0.1:$P -log $T/zookeeper/zookeeper.out -queue q.vg -stale -1 -once zookeeper \
		--ensemble $T/zookeeper/zoo.cfg 2>vg.err
	check "valgrind: no leaks or errors in a -once run" test $? -eq 0
else
	skip "valgrind" "not installed"
fi
if [ "$FAILED" = 1 ]; then show app.err zk.err live.err stale.err down.err down2.err hostile.err n.log; fi
kill -TERM $node; wait $node
