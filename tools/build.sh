#!/usr/bin/env bash
# Configure and build attnsweep into build/ (Release, -march=native unless ATTNSWEEP_NATIVE=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DATTNSWEEP_NATIVE="${ATTNSWEEP_NATIVE:-ON}" > build.log 2>&1 || {
  tail -30 build.log; exit 1; }
cmake --build build -j"$(nproc)" >> build.log 2>&1 || { grep -E 'error|Error' build.log | head -30; exit 1; }
