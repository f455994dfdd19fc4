#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, reproduces the paper and builds its PDF.
#   wrsec reproduce --profile full   runs the experiments behind paper/claims.json
#       taylormlp             TaylorMLP reproduced and broken (extraction, misuse and IND games
#                             with exact bounds, utility and latency versus N, Llama-3-8B-shaped
#                             layers and a 32-layer streamed attack)
#       watermark_robustness  ownership schemes x removal attacks, false positives on 20 null
#                             models, null calibration, forgery (full profile only)
#       experiments/specs/wm_removal_quick.ini   the paper's removal figure (a run directory)
#     into runs/reproduce-<profile>/, checks every claim, writes paper/generated/
#   latexmk                          paper/wrsec.tex -> build/paper/wrsec.pdf
# --profile small|full (default full). Exits 1 if a claim is not met.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target wrsec
profile=full
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:?--profile needs small or full}"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    *) echo "main.sh: unknown argument '$1' (only --profile small|full)" >&2; exit 2 ;;
  esac
done
status=0
./build/release/apps/wrsec reproduce --profile "$profile" --out "runs/reproduce-$profile" \
  --seed 1 || status=1
if (cd paper && latexmk -outdir=../build/paper wrsec.tex); then
  echo "paper: build/paper/wrsec.pdf"
else
  status=1
fi
exit "$status"
