#!/usr/bin/env bash
# End-to-end tests of `attnsweep critical` under real Open MPI (one scenario per call):
#   determinism  P = 1, 2, 3 give bitwise-identical gamma_c, intervals and evaluations; the
#                output opens in xarray with labelled dimensions
#   stop         USR1 to mpirun mid-search: exit 75, then the rerun resumes from the journal and
#                equals an uninterrupted search bitwise; the same after a kill -9 of the whole job
#   simplex      on the exact simplex (lambda(gamma) known in closed form at finite n) the
#                search's gamma_c is the closed form's crossing to its tolerance
#   badinput     bad options, values and files: exit 2 with one line, nothing clobbered
#   oldjournal   a journal written by 0.2 (tests/data/critical-0.2.journal: kernel version 1's
#                records) is refused by a binary of a later kernel version: exit 2 naming both
#                versions, the journal untouched
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-critical.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3
# Every stored number of a critical file, at full precision (what must not change bitwise).
values() { h5_values "$1" gamma_c gamma_c_low gamma_c_high evaluations status eval_gamma eval_lambda_trial; }
cat > search.ini <<'INI'
[grid]
rho   = 0.2, 0.5, 0.8
gamma = 0.5:8:0.5
d     = 8, 64
n     = 512
[mc]
trials = 24
seed   = 11
[critical]
tolerance = 1e-5
INI

case "$SCENARIO" in
determinism)
  for p in 1 2 3; do
    mpiexec -n $p "$BIN" critical --config search.ini --output p$p.h5 --format csv > p$p.csv 2> log$p.txt ||
      fail "critical with $p ranks exited $?: $(tail -2 log$p.txt)"
    values p$p.h5 > v$p.txt
  done
  [ "$(grep -c ',done,' p1.csv)" = 6 ] && ok "6 searches done" || fail "not all searches done: $(cat p1.csv)"
  cmp -s v1.txt v2.txt && ok "P=1 and P=2 bitwise equal" || fail "P=1 and P=2 differ"
  cmp -s v1.txt v3.txt && ok "P=1 and P=3 bitwise equal" || fail "P=1 and P=3 differ"
  # The crossing is where the trial-averaged lambda of `cell` (same seed, same trials) meets the
  # target: lambda at gamma_c within the bracket's tolerance of 1/(1 + 3 rho).
  row=$(grep '^0.5,64,' p1.csv)
  gc=$(echo "$row" | cut -d, -f5)
  lam=$("$BIN" cell --rho 0.5 --gamma "$gc" --d 64 --n 512 --trials 24 --seed 11 --format json |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["lambda_mean"])')
  $PY -c "import sys; sys.exit(0 if abs($lam - 0.4) < 1e-4 else 1)" && ok "cell at gamma_c = $gc gives lambda $lam" ||
    fail "cell at gamma_c = $gc gives lambda $lam, not 0.4"
  # The interval brackets gamma_c, and a rerun of a finished search computes nothing.
  $PY -c "
import csv, sys
for r in csv.DictReader(open('p1.csv')):
    assert float(r['gamma_c_low']) < float(r['gamma_c']) < float(r['gamma_c_high']), r" && ok "intervals bracket gamma_c" ||
    fail "an interval does not bracket its gamma_c"
  mpiexec -n 2 "$BIN" critical --config search.ini --output p1.h5 > again.csv 2> again.txt || fail "rerun exited $?"
  grep -q '; 0 trials and 0 tasks in ' again.txt && ok "rerun of a finished search runs no task" || fail "rerun ran tasks: $(tail -1 again.txt)"
  $PY -c "
