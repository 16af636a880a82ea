#!/bin/bash
# Fault injection: a node's disk fills up; it is killed under
# load; a peer stops answering; a crowd of connections.
#  - disk full: the node's database lives on a small tmpfs the test mounts;
#    a filler takes the rest.  The node must refuse new reports with an
#    error reply, keep serving queries, take reports again once space
#    returns, and after a kill -9 hold every report it acknowledged.
#  - a peer is stopped (SIGSTOP): the local node still answers at once, and
#    propagation resumes after SIGCONT.
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client S=$BIN/hview-server
cd "$WORK"

# --- the disk fills up -----------------------------------------------------------
if is_root && mkdir -p disk && mount -t tmpfs -o size=3m tmpfs disk 2>/dev/null; then
	on_exit "umount -l $WORK/disk"
	P=$(free_port)
	check "a node on a 3 MB tmpfs answers" start_node 127.0.0.1:$P disk/n.db n0 n.log
	printf 'me o1\nreport early s:h:90\n' | $C -server 127.0.0.1:$P >/dev/null
	# a filler leaves 256 kB: some reports fit, then the disk is full
	avail=$(df --output=avail -k disk | tail -1)
	dd if=/dev/zero of=disk/filler bs=1k count=$((avail > 256 ? avail - 256 : 0)) 2>/dev/null
	# one client, many reports, each to a subject of its own; the replies
	# come in order, one line each
	{ echo "me o1"; for i in $(seq 3000); do echo "report s$i m:u:$((i % 100))"; done; } |
		timeout 120 $C -server 127.0.0.1:$P -timeout 2000 >full.out 2>full.err
	accepted=$(grep -o Accepted full.out | wc -l)
	refused=$(grep -c 'retry later' full.err)
	echo "# disk full: $accepted reports accepted, $refused refused"
	check "reports were accepted until the disk was full ($accepted)" test "$accepted" -gt 0
	check "then refused with an error reply ($refused)" test "$refused" -gt 0
	check "queries are still served" bash -c "$C -server 127.0.0.1:$P get inference early | grep -q 's: HEALTHY'"
	# a refused batch is undone in memory: no reload of the whole store
	reloads=$(grep -c 'loaded [0-9]* observations' n.log)
	check "refused batches were undone in memory, not reloaded ($reloads loads)" test "$reloads" -eq 1
	live=$($C -server 127.0.0.1:$P list subject | cut -f1 | grep -c '^s[0-9]')
	check "and the node holds just the reports it accepted ($live of $accepted)" test "$live" -eq "$accepted"
	rm -f disk/filler
	sleep 1.5 # the node refuses writes for a second after a failed commit
	printf 'me o1\nreport after s:h:80\n' | $C -server 127.0.0.1:$P >after.out 2>&1
	check "once space returns, reports are accepted again" grep -q Accepted after.out
	# every acknowledged report must survive kill -9 and restart
	kill -9 $node; wait $node 2>/dev/null
	start_node 127.0.0.1:$P disk/n.db n0 n.log
	held=$($C -server 127.0.0.1:$P list subject | cut -f1 | grep -c '^s[0-9]')
	check "after kill -9, the node holds every report it accepted ($held of $accepted)" test "$held" -eq "$accepted"
	check "and the ones from before and after the fault" \
		bash -c "$C -server 127.0.0.1:$P list subject | cut -f1 | grep -qx early && $C -server 127.0.0.1:$P list subject | cut -f1 | grep -qx after"
	kill -TERM $node; wait $node
else
	skip "disk full" "needs root and a tmpfs mount"
fi

# kill_while_streaming ACKS NAME: a client streams the commands in NAME.in
# to a new node NAME (NAME.db) on port $P; once the client has printed ACKS
# acknowledgements (or after 30 s) the node is killed -9, then started again
# on the same file.  Waiting for a count, not a time, keeps the check the
# same on a slow machine.  The client's output (NAME.out) is line-buffered,
# so every "Accepted" it printed was acknowledged.
acks_in() { grep -o Accepted "$1" 2>/dev/null | wc -l; }
acks_reach() { [ "$(acks_in "$1")" -ge "$2" ]; }
kill_while_streaming() {
	start_node 127.0.0.1:$P $2.db $2 $2.log
	timeout 90 stdbuf -oL $C -server 127.0.0.1:$P -timeout 300 <$2.in >$2.out 2>$2.err &
	local client=$!
	on_exit "kill $client"
	eventually 30 acks_reach $2.out $1
	kill -9 $node; wait $node 2>/dev/null
	sleep 0.5
	kill $client; wait $client 2>/dev/null
	start_node 127.0.0.1:$P $2.db $2 $2.log
}

