#!/usr/bin/env bash
# Studies that grow (called by ctest, one scenario per call; sweep/growth.hpp):
#   grow     a study grown by values on every axis (in another order) and by trials, on 1, 2 and
#            3 ranks, is bitwise the file a fresh run of the grown config gives, and computes only
#            the new trials; grown twice (n, then trials) likewise; a geometric range grows too
#   crash    a kill -9 during a growth, and a growth stopped after its new journal was in place
#            (the file still the smaller study's): the rerun ends bitwise equal to a fresh run
#   refuse   any other difference (seed, a value dropped, fewer trials, more trials on a file
#            without per-trial values) is exit 2 naming each key with both values; nothing
#            changes on disk
#   slices   slices grown one by one and merged equal the fresh grown run
#   axes     alpha, layers and scaling swept in [grid] (a 7-D file): P = 1, 2, 3 bitwise, every
#            cell bitwise `attnsweep cell` of its parameters, xarray selects by layers, query
#            filters by them; a fixed mc.layers grown into a layers axis; a schema-2 file (0.2's)
#            read and grown into schema 4
#   undefined  d = 1 cells where lambda is undefined in some or all trials (no pair of distinct
#            input directions): statistics over the defined trials with their count, cells with
#            none `undefined` (not failed): exit 0, not retried, verify passes, merge keeps them
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-study.XXXXXX)
cleanup() {
  pkill -9 -f -- "$WORK" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
same() { /usr/bin/python3 "$HERE/h5_same.py" "$1" "$2"; }
cat > small.ini << 'INI'
[grid]
rho   = 0.2, 0.5
gamma = 0.5, 1, 2
d     = 4, 8
n     = 16, 32
[mc]
trials = 4
seed   = 7
INI
# Every axis grown, values in another order, and more trials.
GROWN=("grid.rho=0.8, 0.5, 0.2" "grid.gamma=4, 0.5, 1, 2" "grid.d=8, 4" "grid.n=64, 16, 32" "mc.trials=6")
trials_run() { sed -n 's/.*; \([0-9]*\) trials in .*/\1/p' "$1"; }

case "$SCENARIO" in
grow)
  mpiexec -n 2 "$BIN" run --config small.ini --output fresh.h5 "${GROWN[@]}" > fresh.log 2>&1 || fail "fresh run"
  total=$(trials_run fresh.log)
  for ranks in 1 2 3; do
    mpiexec -n 2 "$BIN" run --config small.ini --output g$ranks.h5 > /dev/null 2>&1 || fail "small run"
    mpiexec -n $ranks "$BIN" run --config small.ini --output g$ranks.h5 "${GROWN[@]}" > grow.log 2>&1 ||
      fail "growth on $ranks ranks: $(grep attnsweep: grow.log)"
    grep -q 'grew .* from 24 to 72 cells (trials 4 -> 6): 24 cells and 96 trials carried over, 24 cells extended' grow.log ||
      fail "no growth line: $(grep -m3 attnsweep grow.log)"
    # The fresh run computes 72 x 6 trials; the growth only the 432 - 96 new ones.
    [ "$(trials_run grow.log)" = $((total - 96)) ] && ok "P=$ranks computed only the $((total - 96)) new trials" ||
      fail "P=$ranks computed $(trials_run grow.log) trials, want $((total - 96))"
    same g$ranks.h5 fresh.h5 && ok "P=$ranks: the grown file is bitwise the fresh run's" || fail "P=$ranks grown differs"
    "$BIN" verify g$ranks.h5 > /dev/null || fail "grown file fails verify"
  done
  # Twice: first n, then trials; a no-op rerun after.
  mpiexec -n 2 "$BIN" run --config small.ini --output twice.h5 > /dev/null 2>&1
  mpiexec -n 2 "$BIN" run --config small.ini --output twice.h5 grid.n=16,32,64 > /dev/null 2>&1 || fail "grow n"
  mpiexec -n 2 "$BIN" run --config small.ini --output twice.h5 grid.n=16,32,64 mc.trials=9 > /dev/null 2>&1 || fail "grow trials"
  mpiexec -n 2 "$BIN" run --config small.ini --output once.h5 grid.n=16,32,64 mc.trials=9 > /dev/null 2>&1
  same twice.h5 once.h5 && ok "grown twice (n, then trials) equals a fresh run" || fail "grown twice differs"
  mpiexec -n 2 "$BIN" run --config small.ini --output twice.h5 grid.n=16,32,64 mc.trials=9 > noop.log 2>&1
  [ "$(trials_run noop.log)" = 0 ] && same twice.h5 once.h5 && ok "a rerun of the grown config does nothing" ||
    fail "no-op rerun: $(tail -2 noop.log)"
  # A geometric range is the list it stands for: growing 16:32:*2 to 16:64:*2 is one more n.
  mpiexec -n 2 "$BIN" run --config small.ini --output geo.h5 grid.n=16:32:*2 > /dev/null 2>&1 || fail "geometric run"
  mpiexec -n 2 "$BIN" run --config small.ini --output geo.h5 grid.n=16:64:*2 mc.trials=9 > /dev/null 2>&1 ||
    fail "geometric growth"
  same geo.h5 once.h5 && ok "n = 16:64:*2 grows 16:32:*2 into the fresh file" || fail "geometric growth differs"
  ;;
