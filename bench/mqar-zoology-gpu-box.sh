#!/usr/bin/env bash
# Issue 16's recall at Zoology's scale on the GPU: the mqar-zoology-gpu template
# (MQAR, vocabulary 8192, T = 256 with 16 pairs and T = 512 with 64, d_model 64,
# 128 and 256, every preset, learning rates 3e-3 and 1e-3: 156 runs), untouched ('auto': cuda:0 in bf16), one
# process per run, CONCURRENCY at a time on the one GPU, all ending by the
# call's limit; then one merged JSON with accuracy and tokens/s per run.
#
# Processes on one GPU mostly take turns (separate CUDA contexts are
# time-sliced): 18 at once (2026-12-01) made a Based d_model 64 step 146 ms
# against 11.3 ms alone, the 18 together moving about 11 M tokens/s where one
# run alone moves about 6 M, and the call's limit cut nearly all of them off.
# A few at a time lets the runs started finish; the rest wait for the next
# call (RUNS names them). Tokens/s are under the
# sharing; the small-model part of scripts/gpu-train-bench.ts times the same
# shapes alone. Runs on the GPU box after native/tools/gpu-check.sh built the
# addon (native/build/Release/linea.node); needs .device/mqar-bench.mjs
# (scripts/device-bundles.sh).
#   MIXERS=gla,deltanet WIDTHS="64 128" LENGTHS=256 LRS=lr1e-3 LIMIT_S=500 bench/mqar-zoology-gpu-box.sh
#   RUNS="gla 64 256 lr3e-3,mamba2 128 512 lr1e-3" CONCURRENCY=2 LIMIT_S=500 bench/mqar-zoology-gpu-box.sh
#   SET="train.optimizer.beta2=0.98" RUNS="gla 128 256 lr1e-3" bench/mqar-zoology-gpu-box.sh   (a diagnosis:
#     --set for every run; its files and merged JSON carry the setting in their names, and
#     --merge refuses to join them with the template's own runs)
# (writes $OUT/mqar-zoology-gpu-T256.json and -T512.json; a run still training at the limit is
# recorded as cut_off, and a later call's run of the same name replaces it in
# a merge: bench/mqar-recall.bench.ts --merge.)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/mqar-gpu-out}"
work=/tmp/mqar-gpu
mkdir -p "$out" "$work"
[ -x /tmp/node/node ] && export PATH=/tmp/node:$PATH
export LINEA_ADDON="$PWD/native/build/Release/linea.node"
deadline=$(($(date +%s) + ${LIMIT_S:-540}))
concurrency="${CONCURRENCY:-4}"
# A diagnosis's setting, in the files' names: "train.optimizer.lr=0.001" -> "-lr0.001".
set_args=()
tag=""
if [ -n "${SET:-}" ]; then
  set_args=(--set "$SET")
  key="${SET%%=*}"
  tag="-$(echo "${key##*.}${SET#*=}" | tr -c 'A-Za-z0-9._\n-' '_')"
fi

# The runs, by their name in the template ("gla 64 256 lr3e-3"): RUNS, else the grid of
# MIXERS x WIDTHS x LENGTHS x LRS, shortest sequences and narrowest models first.
runs=()
if [ -n "${RUNS:-}" ]; then
  IFS=',' read -r -a runs <<<"$RUNS"
else
  for t in ${LENGTHS:-256 512}; do
    for d in ${WIDTHS:-64 128 256}; do
      for m in $(echo "${MIXERS:-transformer,gla,mamba2,deltanet,gated-deltanet,based,linear-transformer,retnet,transnormer,deltanet-negative-eigen,mlstm,hybrid-gla,hybrid-gated-deltanet}" | tr ',' ' '); do
        for lr in ${LRS:-lr3e-3 lr1e-3}; do runs+=("$m $d $t $lr"); done
      done
    done
  done
fi

files=()
for run in "${runs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$concurrency" ]; do wait -n; done
  # --time-limit-s ends a run still training in time to write its JSON (status
  # cut_off); timeout is the backstop.
  left=$((deadline - $(date +%s) - 30))
  if [ "$left" -lt 60 ]; then
    echo "not started: $run (${left} s left of the limit)"
    continue
  fi
  file="$work/${run// /-}$tag.json"
  LINEA_NUM_THREADS=1 timeout $((left + 25)) node .device/mqar-bench.mjs --template mqar-zoology-gpu \
    --presets "$run" --seed 0 --time-limit-s "$left" "${set_args[@]}" --out "$file" >"$work/${run// /-}$tag.log" 2>&1 &
  files+=("$file")
  echo "started: $run ($left s left)"
done
wait
cat "$work"/*.log >"$out/mqar-zoology-gpu.log"
# One JSON per sequence length (the two lengths train with different batches, so
# they are two setups): $OUT/mqar-zoology-gpu-T256.json, -T512.json.
for t in 256 512; do
  have=()
  for f in "${files[@]}"; do
    [[ "$f" == *-$t-lr*$tag.json ]] || continue
    [ -f "$f" ] && have+=("$f") || echo "missing: $f (failed or cut off before its first evaluation; see the log)"
  done
  [ ${#have[@]} -gt 0 ] && node .device/mqar-bench.mjs --merge "$(IFS=,; echo "${have[*]}")" --out "$out/mqar-zoology-gpu-T$t$tag.json"
done
