#!/bin/bash
# run.sh SECONDS TARGET... - runs each libFuzzer target (build-fuzz/fuzz_T)
# for SECONDS on a working copy of its seed corpus (tests/fuzz/corpus/T is
# only read), with ASan+UBSan and leak checks.  A crash, leak or sanitizer
# report fails the target; its reproducer is left in build-fuzz/ (the
# crash-* file libFuzzer names).  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
secs=$1; shift
pass=0 fail=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$@"; do
	work=build-fuzz/corpus/$t
	mkdir -p "$work"
	log=build-fuzz/fuzz_$t.log
	if (cd build-fuzz && ./fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 "corpus/$t" "../tests/fuzz/corpus/$t") >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok - fuzz_$t: ${secs} s, ${runs:-?} inputs, no finding"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz_$t: a finding; see $log"
		grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$log" | head -5 | sed 's/^/  /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