crash)
  write_medium_config
  MORE=("grid.n=512, 256" "mc.trials=32")
  mpiexec -n 2 "$BIN" run --config medium.ini --output ref.h5 "${MORE[@]}" > /dev/null 2>&1 || fail "reference"
  mpiexec -n 2 "$BIN" run --config medium.ini --output k.h5 > /dev/null 2>&1 || fail "medium run"
  setsid mpiexec -n 2 "$BIN" run --config medium.ini --output k.h5 "${MORE[@]}" > kill.log 2>&1 &
  pid=$!
  wait_for_records k.h5.journal 60 || fail "the growth made no progress"
  kill_job $pid "$WORK"
  grep -q 'grew' kill.log && ok "killed during the growth ($(journal_counts k.h5.journal))" || fail "not grown: $(cat kill.log)"
  mpiexec -n 2 "$BIN" run --config medium.ini --output k.h5 "${MORE[@]}" > resume.log 2>&1 || fail "resume"
  same k.h5 ref.h5 && ok "kill -9 during a growth, then a rerun: bitwise the fresh run" || fail "resumed growth differs"
  # The window between the new journal and the first snapshot: the file still holds the small study.
  mpiexec -n 2 "$BIN" run --config small.ini --output w.h5 > /dev/null 2>&1
  cp w.h5 w-small.h5
  mpiexec -n 2 "$BIN" run --config small.ini --output w.h5 "${GROWN[@]}" > /dev/null 2>&1 || fail "growth"
  cp w-small.h5 w.h5
  mpiexec -n 2 "$BIN" run --config small.ini --output fresh.h5 "${GROWN[@]}" > /dev/null 2>&1
  mpiexec -n 2 "$BIN" run --config small.ini --output w.h5 "${GROWN[@]}" > window.log 2>&1 || fail "rerun: $(cat window.log)"
  ! grep -q 'grew' window.log && [ "$(trials_run window.log)" = 0 ] && same w.h5 fresh.h5 &&
    ok "grown journal beside the small file: rebuilt from the journal, nothing computed" || fail "$(tail -3 window.log)"
  ;;
refuse)
  "$BIN" run --config small.ini --output r.h5 > /dev/null 2>&1 || fail "small run"
  cp r.h5 r-before.h5
  cp r.h5.journal r-before.journal
  refused() {
    bounded_exit 2 "$1" "${@:3}"
    grep -q -- "$2" err.txt || fail "$1: '$2' not in: $(cat err.txt)"
  }
  refused "another seed" "mc.seed: file 7, config 8" "$BIN" run --config small.ini --output r.h5 mc.seed=8 grid.n=16,32,64
  refused "a value dropped" "grid.n: the config lacks the file's 32" "$BIN" run --config small.ini --output r.h5 grid.n=16,64
  refused "fewer trials" "mc.trials: file 4, config 2" "$BIN" run --config small.ini --output r.h5 mc.trials=2
  refused "another estimator" "mc.jacobian: file exact, config hutchinson" \
    "$BIN" run --config small.ini --output r.h5 mc.jacobian=hutchinson
  cmp -s r.h5 r-before.h5 && cmp -s r.h5.journal r-before.journal && ok "file and journal untouched" ||
    fail "a refusal changed the file or its journal"
  # More trials need the file's per-trial values: a file without them is refused, unchanged.
  cp r-before.h5 nt.h5
  /usr/bin/python3 -c "
