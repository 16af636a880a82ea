#!/bin/bash
# --method auto as an unprivileged user: without raw sockets it must still
# probe, by ICMP datagram sockets when net.ipv4.ping_group_range allows, else
# by TCP, and say which.  Runs in a network namespace of its own so the
# sysctl it sets touches nothing else.
. "$(dirname "$0")/../lib.sh"
if ! is_root || ! command -v setpriv >/dev/null; then
	skip "unprivileged --method auto" "needs root to make a namespace and drop privileges"
	exit 0
fi
NS=cs-u-$$
on_exit "ip netns del $NS"
ip netns add $NS && ip -n $NS link set lo up
chmod 755 "$WORK"
cd "$WORK"
mkdir out && chown 65534:65534 out
as_nobody() { ip netns exec $NS setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"; }
if ! as_nobody test -x "$BIN/sonar-agent"; then
	skip "unprivileged --method auto" "the build is not readable by nobody ($BIN)"
	exit 0
fi

ip netns exec $NS sysctl -qw net.ipv4.ping_group_range="1 0"
as_nobody "$BIN/sonar-agent" --interval 0.2 --duration 1 --log-dir out/tcp 127.0.0.1 ::1 2>tcp.err
check "unprivileged, no ping sockets: exit 0" test $? -eq 0
check "unprivileged, no ping sockets: says it chose tcp" grep -q "by tcp:7" tcp.err
check "and why: the sysctl, the capability, and what tcp:7 means" \
	bash -c "grep -q 'net.ipv4.ping_group_range = 1 0' tcp.err && grep -q 'CAP_NET_RAW' tcp.err && grep -q 'connections to port 7' tcp.err"
check "unprivileged, no ping sockets: probes answered" \
	test "$(awk -F, 'NR > 1 && $4 == "OK"' out/tcp/fd.csv | wc -l)" -ge 8
as_nobody "$BIN/sonar-agent" --method icmp --duration 1 --log-dir out/no 127.0.0.1 2>icmp.err
check "unprivileged --method icmp without permission: exit 1, clear reason" \
	bash -c "test $? -eq 1 && grep -q 'ping_group_range' icmp.err && test \$(wc -l <icmp.err) -eq 1"

ip netns exec $NS sysctl -qw net.ipv4.ping_group_range="65534 65534"
as_nobody "$BIN/sonar-agent" --interval 0.2 --duration 1 --log-dir out/dgram 127.0.0.1 ::1 2>dgram.err
check "unprivileged with ping sockets: exit 0" test $? -eq 0
check "unprivileged with ping sockets: says it chose ICMP datagram sockets" grep -q "by icmp (datagram socket)" dgram.err
for h in 127.0.0.1 ::1; do
	n=$(rows_for out/dgram/fd.csv $h | awk -F, '$4 == "OK" && $3 < 5000000' | wc -l)
	check "unprivileged ICMP to $h answered fast ($n probes)" test "$n" -ge 4
done
