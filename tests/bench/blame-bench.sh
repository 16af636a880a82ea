#!/bin/bash
# blame-bench.sh - does Panorama say where a fault is?  (make bench; as root)
#
# Two racks of five hosts (rack=a: h1-h5, rack=b: h6-h10), each host in a
# network namespace of its own, wired to its rack's gateway namespace by a
# wire of tests/helpers/delayline, and each gateway to a core router
# namespace by another (this kernel has no netem; the wires are TUN devices
# at real-time priority).  Every host runs an agent probing the nine others
# every second by ICMP datagram sockets (--observer hN, --label rack=X, the
# targets file naming and labelling them), reporting to one Panorama node
# in the core.  After a quiet stretch (QUIET seconds, default 600), each
# fault in turn, for FAULT seconds (default 45), then until its blame
# clears:
#   a slow host      h3's wire: 20 ms more both ways (its answers and its
#                    own probes: its NIC)
#   a sick observer  h8 probes through a wire of its own (--interface),
#                    20 ms more; the others' probes of h8 do not use it
#   one slow path    h2's wire, 20 ms more for packets to and from h7 only
#   a slow uplink    rack a's wire to the core, 20 ms more both ways
#   two at once      the slow host and the sick observer
# and prints, per fault, what the node blamed (GET /api/v1/blame, polled
# every second), the time to blame and the time to clear.  Targets: every
# fault blamed with the right kind and hosts within 15 s, cleared within
# 30 s of its end, and no blame over the quiet stretch.
# Addresses 10.81.0.0/16 exist only inside the namespaces the script makes
# and removes; nothing leaves them.
set -u
cd "$(dirname "$0")/../.."
B=${SONAR_BIN:-$PWD/bin} R=$PWD/build/tests
QUIET=${QUIET:-600} FAULT=${FAULT:-45}
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ] || ! command -v curl >/dev/null; then
	echo "blame-bench: needs root, iproute2, curl and /dev/net/tun; skipped"
	exit 0
