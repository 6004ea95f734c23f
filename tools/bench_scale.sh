#!/usr/bin/env bash
# Engine-scale benchmark (a benchmark, not a test): a sweep of 10^6 tiny cells
# (100 rho x 100 gamma x 10 d x 10 n, n <= 16, 1 trial), so that the master, the journal and the
# snapshots, not the cells, are what is measured. For each rank count (oversubscribed ranks
# yield when idle): wall time, cells/s and tasks/s through the master, master busy (CPU time of
# rank 0's main thread), rank 0's peak RSS, journal size, snapshot time; then, on the finished
# file, the resume of the finished run (replay, nothing to do), a one-cell `query` and `status`.
# Results must be bitwise identical for every rank count.
# usage: tools/bench_scale.sh [RANKS ...]   (default: 2 16 64)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath build/attnsweep)
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(2 16 64)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat > "$work/tiny.ini" <<'INI'
[grid]
rho   = 0.005:0.995:0.01
gamma = 0.1:10:0.1
d     = 1:10:1
n     = 7:16:1
[mc]
trials = 1
seed   = 1
INI
cells=1000000
now() { date +%s.%N; }
printf '%5s %8s %10s %8s %8s %9s %8s %10s %10s %9s %9s %9s\n' ranks "wall s" "cells/s" "tasks/s" "busy" "RSS MB" \
  "journal" "snapshots" "resume s" "replay s" "query s" "status s"
first=""
for p in "${ranks[@]}"; do
  out="$work/p$p.h5"
  start=$(now)
  # Exit 1 only if a cell fails (d = 1 cells whose lambda is undefined in every trial are `undefined`, exit 0).
  mpirun --oversubscribe --mca mpi_yield_when_idle 1 -n "$p" "$BIN" run --config "$work/tiny.ini" --output "$out" \
    > "$work/p$p.log" 2>&1 || [ $? = 1 ] || { tail -5 "$work/p$p.log"; exit 1; }
  wall=$(echo "$(now) - $start" | bc -l)
  line=$(grep 'master busy' "$work/p$p.log")
  loop=$(echo "$line" | sed -n 's/.* of \([0-9.]*\) s wall time.*/\1/p')
  busy=$(echo "$line" | sed -n 's/.*master busy (CPU) \([0-9.]*%\).*/\1/p')
  tasks=$(echo "$line" | sed -n 's/.* tasks (\([0-9]*\)\/s).*/\1/p')
  rss=$(echo "$line" | sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p')
  journal=$(echo "$line" | sed -n 's/.*journal \([0-9.]*\) MB.*/\1/p')
  snaps=$(echo "$line" | sed -n 's/.*snapshots took \([0-9.]*\) s (\([0-9.]*%\).*/\1 s \/ \2/p')
  start=$(now)
  "$BIN" run --config "$work/tiny.ini" --output "$out" > "$work/resume$p.log" 2>&1 || [ $? = 1 ]
  resume=$(echo "$(now) - $start" | bc -l)
  replay=$(sed -n 's/.*records replayed in \([0-9.]*\) s.*/\1/p' "$work/resume$p.log")
  start=$(now)
  "$BIN" query "$out" --rho 0.505 --gamma 5 --d 3 --n 11 > "$work/q.txt"
  query=$(echo "$(now) - $start" | bc -l)
  start=$(now)
  "$BIN" status "$out" > "$work/s.txt"
  status=$(echo "$(now) - $start" | bc -l)
  printf '%5d %8.1f %10.0f %8s %8s %9s %8s %10s %10.2f %9s %9.3f %9.3f\n' "$p" "$wall" \
    "$(echo "$cells / $loop" | bc -l)" "$tasks" "$busy" "$rss" "${journal}MB" "$snaps" "$resume" "$replay" "$query" "$status"
  "$BIN" query "$out" --format csv | cut -d, -f1-11,13- > "$work/p$p.csv"
  if [ -z "$first" ]; then
    first=$p
  elif ! cmp -s "$work/p$first.csv" "$work/p$p.csv"; then
    echo "results differ between $first and $p ranks"
    exit 1
  fi
done
echo "results bitwise identical for ranks: ${ranks[*]}"
grep 'cells in the grid' "$work/p${ranks[0]}.log"
tail -n +2 "$work/s.txt" | head -1
echo "(wall s: mpirun start to exit; cells/s: cells / the master's loop time; RSS: rank 0)"
