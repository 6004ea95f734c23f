#!/usr/bin/env bash
# End-to-end tests of the causal mask and the per-position laws (MODEL.md section 11) under real
# Open MPI (one scenario per call):
#   sweep      grid.mask = none, causal and grid.scaling = log, log-keys, qwen-logn: P = 1, 2, 3
#              bitwise equal; without a mask log-keys is log bit for bit through the whole
#              pipeline; a causal cell of the sweep is `cell --mask causal`'s; query filters by mask
#   positions  critical.position = all: one search per position bucket, P = 1, 2, 3 bitwise equal;
#              each done bucket's lambda at its gamma_c (from `cell`'s bucket table) meets the
#              target; a search stopped by its time limit resumes to the uninterrupted result
#   claims     docs/causal.md's findings at a small size (d 32, n 512, rho 0.5, 8 trials): under
#              log-keys every bucket from token 16 on has gamma_c within 25% of 1/(1 - rho); under the
#              global log gamma_c rises bucket by bucket and stays below log-keys'; under full
#              attention every bucket's interval holds the buckets' median gamma_c (exchangeable)
#   badinput   mask, law, training length and position mistakes: exit 2 with one line
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-causal.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3
cat > sweep.ini <<'INI'
[grid]
rho     = 0.3, 0.7
gamma   = 1, 3
d       = 16
n       = 100, 256
mask    = none, causal
scaling = log, log-keys, qwen-logn
[mc]
trials       = 3
jacobian     = hutchinson
train-length = 128
seed         = 5
INI
cat > search.ini <<'INI'
[grid]
rho   = 0.5
gamma = 0.25, 8
d     = 16
n     = 200
[mc]
trials = 6
mask   = causal
seed   = 3
[critical]
position  = all
resamples = 200
tolerance = 1e-4
INI

case "$SCENARIO" in
sweep)
  for p in 1 2 3; do
    mpiexec -n $p "$BIN" run --config sweep.ini --output s$p.h5 --progress none > log$p.txt 2>&1 ||
      fail "run with $p ranks exited $?: $(tail -2 log$p.txt)"
    h5_values s$p.h5 lambda_trial eta_trial status > v$p.txt
  done
  cmp -s v1.txt v2.txt && ok "P=1 and P=2 bitwise equal" || fail "P=1 and P=2 differ"
  cmp -s v1.txt v3.txt && ok "P=1 and P=3 bitwise equal" || fail "P=1 and P=3 differ"
  $PY - s1.h5 <<'PY' && ok "no mask: log-keys is log bitwise; the mask and the laws change the rest" || fail "law/mask reductions"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
masks = [m.decode() if isinstance(m, bytes) else m for m in f["mask"][()]]
laws = [s.decode() if isinstance(s, bytes) else s for s in f["scaling"][()]]
lam = np.asarray(f["lambda_trial"])  # rho, gamma, d, n, mask, scaling, trial (swept axes in registry order)
dims = [d.label for d in f["lambda_trial"].dims]
assert dims[-3:] == ["scaling", "mask", "trial"] or dims[-3:] == ["mask", "scaling", "trial"], dims
ax_mask, ax_law = dims.index("mask"), dims.index("scaling")
def sel(mask, law):
    return np.take(np.take(lam, masks.index(mask), axis=ax_mask), laws.index(law), axis=ax_law - (ax_law > ax_mask))
assert np.array_equal(sel("none", "log"), sel("none", "log-keys"))
# qwen-logn with T = 128 >= n = 100 is gamma ln T, not log; at n = 256 > T it is log again
n_axis = dims.index("n")
none_log, none_qwen = sel("none", "log"), sel("none", "qwen-logn")
assert not np.array_equal(np.take(none_log, 0, axis=n_axis), np.take(none_qwen, 0, axis=n_axis))
assert np.array_equal(np.take(none_log, 1, axis=n_axis), np.take(none_qwen, 1, axis=n_axis))
assert not np.array_equal(sel("causal", "log"), sel("none", "log"))
assert not np.array_equal(sel("causal", "log"), sel("causal", "log-keys"))
PY
  # One causal cell of the sweep, by `cell`.
  want=$("$BIN" query s1.h5 --rho 0.7 --gamma 3 --n 256 --mask causal --scaling qwen-logn --format json |
    $PY -c "import sys,json; print(repr(json.load(sys.stdin)[0]['lambda_mean']))")
  got=$("$BIN" cell --rho 0.7 --gamma 3 --d 16 --n 256 --mask causal --scaling qwen-logn --train-length 128 \
    --trials 3 --jacobian hutchinson --seed 5 --format json | $PY -c "import sys,json; print(repr(json.load(sys.stdin)['lambda_mean']))")
  [ -n "$want" ] && [ "$want" = "$got" ] && ok "cell reproduces the sweep's causal qwen-logn cell ($got)" ||
    fail "cell $got against the sweep's $want"
  rows=$("$BIN" query s1.h5 --mask causal --format csv | tail -n +2 | wc -l)
  [ "$rows" = 24 ] && ok "query --mask causal: 24 cells" || fail "query --mask causal gave $rows rows"
  ;;
