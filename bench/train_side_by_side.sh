#!/usr/bin/env bash
# Training throughput of wrsec next to PyTorch, measured in one run on this machine: one epoch of
# the 784-256-256-10 ReLU MLP on Fashion-MNIST, SGD with momentum 0.9, lr 0.05, batch 128.
#
#   bench/train_side_by_side.sh [NN_BENCH] [ROUNDS]
#
# Each round runs wrsec (nn_bench, BM_TrainEpoch784x256x256x10 adam:0: mean epoch over >= 2 s)
# and PyTorch (bench/torch_mlp_epoch.py, a copy of ../shared/bench's peer, Debian's python3-torch:
# the best of 3 epochs) with 1 and 2 threads, alternating, so both see the same machine state. Prints every measurement, the best of each setting, and the ratio of
# wrsec's best to PyTorch's best. NN_BENCH defaults to build/release/bench/nn_bench (then
# build/ci/bench/nn_bench); ROUNDS to 3. PyTorch's OpenBLAS is run without OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE, which slow a current OpenBLAS (see torch_mlp_epoch.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-}
if [[ -z $bench ]]; then
  for b in "$here/../build/release/bench/nn_bench" "$here/../build/ci/bench/nn_bench"; do
    [[ -x $b ]] && { bench=$b; break; }
  done
fi
rounds=${2:-3}
[[ -n $bench && -x $bench ]] || { echo "train_side_by_side.sh: nn_bench not found (build with WRSEC_BUILD_BENCH=ON)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train_side_by_side.sh: /usr/bin/python3 cannot import torch (apt-get install python3-torch)" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "train_side_by_side.sh: ROUNDS must be a positive integer" >&2; exit 2; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for threads in 1 2; do
    w=$(OMP_NUM_THREADS=$threads "$bench" --benchmark_filter='BM_TrainEpoch784x256x256x10/batch:128/adam:0' \
          --benchmark_min_time=2 2>/dev/null | awk '/BM_TrainEpoch/ { for (i = 1; i <= NF; ++i) if ($i ~ /^items_per_second=/) { sub("items_per_second=", "", $i); v = $i; if (v ~ /k\/s$/) { sub("k/s", "", v); v *= 1000 } print v } }')
    echo "round $round wrsec   threads $threads: $(printf '%.0f' "$w") examples/s"
    echo "wrsec $threads $w" >> "$results"
    t=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/torch_mlp_epoch.py" "$threads" relu 3 \
          | awk '/^epoch/ { for (i = 1; i <= NF; ++i) if ($i == "examples/s," && $(i - 1) > v) v = $(i - 1) } END { print v }')
    echo "round $round pytorch threads $threads: $t examples/s (best of 3 epochs)"
    echo "pytorch $threads $t" >> "$results"
  done
done
awk '{ k = $1 " " $2; if ($3 > best[k]) best[k] = $3; if ($3 > top[$1]) { top[$1] = $3; at[$1] = $2 } }
     END {
       for (k in best) printf "best %-16s %.0f examples/s\n", k " threads", best[k]
       printf "wrsec best (%d threads) / pytorch best (%d threads) = %.2f\n", at["wrsec"], at["pytorch"], top["wrsec"] / top["pytorch"]
     }' "$results" | sort
