#!/bin/bash
# What a client without a key, or a hostile file, could do to a node:
#  - flood the watch socket with subscriptions (distinct, long, huge): the
#    node's memory stays bounded, it keeps serving, and a real watcher
#    still gets its changes;
#  - a config with names the node cannot hold, a GC frequency that would
#    overflow the clock, or a FIFO in its place: refused at once, one line;
#  - -daemon serves, writes its pid, logs to -log (reopened on SIGHUP),
#    stops on SIGTERM, and reports a failure to start with exit 1;
#  - IPv6 addresses, bracketed, for the node, its watch stream and clients;
#  - a damaged database (a bit in the main file, 32 bytes in the WAL), a
#    foreign one, a read-only one: refused before anything is written; a
#    WAL torn by kill -9 is not damage.
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client S=$BIN/hview-server H=$ROOT/build/tests/pano-hostile
cd "$WORK"
rss() { awk '/VmRSS/ { print $2 }' /proc/$1/status; }

# --- the watch socket -------------------------------------------------------------
P=$(free_port)
check "a node answers" start_node 127.0.0.1:$P n.db n0 n.log
before=$(rss $node)
$C -server 127.0.0.1:$P watch w1 >watch.out 2>watch.err &
watcher=$!
on_exit "kill $watcher"
sleep 0.5
$H subscribe 127.0.0.1:$((P + 1)) 2000 200
$H subscribe 127.0.0.1:$((P + 1)) 100 100000
sleep 1.2 # the bound above reset the socket: let the node bind it again
$H subscribe-raw 127.0.0.1:$((P + 1)) $((256 << 20))
after=$(rss $node)
echo "# node RSS: $before kB before, $after kB after 2,000 of 200 B, 100 of 100 kB and one of 256 MB"
check "the node's memory stays bounded (RSS $after kB, under 64 MB)" test "$after" -lt 65536
check "the node still answers" wait_node 127.0.0.1:$P
check "the bound is said in the node's log" grep -q "distinct subscriptions, or one over 256 bytes; dropped every watcher" n.log
# the watcher was dropped with the others; its SUB socket comes back by itself
sleep 1.5
printf 'me o1\nreport w1 m:u:10\n' | $C -server 127.0.0.1:$P >/dev/null
check "a real watcher still gets the changes" eventually 5 grep -q "w1" watch.out
kill $watcher; wait $watcher 2>/dev/null
kill -TERM $node; wait $node

# --- the node's memory bounds: views, metric values, metric names ---------------------------
LP=$(free_port)
"$S" -addr 127.0.0.1:$LP -dbfile lim.db -max-views 1000 -max-values 3000 nl 2>>lim.log &
node=$!
on_exit "kill -9 $node"
wait_node 127.0.0.1:$LP
{ echo "me o1"; for i in $(seq 1500); do echo "report s$i m:h:1"; done; } |
	$C -server 127.0.0.1:$LP >views.out 2>views.err
check "past -max-views 1000: the 1,000 views are kept, new ones refused ($(grep -c Accepted views.out) accepted)" \
	bash -c "[ \$(grep -c Accepted views.out) -eq 1000 ] && [ \$(grep -c 'the node holds 1000 views, its bound' views.err) -eq 500 ]"
{ echo "me o1"; for k in 1 2 3 4; do for i in $(seq 1000); do echo "report s$i m:h:$k"; done; done; } |
	$C -server 127.0.0.1:$LP >values.out 2>values.err
check "past -max-values 3000: reports beyond it are refused ($(grep -c 'metric values, its bound' values.err) refused)" \
	bash -c "[ \$(grep -c 'the node holds 3000 metric values, its bound' values.err) -eq 2000 ]"
check "the node's RSS stays small ($(rss $node) kB)" test "$(rss $node)" -lt 65536
kill -TERM $node; wait $node
NP=$(free_port)
start_node 127.0.0.1:$NP names.db nn names.log
{ echo "me o1"; for r in $(seq 160); do printf 'report n%d' $r; for i in $(seq 64); do printf ' m%d.%d:h:1' $r $i; done; echo; done; } |
	$C -server 127.0.0.1:$NP >names.out 2>names.err
check "10,000 distinct metric names, then a refusal ($(grep -c Accepted names.out) of 160 reports of 64 new names)" \
	bash -c "[ \$(grep -c Accepted names.out) -eq 156 ] && grep -q 'more than 10000 distinct metric names' names.err"