import h5py
with h5py.File('nt.h5', 'r+') as f:
    for name in [name for name in f if name.endswith('_trial')] + ['trial']:
        del f[name]"
  "$BIN" verify nt.h5 > /dev/null 2>&1 || fail "a file without per-trial values fails verify"
  cp nt.h5 nt-before.h5
  refused "more trials, no per-trial values" "keeps no per-trial values" \
    "$BIN" run --config small.ini --output nt.h5 mc.trials=6
  cmp -s nt.h5 nt-before.h5 && [ "$(journal_counts nt.h5.journal | cut -d' ' -f1)" = 0 ] &&
    ok "unchanged, journal empty" || fail "changed after the refusal"
  mpiexec -n 2 "$BIN" run --config small.ini --output nt.h5 grid.n=16,32,64 > /dev/null 2>&1 &&
    ok "... while more n values grow it" || fail "axis growth of a file without per-trial values"
  # A file computed by another kernel version (its arithmetic order) is not resumed, grown or
  # merged: one file holds one arithmetic. A file without the attribute (before 0.3) is version 1.
  version=$("$BIN" --version | sed -n 's/.*kernel version \([0-9]*\).*/\1/p')
  /usr/bin/python3 -c "import h5py; print(h5py.File('r-before.h5', 'r').attrs['kernel_version'])" | grep -qx "$version" &&
    ok "files record kernel_version $version (--version's)" || fail "no kernel_version attribute $version"
  cp r-before.h5 kv.h5
  cp r-before.journal kv.h5.journal
  /usr/bin/python3 -c "
import h5py
with h5py.File('kv.h5', 'r+') as f:
    f.attrs['kernel_version'] = 99"
  cp kv.h5 kv-before.h5
  refused "another kernel: resume" "kernel version 99" "$BIN" run --config small.ini --output kv.h5
  refused "another kernel: growth" "kernel version 99" "$BIN" run --config small.ini --output kv.h5 grid.n=16,32,64
  refused "another kernel: merge" "kernel version 99" "$BIN" merge kv-merged.h5 kv.h5
  cmp -s kv.h5 kv-before.h5 && [ ! -e kv-merged.h5 ] && ok "file untouched, nothing merged" || fail "changed"
  /usr/bin/python3 -c "
import h5py
with h5py.File('kv.h5', 'r+') as f:
    del f.attrs['kernel_version']"
  if [ "$version" = 1 ]; then
    mpiexec -n 2 "$BIN" run --config small.ini --output kv.h5 grid.n=16,32,64 > /dev/null 2>&1 &&
      ok "a file without the attribute (before 0.3) grows as version 1" || fail "growth of a file without kernel_version"
  else
    cp kv.h5 kv-before.h5
    refused "a file without the attribute (before 0.3) is version 1's: growth" "kernel version 1" \
      "$BIN" run --config small.ini --output kv.h5 grid.n=16,32,64
    cmp -s kv.h5 kv-before.h5 && ok "file untouched" || fail "changed"
    # A journal alone, stamped by version 1 (its header holds the bare config hash; version v
    # stamps it XOR v x 0x9E3779B97F4A7C15, journal.hpp), is refused too, not resumed.
    rm -f kv.h5
    /usr/bin/python3 -c "
import struct
with open('kv.h5.journal', 'r+b') as f:
    f.seek(8)
    (stamp,) = struct.unpack('<Q', f.read(8))
    f.seek(8)
    f.write(struct.pack('<Q', stamp ^ (0x9E3779B97F4A7C15 * $version) % 2**64))"
    refused "a journal of version 1 alone" "kernel version 1" "$BIN" run --config small.ini --output kv.h5
    [ ! -e kv.h5 ] && ok "no file written" || fail "a file was written from version 1's journal"
  fi
  ;;
slices)
  mpiexec -n 2 "$BIN" run --config small.ini --output fresh.h5 "${GROWN[@]}" > /dev/null 2>&1 || fail "fresh"
  for k in 0 1; do
    mpiexec -n 2 "$BIN" run --config small.ini --output s$k.h5 --slice $k/2 > /dev/null 2>&1 || fail "slice $k"
    mpiexec -n 2 "$BIN" run --config small.ini --output s$k.h5 --slice $k/2 "${GROWN[@]}" > /dev/null 2>&1 ||
      fail "grown slice $k"
  done
  "$BIN" merge merged.h5 s0.h5 s1.h5 > /dev/null || fail "merge of grown slices"
  same merged.h5 fresh.h5 && ok "slices grown one by one and merged: bitwise the fresh run" || fail "merged differs"
  ;;
