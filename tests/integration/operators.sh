#!/bin/bash
# What operators use around the agent and Panorama: sonar-plot's charts,
# the Prometheus textfile, hview-client watch, the systemd units and the
# cron line.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"

# --- sonar-plot on a recorded run (a day of two hosts, replayed) -------------------
awk 'BEGIN { srand(7); print "timestamp,host,rtt_ns"
	for (m = 0; m < 1440; m += 2) for (k = 0; k < 2; k++) {
		host = k ? "web-1" : "db-1"; rtt = (k ? 300000 : 100000) * (0.8 + 0.4 * rand())
		if (k == 0 && m >= 840 && m < 960) rtt *= 4            # db-1 slow 14:00-16:00
		if (m == 600 && k == 1) { printf "2026-01-01T10:00:00.000Z,web-1,\n"; continue }   # one lost
		printf "2026-01-01T%02d:%02d:00.000Z,%s,%d\n", int(m / 60), m % 60, host, rtt } }' >sonar.csv
$BIN/sonar-replay --interval 120 --log-dir rec sonar.csv 2>/dev/null
png_size() { # prints WIDTHxHEIGHT of a PNG, or nothing when it is not one
	[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 1
	od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}
if command -v gnuplot >/dev/null; then
	$BIN/sonar-plot --log-dir rec --out charts --size 900x600 2>plot.err
	check "sonar-plot exits 0" test $? -eq 0
	check "it says what it drew" grep -q "2 host charts and distribution.png in charts" plot.err
	for f in db-1 web-1 distribution; do
		check "charts/$f.png is a 900x600 PNG" test "$(png_size charts/$f.png)" = "900x600"
	done
	$BIN/sonar-plot --log-dir rec --host db-1 --from 2026-01-01T12:00:00.000Z --to 2026-01-01T18:00:00.000Z \
		--out one 2>/dev/null
	check "--host and a time range: that host's chart only" \
		bash -c "[ -s one/db-1.png ] && [ ! -e one/web-1.png ] && [ \"\$(ls one | wc -l)\" -eq 2 ]"
	mkdir -p bad && cp rec/*.csv bad/
	printf 'garbage\n2026-01-01T23:59:00.000Z,db-1,-5,OK,0.1\n2026-01-01T23:59:00.000Z,db-1,100000,MAYBE,0.1\n\0\n' >>bad/fd.csv
	$BIN/sonar-plot --log-dir bad --out badcharts 2>bad.err
	check "bad lines are reported with their numbers and skipped; the charts still come" \
		bash -c "[ $? -eq 0 ] && grep -q 'fd.csv: line 1442: not 5 comma-separated fields' bad.err &&
		         grep -q 'line 1443: bad rtt_ns' bad.err && grep -q 'line 1444: status is not OK' bad.err && [ -s badcharts/db-1.png ]"
	mkdir -p empty && head -1 rec/fd.csv >empty/fd.csv
	$BIN/sonar-plot --log-dir empty --out e 2>empty.err
	check "an empty fd.csv: exit 1, nothing to draw" bash -c "[ $? -eq 1 ] && grep -q 'nothing to draw' empty.err"
else
	skip "sonar-plot charts" "gnuplot not installed (apt-get install gnuplot-nox)"
fi
$BIN/sonar-plot --log-dir nowhere --out x 2>none.err; rc=$?
check "no fd.csv: exit 1 naming it" bash -c "[ $rc -eq 1 ] && grep -q 'nowhere/fd.csv: No such file' none.err"
$BIN/sonar-plot --size 10x10 2>/dev/null; check "--size 10x10: exit 2" test $? -eq 2
$BIN/sonar-plot --from yesterday 2>/dev/null; check "--from yesterday: exit 2" test $? -eq 2
$BIN/sonar-plot --host 'a b' 2>/dev/null; check "--host 'a b': exit 2" test $? -eq 2

# --- the Prometheus textfile ----------------------------------------------------------
# (in the agent's own folder: started as root it runs as an ordinary user,
# which must be able to replace the file there; see the end of this part)
$BIN/sonar-agent --interval 0.2 --duration 2.5 --log-dir prom --prom-file prom/sonar.prom 127.0.0.1 ::1 2>/dev/null
check "--prom-file is written" test -s prom/sonar.prom
check "no temporary file left beside it" test ! -e prom/sonar.prom.tmp
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts it" bash -c "promtool check metrics <prom/sonar.prom"
else
	skip "promtool check metrics" "prometheus not installed"
fi
# the exposition format, checked here in any case
check "every sample line is NAME{LABELS} VALUE, every metric has HELP and TYPE" awk '
	/^# HELP [a-z_]+ / { help[$3] = 1; next }
	/^# TYPE [a-z_]+ (gauge|counter|histogram)$/ { type[$3] = 1; if ($4 == "histogram") hist[$3] = 1; next }
	/^[a-z_]+(\{host="[^"]*",address="[^"]*",method="[^"]*"(,(state="[A-Z_]+"|le="[^"]+"))?\})? -?[0-9.e+-]+$/ {
		n = $0; sub(/[{ ].*/, "", n); f = n; sub(/_(bucket|sum|count)$/, "", f); seen[hist[f] ? f : n] = 1; next }
	{ print "bad line: " $0; bad = 1 }
	END { for (m in seen) if (!help[m] || !type[m]) { print "no HELP/TYPE: " m; bad = 1 } exit bad }' prom/sonar.prom