import xarray as xr
ds = xr.open_dataset('p1.h5', engine='h5netcdf')
assert ds.gamma_c.dims == ('rho', 'd', 'n'), ds.gamma_c.dims
assert ds.eval_lambda_trial.dims == ('rho', 'd', 'n', 'evaluation', 'trial')
print(float(ds.gamma_c.sel(rho=0.5, d=64, n=512)))" > xr.txt 2>&1 && ok "xarray opens it: gamma_c(0.5, 64, 512) = $(cat xr.txt)" ||
    fail "xarray: $(tail -2 xr.txt)"
  ncdump -h p1.h5 > /dev/null 2>&1 && ok "ncdump -h reads it" || fail "ncdump -h fails"
  # Medians beside the means: each evaluation's quantiles and the median's crossing, recomputed
  # here with numpy from the per-trial values (linear interpolation between neighbouring gammas,
  # the crossing nearest gamma_c), equal the file's and the CSV's.
  $PY - <<'PY' > median.txt 2>&1 && ok "median crossing and quantiles equal numpy's: $(tail -1 median.txt)" || fail "median crossing: $(tail -3 median.txt)"
import csv
import h5py, numpy as np
rows = list(csv.DictReader(open("p1.csv")))
with h5py.File("p1.h5", "r") as f:
    rho, d, n = list(f["rho"][()]), list(f["d"][()]), list(f["n"][()])
    for r in rows:
        at = (rho.index(float(r["rho"])), d.index(int(r["d"])), n.index(int(r["n"])))
        g, trials, q = f["eval_gamma"][at], f["eval_lambda_trial"][at], f["eval_lambda_quantile"][at]
        keep = np.isfinite(g)
        g, trials, q = g[keep], trials[keep], q[keep]
        want_q = np.quantile(trials, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
        assert np.allclose(q, want_q, rtol=1e-14, atol=0), (q, want_q)
        order = np.argsort(g)
        g, off = g[order], np.median(trials[order], axis=1) - float(r["lambda_target"])
        cross = [g[k] - off[k] * (g[k + 1] - g[k]) / (off[k + 1] - off[k])
                 for k in range(len(g) - 1) if (off[k] < 0) != (off[k + 1] < 0) or off[k] == 0]
        want = min(cross, key=lambda c: abs(c - float(r["gamma_c"])))
        got = f["gamma_c_median"][at]
        assert abs(got - want) <= 1e-12 * want and abs(float(r["gamma_c_median"]) - want) <= 1e-12 * want, (got, want)
        print(f"rho {r['rho']}: gamma_c {float(r['gamma_c']):.5f} (mean), {want:.5f} (median)")
PY
  # The Python reader: the table's numbers, status decoded, the search's settings as attributes.
  PYTHONPATH="$HERE/../python" $PY - <<'PY' && ok "python reader: gamma_c and status equal the CSV's, settings kept" ||
import csv, attnsweep
ds = attnsweep.open_dataset("p1.h5")
assert ds.attrs["kind"] == "critical" and float(ds.attrs["critical.tolerance"]) == 1e-5, ds.attrs
assert ds.gamma_c.dims == ("rho", "d", "n")
for row in csv.DictReader(open("p1.csv")):
    at = dict(rho=float(row["rho"]), d=int(row["d"]), n=int(row["n"]))
    assert float(ds.gamma_c.sel(at)) == float(row["gamma_c"]), row
    assert str(ds.status.sel(at).values) == row["status"], row
PY
    fail "python reader on a critical file"
  ;;
stop)
  mpiexec -n 2 "$BIN" critical --config search.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  values ref.h5 > ref.txt
  # USR1 once some pieces are journaled: a clean stop (75), then a resume.
  mpiexec -n 2 "$BIN" critical --config search.ini --output s.h5 > /dev/null 2> log.txt &
  pid=$!
  for _ in $(seq 1 400); do [ "$(stat -c %s s.h5.journal 2> /dev/null || echo 0)" -gt 4000 ] && break; sleep 0.01; done
  kill -USR1 $pid
  wait $pid
  rc=$?
  [ $rc = 75 ] && ok "USR1 -> 75" || fail "USR1: exit $rc (want 75): $(tail -2 log.txt)"
  mpiexec -n 2 "$BIN" critical --config search.ini --output s.h5 > /dev/null 2> log2.txt || fail "resume exited $?"
  grep -q 'journaled trials restored' log2.txt && ok "resume restored $(grep -o '[0-9]* journaled' log2.txt)" ||
    fail "resume restored nothing"
  values s.h5 > s.txt
  cmp -s s.txt ref.txt && ok "stop + resume equals uninterrupted bitwise" || fail "stop + resume differs"
  # kill -9 of the whole job mid-search, then a resume.
  setsid mpiexec -n 2 "$BIN" critical --config search.ini --output critk.h5 > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 400); do [ "$(stat -c %s critk.h5.journal 2> /dev/null || echo 0)" -gt 8000 ] && break; sleep 0.01; done
  kill_job $pid "critical --config search.ini --output critk.h5"
  mpiexec -n 2 "$BIN" critical --config search.ini --output critk.h5 > /dev/null 2> log3.txt || fail "resume after kill -9 exited $?"
  values critk.h5 > critk.txt
  cmp -s critk.txt ref.txt && ok "kill -9 + resume equals uninterrupted bitwise" || fail "kill -9 + resume differs"
  # A time limit stops with 75 and the rerun finishes.
  rm -f t.h5 t.h5.journal
  mpiexec -n 2 "$BIN" critical --config search.ini --output t.h5 --time-limit 1 > /dev/null 2> log4.txt
  rc=$?
  [ $rc = 75 ] || [ $rc = 0 ] || fail "time limit: exit $rc"
  mpiexec -n 2 "$BIN" critical --config search.ini --output t.h5 > /dev/null 2>&1 || fail "after the time limit: exit $?"
  values t.h5 > t.txt
  cmp -s t.txt ref.txt && ok "time limit ($rc) + rerun equals uninterrupted" || fail "time limit + rerun differs"
  ;;
