#!/bin/bash
# A mesh cannot be turned into a reflector: whoever reaches a node must not
# be able to add members that every agent of the group then probes.
#  - a node without keys refuses mesh membership (unless -mesh-open);
#  - with -mesh-open: an address written another way ("0177.0.0.1") or not
#    an address at all ("127.0.0.300") is refused, one client address adds
#    at most 4 members, and a report dated a day ahead is stamped with the
#    node's clock, so its member goes once it stops reporting;
#  - with CURVE keys: no key, no membership; a key joins only as its name;
#    agents in the mesh never probe what an attacker announced.
# Everything is on loopback (127.0.0.0/8); no name here is looked up in DNS.
. "$(dirname "$0")/../lib.sh"
S=$BIN/hview-server C=$BIN/hview-client A=$BIN/sonar-agent K=$BIN/sonar-keygen
cd "$WORK"

# as_observer SERVER NAME REPORT...: what SERVER answers NAME's reports (stdout and stderr)
as_observer() {
	local server=$1 name=$2; shift 2
	{ echo "me $name"; for r in "$@"; do echo "report $r"; done; } | $C -server "$server" -timeout 2000 2>&1
}
has() { grep -q -- "$1" <<<"$2"; }
lacks() { ! grep -q -- "$1" <<<"$2"; }
members() { $C -server "$1" ${2:-} get panorama "mesh@${3:-web}" 2>/dev/null | grep -c '^  |' ; }

# --- a node without keys ----------------------------------------------------------------
P=$(free_port)
start_node 127.0.0.1:$P plain.db plain plain.log
out=$(as_observer 127.0.0.1:$P 127.0.66.6 "mesh@web member:h:100")
check "a node without keys refuses a mesh report, saying why" has "needs CURVE keys" "$out"
check "and does not accept it" lacks Accepted "$out"
check "and the group has no member" test "$(members 127.0.0.1:$P)" -eq 0
out=$(as_observer 127.0.0.1:$P 127.0.66.6 "other member:h:100")
check "other subjects are taken as before" has Accepted "$out"
$A --mesh web --server 127.0.0.1:$P --observer 127.0.1.1 --mesh-refresh 1 --interval 0.5 --no-htm \
	--log-dir plainagent --duration 2 2>plainagent.err
check "an agent in a mesh of that node says the node refuses it" grep -q "needs CURVE keys" plainagent.err
kill $node

# --- -mesh-open ---------------------------------------------------------------------------
P=$(free_port)
"$S" -addr 127.0.0.1:$P -dbfile open.db -mesh-open open 2>open.log &
node=$!
on_exit "kill -9 $node"
wait_node 127.0.0.1:$P
check "-mesh-open is logged loudly" grep -q "ANYONE who reaches" open.log
out=$(as_observer 127.0.0.1:$P 0177.0.0.1 "mesh@web member:h:100")
check "an address written another way is refused, naming the canonical one" has "announce it as 127.0.0.1" "$out"
out=$(as_observer 127.0.0.1:$P 127.0.0.300 "mesh@web member:h:100")
check "a string that is not an address is refused" has "not a valid IPv4 address" "$out"
n=0
for i in $(seq 0 9); do
	as_observer 127.0.0.1:$P "127.0.$((i / 4)).$((i % 4 + 50))" "mesh@flood member:h:100" | grep -q Accepted && n=$((n + 1))
done
check "one client address adds at most 4 members ($n of 10 taken)" test $n -eq 4
faketime -f +23h bash -c "{ echo 'me 127.0.77.7'; echo 'report mesh@day member:h:100'; } | $C -server 127.0.0.1:$P" >/dev/null 2>&1
stamp=$($C -server 127.0.0.1:$P get panorama mesh@day | awk '/^  \|127.0.77.7\|/ { print substr($2, 1, 13) }')
check "a report dated a day ahead is stamped with the node's clock ($stamp)" test "$stamp" = "$(date -u +%Y-%m-%dT%H)"

# agents (all from 127.0.0.1, so within its 4) and an announced stranger
for k in 1 2 3; do
	$A --mesh lab --server 127.0.0.1:$P --observer 127.0.1.$k --mesh-refresh 1 --interval 0.5 --no-htm \
		--log-dir open$k 2>open$k.err &
	apid[$k]=$!
	on_exit "kill -9 ${apid[$k]}"
