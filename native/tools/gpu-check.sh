#!/usr/bin/env bash
# On the GPU box: build the native engine with CUDA, run the C++ tests
# (CPU == CUDA per op) and print the engine info. No Node needed.
# Usage: native/tools/gpu-check.sh [build-dir] [log-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-/tmp/linea-gpu-build}"
logs="${2:-${OUT:-/tmp}}"
mkdir -p "$logs"
cmake -S native -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release 2>&1 | tee "$logs/configure.log" | grep -E "Linea|CUDA|Error" || true
cmake --build "$build" -j"$(nproc)" 2>&1 | tee "$logs/build.log" | tail -3
"$build/linea_info" | tee "$logs/info.txt"
"$build/linea_tests" 2>&1 | tee "$logs/tests.log" | tail -15
