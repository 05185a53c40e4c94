#!/usr/bin/env bash
# Everything a GPU-box call needs, in one script, with a short table last and
# full logs under $OUT:
#   1. build the native library, its tests and tools with CUDA (for this GPU)
#      and the Node addon (headers carried in .device/node_modules.tar.xz);
#   2. engine info (every op under cuda:0) and the C++ tests, whose
#      cross-backend test prints its table (CUDA f32/f64/bf16 against the CPU in f64);
#   3. compute-sanitizer memcheck and racecheck on the mixer and attention ops;
#   4. the cross-backend check through Node (scripts/gpu-node-check.ts,
#      bundled to .device/gpu-node-check.mjs): every preset's training step;
#   4b. "train": every preset's 200-step MQAR run on the CPU and cuda:0 (f32, bf16)
#      and an out-of-memory run (scripts/gpu-train-check.ts, .device/gpu-train-check.mjs);
#   4b'. "cli": linea run / train --backend cuda / inspect / profile end to end on cuda:0
#      (.device/linea-cli.mjs, .device/engine-process.mjs);
#   4b'''. "dp" (not in the default steps; 2+ GPUs): data parallel through NCCL, parity with
#      one GPU and scaling (scripts/gpu-dp-check.ts, .device/gpu-dp-check.mjs);
#   4b''''. "fla" (not in the default steps): issue 20's checks against flash-linear-attention itself
#      (bench/reference/fla-import-fixtures.py, fla-export-check.py; exports in .device/fla-exports);
#   4b'''''. "torchrun" (not in the default steps): issue 20's recipe, a Linea run exported
#      and trained on with its train.sh (torchrun over every GPU), then inspected in Linea;
#   4b (torchexport, not in the default steps): the exported PyTorch module's chunked form on CUDA
#      against Linea's logits (tests/node/interop-export-torch.test.ts, LINEA_TORCH_DEVICE=cuda);
#   4b''''''. "webgpu" (not in the default steps): issue 19, the WebGPU suites and benchmark through
#      NVIDIA's Vulkan driver (carry .gl and .device/node_modules-test.tar.xz);
#   4b''. "recall" (not in the default steps): the mqar-zoology-gpu template's 156 runs
#      (bench/mqar-zoology-gpu-box.sh, .device/mqar-bench.mjs);
#   4c. "trainbench" (not in the default steps): issue 16's training throughput, Linea
#      (scripts/gpu-train-bench.ts) and fla's layers in PyTorch (bench/reference/gpu-train-peer.py);
#   4e. "attnlab" (not in the default steps): softmax attention, the default and the lab's opt-in
#      versions (native/lab/softmax_attention; ATTNLAB_VARIANTS), against the CPU and timed;
#   4d. "lowering" (not in the default steps): the chunked kernels on reshaped calls
#      (native/src/cuda/mixer_lowered.cu), checked against the CPU and timed against the recurrent path;
#   5. (step "kprof", not in the default steps) ncu's per-kernel summary of the mixers in KPROF_OPS;
#   6. the benchmark: linea_bench_gpu and flash-linear-attention + SDPA
#      (bench/reference/gpu-mixers-peer.py, fla source in .device/fla.tar.xz),
#      merged into $OUT/gpu-mixers.json.
# Usage (from the repo root, with carry [".device"]):
#   STEPS="build tests sanitize node train cli bench" QUICK=1 native/tools/gpu-check.sh
# Files in $OUT at the end: summary.txt, results.tar.gz (every JSON), logs.tar.gz, triton-cache.tgz.
# Whole calls built on it (several steps in the limit of one call): native/tools/gpu-calls/.
# Needs in .device/ (git-ignored): node.xz, node_modules.tar.xz, gpu-node-check.mjs, linea-cli.mjs
# (electron/cli/index.ts bundled with esbuild), engine-process.mjs (electron/engine/process.ts),
# fla.tar.xz: `bash scripts/device-bundles.sh` makes the bundles.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-/tmp/gpu-check}"
build=/tmp/linea-gpu-build
steps=" ${STEPS:-build tests sanitize node train cli bench} "
KPROF_OPS="${KPROF_OPS:-linear,scalar_gate,delta}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
has() { [[ "$steps" == *" $1 "* ]]; }
# The mixers' cross-backend test under other kernel forms, chosen by environment variables
# (LINEA_CROSS_OPS=... among them tests other ops):
#   cross_variant LOG_NAME TIME_LIMIT VAR=VALUE ...   (log: tests-LOG_NAME.log)
cross_variant() {
  local name=$1 limit=$2
  shift 2
  env LINEA_CROSS_OPS=mixer_fwd,mixer_bwd "$@" timeout "$limit" "$build/linea_tests" -tc="every backend matches*" \
    >"$out/tests-$name.log" 2>&1
  note "C++ cross-backend test, mixers with $*: $(grep -E 'test cases' "$out/tests-$name.log" | tail -1)"
  grep -E "ERROR|FAILED|above the|^cuda" "$out/tests-$name.log" | sort | uniq -c | sort -rn | head -10 | tee -a "$summary"
}
# The quick bench of some mixer kinds under other kernel forms:
#   bench_variant NAME OPS VAR=VALUE ...   (linea-gpu-NAME.json, bench-NAME.log; summary rows prefixed NAME)
bench_variant() {
  local name=$1 ops=$2
  shift 2
  env "$@" timeout 120 "$build/linea_bench_gpu" --json "$out/linea-gpu-$name.json" --quick --ops "$ops" \
    >"$out/bench-$name.log" 2>&1
  note "linea bench, $*: exit $?"
  grep -E "^(${ops//,/|}) " "$out/bench-$name.log" | sed "s/^/  $name /" >>"$summary"
}

