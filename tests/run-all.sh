#!/bin/bash
# run-all.sh UNIT_BINARY... - runs the cmocka unit tests given (plain and
# sanitized builds), every tests/integration/*.sh and, with FUZZ_TARGETS set,
# each fuzz target for FUZZ_SECONDS, all speaking TAP, and ends with the line
# "N passed, N failed, N skipped".  Exit 1 on any failure.
set -u
cd "$(dirname "$0")/.."
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

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
