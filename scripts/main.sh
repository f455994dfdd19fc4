#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, and runs the demonstration experiment
# (bernoulli_ind against the likelihood-ratio distinguisher, whose true advantage is known in
# closed form). Results: stdout table and runs/demo.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target wrsec
mkdir -p runs
./build/release/apps/wrsec run --game bernoulli_ind --attack likelihood_ratio \
  --param game.p0=0.45 --param game.p1=0.55 --param game.samples=50 \
  --trials 200000 --seed 1 --out runs/demo.jsonl "$@"