# --- kill -9 under load: every acknowledged report is there after restart -------------
P=$(free_port)
# one client streams reports, a subject each
{ echo "me o1"; for i in $(seq 50000); do echo "report k$i m:h:1"; done; } >load.in
kill_while_streaming 3000 load
acked=$(acks_in load.out)
held=$($C -server 127.0.0.1:$P list subject | cut -f1 | grep -c '^k')
check "kill -9 under load: all $acked acknowledged reports are there after restart ($held held)" \
	test "$acked" -gt 0 -a "$held" -ge "$acked"
kill -TERM $node; wait $node

# --- kill -9 while compaction runs --------------------------------------------------
# Many reports over 20 views (each report's score is its number), after one
# report about a subject that then stays quiet: the log's dead rows are
# deleted in runs, and the quiet view is copied forward, while the node is
# killed. After the restart each view must hold ten consecutive reports of
# its own, ending at or after the last one acknowledged, and the quiet one
# its single report.
P=$(free_port)
# report i carries i in three scores (scores are 0 to 100): i = a 10000 + b 100 + c
{ echo "me o1"; echo "report quiet a:h:0 b:h:0 c:h:0"
  awk 'BEGIN { for (i = 1; i <= 100000; i++)
	printf "report c%d a:h:%d b:h:%d c:h:%d\n", i % 20, int(i / 10000), int(i / 100) % 100, i % 100 }'; } >churn.in
