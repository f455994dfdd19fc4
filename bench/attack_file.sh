#!/usr/bin/env bash
# File-to-file speed of `wrsec attack` on one official TaylorMLP release: wall seconds, bytes
# read and written, GB/s, peak RSS, next to this machine's floor for the same bytes (a read of the
# cached input, and a write of as many new bytes to the output's file system).
#
#   bench/attack_file.sh RELEASE.safetensors OUT.safetensors [WRSEC] [RUNS]
#
# A Llama-3-8B-shaped release made by the official code: tests/fixtures/taylor_official/
# make_fixtures.py --llama (needs python3-torch). RUNS (default 3) repeats the attack; each line
# is one run, the input read from a warm page cache.
set -euo pipefail
if [[ $# -lt 2 ]]; then sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
in=$1
out=$2
wrsec=${3:-build/release/apps/wrsec}
runs=${4:-3}
[[ -f $in ]] || { echo "attack_file.sh: no such file: $in" >&2; exit 2; }
[[ -x $wrsec ]] || { echo "attack_file.sh: not an executable: $wrsec" >&2; exit 2; }
in_bytes=$(stat -c %s "$in")
cat "$in" > /dev/null  # warm the page cache
read_s=$( { /usr/bin/time -f %e dd if="$in" of=/dev/null bs=8M status=none; } 2>&1 )
for run in $(seq 1 "$runs"); do
  rm -f "$out"
  /usr/bin/time -f "%e %M" -o "$out.time" "$wrsec" attack --in "$in" --out "$out" > "$out.log"
  read -r wall rss < "$out.time"
  out_bytes=$(stat -c %s "$out")
  awk -v r="$run" -v w="$wall" -v k="$rss" -v i="$in_bytes" -v o="$out_bytes" \
    'BEGIN { printf "run %d: %.2f s, read %.3f GB, wrote %.3f GB, %.2f GB/s (read+write), peak RSS %.0f MiB\n", r, w, i/1e9, o/1e9, (i+o)/1e9/w, k/1024 }'
done
rm -f "$out.time"
# The floor: the same bytes read from the page cache and written as a new file.
rm -f "$out.floor"
write_s=$( { /usr/bin/time -f %e dd if=/dev/zero of="$out.floor" bs=8M count=$(( (out_bytes + 8388607) / 8388608 )) status=none; } 2>&1 )
rm -f "$out.floor"
awk -v rs="$read_s" -v ws="$write_s" -v i="$in_bytes" -v o="$out_bytes" \
  'BEGIN { printf "machine: cached read of the input %.2f s (%.1f GB/s), new-file write of %.3f GB %.2f s (%.2f GB/s)\n", rs, i/1e9/rs, o/1e9, ws, o/1e9/ws }'
grep -E "^layer|^wrote" "$out.log" | sed 's/^/wrsec: /'
rm -f "$out.log"
