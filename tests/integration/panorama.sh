#!/bin/bash
# Panorama nodes on loopback: the seed README's session, a 3-node cluster
# from hview-mkrc, filtering, kill -9 and restart, hostile input, CLI errors.
. "$(dirname "$0")/../lib.sh"
S=$BIN/hview-server C=$BIN/hview-client M=$BIN/hview-mkrc
cd "$WORK"

# --- the seed README's client session ---------------------------------------
P=$(free_port)
check "a node starts and answers ping" start_node 127.0.0.1:$P one.db pano0 one.log
printf 'me peer@2\nreport peer@1 snapshot:u:30\nget report peer@1\nexit\n' | $C -server 127.0.0.1:$P >session.out 2>&1
check "the seed README's session from a pipe: Accepted (no prompt from a pipe)" \
	bash -c "grep -qx 'Accepted' session.out && ! grep -q '^> ' session.out"
check "get report prints Go's protobuf text, as the seed README shows" \
	grep -Eq '^observer:"peer@2" subject:"peer@1" observation:<ts:<seconds:[0-9]+ nanos:[0-9]+ > metrics:<key:"snapshot" value:<name:"snapshot" value:<status:UNHEALTHY score:30 > > > >$' session.out
timeout 10 $C -server 127.0.0.1:$(free_port) -timeout 300 watch x >/dev/null 2>deadwatch.err
check "watch against a dead node says so and exits 1" bash -c "[ $? -eq 1 ] && grep -q 'watch: no node answers at' deadwatch.err"
timeout 2 $C -server 127.0.0.1:$P watch no-such-subject >/dev/null 2>quietwatch.err
check "watch of a subject the node does not hold says it waits for one" grep -q 'holds nothing about no-such-subject yet' quietwatch.err
$C -server 127.0.0.1:$P help >help.out
check "help lists the commands" bash -c "grep -qx '         get view observer subject' help.out && grep -qx '         get report subject' help.out"
for i in 9 10 2; do
	printf 'me peer@9\nreport peer@%s SyncThread:u:20\n' $i | $C -server 127.0.0.1:$P >/dev/null
done
$C -server 127.0.0.1:$P get panorama peer@9 >pano.out
check "get panorama: header and one line per observation" \
	bash -c "sed -n 2p pano.out | grep -qx '\[\[... peer@9->peer@9 (1 observations) ...\]\]' &&
	         sed -n 3p pano.out | grep -Eqx '  \|peer@9\| [0-9T:.-]+Z \{ SyncThread: UNHEALTHY, 20.0; \}'"
$C -server 127.0.0.1:$P list subject >list.out
check "list subject: natural order, TAB, Go time" \
	bash -c "cut -f1 list.out | tr '\n' ' ' | grep -qx 'peer@1 peer@2 peer@9 peer@10 ' &&
	         grep -Pq '^peer@1\t20[0-9-]+ [0-9:.]+ \+0000 UTC$' list.out"
$C -server 127.0.0.1:$P list observer >obs.out
check "list observer" test "$(tr '\n' ' ' <obs.out)" = "peer@2 peer@9 "
$C -server 127.0.0.1:$P get view peer@9 peer@10 >view.out
check "get view works (broken in the original)" grep -q '^\[\[... peer@9->peer@10 (1 observations) ...\]\]$' view.out
$C -server 127.0.0.1:$P dump inference >dump.out
check "dump inference grouped under ====subject====" \
	bash -c "grep -qx '=============peer@10=============' dump.out &&
	         grep -Eq '^\[peer@9\] ==> peer@10: [0-9T:.-]+Z \{ SyncThread: UNHEALTHY, 20.0; \}$' dump.out"
$C -server 127.0.0.1:$P get inference nosuch >nf.out 2>nf.err
check "unknown subject: one clear line, exit 1" test $? -eq 1 -a "$(cat nf.err)" = "no such subject: nosuch"
$C -server 127.0.0.1:$P frobnicate 2>/dev/null
check "unknown command: exit 2" test $? -eq 2
$C -server 127.0.0.1:$P report x bad 2>/dev/null
check "malformed metric: exit 2" test $? -eq 2
$C -server 127.0.0.1:$P report x m:z:1 2>/dev/null
check "unknown status letter: exit 2" test $? -eq 2

