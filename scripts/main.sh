#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, and runs the `taylormlp` experiment
# (TaylorMLP reproduced and broken: extraction, misuse and IND games with exact bounds, utility
# and latency versus N, Llama-3-8B-shaped layers and a 32-layer streamed attack).
# Results in runs/taylormlp/: report.md, cells.jsonl, measurements.jsonl.
# Extra arguments go to `wrsec experiment taylormlp` (e.g. --profile small, --llama-layers 4).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target wrsec
./build/release/apps/wrsec experiment taylormlp --out runs/taylormlp --seed 1 "$@"