check "and the node's RSS stays small ($(rss $node) kB)" test "$(rss $node)" -lt 65536
kill -TERM $node; wait $node

# --- configs it cannot hold ------------------------------------------------------------
refused() { # refused NAME CONFIG-JSON PATTERN
	printf '%s' "$2" >bad.json
	timeout 10 $S -config bad.json 2>bad.err
	local rc=$?
	check "$1: refused with one line (exit $rc)" \
		bash -c "[ $rc -eq 2 ] && [ \$(wc -l <bad.err) -eq 1 ] && grep -q '$3' bad.err"
	[ $rc -eq 2 ] || show bad.err
}
base='"Addr":"127.0.0.1:'$(free_port)'","DBFile":"c.db"'
refused "a subject with a space" '{'"$base"',"Id":"n","Subjects":["a b"]}' 'Subjects\[0\]: name with a space'
refused "a subject with ESC" '{'"$base"',"Id":"n","Subjects":["a\u001b[2J"]}' 'Subjects\[0\]: name with a space or control'
refused "a 300-byte subject" '{'"$base"',"Id":"n","Subjects":["'$(printf 'x%.0s' $(seq 300))'"]}' 'name of 300 bytes'
refused "an id with a control character" '{'"$base"',"Id":"n\u0007"}' "the node.s id"
refused "a GC frequency that overflows the clock" '{'"$base"',"Id":"n","GCConfig":{"Frequency":9223372036854775807}}' 'GCConfig.Frequency: must be an integer in'
subjects=$(seq -f '"s%g"' 200000 | paste -sd,)
refused "200,000 subjects" '{'"$base"',"Id":"n","Subjects":['"$subjects"']}' '200000 subjects (at most 100000)'
mkfifo fifo.json
timeout 10 $S -config fifo.json 2>fifo.err
rc=$?
check "a FIFO as the config is refused at once (exit $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'not a regular file' fifo.err"
check "a config given a directory says so" bash -c "mkdir -p d.json; ! timeout 10 $S -config d.json 2>dir.err; grep -q 'not a regular file' dir.err"

# --- damaged, foreign and read-only databases ---------------------------------------------
BP=$(free_port)
start_node 127.0.0.1:$BP b.db nb b.log
{ echo "me o1"; for i in $(seq 3000); do echo "report s$((i % 300)) m:h:$((i % 100))"; done; } |
	$C -server 127.0.0.1:$BP -timeout 2000 >b.out
kill -9 $node; wait $node 2>/dev/null
frames=$(( ($(stat -c %s b.db-wal) - 32) / (4096 + 24) ))
check "kill -9 left the reports in the WAL ($frames frames)" test "$frames" -gt 100
db_refused() { # db_refused NAME FILE PATTERN: the node will not start on FILE, and FILE is untouched
	local sum rc
	sum=$(cat "$2" "$2-wal" 2>/dev/null | md5sum)
	timeout 10 $S -addr 127.0.0.1:$(free_port) -dbfile "$2" nx 2>refused.err
	rc=$?
	check "$1: the node refuses to start (exit $rc)" bash -c "[ $rc -eq 1 ] && grep -q '$3' refused.err"
	check "$1: and leaves the file as it was" test "$(cat "$2" "$2-wal" 2>/dev/null | md5sum)" = "$sum"
	[ $rc -eq 1 ] || show refused.err
}
cp b.db w.db; cp b.db-wal w.db-wal
printf '%032d' 0 | dd of=w.db-wal bs=1 seek=$((32 + (frames / 3) * 4120 + 24 + 500)) conv=notrunc 2>/dev/null
db_refused "32 bytes overwritten in the WAL" w.db "of the write-ahead log is damaged and [0-9]* later frames"
cp b.db t.db; cp b.db-wal t.db-wal
truncate -s $(( $(stat -c %s b.db-wal) - 1000 )) t.db-wal
check "a WAL torn at its end (kill -9 mid-write) is no damage: the node starts" start_node 127.0.0.1:$(free_port) t.db nt t.log
kill -TERM $node; wait $node
# a clean copy, checkpointed into the main file by a clean stop
cp b.db m.db; cp b.db-wal m.db-wal
start_node 127.0.0.1:$(free_port) m.db nm m.log
kill -TERM $node; wait $node
printf '\x00' | dd of=m.db bs=1 seek=$((19 * 4096)) conv=notrunc 2>/dev/null
db_refused "one byte flipped in the main file" m.db "m.db: damaged (Page 20"
python3 -c "import sqlite3; c = sqlite3.connect('f.db'); c.execute('CREATE TABLE t(x)'); c.execute('PRAGMA user_version=3'); c.commit()"
db_refused "a foreign sqlite file with user_version 3" f.db "not a Panorama database"
if is_root && mkdir -p ro && mount -t tmpfs -o size=4m tmpfs ro 2>/dev/null; then
	on_exit "umount -l $WORK/ro"
	start_node 127.0.0.1:$(free_port) ro/r.db nr r.log
	kill -TERM $node; wait $node
	mount -o remount,ro ro
	timeout 10 $S -addr 127.0.0.1:$(free_port) -dbfile ro/r.db nr 2>ro.err
	rc=$?
	check "a read-only database: the node refuses to start and says so (exit $rc)" \
		bash -c "[ $rc -eq 1 ] && grep -Eq 'r.db: .*(read-only|readonly)' ro.err"
	[ $rc -eq 1 ] || show ro.err
