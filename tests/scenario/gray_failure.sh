#!/bin/bash
# The gray-failure scenario (issue 5), short form, run by `make scenario`
# (not part of `make test` yet: on this 2-core machine it still flakes, see
# the README).  Five hosts in network
# namespaces on one bridge, each running a Panorama node (config from
# hview-mkrc) and an agent probing the four others every 0.1 s.  After a
# quiet baseline, host 5 goes slow but stays up (its link rate-limited with
# tbf and loaded).  Every other agent must mark it NEEDS_ATTENTION and every
# node infer it UNHEALTHY, while no other host turns UNHEALTHY and the
# baseline raises nothing.  Addresses (198.18.1.10-14) exist only inside the
# namespaces the test makes and removes.
. "$(dirname "$0")/../lib.sh"
if ! is_root || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	skip "gray-failure scenario" "needs root, ip and tc"
	exit 0
fi
cd "$WORK"
SW=cs-sw-$$
ip netns add $SW && ip -n $SW link add br0 type bridge && ip -n $SW link set br0 up
on_exit "ip netns del $SW"
PORT=6688
addr() { echo "198.18.1.1$1"; }
for i in 0 1 2 3 4; do
	ns=cs-g$i-$$
	ip netns add $ns
	on_exit "ip netns del $ns"
	ip link add g$i-$$ netns $ns type veth peer name s$i-$$ netns $SW
	ip -n $ns addr add "$(addr $i)/24" dev g$i-$$
	ip -n $ns link set lo up
	ip -n $ns link set g$i-$$ up
	ip -n $SW link set s$i-$$ master br0
	ip -n $SW link set s$i-$$ up
	$BIN/hview-mkrc -fix_port $PORT -nserver 5 -addressp "198.18.1.1%d" -namep "n%d" -id n$i \
		-dbfile n$i.db -output n$i.cfg >/dev/null
done
check "five hosts on one bridge, in namespaces" ip netns exec cs-g0-$$ ping -c1 -W1 "$(addr 4)" >/dev/null
pids=()
for i in 0 1 2 3 4; do
	ip netns exec cs-g$i-$$ $BIN/hview-server -config n$i.cfg 2>n$i.log &
	pids+=($!)
	on_exit "kill -9 $!"
done
sleep 0.5
for i in 0 1 2 3 4; do
	others=()
	for j in 0 1 2 3 4; do [ $j -ne $i ] && others+=("$(addr $j)"); done
	ip netns exec cs-g$i-$$ $BIN/sonar-agent --interval 0.1 --server "$(addr $i):$PORT" \
		--observer h$i --log-dir a$i "${others[@]}" 2>a$i.err &
	pids+=($!)
	on_exit "kill -9 $!"
done
sleep 50 # baseline: the HTM models learn (their probation is 388 steps)
fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
fault_ns=$(date +%s%N)
ip netns exec cs-g4-$$ tc qdisc add dev g4-$$ root tbf rate 2mbit burst 5kb latency 25ms
ip netns exec cs-g4-$$ bash -c "while :; do dd if=/dev/zero bs=1400 count=100000 2>/dev/null >/dev/udp/$(addr 0)/9; done" &
flood=$!
on_exit "kill $flood"
detected=""
for t in $(seq 100); do
	all=1
	for i in 0 1 2 3 4; do
		ip netns exec cs-g$i-$$ $BIN/hview-client -server "$(addr $i):$PORT" -timeout 500 \
			get inference "$(addr 4)" 2>/dev/null | grep -q "rtt: UNHEALTHY" || { all=0; break; }
	done
	if [ $all -eq 1 ]; then detected=$(( ($(date +%s%N) - fault_ns) / 1000000 )); break; fi
	sleep 0.1
done
echo "# detection: ${detected:-none} ms after the fault"
check "every node infers the slow host UNHEALTHY within 10 s (${detected:-never} ms)" \
	test -n "$detected" -a "${detected:-99999}" -lt 10000
sleep 1
for i in 0 1 2 3; do
	check "agent h$i marked the slow host NEEDS_ATTENTION" \
		awk -F, -v t="$fault_at" -v h="$(addr 4)" '$1 >= t && $2 == h && $3 == "NEEDS_ATTENTION" { f = 1 } END { exit !f }' a$i/attention.csv
done
for j in 0 1 2 3; do
	check "no node infers healthy host $(addr $j) UNHEALTHY" \
		bash -c "! ip netns exec cs-g0-$$ $BIN/hview-client -server $(addr 0):$PORT get inference $(addr $j) | grep -q 'rtt: UNHEALTHY'"
done
grep -h NEEDS_ATTENTION a*/attention.csv | sed "s/^/# /" | head -8
alarms=$(cat a*/attention.csv | awk -F, -v t="$fault_at" 'NR > 1 && $1 < t && $3 == "NEEDS_ATTENTION"' | wc -l)
check "the quiet baseline raised no NEEDS_ATTENTION ($alarms)" test "$alarms" -eq 0
kill $flood