axes)
  cat > axes.ini << 'INI'
[grid]
rho     = 0.2, 0.8
gamma   = 0.5, 2
d       = 8
n       = 16, 32
alpha   = 0, 0.5
layers  = 1, 2
scaling = log, sqrt-log
[mc]
jacobian = hutchinson
trials   = 3
seed     = 3
INI
  for ranks in 1 2 3; do
    mpiexec -n $ranks "$BIN" run --config axes.ini --output a$ranks.h5 > a$ranks.log 2>&1 ||
      fail "P=$ranks run: $(grep attnsweep: a$ranks.log)"
  done
  same a1.h5 a2.h5 && same a1.h5 a3.h5 && ok "7-D study: P = 1, 2, 3 bitwise equal" || fail "P = 1, 2, 3 differ"
  "$BIN" verify a2.h5 > /dev/null && ok "verify passes the 7-D file" || fail "verify: $("$BIN" verify a2.h5)"
  # Every cell is `attnsweep cell` of its parameters (two cells in each corner of the new axes).
  "$BIN" query a2.h5 --format csv --n 32 --rho 0.8 > cells.csv
  [ "$(head -1 cells.csv | cut -d, -f1-8)" = "cell,rho,gamma,d,n,alpha,layers,scaling" ] && ok "query columns name the axes" ||
    fail "query columns: $(head -1 cells.csv)"
  bad=0
  while IFS=, read -r cell rho gamma d n alpha layers scaling status trials lambda rest; do
    want=$("$BIN" cell --rho $rho --gamma $gamma --d $d --n $n --alpha $alpha --layers $layers --scaling $scaling \
      --jacobian hutchinson --trials 3 --seed 3 --format json | /usr/bin/python3 -c "import json, sys; print(repr(json.load(sys.stdin)['lambda_mean']))")
    got=$(/usr/bin/python3 -c "print(repr(float('$lambda')))")
    [ "$want" = "$got" ] || { bad=$((bad + 1)); echo "cell $cell: cell command $want, sweep $got"; }
  done < <(tail -n +2 cells.csv)
  [ $bad = 0 ] && ok "every queried cell equals \`attnsweep cell\` of its parameters bitwise ($(($(wc -l < cells.csv) - 1)) cells)" ||
    fail "$bad cells differ from the cell command"
  [ "$("$BIN" query a2.h5 --format csv --layers 2 --scaling sqrt-log | tail -n +2 | wc -l)" = 16 ] &&
    ok "query --layers 2 --scaling sqrt-log: 16 cells" || fail "query filters on swept axes"
  bounded_exit 2 "query --layers 3 (not on the axis)" "$BIN" query a2.h5 --layers 3
  "$BIN" run --config small.ini --output plain.h5 > /dev/null 2>&1
  bounded_exit 2 "query --layers on a file that fixes it" "$BIN" query plain.h5 --layers 1
  /usr/bin/python3 - << 'PY' > xr.txt 2>&1 && ok "xarray: $(cat xr.txt)" || fail "xarray: $(tail -3 xr.txt)"
import numpy as np, xarray as xr
ds = xr.open_dataset("a2.h5", engine="h5netcdf")
assert ds.lambda_mean.dims == ("rho", "gamma", "d", "n", "alpha", "layers", "scaling"), ds.lambda_mean.dims
assert ds.lambda_trial.dims[-1] == "trial"
v = ds.lambda_mean.sel(layers=2, scaling="sqrt-log", alpha=0.5, rho=0.8, gamma=2, n=32, d=8)
assert np.isfinite(float(v))
print(f"lambda_mean.sel(layers=2, scaling='sqrt-log', ...) = {float(v):.6g}")
PY
  # A fixed mc.layers = 2 grown into layers = 1, 2: bitwise the fresh run, the old cells kept.
  mpiexec -n 2 "$BIN" run --config axes.ini --output fixed.h5 grid.layers= mc.layers=2 > /dev/null 2>&1 || fail "fixed run"
  mpiexec -n 2 "$BIN" run --config axes.ini --output fixed.h5 > grow.log 2>&1 || fail "growth into an axis: $(grep attnsweep: grow.log)"
  [ "$(trials_run grow.log)" = 96 ] && same fixed.h5 a2.h5 &&
    ok "fixed layers = 2 grown into the layers axis: only the 96 new trials, bitwise the fresh run" ||
    fail "growth into an axis: $(trials_run grow.log) trials; $(same fixed.h5 a2.h5)"
  # A schema-2 file (what 0.2 wrote: the same places, without eta_probe_stderr) is read, and grown
  # into schema 4 (the exact Jacobian: the fresh run has no probe errors either).
  mpiexec -n 2 "$BIN" run --config small.ini --output two.h5 > /dev/null 2>&1
  /usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('two.h5', 'r+') as f:
    for name in [name for name in f if name.startswith('eta_probe_stderr')]:
        del f[name]
    f.attrs['schema_version'] = np.int64(2)"
  "$BIN" query two.h5 --format csv > two.csv && "$BIN" verify two.h5 > /dev/null && ok "schema 2 read and verified" ||
    fail "schema 2 not read"
  mpiexec -n 2 "$BIN" run --config small.ini --output two.h5 grid.n=16,32,64 > /dev/null 2>&1 || fail "schema 2 growth"
  mpiexec -n 2 "$BIN" run --config small.ini --output three.h5 grid.n=16,32,64 > /dev/null 2>&1
  same two.h5 three.h5 && ok "a schema-2 file grown: bitwise the fresh schema-4 run" || fail "schema 2 growth differs"
  ;;