else
	skip "a read-only database" "needs root and a tmpfs mount"
fi

# --- what a node sends is shown, not obeyed ------------------------------------------------
FP=$(free_port)
$H fake-node 127.0.0.1:$FP &
fake=$!
on_exit "kill $fake"
sleep 0.3
$C -server 127.0.0.1:$FP ping >fake.out 2>&1
check "escape sequences from a node reach the terminal escaped" \
	bash -c "! grep -q \$'\\x1b' fake.out && grep -qF '\\x1b[2J' fake.out && grep -qF '\\xff\\xfe' fake.out"
kill $fake 2>/dev/null

# --- -daemon -------------------------------------------------------------------------------
DP=$(free_port)
$S -addr 127.0.0.1:$DP -dbfile d.db -daemon -pidfile d.pid -log d.log nd 2>daemon.err
rc=$?
check "-daemon returns 0 once the node serves" test $rc -eq 0
dpid=$(cat d.pid 2>/dev/null)
[ -n "$dpid" ] && on_exit "kill -9 $dpid"
check "it wrote its pid ($dpid)" kill -0 "${dpid:-0}"
check "the detached node answers" wait_node 127.0.0.1:$DP
check "and takes a report" bash -c "printf 'me o1\nreport dsub m:h:90\n' | $C -server 127.0.0.1:$DP | grep -q Accepted"
check "its log goes to -log" grep -q "node nd serving on 127.0.0.1:$DP" d.log
mv d.log d.log.1
kill -HUP "$dpid"
sleep 0.3
kill -TERM "$dpid"
check "SIGTERM stops it" eventually 5 bash -c "! kill -0 $dpid 2>/dev/null"
check "after SIGHUP it logs into a new -log file" grep -q "node nd stopping" d.log
check "and removes its pid file" test ! -e d.pid
$S -addr 127.0.0.1:$DP -dbfile d.db -daemon nd &
busy=$!
on_exit "kill -9 $busy"
wait_node 127.0.0.1:$DP
$S -addr 127.0.0.1:$DP -dbfile d2.db -daemon nd2 2>busy.err
rc=$?
check "-daemon on a port in use exits 1 and says why (exit $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'Address already in use' busy.err"
pkill -f -- "-dbfile d.db -daemon nd" 2>/dev/null

# --- IPv6 -------------------------------------------------------------------------------------
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	VP=$(free_port)
	check "a node serves on [::1]" start_node "[::1]:$VP" v6.db n6 v6.log
	$C -server "[::1]:$VP" watch v6sub >v6watch.out 2>&1 &
	w6=$!
	on_exit "kill $w6"
	sleep 0.5
	check "a client reports over IPv6" bash -c "printf 'me o1\nreport v6sub m:h:90\n' | $C -server '[::1]:$VP' | grep -q Accepted"
	check "and a watcher on [::1] sees it" eventually 5 grep -q v6sub v6watch.out
	$BIN/sonar-agent --server "[::1]:$VP" --observer a6 --interval 0.2 --duration 1 --log-dir l6 127.0.0.1 2>a6.err
	check "the agent reports to [::1]" eventually 5 bash -c "$C -server '[::1]:$VP' list observer | grep -q a6"
	kill $w6
	kill -TERM $node; wait $node
else
	skip "IPv6" "no ::1 on lo"
fi
exit $FAILED
