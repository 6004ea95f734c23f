#!/usr/bin/env bash
# How close `attnsweep plan` comes to the work a run then does (a benchmark, not a test): for each
# config, `plan` twice (its stability), then the sweep on 2 ranks, and the ratio of the plan's
# core-seconds to the compute the finished file records (the cells' seconds, as `status` sums
# them). Run it on an otherwise idle machine.
# usage: tools/plan_check.sh [CONFIG ...]   (default: jobs/configs/default.ini, smoke.ini, plan-check.ini)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath build/attnsweep)
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(jobs/configs/default.ini jobs/configs/smoke.ini jobs/configs/plan-check.ini)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
estimate() { "$BIN" plan --config "$1" | sed -n 's/.*estimated work: \([0-9.]*\) core-seconds.*/\1/p'; }
printf '%-34s %10s %10s %12s %8s\n' config "plan 1" "plan 2" "run (core-s)" "plan/run"
for config in "${configs[@]}"; do
  first=$(estimate "$config")
  second=$(estimate "$config")
  out="$work/$(basename "$config" .ini).h5"
  mpirun -n 2 "$BIN" run --config "$config" --output "$out" > "$work/run.log" 2>&1 || [ $? = 1 ]
  measured=$(/usr/bin/python3 -c "import h5py, sys; print('%.4g' % h5py.File(sys.argv[1], 'r')['seconds'][()].sum())" "$out")
  printf '%-34s %10s %10s %12s %8.2f\n' "$config" "$first" "$second" "$measured" "$(echo "$first / $measured" | bc -l)"
done