# --- hostile input: error replies, the node keeps serving, memory bounded ----
rss() { awk '/VmRSS/ { print $2 }' /proc/$1/status; }
before=$(rss $node)
$ROOT/build/tests/pano-poke 127.0.0.1:$P | sed 's/^/# poke: /'
check "pano-poke: every hostile message refused, node still serving" test ${PIPESTATUS[0]} -eq 0
after=$(rss $node)
check "memory bounded after hostile input (${before} -> ${after} kB)" test "$after" -lt $((before + 65536))

# --- kill -9 after N acknowledged reports: all of them served on restart --------
N=300
for i in $(seq $N); do echo "report host$((i % 7)) rtt:h:$((i % 100))"; done | sed '1i me agent@1' |
	$C -server 127.0.0.1:$P >acks.out
check "$N reports acknowledged" test "$(grep -c Accepted acks.out)" -eq $N
for s in host0 host3 peer@9; do $C -server 127.0.0.1:$P get panorama $s; done >before.pano
$C -server 127.0.0.1:$P dump inference >before.inf
$C -server 127.0.0.1:$P list subject >before.list
kill -9 $node; wait $node 2>/dev/null
start_node 127.0.0.1:$P one.db pano0 one.log
for s in host0 host3 peer@9; do $C -server 127.0.0.1:$P get panorama $s; done >after.pano
$C -server 127.0.0.1:$P dump inference >after.inf
$C -server 127.0.0.1:$P list subject >after.list
check "after kill -9: get panorama identical" cmp -s before.pano after.pano
check "after kill -9: dump inference identical" cmp -s before.inf after.inf
check "after kill -9: list subject identical" cmp -s before.list after.list
check "restart log says what it loaded (76 observations, 13 subjects)" grep -q "loaded 76 observations of 13 subjects" one.log

# --- the same with -fsync: replies wait for the WAL's fsync -----------------------
FP2=$(free_port)
$S -fsync -addr 127.0.0.1:$FP2 -dbfile fs.db fs 2>fs.log &
fs=$!
on_exit "kill -9 $fs"
wait_node 127.0.0.1:$FP2
for i in $(seq 100); do echo "report s$((i % 5)) m:u:$i"; done | sed '1i me o' | $C -server 127.0.0.1:$FP2 >fs.acks
$C -server 127.0.0.1:$FP2 dump panorama >fs.before
kill -9 $fs; wait $fs 2>/dev/null
$S -fsync -addr 127.0.0.1:$FP2 -dbfile fs.db fs 2>>fs.log &
fs=$!
on_exit "kill -9 $fs"
wait_node 127.0.0.1:$FP2
$C -server 127.0.0.1:$FP2 dump panorama >fs.after
check "-fsync: 100 acknowledged, all served after kill -9" \
	test "$(grep -c Accepted fs.acks)" -eq 100 -a -s fs.before
check "-fsync: dump panorama identical after kill -9" cmp -s fs.before fs.after
kill -TERM $fs; wait $fs

# --- many reports per view: dead rows, compaction, a quiet view moved, kill -9 ----
# One view gets a single report and then none; 1,000 others take several
# hundred thousand. The log must stay near the size of what is live (the
# quiet view is copied forward rather than pinning its start), and a kill
# -9 must bring back exactly what was served.
CH=$(free_port)
first_node=$node
start_node 127.0.0.1:$CH churn.db churn churn.log
printf 'me quiet@1\nreport still m:h:7\n' | $C -server 127.0.0.1:$CH >/dev/null
$ROOT/build/tests/pano-bench 127.0.0.1:$CH 2 32 3 100 10 >churn.out
echo "# churn: $(cat churn.out)"
$C -server 127.0.0.1:$CH dump panorama >churn.before
$C -server 127.0.0.1:$CH dump inference >>churn.before
kill -9 $node; wait $node 2>/dev/null
start_node 127.0.0.1:$CH churn.db churn churn.log
$C -server 127.0.0.1:$CH dump panorama >churn.after
$C -server 127.0.0.1:$CH dump inference >>churn.after
check "after $(grep -o 'reports=[0-9]*' churn.out | cut -d= -f2) reports to 1,000 views and kill -9: dump identical" \
	cmp -s churn.before churn.after
