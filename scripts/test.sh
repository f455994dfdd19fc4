#!/usr/bin/env bash
# The test command: installs what is missing, then configure → build → test with warnings as
# errors and MPI (workflow preset "ci": all labels), the paper's small reproduction (every claim
# of paper/claims.json checked on a fresh run) and its PDF, then the unit tests under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Formatting is part of the bar: every tracked C++ file must match .clang-format.
git ls-files -z '*.h' '*.cpp' | xargs -0 clang-format --dry-run -Werror
cmake --workflow --preset ci
# The reproduction shares the zoo models the slow tests trained (build/ci/tests/zoo-cache).
WRSEC_ZOO_CACHE="$PWD/build/ci/tests/zoo-cache" ./build/ci/apps/wrsec reproduce --profile small \
  --out build/ci/reproduce-small
(cd paper && latexmk -outdir=../build/paper wrsec.tex)
echo "paper: build/paper/wrsec.pdf"
cmake --workflow --preset asan-ubsan
