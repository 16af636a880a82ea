#!/bin/bash
# record.sh - how tools/demo/sonar.csv was recorded (as root, about three
# minutes): an agent in one network namespace probes three hosts, each in a
# namespace of its own behind a veth pair, every 0.2 s; after 80 s the link
# to db-1 is throttled to 2 Mbit/s and filled by a bulk UDP flow for a
# minute (its probes queue behind the flow: slow, not lost), then recovers.  The
# addresses (198.18.0.0/15, reserved for benchmarks) exist only inside the
# namespaces, which are removed at the end.  Usage: record.sh OUT.csv
set -eu
out=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
A=demo-a-$$
names=(web-1 db-1 cache-1)
cleanup() { for n in $A demo-1-$$ demo-2-$$ demo-3-$$; do ip netns del $n 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
ip netns add $A
ip -n $A link set lo up
for k in 1 2 3; do
	ns=demo-$k-$$
	ip netns add $ns
	ip link add va$k-$$ netns $A type veth peer name vb netns $ns
	ip -n $A addr add 198.18.$k.1/30 dev va$k-$$
	ip -n $ns addr add 198.18.$k.2/30 dev vb
	ip -n $A link set va$k-$$ up
	ip -n $ns link set vb up
	ip -n $ns link set lo up
	echo "198.18.$k.2 name=${names[$((k - 1))]}" >>"$work/targets"
done
ip netns exec $A "$root/bin/sonar-agent" --targets "$work/targets" --interval 0.2 --no-htm \
	--log-dir "$work/logs" --duration 170 &
agent=$!
sleep 80
ip netns exec $A tc qdisc add dev va2-$$ root tbf rate 2mbit burst 5kb latency 40ms
ip netns exec $A bash -c 'while :; do dd if=/dev/zero bs=1400 count=100000 2>/dev/null >/dev/udp/198.18.2.2/9; done' &
flood=$!
sleep 60
kill $flood
wait $flood 2>/dev/null || true
ip netns exec $A tc qdisc del dev va2-$$ root
wait $agent
cp "$work/logs/sonar.csv" "$out"
echo "recorded $(($(wc -l <"$out") - 1)) probes into $out"
