#!/usr/bin/env bash
# One GPU-box call of the recall grid (issue 16): build, then the mqar-zoology-gpu template's RUNS
# ("gla 64 256 lr3e-3,..."; CONCURRENCY at a time), a diagnosis (CONTROL_SET, a --set for each of
# CONTROL_RUNS) beside them, and the PyTorch mirror (MIRROR="transformer:256 gla:128": the T = 256
# setup; MIRROR_SEQ=512 MIRROR_PAIRS=64 MIRROR_BATCH=128 for T = 512's; MIRROR_ARGS e.g.
# "--lr 0.001") beside both, all ending by TOTAL_S. MPS=1 shares the GPU through the MPS daemon.
# Carry [".device/node.xz", ".device/mqar-bench.mjs", ".device/batch-worker.mjs",
# ".device/node_modules-webgpu.tar.xz"] (the last for the addon's headers). Back in $OUT: the
# merged JSONs and logs.tar.gz; join them with the committed files by
# `node --import tsx bench/mqar-recall.bench.ts --merge a.json,b.json --out ...`.
cd "$(dirname "$0")/../../.."
root=${OUT:-/tmp/out}
w=/tmp/recall-call
mkdir -p $w/m $w/c $w/r
t0=$(date +%s)
OUT=$w/b STEPS=build PACK=0 bash native/tools/gpu-check.sh >/dev/null 2>&1
echo "build done in $(($(date +%s) - t0)) s"
# CROSS_OPS="mixer_bwd,...": the C++ cross-backend test on those ops first (a kernel change's check).
if [ -n "${CROSS_OPS:-}" ]; then
  LINEA_CROSS_OPS=$CROSS_OPS timeout 120 /tmp/linea-gpu-build/linea_tests -tc="every backend matches*" >$w/b/cross.log 2>&1
  echo "cross-backend on $CROSS_OPS: $(grep -E 'test cases' $w/b/cross.log | tail -1)"
  grep -E "error [0-9.e-]+ above|:=" $w/b/cross.log | head -12
  grep -E "^cuda" $w/b/cross.log | grep -E "${CROSS_OPS//,/|}"
fi
limit=$((${TOTAL_S:-575} - ($(date +%s) - t0)))
# MPS=1: the runs share the GPU through the MPS daemon, so one process's small kernels run beside
# another's instead of taking turns (separate contexts are time-sliced). Not yet tried on the box:
# the line below says whether the daemon started.
if [ "${MPS:-0}" = 1 ]; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
  mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
  if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d; then
    echo "MPS: daemon started"
    trap 'echo quit | nvidia-cuda-mps-control' EXIT
  else
    echo "MPS: no daemon (nvidia-cuda-mps-control missing or failed); the runs take turns"
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
fi
for spec in ${MIRROR:-}; do
  arch=${spec%%:*}
  d=${spec#*:}
  timeout $((limit - 15)) python3 bench/reference/mqar-mirror.py --arch "$arch" --d_model "$d" --vocab 8192 \
    --seq "${MIRROR_SEQ:-256}" --pairs "${MIRROR_PAIRS:-16}" --batch "${MIRROR_BATCH:-256}" --steps 10000 --eval_every 250 --eval_seqs 4096 --stop_at 0.99 --fast_data --seed 0 ${MIRROR_ARGS:-} \
    >"$w/m/mirror-$arch-$d.log" 2>&1 &
done
if [ -n "${CONTROL_RUNS:-}" ]; then
  OUT=$w/c RUNS="$CONTROL_RUNS" SET="$CONTROL_SET" CONCURRENCY=${CONTROL_CONCURRENCY:-3} LIMIT_S=$limit \
    bash bench/mqar-zoology-gpu-box.sh >$w/c/box.log 2>&1 &
fi
OUT=$w/r RUNS="$RUNS" CONCURRENCY=${CONCURRENCY:-6} LIMIT_S=$limit bash bench/mqar-zoology-gpu-box.sh 2>&1 | tail -40
wait
for f in "$w"/m/*.log; do
  [ -f "$f" ] || continue
  echo "$f"
  grep -E " acc |RESULT" "$f" | sed -E 's/\{[^}]*\}//' | tail -4
done
[ -f $w/c/box.log ] && tail -8 $w/c/box.log
mkdir -p "$root"
cp $w/r/*.json "$root"/ 2>/dev/null
cp $w/c/*.json "$root"/ 2>/dev/null
(cd $w && tar czf "$root/logs.tar.gz" r c m b/summary.txt b/cross.log 2>/dev/null)
ls -la "$root"
