#!/usr/bin/env bash
# The studies beyond the paper (docs/results.md, "Beyond the paper"): the critical search of figure 1 with
# 192 trials, gamma_c(n) at d = 64 and 512, lambda and eta against n for the four scaling laws,
# and depth L = 1..16; then the pictures and tables in jobs/n-study/ (and jobs/figure1/critical.csv).
# Every step is an ordinary attnsweep run, so rerunning this script resumes where it stopped.
#   bash tools/n_study.sh [WORK_DIR] [RANKS]      (default results/n-study, 2 ranks; a few core-hours)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$ROOT/results/n-study}
RANKS=${2:-2}
BIN=$ROOT/build/attnsweep
CONFIGS=$ROOT/jobs/configs
mkdir -p "$WORK" "$ROOT/jobs/n-study"
cd "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi() { mpirun -n "$RANKS" "$BIN" "$@"; }

mpi critical --config "$CONFIGS/figure1-critical.ini" --format csv > figure1-critical.csv
cp figure1-critical.csv "$ROOT/jobs/figure1/critical.csv"
# rho = 0.9 has the widest interval: 640 trials bring it under 1%.
mpi critical --config "$CONFIGS/figure1-critical.ini" grid.rho=0.9 mc.trials=640 \
  critical.file=figure1-critical-rho09.h5 --format csv > figure1-critical-rho09.csv
cp figure1-critical-rho09.csv "$ROOT/jobs/figure1/critical-rho09.csv"
mpi critical --config "$CONFIGS/n-study-critical.ini" --format csv > n-study-critical-d64.csv
mpi critical --config "$CONFIGS/n-study-critical.ini" grid.d=512 grid.n=64,128,256,512,1024,2048,4096 \
  critical.file=n-study-critical-d512.h5 --format csv > n-study-critical-d512.csv
for law in log log-squared sqrt-log constant; do
  mpi run --config "$CONFIGS/n-study.ini" mc.scaling=$law output.file=n-study-$law.h5
done
for L in $(seq 1 16); do
  mpi run --config "$CONFIGS/depth.ini" mc.layers=$L output.file=depth-L$L.h5
done
/usr/bin/python3 "$ROOT/tools/plot_n_study.py" --sweeps n-study-{log,log-squared,sqrt-log,constant}.h5 \
  --critical n-study-critical-d64.h5 n-study-critical-d512.h5 --depth depth-L{1..16}.h5 --out "$ROOT/jobs/n-study"