positions)
  for p in 1 2 3; do
    mpiexec -n $p "$BIN" critical --config search.ini --output c$p.h5 --format csv --progress none > c$p.csv 2> log$p.txt ||
      fail "critical with $p ranks exited $?: $(tail -2 log$p.txt)"
    h5_values c$p.h5 gamma_c gamma_c_low gamma_c_high status eval_gamma eval_lambda_trial > v$p.txt
  done
  cmp -s v1.txt v2.txt && ok "P=1 and P=2 bitwise equal" || fail "P=1 and P=2 differ"
  cmp -s v1.txt v3.txt && ok "P=1 and P=3 bitwise equal" || fail "P=1 and P=3 differ"
  [ "$(tail -n +2 c1.csv | wc -l)" = 8 ] && ok "8 searches: buckets 0..7 of n = 200" || fail "searches: $(cat c1.csv)"
  # Each done bucket: `cell` at its gamma_c, that bucket's lambda (mean over the same 6 trials) is
  # the target within the slope times the final bracket (tolerance 1e-4 relative: 1e-3 of lambda).
  done_rows=$(grep -c ',done,' c1.csv)
  [ "$done_rows" -ge 5 ] && ok "$done_rows buckets cross the target" || fail "only $done_rows buckets done: $(cat c1.csv)"
  checked=0
  while IFS=, read -r rho d n bucket tokens target gamma_c rest; do
    [[ $rest == *",done,"* ]] || continue
    lam=$("$BIN" cell --rho "$rho" --gamma "$gamma_c" --d "$d" --n "$n" --mask causal --trials 6 --seed 3 --format json |
      $PY -c "import sys,json; print(json.load(sys.stdin)['positions'][$bucket]['lambda']['mean'])")
    $PY -c "import sys; sys.exit(abs($lam - $target) > 2e-3)" && checked=$((checked + 1)) ||
      fail "bucket $bucket: lambda $lam at gamma_c $gamma_c, target $target"
  done < <(tail -n +2 c1.csv)
  [ "$checked" = "$done_rows" ] && ok "every done bucket's lambda at its gamma_c is the target" || fail "checked $checked"
  # A stopped search resumes to the same result.
  mpiexec -n 2 "$BIN" critical --config search.ini --output r.h5 --time-limit 0.5 --progress none > /dev/null 2> stop.txt
  rc=$?
  [ $rc = 75 ] || [ $rc = 0 ] || fail "time-limited search exited $rc: $(tail -2 stop.txt)"
  mpiexec -n 2 "$BIN" critical --config search.ini --output r.h5 --progress none > /dev/null 2> resume.txt ||
    fail "resume exited $?: $(tail -2 resume.txt)"
  h5_values r.h5 gamma_c gamma_c_low gamma_c_high status eval_gamma eval_lambda_trial > vr.txt
  cmp -s v1.txt vr.txt && ok "resumed search (first exit $rc) equals the uninterrupted one" || fail "resumed differs"
  /usr/bin/python3 - c1.h5 <<PY && ok "the file has a position dimension and absent points" || fail "position layout"
import sys
sys.path.insert(0, "$HERE/../python")
import attnsweep
ds = attnsweep.open_dataset(sys.argv[1])
assert ds["gamma_c"].dims == ("rho", "d", "n", "position"), ds["gamma_c"].dims
assert list(ds["position_last"].values[0]) == [1, 3, 7, 15, 31, 63, 127, 199]
PY
  # tools/plot_causal.py (the study's table and plots) reads such files: every search a CSV row
  # with the file's gamma_c, the tables and the plot written.
  mkdir -p study && cp c1.h5 study/positions-causal-log.h5
  $PY "$HERE/../tools/plot_causal.py" study > plot.txt 2>&1 || fail "plot_causal.py: $(tail -2 plot.txt)"
  $PY - study c1.csv <<'PY' && ok "plot_causal.py: 8 searches in its CSV, equal to critical's, tables and plot written" ||
