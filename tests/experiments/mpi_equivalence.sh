#!/usr/bin/env bash
# Runs one spec alone and under mpirun with 2 ranks and checks that results.jsonl is byte-identical
# and that the MPI run's manifest records 2 ranks.
#   usage: mpi_equivalence.sh WRSEC_BINARY SPEC [MPIRUN]
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 WRSEC_BINARY SPEC [MPIRUN]" >&2
  exit 2
fi
wrsec=$1
spec=$2
mpirun=${3:-mpirun}

for f in "$wrsec" "$spec"; do
  if [[ ! -e "$f" ]]; then
    echo "mpi_equivalence: '$f' does not exist" >&2
    exit 2
  fi
done
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "mpi_equivalence: '$mpirun' not found" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wrsec_mpi_equivalence.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Open MPI refuses to run as root unless told it is intended (the flag is Open MPI's own; its
# mpirun reports "Open MPI", its mpiexec "OpenRTE").
allow_root=()
if [[ $(id -u) -eq 0 ]] && "$mpirun" --version 2>&1 | grep -qiE 'open ?mpi|open-mpi|openrte'; then
  allow_root=(--allow-run-as-root)
fi

"$wrsec" run "$spec" --out "$work/A" --threads 1 -q
"$mpirun" -np 2 --oversubscribe "${allow_root[@]}" "$wrsec" run "$spec" --out "$work/B" --threads 1 -q
# Early stopping under MPI: the ranks share every batch, so the looks and the stop are the same.
"$wrsec" run "$spec" --out "$work/SA" --threads 1 -q --trials 100000 --stop-when 'lower>0.1'
"$mpirun" -np 2 --oversubscribe "${allow_root[@]}" "$wrsec" run "$spec" --out "$work/SB" \
  --threads 1 -q --trials 100000 --stop-when 'lower>0.1'

status=0
for pair in "A B" "SA SB"; do
  set -- $pair
  if ! cmp "$work/$1/results.jsonl" "$work/$2/results.jsonl"; then
    echo "mpi_equivalence: $1/results.jsonl and $2/results.jsonl differ (1 process vs 2 ranks)" >&2
    diff <(tr ',' '\n' <"$work/$1/results.jsonl") <(tr ',' '\n' <"$work/$2/results.jsonl") | head -20 >&2 || true
    status=1
  fi
done
if ! grep -q '"stopped_early":true' "$work/SB/results.jsonl"; then
  echo "mpi_equivalence: no cell stopped early under MPI" >&2
  status=1
fi
if ! grep -q '"ranks": 2' "$work/B/manifest.json"; then
  echo "mpi_equivalence: $work/B/manifest.json does not record \"ranks\": 2" >&2
  grep -n '"ranks"\|"processes"' "$work/B/manifest.json" >&2 || true
  status=1
fi
if ! grep -q '"status": "complete"' "$work/B/manifest.json"; then
  echo "mpi_equivalence: the MPI run is not complete" >&2
  status=1
fi
if [[ $status -eq 0 ]]; then
  echo "mpi_equivalence: identical results.jsonl for 1 process and 2 MPI ranks"
fi
exit $status
