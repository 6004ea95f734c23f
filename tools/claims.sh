#!/usr/bin/env bash
# The numbers docs/results.md states about depth, the (ln n)^2 law and the reproducibility of the
# gamma_c(n) outlier, rerun with medians, quantiles and independent seeds (issue 21). Writes
# jobs/claims/claims.txt (and the HDF5 files it reads, jobs/claims/*.h5). About 3 minutes on 2 ranks.
# usage: bash tools/claims.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath build/attnsweep)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p jobs/claims
out=jobs/claims/claims.txt
{
  echo "# tools/claims.sh on $(hostname), $(date -u +%Y-%m-%dT%H:%MZ), attnsweep $(git rev-parse --short HEAD)"
  echo
  echo "## beta = gamma (ln n)^2 at half the critical gamma: 1 - lambda (rho 0.5, gamma 1, d 64, 32 trials)"
  for n in 512 1024 8192; do
    "$BIN" cell --rho 0.5 --gamma 1 --d 64 --n $n --scaling log-squared --jacobian hutchinson --probes 2 \
      --trials 32 --format json | /usr/bin/python3 -c "
import json, sys
c = json.load(sys.stdin); q = c['lambda_quantiles']
print(f\"n = {c['n']:5d}: 1 - mean {1 - c['lambda_mean']:.2g} (stderr {c['lambda_stderr']:.2g}), 1 - median {1 - q['0.5']:.2g}, 1 - q05 {1 - q['0.05']:.2g}\")"
  done
  echo
  echo "## depth: lambda of L stacked layers (rho 0.5, d 64, n 1024, 32 trials; jobs/configs/claims-depth.ini)"
  mpirun -n 2 "$BIN" run --config jobs/configs/claims-depth.ini --progress none > /dev/null 2>&1 || [ $? = 1 ]
  "$BIN" query jobs/claims/depth.h5 --format csv | /usr/bin/python3 -c "
import csv, sys
rows = list(csv.DictReader(sys.stdin))
print(f\"{'gamma':>5} {'L':>2} {'mean':>9} {'median':>9} {'q05':>9} {'q95':>9} {'heavy':>5}\")
for r in rows:
    print(f\"{float(r['gamma']):5g} {int(r['layers']):2d} {float(r['lambda_mean']):9.2g} {float(r['lambda_median']):9.2g} \"
          f\"{float(r['lambda_q05']):9.2g} {float(r['lambda_q95']):9.2g} {r['lambda_heavy_tail']:>5}\")"
  "$BIN" query jobs/claims/depth.h5 --trials --format csv --gamma 2 --layers 4 | /usr/bin/python3 -c "
import csv, sys
x = [float(r['lambda']) for r in csv.DictReader(sys.stdin)]
print(f'gamma 2, L 4: {sum(v < 1e-30 for v in x)} of {len(x)} trials at the rounding floor (lambda < 1e-30)')"
  /usr/bin/python3 tools/plot_n_study.py --depth jobs/claims/depth.h5 --out jobs/claims > /dev/null  # depth.png, depth.csv
  echo
  echo "## gamma_c at d 64, n 256 (rho 0.5, 128 trials), four seeds (jobs/configs/claims-critical.ini)"
  for seed in 1 2 3 4; do
    rm -f jobs/claims/critical-$seed.h5 jobs/claims/critical-$seed.h5.journal
    mpirun -n 2 "$BIN" critical --config jobs/configs/claims-critical.ini mc.seed=$seed \
      --output jobs/claims/critical-$seed.h5 --format csv --progress none 2> /dev/null | /usr/bin/python3 -c "
import csv, sys
for r in csv.DictReader(sys.stdin):
    print(f\"seed $seed: gamma_c {float(r['gamma_c']):.4f} (95% {float(r['gamma_c_low']):.4f}..{float(r['gamma_c_high']):.4f}), \"
          f\"relative to 2: {float(r['relative_difference']):+.2%}\")"
  done
} | tee "$out"
echo "wrote $out"
