#!/bin/bash
# What a stranger, a careless operator or a hostile program can do to the
# HTTP faces, the library and the daemons' privileges, each tried on
# loopback:
#  - 300 slow clients (a request's header a line every 2 s, never ended)
#    against a node's and an agent's HTTP face: every legitimate request is
#    still answered within a second, the slow ones are closed and logged;
#  - a quiet /events stream outlives the idle timeout (keepalives);
#  - scrapers that never read, on an agent of 20,000 targets: its memory
#    stays bounded (the answer streams from a snapshot), and --duration is
#    kept;
#  - an HTM budget below what the targets need: said, shown in /metrics,
#    and no host goes DEAD for it;
#  - libcloudsonar's calls made wrong (tests/helpers/pano_library.c);
#  - hview-server started as root runs as another user;
#  - sonar-keygen -dir makes the folder.
. "$(dirname "$0")/../lib.sh"
S=$BIN/hview-server C=$BIN/hview-client A=$BIN/sonar-agent
cd "$WORK"
ulimit -n 4096 2>/dev/null

# legit URL N: N requests, one every 0.2 s; prints the slowest in ms and how
# many were not answered 200 within a second
legit() {
	local worst=0 bad=0 i t
	for i in $(seq "$2"); do
		t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$1" 2>/dev/null)
		[ "${t%% *}" = 200 ] || bad=$((bad + 1))
		t=$(awk -v s="${t#* }" 'BEGIN { printf "%d", s * 1000 }')
		[ "$t" -gt "$worst" ] && worst=$t
		sleep 0.2
	done
	echo "$worst $bad"
}

# --- a node -------------------------------------------------------------------------
P=$(free_port) HP=$(free_port)
"$S" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile n.db n0 2>n.log &
node=$!
on_exit "kill -9 $node"
wait_node 127.0.0.1:$P
printf 'me o1\nreport s1 m:h:90\n' | $C -server 127.0.0.1:$P >/dev/null
python3 "$ROOT/tests/helpers/slowloris.py" 127.0.0.1 $HP 300 20 >sl-node.out &
sl=$!
on_exit "kill $sl"
sleep 2
read -r worst bad < <(legit http://127.0.0.1:$HP/api/v1/subjects 40)
check "a node's HTTP face under 300 slow clients answers every request within a second (slowest $worst ms, $bad not)" \
	test "$bad" -eq 0
wait $sl
check "and closed the slow ones, saying so ($(cat sl-node.out))" \
	bash -c "grep -q 'sent no whole request within 5 s' n.log && [ \$(awk '{ print \$4 }' sl-node.out) -gt 0 ]"
# /events: quiet for longer than the idle timeout, the stream stays open
timeout 14 curl -sN http://127.0.0.1:$HP/events >events.out 2>/dev/null
check "a quiet /events stream is kept alive past the idle timeout ($(grep -c keepalive events.out) keepalives in 14 s)" \
	test "$(grep -c keepalive events.out)" -ge 2
if is_root; then
	check "hview-server started as root runs as another user ($(awk '/^Uid:/ { print $2 }' /proc/$node/status))" \
		test "$(awk '/^Uid:/ { print $2 }' /proc/$node/status)" -ne 0
	check "with no capability left" test "$(awk '/^CapEff:/ { print $2 }' /proc/$node/status)" = 0000000000000000
	check "and says so" grep -q "running as .* from now on" n.log
	check "the database is still written" \
		bash -c "printf 'me o1\nreport s2 m:h:90\n' | $C -server 127.0.0.1:$P | grep -q Accepted"
	"$S" -addr 127.0.0.1:$(free_port) -dbfile u.db -user no-such-user-here nu 2>nouser.err
	check "-user naming no user: exit 1, saying so" bash -c "[ $? -eq 1 ] && grep -q 'no user' nouser.err"
else
	skip "hview-server drops root" "needs root"
fi
"$BIN/../build/tests/pano-library" 127.0.0.1:$P >library.out 2>&1
check "libcloudsonar's hostile calls are refused, none crashes ($(grep -c '^ok' library.out) ok)" \
	bash -c "! grep -q '^not ok' library.out && [ \$(grep -c '^ok' library.out) -ge 20 ]"
kill -TERM $node; wait $node

# --- an agent ---------------------------------------------------------------------------
HP=$(free_port)
for i in $(seq 0 19999); do echo "127.1.$((i / 250)).$((i % 250 + 1))"; done >targets
$A --targets targets --no-htm --interval 10 --log-dir big --http 127.0.0.1:$HP --duration 30 2>big.err &
agent=$!
on_exit "kill -9 $agent"
eventually 10 curl -sf -o /dev/null http://127.0.0.1:$HP/metrics
size=$(curl -s http://127.0.0.1:$HP/metrics | wc -c)
before=$(awk '/^VmRSS:/ { print $2 }' /proc/$agent/status)
# 8 scrapers that send their request and never read the answer
python3 - $HP >stuck.out <<'EOF' &
import socket, sys, time
conns = []
for _ in range(8):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(s)
time.sleep(8)
print("held")
EOF
stuck=$!
sleep 6
during=$(awk '/^VmRSS:/ { print $2 }' /proc/$agent/status)
wait $stuck
check "8 scrapers that never read ${size}-byte answers leave the agent's memory bounded (RSS $before kB, then $during kB)" \
	test $((during - before)) -lt $((size / 1024 * 2 + 20000))
python3 "$ROOT/tests/helpers/slowloris.py" 127.0.0.1 $HP 300 12 >sl-agent.out &
sl=$!
sleep 2
read -r worst bad < <(legit http://127.0.0.1:$HP/metrics 15)
check "the agent's /metrics under 300 slow clients answers every scrape within a second (slowest $worst ms)" \
	test "$bad" -eq 0
wait $sl
start=$SECONDS
wait $agent
check "and it ends when --duration says, scrapers or not (exit $?, $((SECONDS - start)) s after the attacks)" \
	test $((SECONDS - start)) -lt 15

# --- an HTM budget below what the targets need ---------------------------------------------
HP=$(free_port)
$A --htm-budget 2 --interval 0.2 --duration 4 --log-dir budget --http 127.0.0.1:$HP \
	$(for i in $(seq 1 40); do echo 127.0.3.$i; done) 2>budget.err &
agent=$!
sleep 3
curl -s http://127.0.0.1:$HP/metrics >budget.prom
wait $agent
check "an HTM budget below the targets' need is said at start" grep -q "more than the budget of 2 MB" budget.err
check "and in /metrics ($(awk '$1 == "sonar_htm_refused_hosts" { print $2 }' budget.prom) hosts without a model)" \
	test "$(awk '$1 == "sonar_htm_refused_hosts" { print $2 }' budget.prom)" -ge 30
check "no host is DEAD or failing for it" \
	bash -c "! grep -q DEAD budget/attention.csv && ! grep -q ',ERROR,' budget/fd.csv"

# --- sonar-keygen -dir ----------------------------------------------------------------------------
$BIN/sonar-keygen -dir newkeys a1 >/dev/null 2>keygen.err
check "sonar-keygen -dir makes a folder that is not there (mode 700)" \
	bash -c "[ -s newkeys/a1.key ] && [ \$(stat -c %a newkeys) = 700 ]"
[ "$FAILED" = 1 ] && show n.log big.err budget.err library.out sl-node.out sl-agent.out
exit $FAILED