undefined)
  cat > u.ini << 'INI'
[grid]
rho   = 0.2, 0.9
gamma = 0.5, 2
d     = 1, 4
n     = 2, 8
[mc]
trials = 3
seed   = 1
INI
  mpiexec -n 2 "$BIN" run --config u.ini --output u.h5 > u.log 2>&1
  rc=$?
  undefined=$("$BIN" query u.h5 --status undefined --format csv | tail -n +2 | wc -l)
  [ $rc = 0 ] && [ "$undefined" -gt 0 ] && grep -q "$undefined cells undefined" u.log &&
    ok "exit 0 with $undefined undefined cells, named in the log" || fail "exit $rc, $undefined undefined: $(grep attnsweep u.log | tail -3)"
  [ "$("$BIN" query u.h5 --status failed --format csv | tail -n +2 | wc -l)" = 0 ] && ok "no cell failed" || fail "failed cells"
  "$BIN" verify u.h5 > /dev/null && ok "verify passes" || fail "verify: $("$BIN" verify u.h5)"
  "$BIN" status u.h5 | grep -q "state: finished" && "$BIN" status u.h5 --format json | grep -q "\"undefined\": $undefined" &&
    ok "status: finished, $undefined undefined" || fail "status: $("$BIN" status u.h5 | head -2)"
  mpiexec -n 2 "$BIN" run --config u.ini --output u.h5 --retry-failed > retry.log 2>&1
  grep -q " 0 to run" retry.log && ok "--retry-failed leaves undefined cells" || fail "retry: $(grep 'to run' retry.log)"
  # The statistics are over the defined trials, and say how many (an independent computation
  # from the per-trial values).
  "$BIN" query u.h5 --format csv > cells.csv
  "$BIN" query u.h5 --trials --format csv > trials.csv
  /usr/bin/python3 - << 'PY' > stats.txt 2>&1 && ok "statistics over the defined trials: $(cat stats.txt)" || fail "$(cat stats.txt)"
import csv, math, statistics
trials = {}
for r in csv.DictReader(open("trials.csv")):
    trials.setdefault(r["cell"], []).append(float(r["lambda"]))
partial = 0
for r in csv.DictReader(open("cells.csv")):
    if r["status"] not in ("done", "undefined"):
        continue
    defined = [v for v in trials[r["cell"]] if not math.isnan(v)]
    assert int(r["lambda_defined"]) == len(defined), (r["cell"], r["lambda_defined"], len(defined))
    assert (r["status"] == "undefined") == (len(defined) == 0), r
    if defined:
        assert abs(float(r["lambda_mean"]) - statistics.fmean(defined)) <= 1e-15, r
        assert abs(float(r["lambda_median"]) - statistics.median(defined)) <= 1e-15, r
        partial += 0 < len(defined) < int(r["trials"])
    else:
        assert math.isnan(float(r["lambda_mean"])), r
assert partial > 0, "no cell with some undefined trials"
print(f"{partial} cells with some trials undefined")
PY
  "$BIN" merge m.h5 u.h5 > /dev/null && same m.h5 u.h5 && ok "merge keeps undefined cells" || fail "merge"
  ;;
*)
  echo "unknown scenario $SCENARIO"
  exit 2
  ;;
esac
echo "$SCENARIO: $failures failures"
[ $failures = 0 ]
