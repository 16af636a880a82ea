#!/bin/bash
# Least privilege: the agent started as root, with each probe method, runs
# within a second as an ordinary user with no capability but the one its
# method still needs (CAP_NET_RAW for liboping's raw sockets, none for ICMP
# datagram sockets or TCP), read from /proc/PID/status for every thread;
# and its logs, state, targets file reload, /metrics and reports to a node
# all keep working.  In a network namespace of the test's own (where ICMP
# datagram sockets are opened to all, as systemd does), on its loopback.
. "$(dirname "$0")/../lib.sh"
if ! is_root || ! command -v ip >/dev/null; then
	skip "the agent drops root" "needs root and iproute2"
	exit 0
fi
A=$BIN/sonar-agent C=$BIN/hview-client
cd "$WORK"
NS=cspriv-$$
on_exit "ip netns del $NS"
ip netns add $NS && ip -n $NS link set lo up && ip netns exec $NS sysctl -qw net.ipv4.ping_group_range="0 2147483647"
P=$(free_port)
ip netns exec $NS "$BIN/hview-server" -addr 127.0.0.1:$P -dbfile node.db n0 2>node.log &
node=$!
on_exit "kill -9 $node"
eventually 5 ip netns exec $NS $C -server 127.0.0.1:$P -timeout 200 ping >/dev/null 2>&1
NET_RAW=0000000000002000 NONE=0000000000000000

# caps PID: the capabilities in effect of every thread, one line each, sorted and counted
caps() { for t in /proc/$1/task/*; do awk '/^CapEff:/ { print $2 }' $t/status; done | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' '; }

for m in icmp:liboping icmp:dgram tcp:7; do
	d=$(echo $m | tr : _)
	HP=$(free_port)
	printf '127.0.0.1 name=one\n127.0.0.2 name=two\n' >$d.targets
	ip netns exec $NS "$A" --method $m --targets $d.targets --interval 0.2 --no-htm --log-dir $d \
		--http 127.0.0.1:$HP --server 127.0.0.1:$P --observer obs-$d 2>$d.err &
	pid=$!
	on_exit "kill -9 $pid"
	sleep 1
	uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)
	check "$m: within a second the agent runs as an ordinary user (uid $uid)" test "${uid:-0}" -ne 0
	want=$NONE
	[ $m = icmp:liboping ] && want=$NET_RAW
	main=$(awk '/^CapEff:/ { print $2 }' /proc/$pid/status)
	check "$m: with only the capability its method needs ($main)" test "$main" = $want
	check "$m: and no thread holds more ($(caps $pid))" \
		bash -c "! (for t in /proc/$pid/task/*; do awk '/^CapEff:/ { print \$2 }' \$t/status; done | grep -v -e $want -e $NONE)"
	check "$m: none can regain root (CapPrm $(awk '/^CapPrm:/ { print $2 }' /proc/$pid/status))" \
		test "$(awk '/^CapPrm:/ { print $2 }' /proc/$pid/status)" = $want
	check "$m: it still logs" eventually 3 bash -c "[ \$(grep -c ',one,' $d/sonar.csv) -ge 3 ]"
	check "$m: and serves /metrics" \
		bash -c "ip netns exec $NS curl -sf http://127.0.0.1:$HP/metrics | grep -q 'sonar_probes_total{host=\"one\"'"
	printf '127.0.0.1 name=one\n127.0.0.3 name=three\n' >$d.targets
	check "$m: and rereads its targets file" eventually 4 grep -q "targets reloaded: 2 (1 added, 1 removed" $d.err
	check "$m: and reports to its node" \
		eventually 5 bash -c "ip netns exec $NS $C -server 127.0.0.1:$P get view obs-$d one >/dev/null 2>&1"
	kill -TERM $pid
	wait $pid
	check "$m: and saves its state at exit (exit $?)" test -s $d/state/phi.state
	check "$m: whose files are the user's" test "$(stat -c %u $d/state/phi.state)" = "$uid"
done
[ "$FAILED" = 1 ] && show icmp_liboping.err icmp_dgram.err tcp_7.err node.log
exit $FAILED
