#!/usr/bin/env bash
# The whole test suite: set up, build, run every test (unit, MPI end-to-end, Slurm, plots).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd build
ctest --output-on-failure -j2 --timeout 600