import csv, os, sys
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], "causal.csv"))))
table = {int(r["position"]): r for r in csv.DictReader(open(sys.argv[2]))}
assert len(rows) == 8, len(rows)
for r in rows:
    want = table[int(r["bucket"])]
    assert r["status"] == want["status"], (r, want)
    if r["status"] == "done":
        assert float(r["gamma_c"]) == float(want["gamma_c"]), (r["gamma_c"], want["gamma_c"])
assert os.path.getsize(os.path.join(sys.argv[1], "positions.png")) > 10000
assert "| 7 | 128..199 |" in open(os.path.join(sys.argv[1], "tables.md")).read()
PY
    fail "plot_causal.py output"
  ;;
claims)
  cat > claims.ini <<'INI'
[grid]
rho   = 0.5
gamma = 0.25, 16
d     = 32
n     = 512
[mc]
trials = 8
seed   = 9
[critical]
position  = all
tolerance = 1e-2
resamples = 400
INI
  for variant in "log mc.mask=causal mc.scaling=log" "keys mc.mask=causal mc.scaling=log-keys" "full mc.mask=none"; do
    read -r name overrides <<< "$variant"
    # shellcheck disable=SC2086 # separate words
    mpiexec -n 2 "$BIN" critical --config claims.ini --output $name.h5 --progress none --format csv $overrides > $name.csv 2> $name.log ||
      fail "critical $name exited $?: $(tail -2 $name.log)"
  done
  $PY - <<'PY' && ok "log-keys near 1/(1-rho) from token 16, log rising below it, full attention the same in every bucket" || fail "claims"
import csv
def rows(name):
    return {int(r["position"]): r for r in csv.DictReader(open(name + ".csv"))}
log, keys, full = rows("log"), rows("keys"), rows("full")
g = lambda r: float(r["gamma_c"])
done = lambda t: [b for b in sorted(t) if t[b]["status"] == "done"]
for b in keys:
    if b >= 4:
        assert keys[b]["status"] == "done" and 1.5 <= g(keys[b]) <= 2.5, (b, keys[b]["gamma_c"])
rising = [g(log[b]) for b in done(log)]
assert len(rising) >= 5 and all(x < y for x, y in zip(rising, rising[1:])), rising
assert all(g(log[b]) < g(keys[b]) for b in done(log) if b >= 2), "log not below log-keys"
values = sorted(g(full[b]) for b in done(full))
median = values[len(values) // 2]
assert len(values) >= 7, values
for b in done(full):
    assert float(full[b]["gamma_c_low"]) <= median <= float(full[b]["gamma_c_high"]), (b, full[b], median)
PY
  ;;
badinput)
  expect_exit 2 "mask typo" "$BIN" cell --rho 0.5 --gamma 1 --d 8 --n 20 --mask casual
  expect_exit 2 "grid.mask typo" "$BIN" run --config sweep.ini grid.mask=none,casual
  expect_exit 2 "law typo" "$BIN" run --config sweep.ini grid.scaling=log,qwen
  expect_exit 2 "train-length 1" "$BIN" run --config sweep.ini mc.train-length=1
  expect_exit 2 "train-length text" "$BIN" run --config sweep.ini mc.train-length=long
  expect_exit 2 "qwen-logn without T" "$BIN" cell --rho 0.5 --gamma 1 --d 8 --n 20 --scaling qwen-logn
  expect_exit 2 "T without qwen-logn" "$BIN" run --config sweep.ini grid.scaling=log,log-keys
  expect_exit 2 "mask in both sections" "$BIN" run --config sweep.ini mc.mask=causal
  expect_exit 2 "position typo" "$BIN" critical --config search.ini critical.position=first
  grep -q 'critical.position' err.txt && ok "the message names critical.position" || fail "message: $(cat err.txt)"
  expect_exit 0 "cell --help names --mask" "$BIN" cell --help
  grep -q -- '--mask' out.txt && grep -q -- '--train-length' out.txt && ok "help lists --mask and --train-length" ||
    fail "help: $(head -3 out.txt)"
  ;;
*)
  echo "unknown scenario $SCENARIO"
  exit 2
  ;;
esac
[ "$failures" = 0 ] || exit 1
