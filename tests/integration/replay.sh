#!/bin/bash
# sonar-replay: hand-computed phi from a crafted sonar.csv, and hostile input.
. "$(dirname "$0")/../lib.sh"
R=$BIN/sonar-replay
cd "$WORK"

# Host h: five samples (phi 0 until then), 600 ns, a lost probe, 1000 ns.
# By hand (phi as docs/detection.md defines it): 600/(300 ln 10) = 0.869; lost = 1 s/(350 ns ln 10)
# = 1240841.377; 1000/(350 ln 10) = 1.241.  Host g interleaves, untouched.
cat >s.csv <<'CSV'
timestamp,host,rtt_ns
2026-11-22T16:01:00.000Z,h,100
2026-11-22T16:01:00.500Z,g,7000
2026-11-22T16:01:01.000Z,h,200
2026-11-22T16:01:02.000Z,h,300
2026-11-22T16:01:03.000Z,h,400
2026-11-22T16:01:04.000Z,h,500
2026-11-22T16:01:05.000Z,h,600
2026-11-22T16:01:06.000Z,h,
2026-11-22T16:01:07.000Z,h,1000
CSV
$R --log-dir out s.csv
check "replay exits 0 on good input" test $? -eq 0
phis=$(rows_for out/fd.csv h | cut -d, -f5 | tr '\n' ' ')
check "phi of h by hand: $phis" test "$phis" = "0.000 0.000 0.000 0.000 0.000 0.869 1240841.377 1.241 "
check "lost probe row: empty rtt, TIMEOUT" test "$(rows_for out/fd.csv h | sed -n 7p)" = "2026-11-22T16:01:06.000Z,h,,TIMEOUT,1240841.377"
check "attention: HEALTHY then PENDING then HEALTHY" \
	test "$(rows_for out/attention.csv h | cut -d, -f3 | tr '\n' ' ')" = "HEALTHY PENDING "
$R --log-dir out2 --timeout 0.5 s.csv
check "--timeout 0.5 halves a lost probe's phi" test "$(rows_for out2/fd.csv h | sed -n 7p | cut -d, -f5)" = "620420.688"
$R --log-dir out3 --phi-dist normal s.csv
check "normal distribution by hand (4.151)" test "$(rows_for out3/fd.csv h | sed -n 8p | cut -d, -f5)" = "4.151"
$R --log-dir out4 s.csv
check "replay is deterministic (byte-identical reruns)" cmp -s out/fd.csv out4/fd.csv
check "replay replaces earlier output" test "$(grep -c '^timestamp' out4/fd.csv)" -eq 1

# --- hostile lines: reported with line numbers, skipped, never a crash ---------
{
	printf 'timestamp,host,rtt_ns\r\n'
	printf '2026-11-22T16:01:00.000Z,h,100\r\n'
	printf 'complete garbage\n'
	printf '2026-11-22T16:01:00.000Z,h\n'
	printf '2026-11-22T16:01:00.000Z,h,-42\n'
	printf '2026-11-22T16:01:00.000Z,h,184467440737095516150\n'
	printf '2026-11-22T16:01:00.000Z,h,12abc\n'
	printf 'not-a-time,h,5\n'
	printf '2026-11-22T16:01:00.000Z,,5\n'
	printf '2026-11-22T16:01:00.000Z,"quoted",5\n'
	head -c 9000 /dev/zero | tr '\0' 'x'; printf '\n'
	printf '2026-11-22T16:01:01.000Z,h,200'
} >bad.csv
$R --log-dir badout bad.csv 2>bad.err
rc=$?
check "bad lines make exit status 1" test $rc -eq 1
for n in 3 4 5 6 7 8 9 10 11; do
	check "line $n reported" grep -q "bad.csv: line $n: " bad.err
done
check "summary counts the skipped lines" grep -q "9 bad lines skipped, 2 rows replayed" bad.err
check "good lines around bad ones replayed (CRLF, no final newline)" \
	test "$(rows_for badout/fd.csv h | cut -d, -f3 | tr '\n' ' ')" = "100 200 "
head -c 100000 /dev/urandom >random.bin
$R --log-dir rnd random.bin 2>/dev/null
rc=$?
check "random bytes: no crash (exit $rc)" test $rc -eq 1
: >empty.csv
$R --log-dir emp empty.csv
check "empty file: exit 0, headers only" test $? -eq 0 -a "$(wc -l <emp/fd.csv)" -eq 1
$R --log-dir x does-not-exist.csv 2>err.txt
check "missing file: exit 1, one line" test $? -eq 1 -a "$(wc -l <err.txt)" -eq 1
$R --phi-window 0 s.csv 2>err.txt
check "bad option: exit 2, one line" test $? -eq 2 -a "$(wc -l <err.txt)" -eq 1
$R 2>err.txt
check "no file: exit 2" test $? -eq 2
printf '2026-11-22T16:01:00.000Z,h,5\n' | $R --log-dir stdin - 
check "reads stdin with -" test "$(rows_for stdin/fd.csv h | wc -l)" -eq 1
