#!/usr/bin/env bash
# CI step "plug-in example (installed package)": installs build/ci into a temporary prefix, builds
# examples/04_plugin against it as an outside project would (find_package(wrsec) +
# wrsec_add_plugin, Ninja), runs the *installed* wrsec with the plug-in on the quick battery, and
# checks the scorecard: extraction "broken" with best adversary `unmask`, and scorecard.md/.tex
# written. Exits non-zero with a one-line reason otherwise. Needs a built build/ci (scripts/test.sh
# runs it after the ci workflow). WRSEC_BUILD_DIR overrides build/ci; KEEP=1 keeps the temporary
# directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${WRSEC_BUILD_DIR:-build/ci}
fail() {
  echo "plugin_example.sh: FAILED: $*" >&2
  exit 1
}
[[ -x $build/apps/wrsec ]] || fail "no $build/apps/wrsec (build the ci preset first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wrsec-plugin-example.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
  echo "plugin_example.sh: keeping $tmp" >&2
else
  trap 'rm -rf "$tmp"' EXIT
fi
log=$tmp/log.txt
# Runs a command quietly; on failure prints its output and the reason.
quiet() {
  local what=$1
  shift
  "$@" >"$log" 2>&1 || {
    cat "$log" >&2
    fail "$what"
  }
}

t0=$SECONDS
quiet "cmake --install $build" cmake --install "$build" --prefix "$tmp/prefix"
quiet "configuring examples/04_plugin against the installed package" \
  cmake -S examples/04_plugin -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=ON
quiet "building examples/04_plugin" cmake --build "$tmp/build"
plugin=$tmp/build/masked_release.so
[[ -f $plugin ]] || fail "the build produced no $plugin"
echo "plugin_example.sh: installed and built the plug-in in $((SECONDS - t0)) s" >&2

t1=$SECONDS
wrsec=$tmp/prefix/bin/wrsec
# The installed binary and libraries, not those of the build tree.
ldd "$wrsec" | grep libwrsec_studies | grep -q "$tmp/prefix/" ||
  fail "the installed wrsec does not load the installed libraries: $(ldd "$wrsec" | grep wrsec)"
quiet "wrsec --plugin masked_release.so evaluate --scheme masked_release" \
  "$wrsec" --plugin "$plugin" evaluate --scheme masked_release --threads 2 --out "$tmp/eval"
echo "plugin_example.sh: wrsec evaluate took $((SECONDS - t1)) s" >&2

for f in scorecard.md scorecard.tex scorecard.json; do
  [[ -s $tmp/eval/$f ]] || fail "wrsec evaluate wrote no $tmp/eval/$f"
done
python3 - "$tmp/eval/scorecard.json" <<'EOF' || fail "the scorecard does not say what examples/04_plugin/README.md says"
import json, sys
card = json.load(open(sys.argv[1]))
notions = {n["id"]: n for n in card["notions"]}
problems = []
if card.get("scheme") != "masked_release":
    problems.append(f"scheme is {card.get('scheme')!r}, not 'masked_release'")
extraction = notions.get("extraction")
if extraction is None:
    problems.append("no extraction notion")
else:
    if extraction["kind"] != "broken":
        problems.append(f"extraction is {extraction['kind']!r}, not 'broken': {extraction['verdict']}")
    best = (extraction.get("best") or {}).get("attack")
    if best != "unmask":
        problems.append(f"extraction's best attack is {best!r}, not 'unmask'")
for p in problems:
    print("plugin_example.sh: " + p, file=sys.stderr)
if not problems:
    print(f"plugin_example.sh: extraction: {extraction['verdict']}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
echo "plugin_example.sh: OK in $((SECONDS - t0)) s" >&2