kill_while_streaming 9000 churn
acked=$(( $(acks_in churn.out) - 1 )) # the first is the quiet one
$C -server 127.0.0.1:$P dump panorama >churn.dump
verdict=$(awk -v acked="$acked" '
	/^\[\[\.\.\. o1->/ { split($2, a, "->"); subject = a[2]; next }
	/^  \|o1\|/ { v = $0; sub(/^[^{]*\{ a: HEALTHY, /, "", v); sub(/; \}$/, "", v); split(v, f, /; [abc]: HEALTHY, /)
		got[subject] = got[subject] " " (f[1] * 10000 + f[2] * 100 + f[3]); n[subject]++ }
	END {
		bad = ""
		if (got["quiet"] != " 0") bad = bad " quiet:" got["quiet"]
		for (j = 0; j < 20; j++) {
			s = "c" j; last = acked - ((acked - j) % 20 + 20) % 20 # the last acknowledged of view j
			k = split(got[s], vals, " ")
			ok = k == 10 && vals[k] >= last
			for (x = 2; x <= k; x++) if (vals[x] - vals[x - 1] != 20) ok = 0
			if (!ok) bad = bad " " s ":" got[s]
		}
		print bad == "" ? "ok" : bad
	}' churn.dump)
rows=$(grep -o '([0-9]* log rows)' churn.log | tail -1 | tr -dc 0-9)
echo "# kill -9 during compaction: $acked reports acknowledged; the log held ${rows:-?} rows at restart"
check "kill -9 during compaction: every view holds its newest acknowledged reports, in order ($verdict)" \
	test "$verdict" = ok
# without compaction the log would hold a row for every report and more
check "and the log had been compacted before the kill (${rows:-?} rows for $acked reports)" \
	test "$acked" -ge 8000 -a "${rows:-0}" -gt 0 -a "${rows:-0}" -lt "$acked"
kill -TERM $node; wait $node

# --- a peer stops answering (SIGSTOP) -------------------------------------------------
CP=$(free_port)
for i in 0 1; do
	$BIN/hview-mkrc -fix_port $CP -nserver 2 -addressp "127.0.6.%d" -namep "p%d" -id p$i -dbfile p$i.db -output p$i.cfg >/dev/null
	$S -config p$i.cfg 2>p$i.log &
	eval "peer$i=\$!"
	on_exit "kill -CONT \$peer$i; kill -9 \$peer$i"
done
wait_node 127.0.6.0:$CP; wait_node 127.0.6.1:$CP
kill -STOP $peer1
start=$(date +%s%N)
printf 'me o1\nreport during x:u:10\n' | $C -server 127.0.6.0:$CP -timeout 1000 >stop.out 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
check "with its peer stopped, a node still accepts at once ($ms ms)" bash -c "grep -q Accepted stop.out && [ $ms -lt 500 ]"
check "and answers queries" bash -c "$C -server 127.0.6.0:$CP -timeout 1000 get inference during | grep -q 'x: UNHEALTHY'"
kill -CONT $peer1
learned=0
for _ in $(seq 50); do
	if $C -server 127.0.6.1:$CP get inference during 2>/dev/null | grep -q 'x: UNHEALTHY'; then learned=1; break; fi
	sleep 0.1
done
check "after SIGCONT the peer learns the report made while it was stopped" test $learned -eq 1
if [ "$FAILED" = 1 ]; then show full.err after.out n.log p0.log; fi
kill -TERM $peer0 $peer1; wait $peer0 $peer1 2>/dev/null

# --- a crowd: 1,000 idle connections and a client that sends byte by byte --------------
P=$(free_port)
start_node 127.0.0.1:$P crowd.db c0 c.log
(
	ulimit -n 4096 2>/dev/null
	fds=()
	for _ in $(seq 1000); do
		exec {fd}<>/dev/tcp/127.0.0.1/$P || break
		fds+=($fd)
	done
	echo "${#fds[@]}" >crowd.count
	# a slow sender: ZMTP's greeting, one byte every 10 ms, never finished
	exec {slow}<>/dev/tcp/127.0.0.1/$P
	for b in ff 00 00 00 00 00 00 00 01 7f 03; do printf "\\x$b" >&$slow; sleep 0.01; done
	sleep 3
) &
crowd=$!
on_exit "kill $crowd"
eventually 10 test -s crowd.count
sleep 0.05 # the slow sender has begun
start=$(date +%s%N)
printf 'me o1\nreport crowded x:h:90\n' | $C -server 127.0.0.1:$P -timeout 2000 >crowd.out 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
check "with $(cat crowd.count 2>/dev/null) idle connections and a slow sender, a client is served ($ms ms)" \
	bash -c "grep -q Accepted crowd.out && [ $ms -lt 1000 ]"
wait $crowd
check "the node is still up when the crowd leaves" bash -c "$C -server 127.0.0.1:$P ping | grep -q GOOD"
kill -TERM $node; wait $node

# --- the wall clock jumps: response times and phi do not ---------------------------------
# libfaketime moves the agent's wall clock (not its monotonic one) an hour
# forward, then two hours back, while it probes.  The TCP probe is used:
# liboping stamps replies with the kernel's wall clock, which libfaketime
# cannot move, so there the fake itself would skew the times (liboping's
# engine caps a response time at the monotonic time its probe took).
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ -n "$FT" ]; then
	echo "+0" >clock
	LD_PRELOAD=$FT FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_TIMESTAMP_FILE=$WORK/clock FAKETIME_NO_CACHE=1 \
		$BIN/sonar-agent --method tcp:1 --interval 0.1 --duration 4 --log-dir jump 127.0.0.1 2>jump.err &
	agent=$!
	sleep 1.3; echo "+3600" >clock
	sleep 1.3; echo "-7200" >clock
	wait $agent
	check "clock jumps: the agent exits 0" test $? -eq 0
	hours=$(awk -F, 'NR > 1 { print substr($1, 12, 2) }' jump/fd.csv | uniq | wc -l)
	check "the log's timestamps did jump (3 different hours)" test "$hours" -ge 3
	check "every probe answered, in under 10 ms" \
		awk -F, 'NR > 1 && !($4 == "OK" && $3 < 10000000) { bad = 1 } END { exit bad }' jump/fd.csv
	check "phi stayed low (under 5)" awk -F, 'NR > 1 && $5 >= 5 { bad = 1 } END { exit bad }' jump/fd.csv
	check "probes kept their pace (35 to 42 in 4 s at 0.1 s)" \
		bash -c "n=\$(awk 'END { print NR - 1 }' jump/fd.csv); [ \$n -ge 35 ] && [ \$n -le 42 ]"
else
	skip "wall clock jumps" "libfaketime not installed"
fi
