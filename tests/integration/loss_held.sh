#!/bin/bash
# Loss that holds: a live agent probing a host across a wire that loses
# 25% of the probes for 130 s makes exactly one NEEDS_ATTENTION episode,
# not a state that flaps, with the reason "lossy" in attention.csv, and
# comes back to HEALTHY once the loss has stopped.  The wire is
# tests/helpers/delayline (this kernel has no netem) between two network
# namespaces of the test's own; nothing leaves them.
. "$(dirname "$0")/../lib.sh"
if ! is_root || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	skip "loss holds one episode" "needs root, iproute2 and /dev/net/tun"
	exit 0
fi
cd "$WORK"
A=csloss-a-$$ T=csloss-b-$$
ip netns add $A && ip netns add $T || { not_ok "network namespaces"; exit 1; }
on_exit "ip netns del $A"
on_exit "ip netns del $T"
ip -n $A link set lo up && ip -n $T link set lo up
"$ROOT/build/tests/delayline" $A wire0 $T wire1 300 25 >delay.out 2>delay.err &
wire=$!
on_exit "kill $wire"
eventually 5 grep -q ready delay.out
ip -n $A addr add 10.78.1.1/32 dev wire0 && ip -n $A link set wire0 up && ip -n $A route add 10.78.2.0/24 dev wire0
ip -n $T addr add 10.78.2.1/32 dev wire1 && ip -n $T link set wire1 up && ip -n $T route add 10.78.1.1/32 dev wire1
ip netns exec $A sysctl -qw net.ipv4.ping_group_range="0 2147483647"
ip netns exec $A "$BIN/sonar-agent" --method icmp:dgram --interval 0.2 --no-htm --duration 250 \
	--log-dir logs 10.78.2.1 2>agent.err &
agent=$!
on_exit "kill $agent"
sleep 40                     # the baseline: 30 answers and 30 s
kill -USR1 $wire; sleep 130  # 25% lost
kill -USR2 $wire
wait $agent
check "the agent ran" test $? -eq 0
show agent.err
lost=$(awk -F, 'NR > 1 && $4 != "OK"' logs/fd.csv | wc -l)
check "the wire lost probes ($lost)" test "$lost" -gt 80
states=$(awk -F, 'NR > 1 { print $3 }' logs/attention.csv | tr '\n' ' ')
episodes=$(awk -F, 'NR > 1 { if ($3 == "NEEDS_ATTENTION" || $3 == "DEAD") { if (!on) n++; on = 1 } else on = 0 } END { print n + 0 }' logs/attention.csv)
check "exactly one episode ($states)" test "$episodes" -eq 1
check "its reason is loss" grep -q ',NEEDS_ATTENTION,.*,lossy: [0-9]* of the last [0-9]* probes lost$' logs/attention.csv
# after the loss (80 s of it here) the episode ends: a HEALTHY follows its
# last row (a PENDING later, a single slow answer on a busy machine, is not
# an alarm)
healthy_after_episode() {
	awk -F, 'NR > 1 { if ($3 == "NEEDS_ATTENTION" || $3 == "DEAD") ok = 0; else if ($3 == "HEALTHY") ok = 1 } END { exit !ok }' logs/attention.csv
}
check "HEALTHY again after the loss" healthy_after_episode
[ "$FAILED" = 1 ] && show logs/attention.csv delay.err
exit $FAILED
