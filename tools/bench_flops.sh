#!/usr/bin/env bash
# A sweep against its flop model (issue 22): the matrix products' GFLOP (`attnsweep plan`'s flop
# model), this machine's one-core GEMM rate (attnsweep_bench: (n x d)(d x n) at n 1024, d 512),
# the sweep's wall time on P ranks, and the ratio wall / (GFLOP / (P x GEMM)): 1 is every core
# multiplying at the GEMM rate all the time; and the same without the fixed cost of any run (a
# one-cell run's wall time). Measured in one run; nothing else should run.
# usage: tools/bench_flops.sh [CONFIG.ini] [P]   (default: jobs/configs/default.ini on 2 ranks)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}  # another build directory: compare two binaries on one machine
config=${1:-jobs/configs/default.ini}
ranks=${2:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
gflop=$(build/attnsweep plan --config "$config" | sed -n 's/.*flop model: \([0-9.e+]*\) GFLOP.*/\1/p')
gemm_rate() { "$build"/attnsweep_bench --n 1024 --d 512 --repeats 5 | sed -n 's/.*gemm_gflops=\([0-9.]*\).*/\1/p'; }
gemm_before=$(gemm_rate)
wall_of() {  # the wall time of `mpirun -n $ranks attnsweep run` on the config with the given overrides
  local start end
  rm -f "$work/s.h5" "$work/s.h5.journal"
  start=$(date +%s.%N)
  mpirun -n "$ranks" "$build"/attnsweep run --config "$config" --output "$work/s.h5" --progress none "$@" > "$work/log" 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
# What every run pays whatever its size: mpirun and MPI start-up, the cost calibration, the file's
# creation and the shut-down; measured as a one-cell sweep of n 16 with one trial.
fixed=$(wall_of grid.rho=0.5 grid.gamma=1 grid.d=2 grid.n=16 mc.trials=1)
wall=$(wall_of)
# The GEMM rate moves by 10-20% between probes on a shared VM: probed before and after the sweep,
# the faster of the two is the limit (the ratio errs high, never flatters).
gemm_after=$(gemm_rate)
gemm=$(echo "$gemm_before $gemm_after" | awk '{ print ($1 > $2 ? $1 : $2) }')
echo "  GEMM probe before the sweep $gemm_before GFLOP/s, after $gemm_after GFLOP/s: the faster is the limit"
echo "$gflop $gemm $wall $ranks $fixed" | awk '{
  wall = $3; limit = $1 / ($4 * $2); fixed = $5;
  printf "%s on %d ranks: %.4g GFLOP of products, GEMM %.1f GFLOP/s a core: flop limit %.2f s, wall %.2f s, ratio %.2f\n",
         "'"$config"'", $4, $1, $2, limit, wall, wall / limit;
  printf "  of which fixed start-up and end (a one-cell run) %.2f s: without it %.2f s, ratio %.2f\n",
         fixed, wall - fixed, (wall - fixed) / limit }'
