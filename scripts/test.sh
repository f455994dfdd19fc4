#!/usr/bin/env bash
# The test command: installs what is missing, then configure → build → test with warnings as
# errors and MPI (workflow preset "ci": every label), the plug-in example against the installed
# package, the paper's small reproduction (every claim of paper/claims.json checked on a fresh
# run) and its PDF, then the unit tests under ASan+UBSan (clang) and the fuzz harnesses for a few
# seconds each.
# Each step prints its wall time, and the total at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() {  # step NAME COMMAND...: runs the command and reports its wall time
  local name=$1 t0=$SECONDS
  shift
  echo "== test.sh: $name" >&2
  "$@"
  echo "== test.sh: $name took $((SECONDS - t0)) s (total $((SECONDS - start)) s)" >&2
}
step "packages" bash scripts/setup.sh
# Formatting is part of the bar: every tracked C++ file must match .clang-format.
step "clang-format" bash -c "git ls-files -z '*.h' '*.cpp' | xargs -0 clang-format --dry-run -Werror"
step "build and test (ci preset)" cmake --workflow --preset ci
# The installed package as an outside project sees it: examples/04_plugin built against it with
# find_package(wrsec), loaded into the installed wrsec, scored by `wrsec evaluate`.
step "plug-in example (installed package)" bash scripts/plugin_example.sh
# The reproduction shares the zoo models the slow tests trained (build/ci/tests/zoo-cache).
step "paper reproduction (small)" env WRSEC_ZOO_CACHE="$PWD/build/ci/tests/zoo-cache" \
  ./build/ci/apps/wrsec reproduce --profile small --out build/ci/reproduce-small
step "paper PDF" bash -c "cd paper && latexmk -outdir=../build/paper wrsec.tex"
echo "paper: build/paper/wrsec.pdf"
step "build and test (asan-ubsan preset)" cmake --workflow --preset asan-ubsan
# The same clang ASan+UBSan build runs each libFuzzer harness for a fixed time on its seed corpus.
step "fuzz harnesses (fuzz preset)" cmake --workflow --preset fuzz
echo "test.sh: all steps passed in $((SECONDS - start)) s" >&2
