#!/usr/bin/env bash
# Runs one libFuzzer harness for a fixed time (the CTest tests of label fuzz):
#   run_fuzzer.sh HARNESS SECONDS SEEDS CORPUS ARTIFACTS [DICT]
# New inputs go to CORPUS (created if missing); SEEDS, the committed corpus, is only read; a
# crash, leak, timeout or out-of-memory input is saved in ARTIFACTS/ and fails the test.
set -euo pipefail
harness=$1 seconds=$2 seeds=$3 corpus=$4 artifacts=$5 dict=${6:-}
mkdir -p "$corpus" "$artifacts"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$artifacts/")
if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
exec "$harness" "${args[@]}" "$corpus" "$seeds"
