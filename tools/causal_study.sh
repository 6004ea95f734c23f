#!/usr/bin/env bash
# The causal study (issue 24; docs/causal.md): critical searches per position bucket under the
# causal mask with the global law (log), Scalable-Softmax's log-keys and Qwen's qwen-logn (T = 1024),
# and under full attention with log, for each config jobs/configs/causal-CONFIG.ini that
# tools/plot_causal.py lists (its CONFIGS: the one list of the study). Each search journals as it
# goes: rerunning the script resumes whatever was stopped. Then the table (jobs/causal/causal.csv)
# and the plots (jobs/causal/*.png) by tools/plot_causal.py.
# About 30 minutes on 2 ranks of a 2-core VM for positions, d512, last and d512-short, 70 more for
# long, 15 for d512-long and 75 for d512-16k.
# usage: bash tools/causal_study.sh [RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${ATTNSWEEP_BIN:-build/attnsweep}")  # a copy keeps a rebuild from replacing it mid-study
RANKS=${1:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p jobs/causal
# variant name, then the overrides that make it
variants=(
  "causal-log mc.mask=causal mc.scaling=log"
  "causal-log-keys mc.mask=causal mc.scaling=log-keys"
  "causal-qwen-logn mc.mask=causal mc.scaling=qwen-logn mc.train-length=1024"
  "full-log mc.mask=none mc.scaling=log"
)
for config in $(/usr/bin/python3 tools/plot_causal.py --configs); do
  for variant in "${variants[@]}"; do
    read -r name overrides <<< "$variant"
    out=jobs/causal/$config-$name.h5
    echo "[causal_study] $config, $name -> $out"
    # shellcheck disable=SC2086 # the overrides are separate words
    mpirun -n "$RANKS" "$BIN" critical --config "jobs/configs/causal-$config.ini" --output "$out" --progress none \
      --format csv $overrides > "jobs/causal/$config-$name.csv"
  done
done
/usr/bin/python3 tools/plot_causal.py jobs/causal
