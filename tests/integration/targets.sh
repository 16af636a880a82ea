#!/bin/bash
# sonar-agent --targets: a file with names, groups, labels and per-target
# options drives a loopback run; the labels reach /metrics and the targets
# side file; a changed file is reloaded (added targets start, removed ones
# stop and leave the state file, kept ones keep their detector state); a
# broken file keeps the old list running; SIGHUP rereads it.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent
cd "$WORK"

# --- a bad file at start: one line, naming the line, exit 2 -----------------------
printf '127.0.0.1 name=a\n127.0.0.2 name=a\n' >dup.conf
"$A" --targets dup.conf --duration 1 2>dup.err
rc=$?
check "a bad targets file at start: exit 2, one line naming the line ($(cat dup.err))" \
	bash -c "[ $rc -eq 2 ] && [ \$(wc -l <dup.err) -eq 1 ] && grep -q 'dup.conf:2: target .a. is already on line 1' dup.err"
"$A" --targets dup.conf 127.0.0.1 2>mix.err
check "HOST arguments and --targets together are refused, exit 2" test $? -eq 2

# --- a run from a file ------------------------------------------------------------
HP=$(free_port)
cat >targets.conf <<'EOF'
# the test's hosts: a phi threshold of 0 makes every host PENDING but db-1
127.0.0.1   name=web-1 group=web env=prod rack=r1
127.0.0.2   name=web-2 group=web method=tcp:1 interval=0.1
127.0.0.3   name=db-1  group=db phi-threshold=1e6   # its own threshold
EOF
"$A" --targets targets.conf --interval 0.2 --phi-threshold 0 --log-dir logs --http 127.0.0.1:$HP 2>agent.err &
agent=$!
on_exit "kill -9 $agent"
URL=http://127.0.0.1:$HP/metrics
eventually 5 bash -c "curl -sf $URL | grep -q 'sonar_probes_total{host=\"db-1\"'"
sleep 2
curl -sf $URL >m1.txt
check "/metrics labels a host with its group and labels" \
	grep -Eq '^sonar_probes_total\{host="web-1",address="127.0.0.1",method="[^"]+",group="web",env="prod",rack="r1"\}' m1.txt
check "and with its own method (web-2: tcp:1)" \
	grep -Eq '^sonar_probes_total\{host="web-2",address="127.0.0.2",method="tcp:1",group="web"\}' m1.txt
check "the side file says what each host is" \
	bash -c "grep -qx 'web-1,127.0.0.1,web,[a-z:0-9]*,0.2,env=prod;rack=r1' logs/targets.csv && grep -q '^web-2,127.0.0.2,web,tcp:1,0.1,$' logs/targets.csv"
n1=$(rows_for logs/sonar.csv web-1 | wc -l) n2=$(rows_for logs/sonar.csv web-2 | wc -l)
check "a target's own interval: web-2 (0.1 s) probed about twice as often as web-1 (0.2 s): $n2 vs $n1" \
	awk -v a="$n2" -v b="$n1" 'BEGIN { exit !(b > 5 && a > 1.6 * b && a < 2.4 * b) }'
check "a target's own threshold: db-1 stays HEALTHY while web-1 turns PENDING" \
	bash -c "rows_for() { awk -F, -v h=\"\$2\" 'NR > 1 && \$2 == h' \"\$1\"; }; rows_for logs/attention.csv web-1 | grep -q PENDING && ! rows_for logs/attention.csv db-1 | grep -qv HEALTHY"

# --- a changed file: web-2 goes, web-3 comes, web-1 stays (with a new label) ------
cat >targets.new <<'EOF'
127.0.0.1   name=web-1 group=web env=staging rack=r1
127.0.0.4   name=web-3 group=web
127.0.0.3   name=db-1  group=db phi-threshold=1e6
EOF
mv targets.new targets.conf
check "the changed file is reloaded without a signal" \
	eventually 3 grep -q 'targets reloaded: 3 (1 added, 1 removed, 0 changed, 2 kept)' agent.err
reloaded=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 2
late=$(rows_for logs/sonar.csv web-2 | awk -F, -v t="$reloaded" '$1 > t' | wc -l)
check "a removed target is no longer probed ($late rows of web-2 after the reload)" test "$late" -eq 0
check "an added one is, from fresh detectors (its first fd.csv rows have phi 0)" \
	bash -c "[ \$(awk -F, '\$2 == \"web-3\"' logs/fd.csv | head -5 | awk -F, '\$5 == \"0.000\"' | wc -l) -eq 5 ]"
zeros=$(rows_for logs/fd.csv web-1 | awk -F, '$5 == "0.000"' | wc -l)
check "a kept one keeps its detector state: web-1's phi never restarted at 0 ($zeros rows of 0 in all)" \
	test "$zeros" -le 5
curl -sf $URL >m2.txt
check "/metrics follows: web-1's new label, web-3, no web-2" \
	bash -c "grep -q 'host=\"web-1\".*env=\"staging\"' m2.txt && grep -q 'host=\"web-3\"' m2.txt && ! grep -q 'host=\"web-2\"' m2.txt"

# --- a broken file: the old list keeps running -----------------------------------
before=$(rows_for logs/sonar.csv web-3 | wc -l)
printf '127.0.0.1 name=web-1\n127.0.0.4 name=web-3 colour\n' >targets.conf
check "a broken reload is one line naming the line, and keeps the list" \
	eventually 3 grep -q "targets.conf:2: 'colour' is not KEY=VALUE; keeping the 3 targets running" agent.err
sleep 1
after=$(rows_for logs/sonar.csv web-3 | wc -l)
check "and probing goes on ($before then $after rows of web-3)" test "$after" -gt "$before"

# --- a target that cannot start is said, and the others go on ---------------------
if [ "$(tr -s '\t ' ' ' </proc/sys/net/ipv4/ping_group_range)" = "1 0" ]; then
	printf '127.0.0.1 name=web-1\n127.0.0.4 name=web-3\n127.0.0.5 name=pinged method=icmp:dgram\n' >targets.conf
	check "a target whose method cannot be used here is said, naming it" \
		eventually 3 grep -q 'pinged: --method: ICMP datagram sockets not allowed' agent.err
	before=$(rows_for logs/sonar.csv web-3 | wc -l)
	sleep 1
	check "and the others are still probed" test "$(rows_for logs/sonar.csv web-3 | wc -l)" -gt "$before"
else
	skip "a target whose method cannot be used here" "ICMP datagram sockets are open here"
fi

# --- SIGHUP rereads it -------------------------------------------------------------
printf '127.0.0.1 name=web-1\n127.0.0.4 name=web-3\n' >targets.conf
sleep 1.5 # the change is seen by itself; the signal rereads it again
kill -HUP $agent
check "SIGHUP rereads the targets file" eventually 3 bash -c "[ \$(grep -c 'targets reloaded' agent.err) -ge 3 ]"
kill -TERM $agent
wait $agent
check "the agent exits 0" test $? -eq 0
check "the state file holds the targets that stayed, and not the ones that left" \
	bash -c "grep -aq web-3 logs/state/phi.state && ! grep -aq web-2 logs/state/phi.state && ! grep -aq db-1 logs/state/phi.state"
[ "$FAILED" = 1 ] && show agent.err logs/targets.csv
exit $FAILED
