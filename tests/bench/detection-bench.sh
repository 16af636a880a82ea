#!/bin/bash
# detection-bench.sh - the detection scorecard: every gray-failure scenario
# of tests/bench/scenarios.h over 20 seeds (SCORECARD_SEEDS), the agent's
# detectors against the trivial 3x-median rule, and NAB's EC2 latency
# series when the corpus is there (NAB_DIR), and the real recordings of
# ../shared/realdata (REALDATA_DIR).  A few minutes.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAB=${NAB_DIR:-$ROOT/../shared/nab}
REAL=${REALDATA_DIR:-$ROOT/../shared/realdata}
echo "== detection scorecard =="
args=(--seeds "${SCORECARD_SEEDS:-20}")
[ -d "$NAB/data" ] && args+=(--nab "$NAB")
[ -d "$REAL" ] && args+=(--realdata "$REAL")
"$ROOT/build/tests/detection-scorecard" "${args[@]}"
