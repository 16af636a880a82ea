#!/bin/bash
# The agent on a disk that fills up and empties again: its CSV logs keep
# whole lines (no row spliced into another), and its Panorama queue keeps
# whole records, so that after a kill -9 the next run sends every report
# the file holds, those queued after space returned included, and sets
# nothing aside.  The logs and the queue live on a small tmpfs the test
# mounts; the node is down while the disk is full, so reports pile up.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent C=$BIN/hview-client
cd "$WORK"
if ! is_root || ! mkdir -p disk || ! mount -t tmpfs -o size=8m tmpfs disk 2>/dev/null; then
	skip "the agent on a full disk" "needs root and a tmpfs mount"
	exit 0
fi
on_exit "umount -l $WORK/disk"
P=$(free_port)
hosts=$(for i in $(seq 1 150); do echo 127.0.$((i / 100)).$((i % 100 + 1)); done)
# --dead-after and a short report period are the agent's own; many hosts
# and a short interval write fast enough to fill the disk in a second
$A --interval 0.05 --no-htm --log-dir disk/logs --server 127.0.0.1:$P $hosts 2>run1.err &
agent=$!
on_exit "kill -9 $agent"
sleep 1.5
avail=$(($(df --output=avail -k disk | tail -1)))
dd if=/dev/zero of=disk/filler bs=1k count=$avail 2>/dev/null
sleep 3 # appends fail: rows wait in memory, the queue file falls behind
check "the agent says the disk refuses its logs" eventually 3 grep -q "No space left on device" run1.err
rm -f disk/filler
freed=$(date -u +%s)
sleep 3 # space again: the logs and the queue catch up, and go on
check "and that the queue is written again" eventually 3 grep -q "the Panorama queue is written again" run1.err
kill -9 $agent; wait $agent 2>/dev/null
killed=$(date -u +%s)

torn() { # lines of CSV file $1 that are not whole rows of $2 fields
	awk -F, -v n="$2" 'NR > 1 && (NF != n || $1 !~ /^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z$/)' "$1" | wc -l
}
check "sonar.csv holds whole rows only ($(torn disk/logs/sonar.csv 3) torn)" test "$(torn disk/logs/sonar.csv 3)" -eq 0
check "fd.csv holds whole rows only ($(torn disk/logs/fd.csv 5) torn)" test "$(torn disk/logs/fd.csv 5)" -eq 0
check "attention.csv holds whole rows only" test "$(torn disk/logs/attention.csv 6)" -eq 0
check "and rows from after the disk had room again" \
	bash -c "tail -1 disk/logs/sonar.csv | cut -c1-19 | xargs -I{} date -ud {} +%s | awk -v f=$freed '{ exit !(\$1 >= f) }'"

# the node comes up; the next run sends what the queue file holds (the
# logs, checked, make room for it)
: >disk/logs/sonar.csv; : >disk/logs/fd.csv
start_node 127.0.0.1:$P node.db n0 node.log
$A --interval 0.5 --no-htm --log-dir disk/logs --server 127.0.0.1:$P --duration 6 $hosts 2>run2.err
check "the next run takes the queue up whole (nothing set aside)" \
	bash -c "! grep -q -e corrupt -e 'is kept in' -e 'is lost' run2.err && ! ls disk/logs/state | grep -q corrupt"
queued=$(sed -n 's/.*: \([0-9]*\) Panorama reports queued by an earlier run.*/\1/p' run2.err)
check "it had reports from the first run queued (${queued:-0})" test "${queued:-0}" -gt 0
# every host's newest report from the first run is in the node: one
# queued after space came back, not lost with the disk
from=$(date -u -d @$freed +%Y-%m-%dT%H:%M:%S) to=$(date -u -d @$((killed + 1)) +%Y-%m-%dT%H:%M:%S)
late=$($C -server 127.0.0.1:$P dump panorama 2>/dev/null |
	awk -v f="$from" -v k="$to" '/^  \|/ { t = substr($2, 1, 19); if (t >= f && t <= k) n++ } END { print n + 0 }')
check "the node holds reports made after the disk had room again, before the kill ($late)" test "$late" -gt 0
check "and the queue is empty once sent" test ! -s disk/logs/state/publish.queue
[ "$FAILED" = 1 ] && show run1.err run2.err node.log
exit $FAILED
