#!/usr/bin/env bash
# End-to-end tests of a sweep's position axis (grid.position, mc.position; MODEL.md section 11)
# under real Open MPI (one scenario per call):
#   sweep      grid.position = all over mask none, causal and scaling log, log-keys: P = 1, 2, 3
#              bitwise equal; the whole-sequence slice is bitwise a sweep without the axis; each
#              bucket's cell is bitwise `cell --position b` (and its `positions` JSON entry); a
#              bucket the cell's n does not reach is undefined; query filters by position and the
#              Python reader opens the position dimension
#   grow       a file of the whole sequence grows into grid.position = all, and then a larger n
#              (more buckets), bitwise the file of a fresh run of the grown config
#   badinput   position mistakes: exit 2 with one line, nothing written
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-position.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3
# The sweep's axes: rho, gamma, d, n, mask, scaling, position (registry order).
cat > base.ini <<'INI'
[grid]
rho     = 0.3, 0.7
gamma   = 1, 3
d       = 16
n       = 20, 64
mask    = none, causal
scaling = log, log-keys
[mc]
trials   = 3
jacobian = hutchinson
seed     = 5
INI
{ cat base.ini; echo "[grid]"; echo "position = all"; } > pos.ini
values="lambda_trial eta_trial eta_probe_stderr_trial status"

case "$SCENARIO" in
sweep)
  for p in 1 2 3; do
    mpiexec -n $p "$BIN" run --config pos.ini --output s$p.h5 --progress none > log$p.txt 2>&1 ||
      fail "run with $p ranks exited $?: $(tail -2 log$p.txt)"
    h5_values s$p.h5 $values > v$p.txt
  done
  cmp -s v1.txt v2.txt && ok "P=1 and P=2 bitwise equal" || fail "P=1 and P=2 differ"
  cmp -s v1.txt v3.txt && ok "P=1 and P=3 bitwise equal" || fail "P=1 and P=3 differ"
  mpiexec -n 2 "$BIN" run --config base.ini --output whole.h5 --progress none > logw.txt 2>&1 ||
    fail "the sweep without a position axis exited $?"
  $PY - s1.h5 whole.h5 <<'PY' && ok "the whole-sequence slice is the sweep without the axis, bitwise; buckets beyond n undefined" || fail "whole slice or absent buckets"
import sys, h5py, numpy as np
f, g = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
labels = [p.decode() if isinstance(p, bytes) else p for p in f["position"][()]]
assert labels == ["whole", "0", "1", "2", "3", "4", "5"], labels  # n = 64: buckets 0..5
assert [d.label for d in f["lambda_trial"].dims][-2:] == ["position", "trial"]
for name in ("lambda_trial", "eta_trial", "eta_probe_stderr_trial", "lambda_mean", "eta_quantile"):
    whole = np.take(np.asarray(f[name]), 0, axis=6)
    assert np.array_equal(whole, np.asarray(g[name]), equal_nan=True), name
status = np.asarray(f["status"])  # rho, gamma, d, n, mask, scaling, position; 3: undefined
assert (status[:, :, :, 0, :, :, 6] == 3).all()  # n = 20 has buckets 0..4
assert (status[:, :, :, 0, :, :, :6] == 1).all() and (status[:, :, :, 1] == 1).all()
PY
  # A causal log-keys bucket cell against `cell --position` and `cell`'s bucket table.
  pick="--rho 0.7 --gamma 3 --n 64 --mask causal --scaling log-keys --format json"
  args="--rho 0.7 --gamma 3 --d 16 --n 64 --trials 3 --jacobian hutchinson --seed 5 --mask causal --scaling log-keys"
  swept=$("$BIN" query s1.h5 $pick --position 3)
  echo "$swept" | grep -q '"position": "3"' || fail "query's cell is not position 3: $swept"
  one=$("$BIN" cell $args --position 3 --format json)
  for field in lambda_mean eta_mean eta_probe_stderr_mean; do
    [ "$(echo "$swept" | json_value $field)" = "$(echo "$one" | json_value $field)" ] ||
      fail "$field: the sweep's bucket-3 cell differs from cell --position 3"
  done
  table=$("$BIN" cell $args --format json | $PY -c "import json, sys; print(repr(json.load(sys.stdin)['positions'][3]['lambda']['mean']))")
  [ "$table" = "$(echo "$swept" | json_value lambda_mean)" ] && ok "a bucket cell is cell --position 3's and cell's bucket 3, bitwise" ||
    fail "cell's bucket table $table differs from the sweep's"
  last=$("$BIN" cell $args --position last --format json | json_value lambda_mean)
  [ "$last" = "$("$BIN" query s1.h5 $pick --position 5 | json_value lambda_mean)" ] &&
    ok "--position last is the last bucket (5 at n 64)" || fail "--position last differs from bucket 5"
  rows=$("$BIN" query s1.h5 --position 4 --mask causal --format csv | tail -n +2 | wc -l)
  [ "$rows" = 16 ] && ok "query --position 4 --mask causal: 16 cells" || fail "query --position 4 gave $rows rows"
  PYTHONPATH="$HERE/../python" $PY -c "
