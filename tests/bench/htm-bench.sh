#!/bin/bash
# htm-bench.sh - the HTM model: microseconds per step at default
# parameters, bytes per model, and htm-detect's Numenta Anomaly Benchmark
# scores over the whole corpus (standard / reward_low_FP / reward_low_FN).
# Targets: < 20 us per step, < 256 KiB per model, NAB standard >= 65.5
# (htm.java), aiming past Numenta's HTM at 70.1.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAB=${NAB_DIR:-$ROOT/../shared/nab}
OUT=$(mktemp -d /tmp/cloudsonar-htm.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "HTM benchmark"
"$ROOT/bin/htm-detect" --model-size
if [ ! -d "$NAB/data" ]; then
	echo "NAB corpus not found at $NAB (set NAB_DIR); skipping the NAB scores"
	exit 0
fi
echo "htm-detect over the NAB corpus: $("$ROOT/bin/htm-detect" --corpus "$NAB/data" "$OUT")"
"$ROOT/bin/nab-score" -labels "$NAB/labels/combined_windows.json" -profiles "$NAB/config/profiles.json" "$OUT" |
	sed 's/^/NAB /'
echo "targets: < 20 us per step, < 256 KiB per model, NAB standard >= 65.5 (Numenta's HTM: 70.1)"