# Node (the build machine's binary) and the addon's header packages.
if [ -f .device/node.xz ]; then
  [ -x /tmp/node/node ] || { mkdir -p /tmp/node && xz -dc .device/node.xz >/tmp/node/node && chmod +x /tmp/node/node; }
  export PATH=/tmp/node:$PATH
fi
# The test modules (vitest, Dawn's binding; step "webgpu") hold the headers too.
if [ -f .device/node_modules-test.tar.xz ] && [ ! -d node_modules/vitest ]; then tar xJf .device/node_modules-test.tar.xz; fi
# Or only Dawn's binding and the addon headers (5 MB, for the WebGPU benchmark without the suites:
# node_modules/webgpu, node-addon-api and node-api-headers of the test modules, in one tar.xz).
if [ -f .device/node_modules-webgpu.tar.xz ] && [ ! -d node_modules/webgpu ]; then tar xJf .device/node_modules-webgpu.tar.xz; fi
[ -d node_modules/node-addon-api ] || { [ -f .device/node_modules.tar.xz ] && tar xJf .device/node_modules.tar.xz; }

if has build; then
  start=$(date +%s)
  # NCCL (data parallel, step "dp"): PyTorch's nvidia-nccl wheel carries nccl.h and libnccl.so.2.
  nccl_root=$(python3 -c "import nvidia.nccl as n; print(list(n.__path__)[0])" 2>/dev/null || true)
  cmake -S native -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_VERSION=gpu-box \
    -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" ${nccl_root:+-DLINEA_NCCL_ROOT="$nccl_root"} \
    >"$out/configure.log" 2>&1
  grep -E "Linea|CUDA" "$out/configure.log" | tee -a "$summary"
  if cmake --build "$build" -j"$(nproc)" -- -k 0 >"$out/build.log" 2>&1; then
    note "build: ok in $(($(date +%s) - start)) s"
  else
    note "build: FAILED (last lines below; full log build.log)"
    grep -E "error|Error" "$out/build.log" | head -30 | tee -a "$summary"
    exit 1
  fi
  mkdir -p native/build/Release && cp "$build/linea.node" native/build/Release/linea.node
fi

if has tests; then
  "$build/linea_info" >"$out/info.txt" 2>&1
  # `linea info` (the CLI, bundled to .device/linea-cli.mjs) lists every op per backend.
  if command -v node >/dev/null && [ -f .device/linea-cli.mjs ]; then
    LINEA_ADDON="$PWD/native/build/Release/linea.node" node .device/linea-cli.mjs info >"$out/linea-info.txt" 2>&1
    cat "$out/linea-info.txt" >>"$summary"
  else
    cat "$out/info.txt" >>"$summary"
  fi
  timeout 900 "$build/linea_tests" >"$out/tests.log" 2>&1
  note "C++ tests: $(grep -E 'test cases' "$out/tests.log" | tail -1)"
  grep -E "ERROR|FAILED" "$out/tests.log" | sort | uniq -c | sort -rn | head -20 | tee -a "$summary"
  # The chunked mixer's other forms (mixer_chunked.cu: use_seq_scan picks the sequential state
  # passes only for shapes that fill the GPU, which these tests' shapes do not; LINEA_CHUNKED_FWD=passes,
  # the state passes and per-chunk output kernel instead of the one-pass forward; LINEA_CHUNKED_BWD=chunk,
  # the older backward kernel) through the same cross-backend test.
  cross_variant candidates 300 LINEA_CHUNKED_SCAN=seq LINEA_CHUNKED_FWD=passes LINEA_CHUNKED_BWD=chunk
  # LINEA_DELTA_KERNELS=wmma: the delta rule's older kernels (staged through f32 shared memory).
  cross_variant delta-wmma 120 LINEA_DELTA_KERNELS=wmma
