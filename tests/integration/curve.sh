#!/bin/bash
# ZeroMQ CURVE: sonar-keygen's key pairs; a node with a key and an
# allow list lets in only the keys it lists, and a key speaks only for its
# own name (observer) or, a node key, relays under its own id; peers
# authenticate each other; the watch stream, the agent and hview-logtail
# use CURVE too; traffic on loopback carries no plaintext (tcpdump); a node
# without keys says so.  Every address is on loopback.
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client S=$BIN/hview-server K=$BIN/sonar-keygen
LEARN=$ROOT/build/tests/pano-learn
cd "$WORK"

# --- sonar-keygen -------------------------------------------------------------------
mkdir keys
$K -dir keys -role node n0 n1 n2 >keygen.out && $K -dir keys alice bob ops >>keygen.out
check "sonar-keygen makes a key pair per name" test "$(ls keys | wc -l)" -eq 12
check "the secret file is private (0600), the public one readable (0644)" \
	test "$(stat -c %a keys/alice.key keys/alice.pub | tr '\n' ' ')" = "600 644 "
check "the public file has no secret key, the secret file has both" \
	bash -c "! grep -q secret-key keys/alice.pub && grep -q secret-key keys/alice.key && grep -q public-key keys/alice.key"
check "a node key says its role" grep -q 'role = "node"' keys/n0.pub
$K -dir keys alice 2>dup.err
check "an existing key is never overwritten (exit 1, one line)" \
	bash -c "[ $? -eq 1 ] && [ \$(wc -l <dup.err) -eq 1 ] && grep -q 'exists already' dup.err"
$K -dir keys 'a b' 2>/dev/null; check "a name with a space: exit 2" test $? -eq 2
$K -dir keys ../evil 2>/dev/null; check "a name with a slash: exit 2" test $? -eq 2
$K -role boss x 2>/dev/null; check "an unknown role: exit 2" test $? -eq 2

# The node's allow list: its peers' node keys and its observers' keys.
# bob's public key is held back: bob is a stranger to the node.
mkdir allow
cp keys/n0.pub keys/n1.pub keys/n2.pub keys/alice.pub keys/ops.pub allow/

