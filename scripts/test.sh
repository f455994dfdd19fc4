#!/usr/bin/env bash
# The test command: installs what is missing, then configure → build → test with warnings as
# errors (workflow preset "ci": all labels), then the unit tests under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Formatting is part of the bar: every tracked C++ file must match .clang-format.
git ls-files -z '*.h' '*.cpp' | xargs -0 clang-format --dry-run -Werror
cmake --workflow --preset ci
cmake --workflow --preset asan-ubsan