simplex)
  cat > simplex.ini <<'INI'
[grid]
rho   = 0.1, 0.5, 0.8
gamma = 0.25:30:0.25
d     = 100
n     = 64
[mc]
geometry = simplex
[critical]
tolerance = 1e-7
INI
  mpiexec -n 2 "$BIN" critical --config simplex.ini --output simplex.h5 --format json > s.json 2> log.txt ||
    fail "simplex search exited $?: $(tail -2 log.txt)"
  # The closed form of MODEL.md section 5 (exact at finite n), solved independently here.
  $PY - s.json <<'PY' > checcritk.txt 2>&1 && ok "simplex crossings: $(cat checcritk.txt)" || fail "simplex: $(cat checcritk.txt)"
import json, math, sys
rows = json.load(open(sys.argv[1]))
def lam(rho, gamma, n):
    beta = gamma * math.log(n)
    e = math.exp(-beta * (1 - rho)); p = 1 / (1 + (n - 1) * e); r = e / (1 + (n - 1) * e)
    c = p - r; D = r * (1 + (n - 1) * rho) * (2 * c + n * r)
    return c * c / (c * c + D)
worst = 0
for row in rows:
    rho, n, target = row["rho"], row["n"], 1 / (1 + 3 * row["rho"])
    lo, hi = 0.25, 30.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lam(rho, mid, n) < target else (lo, mid)
    worst = max(worst, abs(row["gamma_c"] - lo) / lo)
    assert row["status"] == "done", row
assert worst < 1e-7, worst
print(f"{len(rows)} searches, worst relative error {worst:.1e} (tolerance 1e-7)")
PY
  ;;
