#!/bin/bash
# gray-bench.sh - the gray-failure scenario, long: five hosts probing each
# other every 1 s, a 10-minute quiet baseline, then one host goes slow.
# Prints the detection time (fault onset -> UNHEALTHY inference on all five
# Panorama nodes) and the false alarms per host-hour of the baseline.
# Targets: detection under 10 s, zero false alarms.  Needs root
# (network namespaces); GRAY_BASELINE sets the baseline in seconds.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
echo "== gray failure (about $(( (${GRAY_BASELINE:-600} + 30) / 60 )) minutes) =="
out=$(INTERVAL=1 BASELINE=${GRAY_BASELINE:-600} BENCH=1 bash "$ROOT/tests/integration/gray_failure.sh" 2>/dev/null)
echo "$out" | grep -v '^ok ' | grep -v '^#'
echo "$out" | grep '^not ok' >/dev/null && echo "  (some checks failed: see above)"
echo "  checks: $(echo "$out" | grep -c '^ok ') passed, $(echo "$out" | grep -c '^not ok') failed"