done
( end=$((SECONDS + 4)); while [ $SECONDS -lt $end ]; do
	faketime -f +23h bash -c "{ echo 'me 127.0.66.6'; echo 'report mesh@lab member:h:100'; } | $C -server 127.0.0.1:$P" \
		>/dev/null 2>&1
	sleep 0.5
done )
check "a member announced a day ahead is probed while it reports" eventually 3 grep -q '^127.0.66.6,' open1/targets.csv
check "and dropped within the grace time once it stops (not a day later)" \
	eventually 8 bash -c "! grep -q '^127.0.66.6,' open1/targets.csv"
for k in 1 2 3; do kill -TERM ${apid[$k]}; done
wait "${apid[@]:1:3}" 2>/dev/null
kill $node

# --- CURVE ---------------------------------------------------------------------------------------
mkdir keys allow
$K -dir keys -role node n0 >/dev/null
for name in 127.0.2.1 127.0.2.2 127.0.2.3 127.0.2.4 mallory.invalid; do $K -dir keys $name >/dev/null; done
cp keys/*.pub allow/
P=$(free_port)
"$S" -addr 127.0.0.1:$P -dbfile keyed.db -key keys/n0.key -allow allow n0 2>keyed.log &
node=$!
on_exit "kill -9 $node"
KC="-serverkey keys/n0.pub"
eventually 5 $C -server 127.0.0.1:$P $KC -key keys/mallory.invalid.key -timeout 200 ping >/dev/null 2>&1
for k in 1 2 3; do
	$A --mesh web --server 127.0.0.1:$P --server-key keys/n0.pub --key keys/127.0.2.$k.key --observer 127.0.2.$k \
		--mesh-refresh 1 --interval 0.5 --no-htm --log-dir keyed$k 2>keyed$k.err &
	kpid[$k]=$!
	on_exit "kill -9 ${kpid[$k]}"
done
ready=1
for k in 1 2 3; do eventually 4 bash -c "[ \$(tail -n +2 keyed$k/targets.csv 2>/dev/null | wc -l) -eq 2 ]" || ready=0; done
check "three agents with keys form a mesh" test $ready -eq 1
out=$({ echo "me 127.0.66.6"; echo "report mesh@web member:h:100"; } | $C -server 127.0.0.1:$P $KC -timeout 1000 2>&1)
check "a client without a key cannot add a member" lacks Accepted "$out"
out=$({ echo "me 127.0.66.6"; echo "report mesh@web member:h:100"; } |
	$C -server 127.0.0.1:$P $KC -key keys/mallory.invalid.key -timeout 1000 2>&1)
check "a key cannot add a member under another name" has "may not speak as" "$out"
for i in $(seq 1 200); do printf 'me %s\nreport mesh@web member:h:100\n' "127.0.66.$((i % 250))"; done |
	$C -server 127.0.0.1:$P $KC -key keys/mallory.invalid.key -timeout 1000 >/dev/null 2>&1
$K -dir keys 127.0.2.9 >/dev/null # a key the node does not know
$A --mesh web --server 127.0.0.1:$P --server-key keys/n0.pub --key keys/127.0.2.9.key --observer 127.0.2.9 \
	--mesh-refresh 1 --no-htm --log-dir stranger --duration 2 2>stranger.err
$A --mesh web --server 127.0.0.1:$P --server-key keys/n0.pub --key keys/127.0.2.4.key --observer 127.0.2.4 \
	--mesh-refresh 1 --interval 0.5 --no-htm --log-dir keyed4 2>keyed4.err &
kpid[4]=$!
on_exit "kill -9 ${kpid[4]}"
joined=1
for k in 1 2 3; do eventually 4 grep -q '^127.0.2.4,' keyed$k/targets.csv || joined=0; done
check "a real agent still joins after the attempts" test $joined -eq 1
# (mallory's key joins as itself, mallory.invalid, which never resolves: a
# key is a member's right, and speaks for its own name only)
bad=$(cat keyed*/targets.csv | grep -c -e '^127\.0\.66\.' -e '^127\.0\.2\.9,')
check "no agent ever probed what was announced without a right to ($bad)" test "$bad" -eq 0
for k in 1 2 3 4; do kill -TERM ${kpid[$k]}; done
wait "${kpid[@]:1:4}" 2>/dev/null
[ "$FAILED" = 1 ] && show plain.log open.log keyed.log open1.err keyed1.err open1/targets.csv keyed1/targets.csv
exit $FAILED
