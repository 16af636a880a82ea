#!/bin/bash
# The agent reporting to Panorama: every probed host becomes
# a subject with metric rtt; reports survive a node's kill -9 and the agent's
# restart, arrive in order, once.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent C=$BIN/hview-client S=$BIN/hview-server
cd "$WORK"
P=$(free_port)
check "the node answers on port $P" start_node 127.0.0.1:$P n.db n0 n.log

$A --server 127.0.0.1:$P --observer obsA --interval 0.2 --duration 2 --log-dir l1 127.0.0.1 ::1 2>a1.err
check "agent with --server exits 0" test $? -eq 0
check "it says where it reports" grep -q "reporting to Panorama 127.0.0.1:$P as observer obsA" a1.err
subjects() { test "$($C -server 127.0.0.1:$P list subject | cut -f1 | sort | tr '\n' ' ')" = "127.0.0.1 ::1 "; }
check "both hosts are subjects" eventually 5 subjects
check "observer obsA is known" test "$($C -server 127.0.0.1:$P list observer)" = "obsA"
check "reports carry metric rtt with a status and a score" \
	bash -c "$C -server 127.0.0.1:$P get report ::1 | grep -Eq 'key:\"rtt\" value:<name:\"rtt\" value:<status:(HEALTHY|PENDING) score:[0-9.]+ >'"
check "the on-disk queue is empty once all is acknowledged" test ! -s l1/state/publish.queue

# --- the node dies (kill -9) while the agent reports; it comes back -------------
$A --server 127.0.0.1:$P --observer obsB --interval 0.1 --duration 6 --log-dir l2 127.0.0.1 2>a2.err &
agent=$!
sleep 1
down_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3N)
kill -9 $node; wait $node 2>/dev/null
sleep 2.5 # the agent keeps probing; its state changes queue up
up_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3N)
start_node 127.0.0.1:$P n.db n0 n.log
wait $agent
check "agent exits 0 across the node's death" test $? -eq 0
check "nothing left in the queue" test ! -s l2/state/publish.queue
# what the agent should have reported: its attention changes (and the
# first state), each a report; the node holds the newest 10 of the view
want=$(awk -F, 'NR > 1 { print $1 }' l2/attention.csv | tail -10 | sed 's/\.\([0-9]*\)Z$/.\1/; s/\.000$//; s/0*$//; s/\.$//' | tr '\n' ' ')
got=$($C -server 127.0.0.1:$P get view obsB 127.0.0.1 | sed -n 's/^  |obsB| \([^ ]*\)Z .*/\1/p' | tr '\n' ' ')
echo "# attention changes: $want"
echo "# the node's view:   $got"
check "every state change reached the node, in order" bash -c "[[ '$got' == *'$want'* || -z '$want' ]]"
check "the view is in time order" bash -c "[ \"\$(echo '$got' | tr ' ' '\n' | sed '/^$/d' | sort -c 2>&1)\" = '' ]"

# --- no node at all: reports wait on disk for the next run ----------------------
P2=$(free_port)
$A --server 127.0.0.1:$P2 --observer obsC --interval 0.2 --duration 1 --log-dir l3 127.0.0.1 2>a3.err
check "agent without a node still exits 0" test $? -eq 0
check "its reports wait in the on-disk queue" test -s l3/state/publish.queue
$S -addr 127.0.0.1:$P2 -dbfile n2.db n2 2>n2.log &
node2=$!
on_exit "kill -9 \$node2"
wait_node 127.0.0.1:$P2
$A --server 127.0.0.1:$P2 --observer obsC --interval 0.2 --duration 1 --log-dir l3 127.0.0.1 2>a4.err
check "a restarted agent sends the earlier run's reports first" grep -q "queued by an earlier run will be sent first" a4.err
first=$(awk -F, 'NR == 2 { print $1 }' l3/attention.csv | sed 's/Z$//; s/\.000$//; s/0*$//; s/\.$//')
check "the earlier run's first report is on the node ($first)" \
	bash -c "$C -server 127.0.0.1:$P2 get view obsC 127.0.0.1 | grep -q '|obsC| $first'"
check "and the queue is empty now" test ! -s l3/state/publish.queue

# --- a corrupt queue: what precedes the damage is sent, the rest set aside ---------
P3=$(free_port)
$A --server 127.0.0.1:$P3 --observer obsD --interval 0.2 --duration 1 --log-dir l4 127.0.0.1 127.0.0.2 2>a5.err
q=l4/state/publish.queue
# the file: 8 bytes of magic, then length, checksum and bytes a record
len1=$(od -An -tu4 -j8 -N4 $q | tr -d ' ')
off2=$((8 + 8 + len1))
size=$(stat -c %s $q)
check "two or more reports wait in the queue ($size bytes, first $len1)" test "$size" -gt $((off2 + 8))
printf '\x5a' | dd of=$q bs=1 seek=$((off2 + 8 + 2)) conv=notrunc 2>/dev/null
$A --server 127.0.0.1:$P2 --observer obsD --interval 0.2 --duration 1 --log-dir l4 127.0.0.1 2>a6.err
check "a flipped byte in the second record is said on stderr" grep -q "publish.queue: a checksum mismatch after 1 reports; the rest is kept in" a6.err
check "and the damaged file is kept aside" bash -c "ls l4/state/publish.queue.corrupt-* >/dev/null"
check "the first record was still delivered" bash -c "$C -server 127.0.0.1:$P2 get view obsD 127.0.0.1 >/dev/null 2>&1"

# --- FIFOs where the agent's own files belong never hang it ---------------------------
mkdir -p l5/state
mkfifo l5/state/publish.queue l5/state/phi.state
timeout 20 $A --server 127.0.0.1:$P2 --observer obsE --interval 0.2 --duration 1 --log-dir l5 127.0.0.1 2>a7.err
rc=$?
check "an agent whose queue and state are FIFOs still ends on time (exit $rc)" test $rc -ne 124
check "and says what is wrong with them" grep -q "not a regular file" a7.err
kill -TERM $node2; wait $node2
if [ "$FAILED" = 1 ] || [ -n "${SHOW:-}" ]; then
	ss -Hltnp 2>&1 | sed 's/^/# listening: /'
	ls -l l1/state l2/state l3/state 2>&1 | sed 's/^/# /'
	show n.log a1.err a2.err n2.log a3.err a4.err l1/attention.csv l2/attention.csv
fi
