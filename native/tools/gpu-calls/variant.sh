#!/usr/bin/env bash
# One GPU-box call for a kernel variant chosen by environment variables (a lab version before it
# becomes the default), all ending by TOTAL_S:
#   1. build;
#   2. the C++ cross-backend test of the mixers under the variant (VARIANT_CROSS_OPS, default
#      mixer_fwd,mixer_bwd), against the CPU in f64 (VARIANT_CROSS=0 skips it);
#   3. the quick cells of VARIANT_OPS timed by linea_bench_gpu, the default then the variant then
#      the default again (the drift between calls of one run), each its own JSON.
# VARIANT="NAME VAR=VALUE ..." e.g. VARIANT="stages1 LINEA_DELTA_SCAN_STAGES=1" VARIANT_OPS=delta,gated_delta.
# Carries nothing: the addon's target fails to build without node_modules' headers, which neither the
# test nor the bench needs. Back in $OUT: summary.txt and all.tar.gz (build/ and variant/ with their logs and JSON).
source "$(dirname "$0")/common.sh" 400
read -r name vars <<<"${VARIANT:?VARIANT=\"NAME VAR=VALUE ...\"}"
ops=${VARIANT_OPS:?VARIANT_OPS=op,op}
build_part
build=/tmp/linea-gpu-build
out=$root/variant
mkdir -p "$out"
if [ "${VARIANT_CROSS:-1}" != 0 ]; then
# shellcheck disable=SC2086 # vars is a list of VAR=VALUE words
env LINEA_CROSS_OPS="${VARIANT_CROSS_OPS:-mixer_fwd,mixer_bwd}" $vars timeout "$(($(left) - 90))" "$build/linea_tests" \
  -tc="every backend matches*" >"$out/tests-$name.log" 2>&1
echo "cross-backend test under $vars: exit $?, $(grep -E 'test cases' "$out/tests-$name.log" | tail -1)" | tee -a "$out/summary.txt"
grep -E "ERROR|FAILED|above the" "$out/tests-$name.log" | sort | uniq -c | sort -rn | head -10 | tee -a "$out/summary.txt"
fi
for run in default "$name" default-again; do
  [ "$(left)" -gt 25 ] || break
  # shellcheck disable=SC2086
  env $([ "$run" = "$name" ] && echo "$vars") timeout "$(($(left) - 15))" "$build/linea_bench_gpu" --json "$out/linea-gpu-$run.json" \
    --quick --ops "$ops" >"$out/bench-$run.log" 2>&1
  echo "bench $run: exit $?" | tee -a "$out/summary.txt"
  grep -E "^(${ops//,/|}) " "$out/bench-$run.log" | sed "s/^/  $run /" | tee -a "$out/summary.txt"
done
(cd "$out" && tar czf logs.tar.gz ./*.log ./*.json && rm -f ./*.log ./*.json)
pack_parts build variant