check "the quiet view's one report is still served" grep -q '^  |quiet@1| .*m: HEALTHY, 7.0' churn.after
rows=$(grep -o 'loaded 10001 observations of 101 subjects from churn.db ([0-9]* log rows)' churn.log | tail -1 |
	grep -o '[0-9]* log rows' | cut -d' ' -f1)
echo "# churn: the log holds ${rows:-?} rows for 10001 live observations"
check "the log stays near what is live (${rows:-?} rows <= 2 x 10001 + 5120)" test "${rows:-99999999}" -le 25122
kill -TERM $node; wait $node
node=$first_node

# --- SIGTERM: a clean exit -----------------------------------------------------
kill -TERM $node; wait $node
check "SIGTERM: exit 0" test $? -eq 0

# --- a 3-node cluster from hview-mkrc learns a report submitted to one ----------
CP=$(free_port)
for i in 0 1 2; do
	$M -fix_port $CP -nserver 3 -addressp "127.0.3.%d" -namep "pano%d" -id pano$i -dbfile n$i.db -output n$i.cfg >/dev/null
done
check "hview-mkrc output is the seed's shape" \
	bash -c "$M -fix_port 6688 -nserver 10 -addressp razor%d -namep pano%d -id pano0 -filter -subjects nn1,dn1,dn2,dn3 |
	         grep -q '\"Addr\": \"razor0:6688\"'"
pids=()
for i in 0 1 2; do
	$S -config n$i.cfg 2>n$i.log &
	pids+=($!)
	on_exit "kill -9 $!"
done
for i in 1 2 3; do wait_node 127.0.3.$((i - 1)):$CP; done
printf 'me obs@0\nreport svc@1 load:u:70\n' | $C -server 127.0.3.0:$CP >/dev/null
learned=0
for t in $(seq 30); do
	a=$($C -server 127.0.3.1:$CP get inference svc@1 2>/dev/null)
	b=$($C -server 127.0.3.2:$CP get inference svc@1 2>/dev/null)
	if [[ "$a" == *"load: UNHEALTHY, 70.0"* && "$b" == *"load: UNHEALTHY, 70.0"* ]]; then learned=1; break; fi
	sleep 0.1
done
check "the other two nodes learned the report" test $learned -eq 1
check "learned reports are not forwarded again (one copy per node)" \
	test "$($C -server 127.0.3.1:$CP get panorama svc@1 | grep -c '|obs@0|')" -eq 1
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null

# --- a filtered node ignores unwatched subjects and is then skipped -------------
FP=$(free_port)
$M -fix_port $FP -nserver 2 -addressp "127.0.4.%d" -namep "f%d" -id f0 -dbfile f0.db -output f0.cfg >/dev/null
$M -fix_port $FP -nserver 2 -addressp "127.0.4.%d" -namep "f%d" -id f1 -dbfile f1.db -filter -subjects keep -output f1.cfg >/dev/null
sed -i 's/"LogLevel": ""/"LogLevel": "debug"/' f0.cfg f1.cfg
$S -config f0.cfg 2>f0.log & f0=$!; on_exit "kill -9 $f0"
$S -config f1.cfg 2>f1.log & f1=$!; on_exit "kill -9 $f1"
wait_node 127.0.4.0:$FP; wait_node 127.0.4.1:$FP
printf 'me o\nreport drop m:h:0\n' | $C -server 127.0.4.0:$FP >/dev/null
sleep 0.3 # the IGNORED answer comes back to f0
for i in 1 2 3 4 5; do echo "report drop m:h:$i"; echo "report keep m:h:$i"; done | sed '1i me o' |
	$C -server 127.0.4.0:$FP >/dev/null
sleep 0.5
check "filtered node holds the watched subject" bash -c "$C -server 127.0.4.1:$FP get report keep >/dev/null 2>&1"
check "filtered node ignored the unwatched one" bash -c "! $C -server 127.0.4.1:$FP get report drop >/dev/null 2>&1"
check "the filtered node was asked about 'drop' once, then skipped" test "$(grep -c 'about drop: ignored' f1.log)" -eq 1
check "the sender noted it" grep -q "peer f1 ignores drop" f0.log
check "local submissions are never filtered" \
	bash -c "printf 'me o\nreport drop m:h:1\n' | $C -server 127.0.4.1:$FP | grep -q Accepted"