import attnsweep, sys
ds = attnsweep.open_dataset('s1.h5')
assert 'position' in ds.dims and ds.sizes['position'] == 7, ds.sizes
sel = ds.lambda_mean.sel(position='3', mask='causal', scaling='log-keys')
assert sel.shape == (2, 2, 1, 2), sel.shape
" && ok "the Python reader opens the position dimension" || fail "the Python reader"
  ;;
grow)
  mpiexec -n 2 "$BIN" run --config base.ini --output g.h5 --progress none > log1.txt 2>&1 || fail "first run exited $?"
  mpiexec -n 2 "$BIN" run --config pos.ini --output g.h5 --progress none > log2.txt 2>&1 || fail "growth exited $?: $(tail -2 log2.txt)"
  grep -q "grew" log2.txt || fail "the second run did not say it grew the file: $(head -3 log2.txt)"
  sed 's/^n       = 20, 64/n       = 20, 64, 128/' pos.ini > more.ini
  mpiexec -n 2 "$BIN" run --config more.ini --output g.h5 --progress none > log3.txt 2>&1 || fail "growth to n 128 exited $?"
  mpiexec -n 2 "$BIN" run --config more.ini --output fresh.h5 --progress none > log4.txt 2>&1 || fail "fresh run exited $?"
  h5_values g.h5 $values > a.txt
  h5_values fresh.h5 $values > b.txt
  cmp -s a.txt b.txt && ok "whole -> all positions -> n 128 (7 buckets) is bitwise a fresh run" ||
    fail "the grown file differs from a fresh run"
  ;;
badinput)
  refused() {  # refused WHAT COMMAND...: exit 2, one line on stderr, no output file
    local what=$1
    shift
    "$@" > out.txt 2> err.txt
    local rc=$?
    if [ $rc -ne 2 ] || [ "$(wc -l < err.txt)" -ne 1 ] || ls bad*.h5 > /dev/null 2>&1; then
      fail "$what: exit $rc, $(wc -l < err.txt) lines: $(head -2 err.txt)"
    else
      ok "$what: $(cat err.txt)"
    fi
  }
  refused "a bucket no n reaches" "$BIN" run --config pos.ini grid.position=whole,9 --output bad.h5
  refused "a position typo" "$BIN" run --config base.ini mc.position=lats --output bad.h5
  refused "all inside a list" "$BIN" run --config base.ini grid.position=all,3 --output bad.h5
  refused "a repeated position" "$BIN" run --config base.ini grid.position=1,1 --output bad.h5
  refused "a negative bucket" "$BIN" run --config base.ini mc.position=-1 --output bad.h5
  refused "mc and grid position both" "$BIN" run --config pos.ini mc.position=last --output bad.h5
  refused "an ambiguous bare key" "$BIN" run --config base.ini position=3 --output bad.h5
  refused "cell beyond its n" "$BIN" cell --rho 0.5 --gamma 1 --d 8 --n 16 --position 4
  printf '[grid]\nrho = 0.5\ngamma = 0.5, 4\nd = 8\nn = 64\n[mc]\nposition = last\n[output]\nfile = bad.h5\n' > crit.ini
  refused "a critical search given mc.position" "$BIN" critical --config crit.ini
  grep -q "critical.position" err.txt || fail "the critical search's refusal does not name critical.position"
  ;;
*)
  fail "unknown scenario $SCENARIO"
  ;;
esac
[ "$failures" -eq 0 ] || exit 1
