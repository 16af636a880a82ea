#!/bin/bash
# Two network namespaces joined by a veth pair: the agent in one probes the
# other; then the link is rate-limited (tbf) and loaded with a bulk UDP flow,
# so the peer stays up but answers slowly, and phi must rise.  Addresses are
# from 198.18.0.0/15 (reserved for benchmarks) and exist only inside the two
# namespaces this test makes and removes; nothing leaves them.
. "$(dirname "$0")/../lib.sh"
if ! is_root; then
	skip "slow link in network namespaces" "needs root (ip netns, tc)"
	exit 0
fi
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	skip "slow link in network namespaces" "iproute2 not installed"
	exit 0
fi
NA=cs-a-$$ NB=cs-b-$$
on_exit "ip netns del $NA"
on_exit "ip netns del $NB"
ip netns add $NA && ip netns add $NB &&
	ip link add va-$$ netns $NA type veth peer name vb-$$ netns $NB &&
	ip -n $NA addr add 198.18.0.1/30 dev va-$$ && ip -n $NB addr add 198.18.0.2/30 dev vb-$$ &&
	ip -n $NA link set lo up && ip -n $NB link set lo up &&
	ip -n $NA link set va-$$ up && ip -n $NB link set vb-$$ up
check "two namespaces joined by a veth pair" test $? -eq 0

cd "$WORK"
ip netns exec $NA $BIN/sonar-agent --interval 0.2 --log-dir logs 198.18.0.2 2>agent.err &
agent=$!
sleep 6 # baseline: 30 probes
fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
ip netns exec $NA tc qdisc add dev va-$$ root tbf rate 2mbit burst 5kb latency 60ms
ip netns exec $NA bash -c 'while :; do dd if=/dev/zero bs=1400 count=100000 2>/dev/null >/dev/udp/198.18.0.2/9; done' &
flood=$!
on_exit "kill $flood"
sleep 5
kill $flood; wait $flood 2>/dev/null
kill -TERM $agent; wait $agent
check "agent in the namespace exits 0" test $? -eq 0

base=$(awk -F, -v t="$fault_at" 'NR > 1 && $1 < t' logs/fd.csv)
slow=$(awk -F, -v t="$fault_at" 'NR > 1 && $1 >= t' logs/fd.csv)
base_ok=$(echo "$base" | awk -F, '$4 == "OK"' | wc -l)
check "baseline probes answered across the veth ($base_ok)" test "$base_ok" -ge 25
base_rtt=$(echo "$base" | awk -F, '$4 == "OK" { s += $3; n++ } END { printf "%d", s / n }')
slow_rtt=$(echo "$slow" | awk -F, '$4 == "OK" { s += $3; n++ } END { printf "%d", n ? s / n : 0 }')
slow_ok=$(echo "$slow" | awk -F, '$4 == "OK"' | wc -l)
echo "# baseline mean rtt ${base_rtt} ns; loaded mean rtt ${slow_rtt} ns over $slow_ok answered probes"
check "the loaded link is slow but up (answers: $slow_ok)" test "$slow_ok" -ge 10 -a "$slow_rtt" -gt $((base_rtt * 10))
base_phi=$(echo "$base" | awk -F, '{ if ($5 > m) m = $5 } END { print m + 0 }')
slow_phi=$(echo "$slow" | awk -F, '{ if ($5 > m) m = $5 } END { print m + 0 }')
slow_mean=$(echo "$slow" | awk -F, '{ s += $5; n++ } END { printf "%.3f", s / n }')
echo "# baseline max phi $base_phi; under load max phi $slow_phi, mean $slow_mean"
check "phi rises under load (max $slow_phi vs baseline max $base_phi)" \
	awk -v s="$slow_phi" -v b="$base_phi" 'BEGIN { exit !(s > 10 && s > 5 * b) }'
check "phi stays over the threshold on average under load ($slow_mean)" \
	awk -v s="$slow_mean" 'BEGIN { exit !(s > 1) }'
check "attention.csv marks the slow host PENDING" \
	awk -F, -v t="$fault_at" 'NR > 1 && $1 >= t && $3 == "PENDING" { f = 1 } END { exit !f }' logs/attention.csv