badinput)
  expect_exit 2 "no config" "$BIN" critical
  expect_exit 2 "missing config file" "$BIN" critical --config nope.ini
  expect_exit 2 "bad format" "$BIN" critical --config search.ini --format xml
  expect_exit 2 "negative time limit" "$BIN" critical --config search.ini --time-limit -1
  expect_exit 2 "target out of range" "$BIN" critical --config search.ini critical.target=1.5
  expect_exit 2 "target not a number" "$BIN" critical --config search.ini critical.target=high
  expect_exit 2 "tolerance zero" "$BIN" critical --config search.ini critical.tolerance=0
  expect_exit 2 "resamples zero" "$BIN" critical --config search.ini critical.resamples=0
  expect_exit 2 "confidence 1" "$BIN" critical --config search.ini critical.confidence=1
  expect_exit 2 "exact eta with layers" "$BIN" critical --config search.ini mc.layers=3
  echo "not hdf5" > juncritk.h5
  expect_exit 2 "output that is not a critical file" "$BIN" critical --config search.ini --output juncritk.h5
  [ "$(cat juncritk.h5)" = "not hdf5" ] && ok "junk output untouched" || fail "junk output clobbered"
  mpiexec -n 1 "$BIN" run --config search.ini --output sweep.h5 grid.gamma=1,2 > /dev/null 2>&1 || fail "sweep for the test"
  cp sweep.h5 sweep.copy
  expect_exit 2 "a sweep's results file as output" "$BIN" critical --config search.ini --output sweep.h5
  cmp -s sweep.h5 sweep.copy && ok "sweep file untouched" || fail "sweep file clobbered"
  mpiexec -n 1 "$BIN" critical --config search.ini --output c.h5 critical.tolerance=1e-2 > /dev/null 2>&1 || fail "search for the test"
  cp c.h5 c.copy
  expect_exit 2 "another config on an existing search" "$BIN" critical --config search.ini --output c.h5
  cmp -s c.h5 c.copy && ok "existing search untouched" || fail "existing search clobbered"
  # A search computed by another kernel version is not resumed (one file, one arithmetic).
  cp c.h5 kv.h5
  /usr/bin/python3 -c "
import h5py
with h5py.File('kv.h5', 'r+') as f:
    f.attrs['kernel_version'] = 99"
  cp kv.h5 kv.copy
  expect_exit 2 "a search of another kernel version" "$BIN" critical --config search.ini --output kv.h5 critical.tolerance=1e-2
  grep -q 'kernel version 99' err.txt && cmp -s kv.h5 kv.copy && ok "refused naming the versions, file untouched" ||
    fail "kernel version: $(cat err.txt)"
  expect_exit 2 "status of a critical file" "$BIN" status c.h5
  grep -q 'critical-search file' err.txt && ok "status says what the file is" || fail "status: $(cat err.txt)"
  expect_exit 0 "--help" "$BIN" critical --help
  ;;
oldjournal)
  cat > old.ini <<'INI'
[grid]
rho   = 0.3, 0.7
gamma = 0.5, 2
gamma-scale = critical
d     = 8
n     = 256
[mc]
trials   = 48
geometry = gaussian
seed     = 7
[critical]
target    = paper
tolerance = 1e-3
INI
  # 0.2's records are kernel version 1's arithmetic: a binary of another version refuses to
  # resume them (one file, one arithmetic), naming both versions, and leaves the journal as it is.
  cp "$HERE/data/critical-0.2.journal" old.h5.journal
  cp old.h5.journal old.copy
  version=$("$BIN" --version | sed -n 's/.*kernel version \([0-9]*\).*/\1/p')
  [ -n "$version" ] || fail "--version names no kernel version"
  if [ "$version" = 1 ]; then
    fail "this scenario expects a binary beyond kernel version 1"
  else
    mpiexec -n 2 "$BIN" critical --config old.ini --output old.h5 --format json > old.json 2> old.log
    code=$?
    [ $code = 2 ] && ok "resume from the 0.2 journal refused (exit 2)" || fail "exit $code: $(tail -3 old.log)"
    grep -q "kernel version 1 and this attnsweep computes version $version" old.log &&
      ok "the message names versions 1 and $version" || fail "message: $(cat old.log)"
    cmp -s old.h5.journal old.copy && [ ! -e old.h5 ] && ok "journal untouched, no file written" || fail "changed"
  fi
  ;;
*)
  echo "unknown scenario $SCENARIO"
  exit 2
  ;;
esac
[ $failures = 0 ] || exit 1