# --- bad keys at start: a clear line, exit non-zero, nothing served ---------------
P=$(free_port)
bad_start() { # bad_start NAME WANT ARGS...: the node refuses to start
	local name=$1 want=$2; shift 2
	timeout 5 $S -addr 127.0.0.1:$P -dbfile bad.db -watch off "$@" 2>bad.err
	local rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- "$want" bad.err; then ok "$name"; else
		not_ok "$name (exit $rc)"; show bad.err; fi
}
bad_start "-key without -allow" "needs both" -key keys/n0.key n0
bad_start "a key for another node" "but this is node 'n1'" -key keys/n0.key -allow allow n1
bad_start "an observer's key as the node's" "a observer key for 'alice'" -key keys/alice.key -allow allow alice
bad_start "a public file as the secret key" "no secret-key" -key keys/n0.pub -allow allow n0
cp keys/n0.key loose.key && chmod 644 loose.key
bad_start "a secret key others may read" "chmod 600" -key loose.key -allow allow n0
mkdir empty
bad_start "an empty allow list" "no public certificates" -key keys/n0.key -allow empty n0
mkdir broken && cp allow/*.pub broken/ && echo 'curve
    public-key = "tooshort"' >broken/x.pub
bad_start "a broken certificate in the allow list, named with its line" "x.pub: line 2: public-key is not 40" \
	-key keys/n0.key -allow broken n0
mkdir nopeer && cp keys/n0.key allow/n0.pub allow/n1.pub allow/alice.pub nopeer/
$BIN/hview-mkrc -fix_port 7000 -nserver 3 -addressp "127.0.7.%d" -namep "n%d" -id n0 -dbfile bad.db \
	-keys nopeer -output nopeer.cfg >/dev/null
bad_start "a peer whose node key is not in the allow list" "peer n2: no node certificate named 'n2'" \
	-config nopeer.cfg
check "no database was made by the refused starts" test ! -e bad.db

# --- a node with CURVE ---------------------------------------------------------------
P=$(free_port)
# n1 is its peer (nothing serves there: only its relays matter here); n2 is not
printf '{"Addr":"127.0.0.1:%s","Id":"n0","DBFile":"n0.db","Peers":{"n1":"127.0.0.1:%s"}}' \
	$P $(free_port) >n0.json
$S -config n0.json -key keys/n0.key -allow allow 2>n0.log &
cnode=$!
on_exit "kill -9 $cnode"
ALICE="$C -server 127.0.0.1:$P -timeout 1500 -key keys/alice.key -serverkey keys/n0.pub"
check "the node says CURVE is on" eventually 5 grep -q 'CURVE on every socket: 5 public keys let in' n0.log
check "a listed key is served" eventually 5 bash -c "$ALICE ping >/dev/null"
check "alice reports as alice (the default observer with a key)" bash -c "$ALICE report db-1 rtt:h:90 | grep -qx Accepted"
check "and reads it back" bash -c "$ALICE get inference db-1 | grep -q '^\[alice\] ==> db-1: .* rtt: HEALTHY, 90.0'"

$C -server 127.0.0.1:$P -timeout 1000 list subject >plain.out 2>plain.err
check "a client without keys cannot read (exit 1, nothing printed)" bash -c "[ $? -eq 1 ] && [ ! -s plain.out ]"
check "and is told why" grep -Eq 'wants CURVE keys|if it uses CURVE, give -key and -serverkey' plain.err
printf 'me mallory\nreport db-1 rtt:d:0\n' | $C -server 127.0.0.1:$P -timeout 1000 >/dev/null 2>&1
$C -server 127.0.0.1:$P -timeout 1000 -key keys/bob.key -serverkey keys/n0.pub report db-1 rtt:d:0 >bob.out 2>bob.err
check "a key not in the allow list cannot submit" bash -c "! grep -q Accepted bob.out"
check "its client says the node refused its key" grep -q 'refused our CURVE key' bob.err
check "the node logs the refusal" grep -q 'refused a connection from 127.0.0.1: public key .* is not in the allow list' n0.log
$C -server 127.0.0.1:$P -timeout 1000 -key keys/alice.key -serverkey keys/n1.pub ping >/dev/null 2>wrong.err
check "a client expecting another node's key gets no answer, and is told" grep -q 'CURVE handshake with .* failed' wrong.err
check "nothing of the strangers' reached the node" test "$($ALICE list observer)" = "alice"

$ALICE me ops >me.out 2>me.err
check "alice's key may not register as ops (exit 1)" bash -c "[ $? -eq 1 ] && grep -q \"key of 'alice' may not speak as observer 'ops'\" me.err"
check "ops's key reports as ops" bash -c "$C -server 127.0.0.1:$P -key keys/ops.key -serverkey keys/n0.pub report db-2 rtt:p:50 | grep -qx Accepted"
# FORBIDDEN is error code 4
$LEARN 127.0.0.1:$P keys/alice.key keys/n0.pub alice alice db-3 >learn1.out
check "an observer key may not relay a peer's report" grep -q "^error 4: key of 'alice' is an observer's, not a node's" learn1.out
$LEARN 127.0.0.1:$P keys/n1.key keys/n0.pub n2 alice db-3 >learn2.out
check "a node key may not relay under another node's id" grep -q "^error 4: key of 'n1' may not speak as node 'n2'" learn2.out
$LEARN 127.0.0.1:$P keys/n2.key keys/n0.pub n2 alice db-3 >learn3.out
check "a node key that is not a peer may not relay" grep -q "^error 4: node 'n2' is not one of this node's peers" learn3.out
out=$($LEARN 127.0.0.1:$P keys/n1.key keys/n0.pub n1 someone db-3)
check "a peer's node key relays under its own id" test "$out" = ACCEPTED
check "the refused writes left no trace" test "$($ALICE list subject | cut -f1 | tr '\n' ' ')" = "db-1 db-2 db-3 "

# --- the watch stream is CURVE too -----------------------------------------------------
$ALICE watch db-1 >watch.out 2>watch.err &
watcher=$!
on_exit "kill $watcher"
$C -server 127.0.0.1:$P watch db-1 >watch_plain.out 2>/dev/null &
plain_watcher=$!
on_exit "kill $plain_watcher"
sleep 0.5
$ALICE report db-1 rtt:u:20 >/dev/null
sleep 0.5
kill $watcher $plain_watcher; wait $watcher $plain_watcher 2>/dev/null
check "a keyed watcher sees the change" grep -q 'db-1: .* rtt: UNHEALTHY, 20.0' watch.out
check "a watcher without keys sees nothing" test ! -s watch_plain.out

# --- the agent and hview-logtail over CURVE ------------------------------------------------
$BIN/sonar-agent --server 127.0.0.1:$P --key keys/alice.key --server-key keys/n0.pub \
	--interval 0.2 --duration 1.5 --log-dir agent 127.0.0.1 2>agent.err
check "the agent reports over CURVE, as its key's name by default (exit 0)" \
	bash -c "[ $? -eq 0 ] && grep -q 'as observer alice (CURVE)' agent.err"
check "its reports arrive" eventually 5 bash -c "$ALICE get view alice 127.0.0.1 | grep -q rtt"
check "and its queue is empty" test ! -s agent/state/publish.queue
$BIN/sonar-agent --server 127.0.0.1:$P --key keys/alice.key --server-key keys/n0.pub --observer carol \
	--duration 1 127.0.0.1 2>carol.err
check "an agent whose key is not its observer's: exit 2, one line" \
	bash -c "[ $? -eq 2 ] && [ \$(wc -l <carol.err) -eq 1 ] && grep -q \"speaks for 'alice', not for observer 'carol'\" carol.err"
$BIN/sonar-agent --server 127.0.0.1:$P --key keys/alice.key --duration 1 127.0.0.1 2>nokey.err
check "--key without --server-key: exit 2" test $? -eq 2
$BIN/sonar-agent --server 127.0.0.1:$P --interval 0.2 --duration 0.5 --log-dir plainagent 127.0.0.1 2>plainagent.err
check "an agent without keys says so" grep -q 'without CURVE keys' plainagent.err

echo 'ERROR disk on db-7 is failing' >app.log
cat >rules.json <<'EOF'
{"observer": "ops", "rules": [{"name": "disk", "match": "ERROR disk on ([a-z0-9-]+)", "subject": "$1",
  "metric": "disk", "status": "UNHEALTHY", "score": 10}]}
EOF
$BIN/hview-logtail -server 127.0.0.1:$P -key keys/ops.key -serverkey keys/n0.pub -log app.log -stale -1 -once \
	rules --rules rules.json >logtail.out 2>logtail.err
check "hview-logtail reports over CURVE" bash -c "[ $? -eq 0 ] && $ALICE get inference db-7 | grep -q 'disk: UNHEALTHY'"

# --- what crosses the wire: no plaintext subject names ------------------------------------
if is_root && command -v tcpdump >/dev/null; then
	PP=$(free_port)
	start_node 127.0.0.1:$PP plainnode.db plain0 plainnode.log
	# (--immediate-mode: without it, some kernels' capture ring holds the
	# packets until tcpdump stops, and then loses them)
	tcpdump -i lo --immediate-mode -U -w wire.pcap "tcp port $P or tcp port $PP" 2>tcpdump.err &
	dump=$!
	on_exit "kill $dump"
	eventually 5 grep -q 'listening on' tcpdump.err
	$ALICE report canary-curve-subject-8d2f rtt:h:99 >/dev/null
	$C -server 127.0.0.1:$PP report canary-plain-subject-8d2f rtt:h:99 >/dev/null
	sleep 0.5
	kill -INT $dump; wait $dump 2>/dev/null
	check "the capture saw the plain node's subject (the capture works)" grep -aq canary-plain-subject-8d2f wire.pcap
	check "and not the CURVE node's" bash -c "! grep -aq canary-curve-subject-8d2f wire.pcap"
	check "nor its observer or metric names" bash -c "! grep -aq 'alice' wire.pcap"
	kill -TERM $node; wait $node
else
	skip "no plaintext on the wire" "needs root and tcpdump"
fi
kill -TERM $cnode; wait $cnode
check "the CURVE node stops clean on SIGTERM" test $? -eq 0

# --- three nodes from hview-mkrc -keys: peers authenticate each other ------------------------
CP=$(free_port)
pids=()
for i in 0 1 2; do
	mkdir -p node$i
	cp keys/n$i.key node$i/ && cp allow/*.pub node$i/
	$BIN/hview-mkrc -fix_port $CP -nserver 3 -addressp "127.0.6.%d" -namep "n%d" -id n$i -dbfile c$i.db \
		-keys node$i -output c$i.cfg >/dev/null
	$S -config c$i.cfg 2>c$i.log &
	pids+=($!)
	on_exit "kill -9 $!"
done
check "hview-mkrc -keys writes CurveKey and CurveAllow" \
	bash -c "grep -q '\"CurveKey\": \"node0/n0.key\"' c0.cfg && grep -q '\"CurveAllow\": \"node0\"' c0.cfg"
A0="$C -server 127.0.6.0:$CP -key keys/alice.key -serverkey keys/n0.pub"
A2="$C -server 127.0.6.2:$CP -key keys/alice.key -serverkey keys/n2.pub"
eventually 5 $A0 ping >/dev/null 2>&1
check "a report to node 0 is accepted" bash -c "$A0 report db-9 rtt:u:30 | grep -qx Accepted"
check "node 2 learns it from its authenticated peer" \
	eventually 5 bash -c "$A2 get inference db-9 2>/dev/null | grep -q 'rtt: UNHEALTHY, 30.0'"
kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null

# --- a node without keys says so ----------------------------------------------------------
P=$(free_port)
start_node 127.0.0.1:$P open.db open0 open.log
check "a node without keys warns that anyone may report" grep -q 'no CURVE keys (-key, -allow).*anyone' open.log
kill -TERM $node; wait $node

# --- valgrind: the CURVE node and its gatekeeper thread free what they take -----------------
if command -v valgrind >/dev/null; then
	P=$(free_port)
	valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q \
		$S -addr 127.0.0.1:$P -dbfile vg.db -key keys/n0.key -allow allow n0 2>vg.log &
	vg=$!
	on_exit "kill -9 $vg"
	eventually 30 $C -server 127.0.0.1:$P -timeout 500 -key keys/alice.key -serverkey keys/n0.pub ping >/dev/null 2>&1
	$C -server 127.0.0.1:$P -timeout 3000 -key keys/alice.key -serverkey keys/n0.pub report db-1 rtt:h:1 >/dev/null
	$C -server 127.0.0.1:$P -timeout 1000 -key keys/bob.key -serverkey keys/n0.pub ping >/dev/null 2>&1
	kill -TERM $vg; wait $vg
	rc=$?
	check "valgrind: no leak or error in a CURVE node (exit $rc)" test $rc -eq 0
	[ $rc -eq 0 ] || show vg.log
fi
exit $FAILED
