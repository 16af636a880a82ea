#!/bin/bash
# run-all.sh UNIT_BINARY... - runs the cmocka unit tests given (plain and
# sanitized builds), every tests/integration/*.sh and, with FUZZ_TARGETS set,
# each fuzz target for FUZZ_SECONDS, all speaking TAP, and ends with the line
# "N passed, N failed, N skipped".  Exit 1 on any failure.
set -u
cd "$(dirname "$0")/.."

# As root, the suite runs in a network namespace of its own whose only way
# off the machine is one end of a veth pair holding the default routes (IPv4
# and IPv6); the other end is in a namespace with nothing behind it.
# Whatever a test sends to an address outside the machine, a DNS query
# included, goes out there and is counted; the count must not grow.
OUT_IF=cs-out0
tx_out() { ip -s link show $OUT_IF 2>/dev/null | awk '/TX:/ { getline; print $2; exit }'; }
if [ "$(id -u)" -eq 0 ] && [ -z "${CS_SUITE_NS:-}" ] && command -v ip >/dev/null; then
	ns=cs-suite-$$ sink=cs-sink-$$
	if ip netns add $ns 2>/dev/null && ip netns add $sink 2>/dev/null; then
		ip -n $ns link set lo up &&
			ip link add $OUT_IF netns $ns type veth peer name cs-in0 netns $sink &&
			ip netns exec $ns sysctl -qw net.ipv6.conf.$OUT_IF.accept_ra=0 net.ipv6.conf.$OUT_IF.autoconf=0 \
				net.ipv6.conf.$OUT_IF.addr_gen_mode=1 &&
			ip -n $ns addr add 192.0.2.1/24 dev $OUT_IF && ip -n $ns addr add 2001:db8::1/64 dev $OUT_IF nodad &&
			ip -n $sink link set cs-in0 up && ip -n $ns link set $OUT_IF up &&
			ip -n $ns route add default via 192.0.2.254 && ip -n $ns -6 route add default via 2001:db8::ff dev $OUT_IF
		sleep 2 # the link's own announcements when it comes up
		CS_SUITE_NS=$ns ip netns exec $ns "$0" "$@"
		rc=$?
		ip netns del $ns
		ip netns del $sink
		exit $rc
	fi
	ip netns del $ns 2>/dev/null
fi
sent_before=$(tx_out)
pass=0 fail=0 skip=0
failed_names=()

# Reads TAP from stdin, echoes it indented, and counts it under $1.
count_tap() {
	local suite=$1 line seen=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*"# SKIP"*|"ok "*"# skip"*) skip=$((skip + 1)); seen=1; echo "  $line" ;;
		"ok "*) pass=$((pass + 1)); seen=1 ;;
		"not ok "*) fail=$((fail + 1)); seen=1; failed_names+=("$suite: ${line#not ok }"); echo "  $line" ;;
		"#"*) [ -n "${VERBOSE:-}" ] && echo "  $line" ;;
		*) [ -n "${VERBOSE:-}" ] && echo "  $line" ;;
		esac
	done
	return $((1 - seen))
}

run_suite() {
	local suite=$1; shift
	local out rc
	out=$(mktemp)
	# a suite that hangs fails after 15 minutes instead of holding CI
	timeout -k 10 900 "$@" >"$out" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "not ok - $suite timed out after 900 s" >>"$out"
	echo "$suite"
	if ! count_tap "$suite" <"$out" || { [ $rc -ne 0 ] && ! grep -q "^not ok" "$out"; }; then
		fail=$((fail + 1))
		failed_names+=("$suite: exited $rc without a TAP failure")
		sed 's/^/  | /' "$out" | tail -20
	elif grep -q "^not ok" "$out"; then
		# what the suite said about itself helps explain a failure seen only in CI
		grep -v "^ok " "$out" | grep -v "^not ok" | tail -n 120 | sed 's/^/  | /'
	fi
	rm -f "$out"
}

export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for bin in "$@"; do
	run_suite "unit $bin" "$bin"
done
for t in tests/integration/*.sh; do
	run_suite "integration $t" bash "$t"
done
# Every fuzz target for a bounded time (make test builds them when clang is
# there; `make fuzz` runs them longer).
if [ -n "${FUZZ_TARGETS:-}" ]; then
	missing=""
	for t in $FUZZ_TARGETS; do [ -x "build-fuzz/fuzz_$t" ] || missing="$missing $t"; done
	if [ -z "$missing" ]; then
		# shellcheck disable=SC2086
		run_suite "fuzz (${FUZZ_SECONDS:-10} s per target)" tests/fuzz/run.sh "${FUZZ_SECONDS:-10}" $FUZZ_TARGETS
	else
		echo "fuzz"
		echo "  ok - fuzz targets # SKIP not built (clang missing):$missing"
		skip=$((skip + 1))
	fi
fi

if [ -n "${CS_SUITE_NS:-}" ]; then
	echo "network"
	sent=$(($(tx_out) - ${sent_before:-0}))
	if [ "$sent" = 0 ]; then
		echo "  ok - the suite sent no packet off the machine (none went out the way out)"
		pass=$((pass + 1))
	else
		echo "  not ok - the suite sent ${sent:-?} packets off the machine"
		fail=$((fail + 1))
		failed_names+=("network: ${sent:-?} packets sent off the machine")
	fi
fi

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
