#!/bin/bash
# sonar-agent --burst 5 on loopback: five probes an interval on the wire
# (counted by tcpdump), every one of them in sonar.csv under its burst's
# time, one fd.csv row an interval (the burst's median), and sonar-replay
# --burst 5 reproduces the detectors' logs byte for byte.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent
cd "$WORK"
if ! is_root || ! command -v tcpdump >/dev/null; then
	skip "--burst on the wire" "needs root and tcpdump"
	exit 0
fi
# TCP connects to a port nothing listens on: the kernel's RST is the answer
PORT=9 ADDR=127.0.0.77
tcpdump -i lo -n -U -w syn.pcap "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host $ADDR and dst port $PORT" \
	2>tcpdump.err &
dump=$!
on_exit "kill $dump"
eventually 5 grep -q 'listening on' tcpdump.err
"$A" --burst 5 --interval 1 --duration 2.95 --method tcp:$PORT --log-dir logs $ADDR 2>agent.err
rc=$?
sleep 0.5
kill -INT $dump
wait $dump 2>/dev/null
check "the agent with --burst 5 exits 0" test $rc -eq 0
syn=$(tcpdump -n -r syn.pcap 2>/dev/null | wc -l)
check "5 probes an interval on the wire: $syn SYNs in 3 intervals" test "$syn" -eq 15
check "sonar.csv has every probe ($(rows_for logs/sonar.csv $ADDR | wc -l) rows)" \
	test "$(rows_for logs/sonar.csv $ADDR | wc -l)" -eq 15
check "under its burst's time: 3 times, 5 rows each" \
	bash -c "[ \"\$(awk -F, 'NR > 1 { print \$1 }' logs/sonar.csv | uniq -c | awk '{ print \$1 }' | tr '\n' ' ')\" = '5 5 5 ' ]"
check "one fd.csv row an interval ($(rows_for logs/fd.csv $ADDR | wc -l))" test "$(rows_for logs/fd.csv $ADDR | wc -l)" -eq 3
median_ok=$(awk -F, 'NR > 1 { t = $1; r[t] = r[t] " " $3 } END { for (t in r) print t, r[t] }' logs/sonar.csv |
	while read -r t a b c d e; do
		m=$(printf '%s\n' $a $b $c $d $e | sort -n | sed -n 3p)
		awk -F, -v t="$t" -v m="$m" '$1 == t && $3 == m { f = 1 } END { exit !f }' logs/fd.csv || echo bad
	done)
check "its response time is the burst's median" test -z "$median_ok"
"$BIN/sonar-replay" --burst 5 --interval 1 --log-dir replay logs/sonar.csv 2>replay.err
check "sonar-replay --burst 5 reproduces fd.csv and attention.csv byte for byte" \
	bash -c "cmp -s logs/fd.csv replay/fd.csv && cmp -s logs/attention.csv replay/attention.csv"
"$A" --burst 5 --interval 1 --timeout 0.5 127.0.0.1 2>bad.err
check "a timeout longer than the time between two probes is refused, exit 2" \
	bash -c "[ $? -eq 2 ] && grep -q 'longer than the time between two probes' bad.err"
[ "$FAILED" = 1 ] && show agent.err tcpdump.err replay.err logs/sonar.csv logs/fd.csv
exit $FAILED
