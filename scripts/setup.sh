#!/usr/bin/env bash
# Installs the Debian packages wrsec needs (idempotent; silent when all are present).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  clang libclang-rt-14-dev libomp-dev  # the asan-ubsan preset: clang, its sanitizer and libFuzzer runtimes, OpenMP
  libntl-dev libgmp-dev libmpfr-dev libeigen3-dev
  libboost-dev libboost-program-options-dev librandom123-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin
  latexmk texlive-latex-base texlive-latex-recommended texlive-pictures texlive-fonts-recommended
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "wrsec setup: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "wrsec setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