fi

if has lowering; then
  # The chunked kernels on reshaped calls (mixer_lowered.cu, on by default): every
  # mixer shape of the cross-backend test that the chunked path does not take as it is (the
  # denominator, sigmoid and softplus input gates, K or V not 64 or 128, K up to 512) against the
  # CPU, then the kinds that need it timed on the recurrent path and lowered.
  cross_variant lowered 300
  extra=denominator,input_gate,based,small_dims
  bench_variant extra-recurrent "$extra" LINEA_MIXER_LOWERING=0
  bench_variant extra-lowered "$extra" LINEA_MIXER_LOWERING=1
fi

if has attnlab; then
  # Softmax attention (native/lab/softmax_attention): the default (forward v2, backward v3 with 8
  # warps, its blocks grouped by heads) and the lab's other forms, each NAME:VAR=VALUE of
  # ATTNLAB_VARIANTS; the default and those named in ATTNLAB_CROSS against the CPU, then all timed.
  variants=${ATTNLAB_VARIANTS:-twopass:LINEA_ATTN_BWD=twopass fused:LINEA_ATTN_BWD=fused heads:LINEA_ATTN_BWD_GROUP_MB=0}
  cross_variant attn-default "${ATTNLAB_TIMEOUT:-240}" LINEA_CROSS_OPS=softmax_attn_fwd,softmax_attn_bwd
  for v in $variants; do
    [[ " ${ATTNLAB_CROSS:-fused} " == *" ${v%%:*} "* ]] &&
      cross_variant "attn-${v%%:*}" "${ATTNLAB_TIMEOUT:-240}" LINEA_CROSS_OPS=softmax_attn_fwd,softmax_attn_bwd "${v#*:}"
  done
  bench_variant attn-default softmax
  for v in $variants; do bench_variant "attn-${v%%:*}" softmax "${v#*:}"; done
fi

if has sanitize; then
  ops="${SANITIZE_OPS:-mixer_fwd,mixer_bwd,softmax_attn_fwd,softmax_attn_bwd,softmax_attn_decode}"
  LINEA_CROSS_OPS=$ops timeout "${SANITIZE_TIMEOUT:-300}" compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$build/linea_tests" -tc="every backend matches*" >"$out/sanitize-memcheck.log" 2>&1
  note "compute-sanitizer memcheck ($ops): exit $? ($(grep -E 'ERROR SUMMARY' "$out/sanitize-memcheck.log" | tail -1))"
  # racecheck replays every shared-memory access, so one op at a time (each with its own time
  # limit, exit 124 when cut off) and shapes up to T = 130 (three chunks).
  for op in ${ops//,/ }; do
    LINEA_CROSS_MAX_T=130 LINEA_CROSS_OPS=$op timeout "${RACECHECK_TIMEOUT:-120}" compute-sanitizer --tool racecheck \
      --error-exitcode 9 "$build/linea_tests" -tc="every backend matches*" >"$out/sanitize-racecheck-$op.log" 2>&1
    note "compute-sanitizer racecheck $op: exit $? ($(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$out/sanitize-racecheck-$op.log" | tail -1))"
  done
fi

if has node; then
  if command -v node >/dev/null && [ -f .device/gpu-node-check.mjs ]; then
    LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${NODE_TIMEOUT:-600}" node .device/gpu-node-check.mjs >"$out/node-check.log" 2>&1
    note "node cross-backend check: exit $?"
    cat "$out/node-check.log" >>"$summary"
  else
    note "node cross-backend check: skipped (no node or no .device/gpu-node-check.mjs)"
  fi
fi

if has train; then
  # Issue 16: every preset trains on the CPU (f32) and cuda:0 (f32 and bf16), compared; an out-of-memory run.
  if command -v node >/dev/null && [ -f .device/gpu-train-check.mjs ]; then
    OUT="$out" LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${TRAIN_TIMEOUT:-420}" \
      node .device/gpu-train-check.mjs >"$out/train-check.log" 2>&1
    note "training check: exit $?"
    cat "$out/train-check.log" >>"$summary"
  else
    note "training check: skipped (no node or no .device/gpu-train-check.mjs)"
  fi