check "sonar_probe_success is 1 for 127.0.0.1, with its address and method" \
	grep -Eqx 'sonar_probe_success\{host="127.0.0.1",address="127.0.0.1",method="[^"]+"\} 1' prom/sonar.prom
check "probes counted for ::1" bash -c "awk '/^sonar_probes_total\\{host=\"::1\"/ { exit !(\$2 >= 10) }' prom/sonar.prom"
check "one attention state per host is 1" \
	test "$(grep -c '^sonar_state{host="127.0.0.1",address="[^"]*",method="[^"]*",state="[A-Z_]*"} 1$' prom/sonar.prom)" -eq 1
check "the response times as a histogram: its +Inf bucket counts every answered probe" \
	bash -c "awk -F'} ' '/^sonar_response_seconds_bucket\\{host=\"127.0.0.1\".*le=\"\\+Inf\"/ { b = \$2 } /^sonar_response_seconds_count\\{host=\"127.0.0.1\"/ { c = \$2 } END { exit !(b > 0 && b == c) }' prom/sonar.prom"
check "RTTs in seconds" bash -c "awk '/^sonar_rtt_seconds/ { if (\$2 <= 0 || \$2 > 0.1) bad = 1; n++ } END { exit bad || n != 2 }' prom/sonar.prom"
$BIN/sonar-agent --prom-file '' 127.0.0.1 2>/dev/null; check "--prom-file '': exit 2" test $? -eq 2
# --http: the same metrics, live
HP=$(free_port)
$BIN/sonar-agent --interval 0.2 --duration 3 --log-dir httpagent --http 127.0.0.1:$HP 127.0.0.1 2>http.err &
agent_pid=$!
sleep 1.5
curl -sf http://127.0.0.1:$HP/metrics >live.prom
wait $agent_pid
check "--http serves /metrics live" grep -Eq '^sonar_probes_total\{host="127.0.0.1",address="127.0.0.1",method="[^"]+"\} [1-9]' live.prom
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts the live /metrics" bash -c "promtool check metrics <live.prom"
fi
check "the agent said where" grep -q "metrics on http://127.0.0.1:$HP/metrics" http.err
$BIN/sonar-agent --http nonsense --duration 1 127.0.0.1 2>bad.err
check "--http nonsense: one line, exit non-zero" bash -c "[ $? -ne 0 ] && grep -q 'is not IP:port' bad.err"
$BIN/sonar-agent --interval 0.2 --duration 0.5 --log-dir prom2 --prom-file /nonexistent/dir/x.prom 127.0.0.1 2>prom2.err
check "an unwritable --prom-file is an error at start: one line, exit 1" \
	bash -c "[ $? -eq 1 ] && [ \$(grep -c 'prom-file: /nonexistent/dir/x.prom.tmp' prom2.err) -eq 1 ]"
check "the textfile says when it was written" grep -q '^sonar_last_update_timestamp_seconds [0-9]' prom/sonar.prom
if is_root; then
	mkdir -p rootonly && chmod 755 rootonly
	$BIN/sonar-agent --interval 0.2 --duration 0.5 --log-dir prom3 --prom-file rootonly/x.prom 127.0.0.1 2>prom3.err
	check "as root, a --prom-file folder the agent's user cannot write: one line saying so, exit 1" \
		bash -c "[ $? -eq 1 ] && grep -c 'runs as an ordinary user' prom3.err | grep -qx 1"
