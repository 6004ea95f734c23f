#!/usr/bin/env bash
# Kernel benchmark: one trial at n = 1024, d = 512, single thread (build/attnsweep_bench), and
# the same trial in straightforward NumPy (tools/bench_numpy.py) with whatever BLAS NumPy has,
# then with OpenBLAS's SkylakeX kernel forced when OpenBLAS is NumPy's BLAS and the CPU has
# AVX-512 (in some VMs OpenBLAS does not recognise the CPU and falls back to a slow kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
build/attnsweep_bench "$@" | tee /tmp/attnsweep_bench.txt
hutch=$(sed -n 's/.*hutchinson_seconds=\([0-9.]*\).*/\1/p' /tmp/attnsweep_bench.txt)
exact=$(sed -n 's/.*exact_seconds=\([0-9.]*\).*/\1/p' /tmp/attnsweep_bench.txt)
blas=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || echo unknown)
for variant in default SkylakeX; do
  if [ $variant = SkylakeX ]; then
    case "$blas" in *openblas*) ;; *) continue ;; esac
    grep -qw avx512f /proc/cpuinfo || continue  # the SkylakeX kernel needs AVX-512
    numpy=$(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench_numpy.py | sed 's/numpy_seconds=//')
  else
    numpy=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench_numpy.py | sed 's/numpy_seconds=//')
  fi
  echo "$numpy $hutch $exact $variant $blas" | awk '{printf "NumPy (%s kernel, BLAS %s): %.3f s; attnsweep hutchinson %.2fx, exact %.2fx faster\n", $4, $5, $1, $1 / $2, $1 / $3}'
done
