#!/usr/bin/env bash
# Parallel efficiency of a heterogeneous sweep (d in {2, 32, 512}): wall time at P = 1 and
# P = 2 ranks, efficiency = T1 / (2 T2), the master's busy fraction, and the workers' idle
# time. usage: tools/bench_sweep.sh [CONFIG.ini]   (default: jobs/configs/default.ini)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-jobs/configs/default.ini}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
declare -A wall compute_of
for p in 1 2; do
  start=$(date +%s.%N)
  mpirun -n $p build/attnsweep run --config "$config" --output "$work/p$p.h5" > "$work/p$p.log" 2>&1
  end=$(date +%s.%N)
  wall[$p]=$(echo "$end - $start" | bc -l)
  busy=$(grep -o 'master busy (CPU) [0-9.]*%' "$work/p$p.log")
  cells=$(build/attnsweep status "$work/p$p.h5" | head -1 | cut -d: -f2-)
  compute=$(build/attnsweep status "$work/p$p.h5" | sed -n 's/.*compute: \([0-9.]*\) core-seconds.*/\1/p')
  compute_of[$p]=$compute
  printf 'P = %d: wall %.1f s, %s, cell compute %.1f core-s, %s\n' $p "${wall[$p]}" "$busy" "$compute" "$cells"
done
cmp -s <(build/attnsweep query "$work/p1.h5" --format csv | cut -d, -f1-11) \
       <(build/attnsweep query "$work/p2.h5" --format csv | cut -d, -f1-11) && echo "results bitwise identical for P = 1 and 2"
echo "${wall[1]} ${wall[2]} ${compute_of[1]} ${compute_of[2]}" | awk '{
  printf "speed-up %.2f, parallel efficiency %.1f%% (2 cores)\n", $1 / $2, 100 * $1 / (2 * $2);
  printf "load balance at P = 2: cells computed %.1f%% of 2 x wall (idle %.1f core-s)\n", 100 * $4 / (2 * $2), 2 * $2 - $4;
  printf "per-core slowdown with both cores busy: the same cells took %.1f%% more CPU time\n", 100 * ($4 / $3 - 1) }'