fi

# --- hview-client watch ------------------------------------------------------------------
P=$(free_port)
start_node 127.0.0.1:$P w.db w0 w.log
stamp() { while IFS= read -r line; do echo "$(date +%s%N) $line"; done; }
# each watcher writes into a FIFO that a stamper reads: $! is then the
# watcher's own pid, and killing it ends the stamper too
mkfifo one.fifo all.fifo
stamp <one.fifo >watch.out &
stamp <all.fifo >watch_all.out &
$BIN/hview-client -server 127.0.0.1:$P watch db-1 >one.fifo 2>watch.err &
watcher=$!
on_exit "kill $watcher"
$BIN/hview-client -server 127.0.0.1:$P watch >all.fifo 2>/dev/null &
watcher_all=$!
on_exit "kill $watcher_all"
sleep 0.5 # the subscriptions reach the node
C="$BIN/hview-client -server 127.0.0.1:$P"
report() { printf 'me o1\nreport %s\n' "$1" | $C >/dev/null; }
t0=$(date +%s%N); report "db-1 m:h:90"
sleep 0.3
t1=$(date +%s%N); report "db-1 m:u:20"
report "db-10 m:u:5"
report "db-1 m:u:20" # no change: nothing printed
sleep 0.5
kill $watcher $watcher_all
wait $watcher $watcher_all 2>/dev/null
sleep 0.2
check "watch says where it listens" grep -q "watching db-1 on 127.0.0.1:$((P + 1))" watch.err
check "watch db-1: one line per change, in the get inference format" \
	test "$(cut -d' ' -f2- watch.out | sed 's/ [0-9T:.-]*Z / T /')" = "$(printf '[o1] ==> db-1: T { m: HEALTHY, 90.0; }\n[o1] ==> db-1: T { m: UNHEALTHY, 20.0; }')"
lat1=$((($(head -1 watch.out | cut -d' ' -f1) - t0) / 1000000))
lat2=$((($(sed -n 2p watch.out | cut -d' ' -f1) - t1) / 1000000))
echo "# watch latency, from starting the reporting client to the line: $lat1 ms, $lat2 ms"
check "each change is printed within 100 ms of the report ($lat1 ms, $lat2 ms)" test $lat1 -lt 100 -a $lat2 -lt 100
check "watch without a subject sees every subject (db-1 twice, db-10)" test "$(wc -l <watch_all.out)" -eq 3
$C watch a b 2>/dev/null; check "watch a b: usage, exit 2" test $? -eq 2
kill -TERM $node; wait $node

# --- systemd units and the cron line ---------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p units
	for u in hview-server sonar-agent; do
		sed "s|/usr/local/bin/|$BIN/|" "$ROOT/tools/systemd/$u.service" >units/$u.service
		check "tools/systemd/$u.service passes systemd-analyze verify" systemd-analyze verify units/$u.service
	done
else
	skip "systemd units" "systemd-analyze not installed"
fi
line=$(grep -E '^#?[*0-9/,-]+ ' "$ROOT/tools/cron/sonar-agent" | sed 's/^#//')
check "tools/cron/sonar-agent has one job line (commented until hosts are named), run as root" test "$(echo "$line" | awk '{ print $6 }')" = root
cmd=$(echo "$line" | cut -d' ' -f7- | sed "s|/usr/local/bin/|$BIN/|; s|/var/log/cloudsonar|$WORK/cron|g; s|/var/lib/cloudsonar|$WORK/cron|;
	s|/run/sonar-agent.lock|$WORK/cron.lock|; s|--duration 295|--duration 2|")
mkdir -p cron
sh -c "$cmd" &
first=$!
sleep 0.5
start=$(date +%s%N)
sh -c "$cmd"
check "a second cron run while the first holds the lock exits 0 at once" \
	test $? -eq 0 -a $((($(date +%s%N) - start) / 1000000)) -lt 1000
wait $first
check "the cron run exits 0 and logs its probes" bash -c "[ $? -eq 0 ] && [ \$(grep -c 127.0.0.1 cron/sonar.csv) -ge 1 ]"
if [ "$FAILED" = 1 ]; then show plot.err watch.err watch.out watch_all.out w.log cron/agent.err; fi
