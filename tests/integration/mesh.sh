#!/bin/bash
# sonar-agent --mesh in network namespaces: eight hosts on one bridge (each
# its own namespace, 10.77.0.K); a Panorama node on the eighth; six agents
# that know only the node.  Within two refreshes each probes the five others;
# a seventh that joins is probed by all within a refresh; the node's
# inference shows every host observed by at least three observers; one that
# leaves is dropped after the grace time.  The node has CURVE keys, as a
# mesh needs (a node without them refuses mesh membership: mesh_guard.sh),
# and each agent its own.  The addresses exist only in the namespaces the
# test makes and removes.
. "$(dirname "$0")/../lib.sh"
if ! is_root || ! command -v ip >/dev/null; then
	skip "a mesh in network namespaces" "needs root and iproute2"
	exit 0
fi
A=$BIN/sonar-agent C="$BIN/hview-client -key keys/ops.key -serverkey keys/mesh-node.pub"
REFRESH=1
cd "$WORK"
BR=csm-br-$$
on_exit "ip netns del $BR"
ip netns add $BR && ip -n $BR link add br0 type bridge && ip -n $BR link set br0 up
ok_net=$?
for k in 1 2 3 4 5 6 7 8; do
	ns=csm-$k-$$
	on_exit "ip netns del $ns"
	ip netns add $ns &&
		ip link add csm$k-$$ netns $BR type veth peer name eth0 netns $ns &&
		ip -n $BR link set csm$k-$$ master br0 up &&
		ip -n $ns addr add 10.77.0.$k/24 dev eth0 && ip -n $ns link set eth0 up && ip -n $ns link set lo up ||
		ok_net=1
done
check "eight namespaces on one bridge" test "$ok_net" -eq 0
P=$(free_port)
mkdir keys allow
$BIN/sonar-keygen -dir keys -role node mesh-node >/dev/null && $BIN/sonar-keygen -dir keys ops >/dev/null
for k in 1 2 3 4 5 6 7; do $BIN/sonar-keygen -dir keys 10.77.0.$k >/dev/null; done
cp keys/*.pub allow/
ip netns exec csm-8-$$ "$BIN/hview-server" -addr 10.77.0.8:$P -dbfile node.db -key keys/mesh-node.key -allow allow \
	mesh-node 2>node.log &
node=$!
on_exit "kill -9 $node"
check "a Panorama node on the eighth" eventually 5 bash -c "ip netns exec csm-8-$$ $C -server 10.77.0.8:$P -timeout 200 ping >/dev/null 2>&1"

agent() { # agent K: an agent in namespace K, knowing only the node
	ip netns exec csm-$1-$$ "$A" --mesh web --server 10.77.0.8:$P --observer 10.77.0.$1 --mesh-refresh $REFRESH \
		--key keys/10.77.0.$1.key --server-key keys/mesh-node.pub \
		--interval 0.5 --no-htm --log-dir logs$1 2>agent$1.err &
	pids[$1]=$!
	on_exit "kill -9 ${pids[$1]}"
}
probes_all() { # probes_all K N: agent K's targets are N others
	[ -f logs$1/targets.csv ] && [ "$(tail -n +2 logs$1/targets.csv | wc -l)" -eq "$2" ] &&
		! grep -q "^10.77.0.$1," logs$1/targets.csv
}
declare -a pids
for k in 1 2 3 4 5 6; do agent $k; done
ready=1
for k in 1 2 3 4 5 6; do eventually $((2 * REFRESH + 1)) probes_all $k 5 || ready=0; done
check "within two refreshes each of six agents probes the five others" test $ready -eq 1

agent 7
joined=1
for k in 1 2 3 4 5 6; do eventually $((REFRESH + 1)) grep -q '^10.77.0.7,' logs$k/targets.csv || joined=0; done
check "a seventh that joins is probed by all six within a refresh" test $joined -eq 1
check "and it probes the six" eventually $((2 * REFRESH + 1)) probes_all 7 6
sleep 3 # a few probes and reports from every agent
covered=$(ip netns exec csm-8-$$ $C -server 10.77.0.8:$P dump inference |
	awk '/==> 10\.77\.0\.[0-9]+:/ { n = split(substr($0, 2, index($0, "]") - 2), o, " "); if (n >= 3) c++ } END { print c + 0 }')
check "dump inference shows each of the seven hosts observed by at least 3 observers ($covered)" test "$covered" -eq 7
check "the group's membership is a subject of its own" \
	bash -c "ip netns exec csm-8-$$ $C -server 10.77.0.8:$P list subject | cut -f1 | grep -qx 'mesh@web'"

kill -TERM ${pids[7]}
wait ${pids[7]}
check "the seventh leaves (exit 0)" test $? -eq 0
left=1
for k in 1 2 3 4 5 6; do eventually $((4 * REFRESH + 2)) probes_all $k 5 || left=0; done
check "and is dropped by all after the grace time" test $left -eq 1
for k in 1 2 3 4 5 6; do kill -TERM ${pids[$k]}; done
wait "${pids[@]:1:6}" 2>/dev/null
[ "$FAILED" = 1 ] && show node.log agent1.err agent7.err logs1/targets.csv
exit $FAILED
