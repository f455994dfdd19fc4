#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, plays a profile of paper/claims.json with
# `wrsec reproduce` and builds the paper's PDF (build/paper/wrsec.pdf).
#   bash scripts/main.sh                    the default profile (about 24 minutes on 2 cores):
#                                           TaylorMLP at every N with two Llama-3-8B-shaped layers,
#                                           every ownership scheme against the removal attacks,
#                                           false positives, forgery, null calibration, the
#                                           TEE-protected releases (studies/release_schemes/)
#   bash scripts/main.sh --profile full     paper scale (40-60 minutes on 2 cores)
#   bash scripts/main.sh --profile small    the CI-sized profile (about a minute)
# Each profile is a bundle of spec files under studies/ and measurements; outputs go to
# runs/reproduce-<profile>/ (report.md, claims.md, one run directory per spec). Killed at any point
# and started again with the same arguments, it continues where it stopped and ends with
# byte-identical results. Every other argument goes to `wrsec reproduce` (--out DIR, --threads T,
# --shard i/N, --merge DIR... --out DIR, --list; see `wrsec reproduce --help`). Exits 1 if a claim
# is not met.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target wrsec
status=0
./build/release/apps/wrsec reproduce "$@" || status=$?
[ "$status" -le 1 ] || exit "$status"  # bad input: nothing to build a paper from
case " $* " in
  *" --shard"* | *" --list"* | *" --help"* | *" -h "*) exit "$status" ;;  # no complete profile
esac
if (cd paper && latexmk -outdir=../build/paper wrsec.tex >/dev/null); then
  echo "paper: build/paper/wrsec.pdf"
else
  echo "main.sh: the paper did not build (see build/paper/wrsec.log)" >&2
  status=1
fi
exit "$status"
