#!/bin/bash
# The HTM model on a synthetic RTT trace (replayed through sonar-replay, so
# through the agent's own pipeline): a host answers in ~100 us, three times
# slower every day from 12:00 to 13:00.  After five days of learning, the
# sixth day's peak must not raise NEEDS_ATTENTION (phi still finds it slow:
# PENDING at most), while a slowdown of the same size at 03:00, never seen
# before, must.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
awk 'BEGIN {
	srand(42)
	print "timestamp,host,rtt_ns"
	for (d = 1; d <= 6; d++)
		for (m = 0; m < 1440; m += 5) {
			h = int(m / 60)
			rtt = 100000 * (0.9 + 0.2 * rand())
			if (h == 12) rtt *= 3                 # the daily peak
			if (d == 6 && h == 3) rtt *= 3        # the new slowdown
			printf "2026-01-%02dT%02d:%02d:00.000Z,db,%d\n", d, h, m % 60, rtt
		}
}' >sonar.csv
$BIN/sonar-replay --log-dir out sonar.csv
check "replay of six days runs" test $? -eq 0
check "htm.csv has a row per probe" test "$(rows_for out/htm.csv db | wc -l)" -eq 1728
check "htm.csv values are log10(us) with 4 decimals" \
	awk -F, 'NR > 1 && !($3 ~ /^[0-9]+\.[0-9][0-9][0-9][0-9]$/ && $5 ~ /^[01]\.[0-9][0-9][0-9][0-9]$/) { bad = 1 } END { exit bad }' out/htm.csv
echo "# attention changes on day 6:"
grep '2026-01-06' out/attention.csv | sed 's/^/#   /'
states_between() { awk -F, -v a="$1" -v b="$2" 'NR > 1 && $1 >= a && $1 < b { print $3 }' out/attention.csv | sort -u | tr '\n' ' '; }
# the state in force during a period: the last change before its end
state_at() { awk -F, -v t="$1" 'NR > 1 && $1 <= t { s = $3 } END { print s }' out/attention.csv; }
new=$(states_between 2026-01-06T03:00 2026-01-06T04:30)
check "a new slowdown at 03:00 raises NEEDS_ATTENTION ($new)" bash -c "[[ '$new' == *NEEDS_ATTENTION* ]]"
peak=$(states_between 2026-01-06T11:55 2026-01-06T13:30)
check "the learnt noon peak does not ($peak)" bash -c "[[ '$peak' != *NEEDS_ATTENTION* ]]"
check "phi still sees the peak: PENDING or already pending at noon" \
	bash -c "[[ '$peak' == *PENDING* || '$(state_at 2026-01-06T12:30)' == PENDING ]]"
$BIN/sonar-replay --log-dir out2 sonar.csv
check "replay is deterministic: htm.csv byte-identical" cmp -s out/htm.csv out2/htm.csv
