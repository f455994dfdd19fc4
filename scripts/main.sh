#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, and runs the two experiments:
#   taylormlp             TaylorMLP reproduced and broken (extraction, misuse and IND games with
#                         exact bounds, utility and latency versus N, Llama-3-8B-shaped layers and
#                         a 32-layer streamed attack) → runs/taylormlp/
#   watermark_robustness  ownership schemes × removal attacks, false positives on 20 null models,
#                         null calibration, forgery → runs/watermark_robustness/
# --profile small|full applies to both; other arguments go to `wrsec experiment taylormlp`
# (e.g. --llama-layers 4). Exits 1 if a checked claim of either experiment fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target wrsec
profile=full
taylor_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:?--profile needs small or full}"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    *) taylor_args+=("$1"); shift ;;
  esac
done
status=0
./build/release/apps/wrsec experiment taylormlp --out runs/taylormlp --seed 1 \
  --profile "$profile" "${taylor_args[@]}" || status=1
./build/release/apps/wrsec experiment watermark_robustness --out runs/watermark_robustness \
  --seed 1 --profile "$profile" || status=1
exit "$status"
