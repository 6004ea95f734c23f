#!/usr/bin/env bash
# Kernel scaling benchmark (issue 12): time and peak RSS of one Hutchinson trial (1 probe) for
# n = 1024 ... 65536 at d = 64 and n = 1024 ... 16384 at d = 512, the dense reference where it
# fits (n <= 16384) against the tiled kernel on 1 and 2 threads; then the log-log plot.
# Takes 20-40 minutes on a 2-core machine. Arguments go to attnsweep_bench --scaling
# (--max-n N, --max-n-d512 N, --max-dense-n N).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-jobs/kernel-bench}
mkdir -p "$out"
build/attnsweep_bench --scaling --csv "$out/kernel_scaling.csv" "$@" | tee "$out/kernel_scaling.txt"
/usr/bin/python3 tools/plot_bench.py "$out/kernel_scaling.csv" "$out/kernel_scaling.png"