fi

if has cli; then
  # Issue 16: the CLI end to end on the GPU. A template's runs ('auto': cuda:0 in bf16),
  # linea train --backend cuda on one of their specs, linea profile on cuda:0, and
  # linea inspect of a run trained there. The engine process is .device/engine-process.mjs
  # (electron/engine/process.ts bundled), where the CLI looks for the built one.
  mkdir -p out/main && cp .device/engine-process.mjs out/main/engine-process.js
  cli() { timeout "${CLI_TIMEOUT:-240}" node .device/linea-cli.mjs "$@"; }
  ws=/tmp/linea-ws
  rm -rf "$ws" /tmp/linea-train
  cli run "$ws" mqar-zoology --set train.max_steps=300 >"$out/cli-run.log" 2>&1
  note "linea run <ws> mqar-zoology --set train.max_steps=300: exit $?"
  grep -E "^(status|completed|failed)" "$out/cli-run.log" >>"$summary"
  gla=$(ls -d "$ws"/runs/*-gla 2>/dev/null | head -1)
  if [ -n "$gla" ]; then
    node -e 'const r = require(process.argv[1]); const fs = require("fs");
      fs.writeFileSync("/tmp/linea-m.json", JSON.stringify(r.modelSpec)); fs.writeFileSync("/tmp/linea-t.json", JSON.stringify(r.trainSpec))' "$gla/run.json"
    cli train /tmp/linea-m.json /tmp/linea-t.json --out /tmp/linea-train --backend cuda --max-steps 200 >"$out/cli-train.log" 2>&1
    note "linea train --backend cuda --max-steps 200: exit $?"
    grep -E "^backend:|^status:" "$out/cli-train.log" >>"$summary"
    cli inspect "$gla" --out "$out/cli-inspect.json" >"$out/cli-inspect.log" 2>&1
    note "linea inspect <a run trained on cuda:0>: exit $?"
    grep -vE "^\[" "$out/cli-inspect.log" | tail -4 >>"$summary"
  fi
  cli profile gla --report "$out/cli-profile.html" --backend cuda --sweep-lengths 512,2048,8192 --repeats 5 \
    >"$out/cli-profile.log" 2>&1
  note "linea profile gla --backend cuda: exit $?"
  grep -vE "^\[" "$out/cli-profile.log" | tail -4 >>"$summary"
fi

if has dp; then
  # Issue 21 (not in the default steps; a box with 2+ GPUs): data parallel through NCCL, parity
  # against one GPU and scaling of the ~350M models (scripts/gpu-dp-check.ts).
  mkdir -p out/main && cp .device/engine-process.mjs out/main/engine-process.js
  OUT="$out" LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${DP_TIMEOUT:-540}" \
    node .device/gpu-dp-check.mjs >"$out/dp-check.log" 2>&1
  note "data-parallel check: exit $?"
  grep -E "^(parity|scaling|gpu-dp-check)" "$out/dp-check.log" >>"$summary"
fi

if has fla; then
  # Issue 20 on the box: fla's own models saved with save_pretrained (the import fixtures, brought back
  # and checked by tests/node/interop-import.test.ts with LINEA_FLA_FIXTURES), and Linea's fla exports
  # (.device/fla-exports, made by tests/node/interop-export-fla.test.ts with LINEA_FLA_EXPORT_DIR)
  # loaded in fla with their logits compared.
  [ -d /tmp/fla/fla ] || { mkdir -p /tmp/fla && tar xJf .device/fla.tar.xz -C /tmp/fla; }
  export TRITON_CACHE_DIR=/tmp/triton-cache
  python3 -c "import torch, transformers, triton; print('torch', torch.__version__, 'transformers', transformers.__version__, 'triton', triton.__version__)" 2>&1 | tail -1 | tee -a "$summary"
  # FLA_EXPORT_ONLY / FLA_IMPORT_ONLY: comma-separated cases (fla's Triton compiles each kernel family
  # on first use, minutes for Mamba2, so a call may take a few); "none" skips that half. The two halves
  # run at once (Triton's compilation is CPU-bound and the box has the cores; its cache is shared).
  rm -f "$out/fla-export.exit" "$out/fla-import.exit"
  if [ -d .device/fla-exports ] && [ "${FLA_EXPORT_ONLY:-}" != none ]; then
    (
      timeout "${FLA_TIMEOUT:-240}" python3 bench/reference/fla-export-check.py --fla /tmp/fla --dir .device/fla-exports --device cuda \
        ${FLA_EXPORT_ONLY:+--only "$FLA_EXPORT_ONLY"} --out "$out/fla-export-check.json" >"$out/fla-export.log" 2>&1
      echo "fla export check: exit $?" >"$out/fla-export.exit"
    ) &
  fi
  if [ "${FLA_IMPORT_ONLY:-}" != none ]; then
    (
      timeout "${FLA_TIMEOUT:-240}" python3 bench/reference/fla-import-fixtures.py --fla /tmp/fla --out "$out/fla-fixtures" --device cuda \
        ${FLA_IMPORT_ONLY:+--only "$FLA_IMPORT_ONLY"} >"$out/fla-import.log" 2>&1
      echo "fla import fixtures: exit $?" >"$out/fla-import.exit"
    ) &
  fi
  wait
  if [ -f "$out/fla-export.exit" ]; then
    note "$(cat "$out/fla-export.exit")"
    grep -E " ok$| FAIL$|FAILED|exports," "$out/fla-export.log" >>"$summary"
  fi
  if [ -f "$out/fla-import.exit" ]; then
    note "$(cat "$out/fla-import.exit")"
    grep -E "float32|bfloat16|folders in" "$out/fla-import.log" | cut -c1-160 >>"$summary"
  fi
fi

if has torchrun; then
  # Issue 20's scale-out recipe on the box: a short Linea run of the hybrid Gated DeltaNet on
  # cuda:0, `linea export --data --format both`, the export's train.sh (torchrun, DDP over NCCL on
  # every GPU here), and `linea inspect` of the checkpoint train.py wrote, back in Linea.
  mkdir -p out/main && cp .device/engine-process.mjs out/main/engine-process.js
  [ -d /tmp/fla/fla ] || { mkdir -p /tmp/fla && tar xJf .device/fla.tar.xz -C /tmp/fla; }
  export TRITON_CACHE_DIR=/tmp/triton-cache
  cli() { timeout "${CLI_TIMEOUT:-240}" node .device/linea-cli.mjs "$@"; }
  # preset_model <preset> <file>: the preset's ModelSpec with vocabulary 512 (the MQAR template's).
  preset_model() {
    node .device/linea-cli.mjs presets --json 2>/dev/null | PRESET="$1" OUT_FILE="$2" node -e '
      const fs = require("fs"); const presets = JSON.parse(fs.readFileSync(0, "utf8"));
      const model = presets.find((p) => p.preset === process.env.PRESET);
      model.vocab_size = 512; fs.writeFileSync(process.env.OUT_FILE, JSON.stringify(model));'
  }
  rm -rf /tmp/tr-run /tmp/tr-export
  preset_model hybrid-gated-deltanet /tmp/tr-m.json
  node -e '
    const t = require(process.cwd() + "/workspace-templates/mqar-zoology.json").train;
    t.steps = 300; require("fs").writeFileSync("/tmp/tr-t.json", JSON.stringify(t));'
  cli train /tmp/tr-m.json /tmp/tr-t.json --out /tmp/tr-run --backend cuda --max-steps 100 >"$out/torchrun-linea.log" 2>&1
  note "torchrun recipe: linea train (hybrid-gated-deltanet, MQAR, cuda, 100 steps): exit $?"
  cli export /tmp/tr-run --out /tmp/tr-export --data 40000 --format both >"$out/torchrun-export.log" 2>&1
  note "torchrun recipe: linea export --data 40000 --format both: exit $?"
  tail -3 "$out/torchrun-export.log" >>"$summary"
  gpus=$(nvidia-smi -L | wc -l)
  (cd /tmp/tr-export && NPROC=$gpus timeout "${TORCHRUN_TIMEOUT:-300}" bash train.sh --steps 200 --batch 32 --eval-every 100 --save-every 200) \
    >"$out/torchrun.log" 2>&1
  note "torchrun recipe: NPROC=$gpus bash train.sh --steps 200 --batch 32: exit $?"
  grep -vE "^\[|^W[0-9]" "$out/torchrun.log" | tail -12 >>"$summary"
  # train.py --form fla: fla's kernels in the linear layers (fla on PYTHONPATH). Its gated delta rule
  # refuses to train on Hopper under Triton 3.4-3.7.0 (fla's chunk_bwd_dqkwg, its issue #640), which is
  # this box; DeltaNet's chunk backward has no gate, so that leg exports a DeltaNet (TORCHRUN_FLA_PRESET).
  fla_preset="${TORCHRUN_FLA_PRESET:-deltanet}"
  rm -rf /tmp/tr-run-fla /tmp/tr-export-fla
  preset_model "$fla_preset" /tmp/tr-m-fla.json
  { cli train /tmp/tr-m-fla.json /tmp/tr-t.json --out /tmp/tr-run-fla --backend cuda --max-steps 20 &&
    cli export /tmp/tr-run-fla --out /tmp/tr-export-fla --data 40000 --format both; } >"$out/torchrun-fla-export.log" 2>&1
  note "torchrun recipe, --form fla: linea train + export of $fla_preset: exit $?"
  (cd /tmp/tr-export-fla && PYTHONPATH=/tmp/fla NPROC=$gpus timeout "${TORCHRUN_TIMEOUT:-300}" bash train.sh --steps 100 --batch 32 \
    --eval-every 100 --form fla --out /tmp/tr-export-fla/checkpoints-fla) >"$out/torchrun-fla.log" 2>&1
  note "torchrun recipe, --form fla ($fla_preset): NPROC=$gpus bash train.sh --steps 100 --batch 32 --form fla: exit $?"
  grep -vE "^\[|^W[0-9]" "$out/torchrun-fla.log" | tail -8 >>"$summary"
  cli inspect /tmp/tr-export --out "$out/torchrun-inspect.json" >"$out/torchrun-inspect.log" 2>&1
  note "torchrun recipe: linea inspect <the export, its torchrun checkpoint>: exit $?"
  grep -vE "^\[" "$out/torchrun-inspect.log" | tail -4 >>"$summary"
  cp /tmp/tr-export/README.txt "$out/torchrun-export-README.txt" 2>/dev/null
fi

if has torchexport; then
  # Issue 20: the standalone PyTorch export's logits on CUDA against Linea's (the test CI runs on the
  # CPU with LINEA_TORCH_DEVICE=cuda: model.py's chunked form on cuda:0 as a third column). vitest
  # comes with .device/node_modules-test.tar.xz; the addon from step build (or carried).
  LINEA_ADDON="$PWD/native/build/Release/linea.node" LINEA_REQUIRE_TORCH=1 LINEA_TORCH_PYTHON=python3 LINEA_TORCH_DEVICE=cuda \
    timeout "${TORCHEXPORT_TIMEOUT:-240}" node node_modules/vitest/vitest.mjs run --project node tests/node/interop-export-torch.test.ts \
    -t "same logits as Linea" >"$out/torch-export-cuda.log" 2>&1
  note "torch export on cuda (interop-export-torch.test.ts, LINEA_TORCH_DEVICE=cuda): exit $?"
  sed 's/\x1b\[[0-9;]*m//g' "$out/torch-export-cuda.log" | grep -E "max\|Δ|Test Files|Tests " >>"$summary"
fi

if has webgpu; then
  # Issue 19 on the box: Linea's WebGPU backend through NVIDIA's Vulkan driver. The Vulkan loader is
  # not installed there: carry .gl (apt-get download libvulkan1, see the device README) and it is
  # unpacked here. The same vitest suites CI runs on lavapipe (node_modules from
  # .device/node_modules-test.tar.xz: `bash scripts/device-bundles.sh --test-modules`), then
  # scripts/gpu-webgpu-bench.ts: training tokens/s on webgpu, cuda:0 and the CPU, and the mixer grid.
  # NVIDIA's Vulkan ICD is libGLX_nvidia.so.0, which loads only beside glvnd's libraries: bring the
  # device README's whole list (libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2; with
  # only the first, libglvnd0 and libglx0 the ICD did not load on 2026-12-01), all unpacked every call.
  if ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
  note "vulkan loader: $(ldconfig -p | grep -c libvulkan.so.1) found; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  if [ -f node_modules/vitest/vitest.mjs ]; then
    LINEA_REQUIRE_WEBGPU=1 LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${WEBGPU_TEST_TIMEOUT:-300}" \
      node node_modules/vitest/vitest.mjs run --project node-webgpu tests/node/engine/webgpu-info.test.ts tests/node/engine/webgpu-ops.test.ts \
      tests/node/engine/webgpu-backend.test.ts tests/node/engine/webgpu-profile.test.ts tests/node/inspect/inspect-webgpu.test.ts tests/node/engine/webgpu-f16.test.ts \
      >"$out/webgpu-tests.log" 2>&1
    note "webgpu suites (vitest, NVIDIA Vulkan): exit $?"
    grep -E "WebGPU adapter|Test Files|Tests |FAIL|✗|×" "$out/webgpu-tests.log" | sed 's/\x1b\[[0-9;]*m//g' | sort | uniq -c | head -20 >>"$summary"
  else
    note "webgpu suites: skipped (no node_modules/vitest; carry .device/node_modules-test.tar.xz)"
  fi
  if [ -f .device/gpu-webgpu-bench.mjs ]; then
    OUT="$out" LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${WEBGPU_BENCH_TIMEOUT:-300}" \
      node .device/gpu-webgpu-bench.mjs >"$out/webgpu-bench.log" 2>&1
    note "webgpu benchmark: exit $?"
    grep -E "^(WebGPU adapter|adapter features|subgroup matrix|train|pairs|products|profile|mixer|gpu-webgpu-bench)" "$out/webgpu-bench.log" >>"$summary"
  fi
fi

if has recall; then
  # Issue 16: recall at Zoology's scale, the mqar-zoology-gpu template untouched (156 runs, one process each,
  # CONCURRENCY at a time; RUNS, MIXERS, WIDTHS, LENGTHS, LRS pick part of the grid).
  OUT="$out" LIMIT_S="${RECALL_LIMIT_S:-540}" bash bench/mqar-zoology-gpu-box.sh >"$out/recall.log" 2>&1
  note "recall at Zoology's scale (bench/mqar-zoology-gpu-box.sh): exit $?"
  grep -E "^\| " "$out/recall.log" | head -90 >>"$summary"
fi

if has trainbench; then
  # Issue 16's training throughput: two ~350M models at T = 4096 in bf16, Linea then fla's layers in PyTorch.
  [ -d /tmp/fla/fla ] || { mkdir -p /tmp/fla && tar xJf .device/fla.tar.xz -C /tmp/fla; }
  OUT="$out" LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout "${TRAINBENCH_TIMEOUT:-240}" \
    node .device/gpu-train-bench.mjs >"$out/train-bench.log" 2>&1
  note "linea training bench: exit $?"
  # fla's Triton kernels for these layers compile for several minutes on a fresh box (the eighth
  # session's peer ran out at 220 s): a carried .device/triton-cache.tgz is reused, and
  # TRITON_TAR=1 brings this call's cache back in $OUT/triton-cache.tgz.
  export TRITON_CACHE_DIR=/tmp/triton-cache
  [ -d "$TRITON_CACHE_DIR" ] || { mkdir -p "$TRITON_CACHE_DIR" && [ -f .device/triton-cache.tgz ] &&
    tar xzf .device/triton-cache.tgz -C "$TRITON_CACHE_DIR"; }
  timeout "${PEER_TRAIN_TIMEOUT:-420}" python3 bench/reference/gpu-train-peer.py --fla /tmp/fla \
    --out "$out/gpu-train-peer.json" >>"$out/train-bench.log" 2>&1
  note "peer training bench: exit $?"
  [ -n "${TRITON_TAR:-}" ] && tar cf - -C "$TRITON_CACHE_DIR" . 2>/dev/null | gzip -1 >"$out/triton-cache.tgz"
  grep -E "^(linea|peer|small|profile|peer-profile) " "$out/train-bench.log" >>"$summary"
fi

if has bench; then
  [ -d /tmp/fla/fla ] || { mkdir -p /tmp/fla && tar xJf .device/fla.tar.xz -C /tmp/fla; }
  quick=${QUICK:+--quick}
  rm -rf /tmp/linea-compare
  # BENCH_OPS / PEER_OPS: a subset of the kinds (e.g. the ones a previous call's peer did not reach).
  timeout "${BENCH_TIMEOUT:-240}" "$build/linea_bench_gpu" --json "$out/linea-gpu.json" --compare-dir /tmp/linea-compare $quick --decode \
    ${BENCH_OPS:+--ops "$BENCH_OPS"} >"$out/bench-linea.log" 2>&1
  note "linea bench: exit $?"
  grep -E "^decode " "$out/bench-linea.log" >>"$summary"
  # The backward's per-chunk kernels: the older WMMA ones (chunk) and the register-fragment ones (mma)
  # (BENCH_VARIANTS=0 skips these and the next two).
  [ "${BENCH_VARIANTS:-1}" = 0 ] || for bwd in chunk mma; do bench_variant "bwd-$bwd" linear,fixed_decay,scalar_gate,vector_gate LINEA_CHUNKED_BWD=$bwd; done
  [ "${BENCH_VARIANTS:-1}" = 0 ] || bench_variant delta-wmma delta,gated_delta LINEA_DELTA_KERNELS=wmma
  # The forward's older form (state passes + per-chunk WMMA output kernel) beside the defaults.
  [ "${BENCH_VARIANTS:-1}" = 0 ] || bench_variant fwd-passes linear,fixed_decay,scalar_gate,vector_gate LINEA_CHUNKED_FWD=passes
  # fla's Triton kernels compile and autotune for minutes on a fresh box; their cache comes back
  # in $OUT/triton-cache.tgz when TRITON_TAR is set, and carried as .device/triton-cache.tgz it is reused.
  export TRITON_CACHE_DIR=/tmp/triton-cache
  [ -d "$TRITON_CACHE_DIR" ] || { mkdir -p "$TRITON_CACHE_DIR" && [ -f .device/triton-cache.tgz ] &&
    tar xzf .device/triton-cache.tgz -C "$TRITON_CACHE_DIR"; }
  # PEER_OPS=none: Linea's side only (the peer in a call of its own).
  [ "${PEER_OPS:-}" = none ] || timeout "${PEER_TIMEOUT:-300}" python3 bench/reference/gpu-mixers-peer.py --fla /tmp/fla --linea "$out/linea-gpu.json" \
    --compare-dir /tmp/linea-compare --out "$out/gpu-mixers.json" $quick ${PEER_OPS:+--ops "$PEER_OPS"} \
    >"$out/bench-peer.log" 2>&1
  note "peer bench: exit $?"
  # Only when asked; gzip -1, since xz over a fresh box's whole cache ran a call past its limit.
  [ -n "${TRITON_TAR:-}" ] && tar cf - -C "$TRITON_CACHE_DIR" . 2>/dev/null | gzip -1 >"$out/triton-cache.tgz"
  sed -n '/^op  /,$p' "$out/bench-peer.log" >>"$summary"
fi

if has kprof; then
  # Where each mixer's time goes, kernel by kernel: ncu's speed-of-light summary (duration, memory
  # and compute throughput as % of peak) of one fwd+bwd per op of KPROF_OPS at B = 16, T = 2048.
  for op in ${KPROF_OPS//,/ }; do
    # KPROF_SECTIONS: ncu sections (e.g. "SpeedOfLight WarpStateStats SourceCounters": where warps stall,
    # by instruction); KPROF_KERNEL: only kernels whose name matches (ncu -k regex:...).
    # KPROF_METRICS: a comma-separated list of ncu metrics beside the sections (e.g. the stall reasons,
    # smsp__average_warps_issue_stalled_<reason>_per_issue_active.ratio, which WarpStateStats does not
    # print as text).
    sections=""
    for sec in ${KPROF_SECTIONS:-SpeedOfLight}; do sections="$sections --section $sec"; done
    timeout "${KPROF_TIMEOUT:-150}" ncu --clock-control none $sections ${KPROF_METRICS:+--metrics "$KPROF_METRICS"} \
      ${KPROF_KERNEL:+-k "regex:$KPROF_KERNEL"} --launch-skip "${KPROF_SKIP:-0}" \
      --launch-count "${KPROF_COUNT:-40}" "$build/linea_bench_gpu" --json /tmp/kprof.json --quick --ops "$op" \
      >"$out/kprof-$op.txt" 2>&1
    note "ncu $op: exit $? ($(grep -c 'Duration' "$out/kprof-$op.txt") kernels)"
  done
fi

echo "=================== summary ==================="
cat "$summary"
grep -E "^\[cross-backend\]|^backend |^cuda" "$out/tests.log" 2>/dev/null | head -150

# The device tool brings back at most 8 files from $OUT: keep summary.txt and the Triton cache
# as they are and pack the rest, the JSONs in results.tar.gz, the logs in logs.tar.gz
# (PACK=0 leaves every file where it is, for a call script that picks its own).
if [ "${PACK:-1}" = 1 ]; then
  (
    cd "$out" || exit 0
    jsons=$(find . -type f -name '*.json' | sort)
    [ -n "$jsons" ] && tar czf results.tar.gz $jsons && rm -f $jsons
    logs=$(find . -type f ! -name summary.txt ! -name triton-cache.tgz ! -name results.tar.gz ! -name logs.tar.gz | sort)
    [ -n "$logs" ] && tar czf logs.tar.gz $logs && rm -f $logs
    find . -mindepth 1 -type d -empty -delete
  )
fi
