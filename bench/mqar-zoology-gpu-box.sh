#!/usr/bin/env bash
# Issue 16's recall at Zoology's scale on the GPU: the mqar-zoology-gpu template
# (MQAR, vocabulary 8192, T = 256 with 16 pairs and T = 512 with 64, d_model 64,
# 128 and 256, six mixers: 36 runs), untouched ('auto': cuda:0 in bf16), one
# process per mixer and width on the one GPU (these small models leave the GPU
# idle between launches, so several processes share it), then one merged JSON
# with accuracy and tokens/s per run. Those tokens/s are under that sharing:
# the small-model part of scripts/gpu-train-bench.ts times the same shapes alone. Runs on the GPU box after native/tools/gpu-check.sh built
# the addon (native/build/Release/linea.node); needs .device/mqar-bench.mjs
# (scripts/device-bundles.sh).
#   MIXERS=gla,deltanet WIDTHS="64 128" LENGTHS=256 LIMIT_S=500 bench/mqar-zoology-gpu-box.sh
# (writes $OUT/mqar-zoology-gpu.json; MIXERS, WIDTHS and LENGTHS pick part of the grid, which at
# Zoology's batches is more GPU time than one call has).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/mqar-gpu-out}"
work=/tmp/mqar-gpu
mkdir -p "$out" "$work"
[ -x /tmp/node/node ] && export PATH=/tmp/node:$PATH
export LINEA_ADDON="$PWD/native/build/Release/linea.node"
mixers="${MIXERS:-transformer,gla,mamba2,deltanet,gated-deltanet,based}"
limit="${LIMIT_S:-540}"
files=()
lengths="${LENGTHS:-256 512}"
for m in ${mixers//,/ }; do
  for d in ${WIDTHS:-64 128 256}; do
    # the template's runs of this mixer and width, by name ("gla 64 256", "gla 64 512")
    names=""
    for t in $lengths; do names="${names:+$names,}$m $d $t"; done
    # --time-limit-s ends a run still training in time to write its JSON (status cut_off);
    # timeout is the backstop.
    LINEA_NUM_THREADS=1 timeout "$limit" node .device/mqar-bench.mjs --template mqar-zoology-gpu \
      --presets "$names" --seed 0 --time-limit-s $((limit - 30)) --out "$work/$m-$d.json" >"$work/$m-$d.log" 2>&1 &
    files+=("$work/$m-$d.json")
  done
done
wait
cat "$work"/*.log >"$out/mqar-zoology-gpu.log"
have=()
for f in "${files[@]}"; do [ -f "$f" ] && have+=("$f") || echo "missing: $f (cut off at ${limit} s or failed; see the log)"; done
[ ${#have[@]} -gt 0 ] && node .device/mqar-bench.mjs --merge "$(IFS=,; echo "${have[*]}")" --out "$out/mqar-zoology-gpu.json"