kill $f0 $f1; wait $f0 $f1 2>/dev/null

# --- bad configuration, corrupt database, server down -----------------------------
echo '{"Addr": "127.0.0.1:1", "Peerz": {}}' >bad.cfg
$S -config bad.cfg 2>bad.err
check "unknown config field: exit 2, one line naming it" \
	test $? -eq 2 -a "$(wc -l <bad.err)" -eq 1 -a -n "$(grep 'field Peerz: unknown field' bad.err)"
head -c 8192 /dev/urandom >corrupt.db
sum=$(md5sum <corrupt.db)
$S -addr 127.0.0.1:$(free_port) -dbfile corrupt.db 2>corrupt.err
check "corrupt database: exit 1 with a clear error" test $? -eq 1 -a -n "$(grep -i 'not a database\|not a usable' corrupt.err)"
check "corrupt database left untouched" test "$(md5sum <corrupt.db)" = "$sum"
start=$(date +%s%N)
$C -server 127.0.0.1:$(free_port) -timeout 500 list subject 2>down.err
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "server down: exit 1 after a bounded wait (${took} ms), one line" \
	test $rc -eq 1 -a "$took" -lt 3000 -a "$(wc -l <down.err)" -eq 1
$M -fix_port 1 -nserver 2 -addressp 'h%s' -namep 'p%d' -id p0 2>mk.err
check "hview-mkrc: a pattern without %d is refused, exit 2" test $? -eq 2 -a "$(wc -l <mk.err)" -eq 1
$S -bogus 2>/dev/null
check "hview-server: unknown flag exit 2" test $? -eq 2

# --- garbage collection forgets a view; its observer reports on ---------------------
# Once GC dropped a view's last observation, the view's database row stayed
# behind, and every later report of that observer about that subject failed
# on the row's UNIQUE constraint (and put the node in its refuse-writes
# second), until this was fixed.
GP=$(free_port)
printf '{"Addr": "127.0.0.1:%s", "Id": "g0", "DBFile": "gc.db", "GCConfig": {"Enable": true, "Frequency": 1, "Threshold": 2}}\n' \
	"$GP" >gc.cfg
$S -config gc.cfg 2>gc.log &
gnode=$!
on_exit "kill -9 $gnode"
wait_node 127.0.0.1:$GP
GC="$C -server 127.0.0.1:$GP"
report_gs() { printf 'me o1\nreport gs m:HEALTHY:1\n' | $GC | grep -q Accepted; }
report_gs
eventually 10 grep -q "gc: dropped 1 observations" gc.log
check "gc drops a view's last observation" bash -c "$GC get panorama gs 2>&1 | grep -q 'no such subject'"
check "and its observer's next report about that subject is accepted" report_gs
kill -TERM $gnode; wait $gnode
$S -config gc.cfg 2>>gc.log &
gnode=$!
on_exit "kill -9 $gnode"
wait_node 127.0.0.1:$GP
check "after a restart too" report_gs
kill -TERM $gnode; wait $gnode

# --- no leaks under valgrind ------------------------------------------------------
if command -v valgrind >/dev/null; then
	VP=$(free_port)
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		$S -addr 127.0.0.1:$VP -dbfile vg.db vg 2>vg.err &
	vg=$!
	wait_node 127.0.0.1:$VP
	printf 'me a\nreport b m:u:1\nget panorama b\ndump inference\nlist subject\n' | $C -server 127.0.0.1:$VP >/dev/null
	$ROOT/build/tests/pano-poke 127.0.0.1:$VP >/dev/null
	kill -TERM $vg; wait $vg
	rc=$?
	check "valgrind: hview-server exits clean, no definite leaks (exit $rc)" test $rc -eq 0
	[ $rc -eq 0 ] || sed 's/^/# /' vg.err | grep -v INFO | head -30
else
	skip "valgrind leak check of hview-server" "valgrind not installed"
fi
