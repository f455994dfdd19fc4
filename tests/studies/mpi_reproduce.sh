#!/usr/bin/env bash
# `wrsec reproduce` of a tiny profile (two specs, one restricted; one deterministic measurement)
# alone and under mpirun with 2 ranks: results, measurement rows and claim outcomes must be
# byte-identical, and both must meet the claims.
#   usage: mpi_reproduce.sh WRSEC_BINARY [MPIRUN]
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 WRSEC_BINARY [MPIRUN]" >&2
  exit 2
fi
wrsec=$1
mpirun=${2:-mpirun}
command -v "$mpirun" >/dev/null 2>&1 || { echo "mpi_reproduce: '$mpirun' not found" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/wrsec_mpi_reproduce.XXXXXX")
trap 'rm -rf "$work"' EXIT
allow_root=()
if [[ $(id -u) -eq 0 ]] && "$mpirun" --version 2>&1 | grep -qiE 'open ?mpi|open-mpi|openrte'; then
  allow_root=(--allow-run-as-root)
fi

cat >"$work/grid.ini" <<'INI'
name = grid
game = bernoulli_ind
attack = likelihood_ratio
trials = 20000
seed = 3
batch = 1000
[game]
p0 = 0.3
samples = 4
[sweep]
game.p1 = 0.3, 0.5, 0.7
INI
cat >"$work/small.ini" <<'INI'
name = small
game = bernoulli_ind
attack = likelihood_ratio
trials = 400
seed = 5
[game]
p0 = 0.3
[sweep]
game.p1 = 0.3, 0.6, 0.9
game.samples = 1, 8
INI
cat >"$work/claims.json" <<'JSON'
{"schema": "wrsec.claims.v2", "default_profile": "tiny",
 "profiles": {"tiny": {"specs": [{"spec": "grid.ini"},
                                 {"spec": "small.ini", "restrict": {"game.p1": "0.3, 0.9"}}],
                       "measurements": [{"name": "flops", "id": "taylormlp.flop_model",
                                         "params": {"model": "random:mlp:16,8,4:silu",
                                                    "orders": "1,2,4"}}]}},
 "claims": [{"id": "wins", "text": "wins at p1 = 0.7", "source": "runs/grid/results.jsonl",
             "where": {"game.params.p1": "0.7"}, "value": "advantage.lower", "target": 0.3},
            {"id": "flops", "text": "N >= 2 costs more", "source": "measurements/flops/rows.jsonl",
             "where": {"order": {">=": 2}}, "value": "flop_ratio_release", "target": 1.0,
             "min_rows": 2}]}
JSON

"$wrsec" reproduce --root "$work" --claims claims.json --out "$work/A" --no-paper --threads 1 -q \
  2>"$work/A.log"
"$mpirun" -np 2 --oversubscribe "${allow_root[@]}" "$wrsec" reproduce --root "$work" \
  --claims claims.json --out "$work/B" --no-paper --threads 1 -q 2>"$work/B.log"
for f in runs/grid/results.jsonl runs/small/results.jsonl measurements/flops/rows.jsonl \
  claims.jsonl; do
  if ! cmp -s "$work/A/$f" "$work/B/$f"; then
    echo "mpi_reproduce: $f differs between 1 process and 2 ranks" >&2
    exit 1
  fi
done
ranks=$(grep -o '"ranks": *[0-9]*' "$work/B/runs/grid/manifest.json" | head -1 | grep -o '[0-9]*$')
if [[ "$ranks" != 2 ]]; then
  echo "mpi_reproduce: the MPI run's manifest records ranks=$ranks, expected 2" >&2
  exit 1
fi
echo "mpi_reproduce: 1 process and 2 ranks give identical results; claims met"
