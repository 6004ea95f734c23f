#!/usr/bin/env bash
# The main job: set up, build, run the small default sweep on 2 MPI ranks, draw the pictures.
# Leaves results/default.h5 and results/default/*.png (+ transition table CSV).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
mkdir -p results
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Rerunning resumes: cells already in results/default.h5 are not recomputed.
mpirun -n 2 build/attnsweep run --config jobs/configs/default.ini --output results/default.h5
build/attnsweep status results/default.h5
/usr/bin/python3 tools/plot_phase_diagram.py results/default.h5 --out results/default