fi
W=$(mktemp -d /tmp/cloudsonar-blame.XXXXXX)
T=csb$$
pids=() wires=()
cleanup() {
	for p in "${pids[@]}" "${wires[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in core ga gb $(seq -f h%g 1 10); do ip netns del $T-$n 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ns() { echo "$T-$1"; }
# (not for what runs in the background: $! would be the function's
# subshell, and killing it would leave the program running)
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
for n in core ga gb $(seq -f h%g 1 10); do
	ip netns add "$(ns $n)" && ip -n "$(ns $n)" link set lo up || exit 1
	in_ns $n sysctl -qw net.ipv4.ping_group_range="0 2147483647"
done
for n in core ga gb; do in_ns $n sysctl -qw net.ipv4.ip_forward=1; done
in_ns core ip addr add 10.81.0.1/32 dev lo

# wire NAME NS_A TUN_A NS_B TUN_B [ONLY_ADDR]: a delay line of 50 us whose
# fault (SIGUSR1 on, SIGUSR2 off) adds 20 ms; its pid in wire_NAME
wire() {
	local name=$1
	"$R/delayline" "$(ns $2)" "$3" "$(ns $4)" "$5" 50 0 20000 ${6:-} >"$W/$name.out" 2>"$W/$name.err" &
	wires+=($!)
	eval "wire_$name=$!"
	for _ in $(seq 50); do grep -q ready "$W/$name.out" 2>/dev/null && return 0; sleep 0.1; done
	echo "blame-bench: the wire $name did not come up: $(cat "$W/$name.err")" >&2
	exit 1
}
# uplinks: core 10.81.0.1 <-> ga (rack a: 10.81.1.0/24), gb (rack b: 10.81.2.0/24)
for r in a b; do
	k=$([ $r = a ] && echo 1 || echo 2)
	wire up$r core up$r g$r core
	in_ns core ip link set up$r up && in_ns core ip route add 10.81.$k.0/24 dev up$r
	in_ns g$r ip addr add 10.81.$k.254/32 dev core && in_ns g$r ip link set core up
	in_ns g$r ip route add default dev core
done
for i in $(seq 1 10); do
	r=$([ $i -le 5 ] && echo a || echo b); k=$([ $i -le 5 ] && echo 1 || echo 2)
	addr=10.81.$k.$i
	only=""
	[ $i = 2 ] && only=10.81.2.7 # h2's wire: its fault touches h2 <-> h7 only
	wire h$i g$r h$i h$i eth0 $only
	in_ns g$r ip link set h$i up && in_ns g$r ip route add $addr/32 dev h$i
	in_ns h$i ip addr add $addr/32 dev eth0 && in_ns h$i ip link set eth0 up
	in_ns h$i ip route add default dev eth0
done
# h8's probes go out through a wire of their own (the sick observer's)
wire p8 gb p8 h8 probe
in_ns gb ip link set p8 up && in_ns gb ip route add 10.81.2.108/32 dev p8
in_ns h8 ip addr add 10.81.2.108/32 dev probe && in_ns h8 ip link set probe up

P=16688 H=16690
ip netns exec "$(ns core)" "$B/hview-server" -addr 10.81.0.1:$P -http 10.81.0.1:$H -dbfile "$W/node.db" core 2>"$W/node.log" &
pids+=($!)
for _ in $(seq 50); do in_ns core curl -s -o /dev/null http://10.81.0.1:$H/api/v1/blame && break; sleep 0.1; done
for i in $(seq 1 10); do
	r=$([ $i -le 5 ] && echo a || echo b)
	: >"$W/targets.$i"
	for j in $(seq 1 10); do
		[ $j = $i ] && continue
		rj=$([ $j -le 5 ] && echo a || echo b); kj=$([ $j -le 5 ] && echo 1 || echo 2)
		echo "10.81.$kj.$j name=h$j rack=$rj" >>"$W/targets.$i"
	done
	extra=()
	[ $i = 8 ] && extra=(--interface probe --source 10.81.2.108)
	ip netns exec "$(ns h$i)" "$B/sonar-agent" --method icmp:dgram --interval 1 --no-htm --targets "$W/targets.$i" \
		--observer h$i --label rack=$r --server 10.81.0.1:$P --log-dir "$W/logs.$i" "${extra[@]}" \
		2>"$W/agent.$i.err" &
	pids+=($!)
done

blames() { in_ns core curl -s http://10.81.0.1:$H/api/v1/blame | tr -d '\n'; }
# short form of the current blames: kind:hosts(group) each, sorted
brief() {
	blames | python3 -c 'import json,sys
j = json.load(sys.stdin)
print(" ".join(sorted(b["kind"] + ":" + (b.get("group") or ",".join(b["hosts"])) for b in j["blame"])))'
}

echo "blame benchmark: 2 racks x 5 hosts, agents at 1 s, each probing the nine others; faults of ${FAULT} s (20 ms)"
sleep 40 # baselines: 30 answers and 30 s
seen="" t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt "$QUIET" ]; do
	b=$(brief)
	[ -n "$b" ] && seen="$seen $b"
	sleep 1
done
printf '%-18s %-40s %-30s %10s %10s\n' fault "expected" "blamed" "to blame" "to clear"
printf '%-18s %-40s %-30s %10s %10s\n' "quiet ${QUIET} s" "nothing" "${seen:-nothing}" - -

# run NAME EXPECT WIRES...: one fault on the wires given
run() {
	local name=$1 expect=$2; shift 2
	local start got="" t_blame=- t_clear=- b
	start=$(date +%s)
	for w in "$@"; do kill -USR1 "$w"; done
	while [ $(($(date +%s) - start)) -lt "$FAULT" ]; do
		b=$(brief)
		if [ "$t_blame" = - ] && [ -n "$b" ] && [[ " $b " == *" $expect "* ]]; then
			t_blame=$(($(date +%s) - start)) got=$b
		fi
		[ -z "$got" ] && [ -n "$b" ] && got=$b
		sleep 1
	done
	for w in "$@"; do kill -USR2 "$w"; done
	local off=$(date +%s)
	while [ $(($(date +%s) - off)) -lt 90 ]; do
		b=$(brief)
		if [ -z "$b" ]; then t_clear=$(($(date +%s) - off)); break; fi
		sleep 1
	done
	printf '%-18s %-40s %-30s %9ss %9ss\n' "$name" "$expect" "${got:-nothing}" "$t_blame" "$t_clear"
	sleep 10
}
run "slow host" "host:h3" "$wire_h3"
run "sick observer" "observer:h8" "$wire_p8"
run "slow path" "link:h2,h7" "$wire_h2"
run "slow rack uplink" "group:rack=a|rack=b" "$wire_upa"
run "two at once" "host:h3 observer:h8" "$wire_h3" "$wire_p8"
