#!/usr/bin/env bash
# The MQAR recall benchmark on a many-core machine (the GPU box's 16 CPU
# cores; no GPU used): one process per run of the mqar-zoology template,
# LINEA_NUM_THREADS=2 each (the 2 cores of the benchmark's method), then one
# merged JSON. Needs in .device/ (git-ignored, carried): node.xz (this Node),
# linea.node (a portable CPU build: -DLINEA_NATIVE_ARCH=OFF -DLINEA_CUDA=OFF),
# mqar-bench.mjs (bench/mqar-recall.bench.ts bundled with esbuild), and
# libopenblas/libgfortran .xz for a machine without OpenBLAS.
#   SEED=0 PRESETS=transformer,gla THREADS=transformer=1,mamba2=3 bench/mqar-recall-box.sh    (writes $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/mqar-out}"
mkdir -p "$out" /tmp/mqar
# Unpacked once, then renamed into place: a second copy of this script
# running beside the first must not rewrite a binary that is executing.
[ -x /tmp/node ] || { xz -dc .device/node.xz > /tmp/node.$$ && chmod +x /tmp/node.$$ && mv /tmp/node.$$ /tmp/node; }
if ! ldconfig -p | grep -q 'libopenblas.so.0 '; then
  mkdir -p /tmp/lib
  xz -dc .device/libopenblas.so.0.xz > /tmp/lib/libopenblas.so.0
  xz -dc .device/libgfortran.so.5.xz > /tmp/lib/libgfortran.so.5
  export LD_LIBRARY_PATH=/tmp/lib
  echo "OpenBLAS: carried (Debian 12's)"
else
  echo "OpenBLAS: the machine's ($(ldconfig -p | grep 'libopenblas.so.0 ' | head -1))"
fi
export LINEA_ADDON="$PWD/.device/linea.node" LINEA_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
seed="${SEED:-0}"
THREADS="${THREADS:-}"
presets="${PRESETS:-transformer,linear-transformer,retnet,gla,gla-short-conv,mamba2,deltanet,gated-deltanet,hybrid}"
limit="${LIMIT_S:-570}"
files=()
# THREADS=run=n,... gives some runs other thread counts than 2 (the fastest
# fewer, the slowest more), so the processes fit the cores and end together.
for p in ${presets//,/ }; do
  threads=2
  for pair in ${THREADS//,/ }; do [ "${pair%%=*}" = "$p" ] && threads="${pair#*=}"; done
  LINEA_NUM_THREADS=$threads timeout "$limit" /tmp/node .device/mqar-bench.mjs --presets "$p" --seed "$seed" --out "/tmp/mqar/$p-s$seed.json" > "/tmp/mqar/$p-s$seed.log" 2>&1 &
  files+=("/tmp/mqar/$p-s$seed.json")
done
wait
cat /tmp/mqar/*-s"$seed".log > "$out/mqar-s$seed.log"
have=()
for f in "${files[@]}"; do [ -f "$f" ] && have+=("$f") || echo "missing: $f (cut off at ${limit} s or failed; see the log)"; done
[ ${#have[@]} -gt 0 ] && /tmp/node .device/mqar-bench.mjs --merge "$(IFS=,; echo "${have[*]}")" --out "$out/mqar-recall-s$seed.json"
