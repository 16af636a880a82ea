#!/bin/bash
# Names that move, and names that are not names:
#  - a target named in /etc/hosts (a copy of the test's own, bind-mounted in
#    a mount namespace) moves to another address: the agent follows it,
#    says so, and probes the new one;
#  - a literal that is not an address (127.0.0.300), on the command line or
#    in a targets file, is an error naming it, and no DNS query leaves: a
#    capture on the only way out of a network namespace sees nothing;
#  - a target that does not resolve is visible: probe success 0 and a
#    reason in /metrics, DEAD in Panorama.
# Every lookup is answered by the hosts file or refused before it is asked.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent C=$BIN/hview-client
cd "$WORK"

# --- a name that moves ---------------------------------------------------------------
if is_root && command -v unshare >/dev/null; then
	cp /etc/hosts hosts
	echo "127.0.0.5 mover.test" >>hosts
	HP=$(free_port)
	# the agent, in a mount namespace where /etc/hosts is this copy
	unshare -m bash -c "mount --bind '$WORK/hosts' /etc/hosts && exec '$A' --interval 0.2 --resolve-every 1 --no-htm \
		--log-dir mover --http 127.0.0.1:$HP mover.test" 2>mover.err &
	agent=$!
	on_exit "kill -9 $agent"
	addr_is() {
		[ "$(curl -sf http://127.0.0.1:$HP/metrics |
			sed -n 's/^sonar_probes_total{host="mover.test",address="\([^"]*\)".*/\1/p')" = "$1" ]
	}
	check "a name in the hosts file is probed at its address" eventually 5 addr_is 127.0.0.5
	# the file changes in place (a bind mount follows the inode)
	sed 's/^127.0.0.5 mover.test$/127.0.0.6 mover.test/' hosts >hosts.new && cat hosts.new >hosts
	check "when it moves, the agent follows within its --resolve-every" eventually 5 addr_is 127.0.0.6
	check "and says so" grep -q "mover.test: now at 127.0.0.6 (was 127.0.0.5)" mover.err
	kill -TERM $agent
	wait $agent
else
	skip "a name that moves" "needs root and unshare"
fi

# --- a bad literal never reaches DNS ------------------------------------------------------------
if is_root && command -v ip >/dev/null && command -v tcpdump >/dev/null; then
	NS=csnames-$$ SINK=csnsink-$$
	on_exit "ip netns del $NS"
	on_exit "ip netns del $SINK"
	ip netns add $NS && ip netns add $SINK && ip -n $NS link set lo up &&
		ip link add out0 netns $NS type veth peer name in0 netns $SINK &&
		ip -n $NS addr add 192.0.2.1/24 dev out0 && ip -n $NS link set out0 up && ip -n $SINK link set in0 up &&
		ip -n $NS route add default via 192.0.2.254
	ip netns exec $NS tcpdump -i out0 -n -w dns.pcap 'udp port 53 or tcp port 53' 2>/dev/null &
	cap=$!
	sleep 1
	ip netns exec $NS "$A" --duration 1 --log-dir bad 127.0.0.300 2>bad.err
	rc=$?
	printf '127.0.0.1 name=ok\n10.1.2.3.4 name=bad\n' >bad.targets
	ip netns exec $NS "$A" --duration 1 --log-dir bad2 --targets bad.targets 2>bad2.err
	rc2=$?
	ip netns exec $NS "$A" --duration 1 --log-dir bad3 --mesh web --server 127.0.0.1:1 --observer 0x7f.1 \
		127.0.0.1 >/dev/null 2>&1
	sleep 1
	kill $cap
	wait $cap 2>/dev/null
	check "127.0.0.300 on the command line: exit 2, naming it" \
		bash -c "[ $rc -eq 2 ] && grep -q \"'127.0.0.300' is not a valid IPv4 address\" bad.err"
	check "10.1.2.3.4 in a targets file: exit 2, naming the line" \
		bash -c "[ $rc2 -eq 2 ] && grep -q \"bad.targets:2: '10.1.2.3.4' is not a valid IPv4 address\" bad2.err"
	check "and no DNS query left ($(tcpdump -r dns.pcap 2>/dev/null | wc -l) packets)" \
		test "$(tcpdump -r dns.pcap 2>/dev/null | wc -l)" -eq 0
else
	skip "a bad literal never reaches DNS" "needs root, iproute2 and tcpdump"
fi

# --- a target that does not resolve is visible --------------------------------------------------
P=$(free_port) HP=$(free_port)
start_node 127.0.0.1:$P node.db n0 node.log
$A --interval 0.2 --dead-after 1 --no-htm --log-dir unres --http 127.0.0.1:$HP --server 127.0.0.1:$P \
	--observer o1 127.0.0.1 gone.invalid 2>unres.err &
agent=$!
on_exit "kill -9 $agent"
sleep 2.5
curl -sf http://127.0.0.1:$HP/metrics >unres.prom
check "/metrics: probe success 0 for a target that does not resolve" \
	grep -q '^sonar_probe_success{host="gone.invalid",address="",method="[^"]*"} 0$' unres.prom
check "and the reason" grep -q '^sonar_unprobed{host="gone.invalid",.*reason="a name under .invalid, which never resolves (RFC 6761)"} 1$' unres.prom
check "Panorama hears it is DEAD" eventually 5 bash -c "$C -server 127.0.0.1:$P get view o1 gone.invalid | grep -q 'rtt: DEAD'"
kill -TERM $agent
wait $agent
[ "$FAILED" = 1 ] && show mover.err bad.err bad2.err unres.err node.log
exit $FAILED
