#!/usr/bin/env bash
# The output file read by other tools: xarray (h5netcdf engine) and the netCDF tools (ncdump)
# open it with labelled dimensions rho, gamma, d, n and the values `query` prints; h5py sees the
# dimension labels; a file of the old layout (schema 1) is still read by status, query, verify
# and merge, and a resume rewrites it in the new layout with the same numbers; an unknown schema
# is refused with one line and exit 2. The Python reader (python/attnsweep) opens schema 3 and 1
# alike, with status decoded, the settings as attributes and the derived coordinates.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
WORK=$(mktemp -d /tmp/attnsweep-outputs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
cat > o.ini <<'INI'
[grid]
rho   = 0.2, 0.5, 0.8
gamma = 0.5, 1, 2
d     = 3, 16
n     = 40
[mc]
trials = 3
seed   = 4
INI
mpiexec -n 2 "$BIN" run --config o.ini --output o.h5 > run.log 2>&1 || { echo "FAIL: sweep"; cat run.log; exit 1; }
"$BIN" query o.h5 --format csv > o.csv

# ncdump -h: the header of a netCDF-4 file, dimensions and variables.
if ncdump -h o.h5 > header.txt 2> ncdump.err; then
  ok "ncdump -h opens the file"
  for dim in "rho = 3" "gamma = 3" "d = 2" "n = 1"; do
    grep -q "$dim ;" header.txt && ok "ncdump: dimension $dim" || fail "ncdump: no dimension $dim"
  done
  grep -q "double lambda_mean(rho, gamma, d, n)" header.txt && ok "ncdump: lambda_mean(rho, gamma, d, n)" ||
    fail "ncdump: lambda_mean not labelled: $(grep lambda_mean header.txt)"
else
  fail "ncdump -h: $(head -2 ncdump.err)"
fi
# ncdump -v: the values themselves through the netCDF library.
ncdump -v status o.h5 > status.txt 2>&1 && grep -q "status =" status.txt && ok "ncdump -v status reads the data" ||
  fail "ncdump -v status: $(tail -2 status.txt)"

/usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import csv, math, sys
import h5py, numpy as np, xarray as xr
bad = 0
def check(ok, what):
    global bad
    print(("ok: " if ok else "FAIL: ") + what)
    bad += not ok
ds = xr.open_dataset("o.h5", engine="h5netcdf")
check(ds["lambda_mean"].dims == ("rho", "gamma", "d", "n"), f"xarray: lambda_mean dims {ds['lambda_mean'].dims}")
check(list(ds["rho"].values) == [0.2, 0.5, 0.8] and list(ds["d"].values) == [3, 16], "xarray: coordinates are the axes")
rows = list(csv.DictReader(open("o.csv")))
check(len(rows) == 18, "query prints 18 cells")
for row in rows:
    cell = ds.sel(rho=float(row["rho"]), gamma=float(row["gamma"]), d=int(row["d"]), n=int(row["n"]))
    for var, col in (("lambda_mean", "lambda_mean"), ("eta_mean", "eta_mean"), ("eta_stderr", "eta_stderr")):
        if float(cell[var]) != float(row[col]):
            check(False, f"cell {row['cell']}: xarray {var} {float(cell[var])!r} != query {row[col]}")
check(bad == 0, "xarray values equal query's, cell by cell (selected by label)")
check(int((ds["status"] == 1).sum()) == 18, "xarray: 18 cells done")
check("long_name" in ds["eta_mean"].attrs, "variables carry a long_name")
# CF metadata: conventions and provenance, units, flags, fill values, the settings, and the
# derived coordinates (their values from their definitions).
with h5py.File("o.h5", "r") as f:
    root = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    check(root.get("Conventions") == "CF-1.10" and "Chen" in str(root.get("references")) and "history" in root
          and "source" in root, "root: Conventions, references, history, source")
    check(root.get("mc.trials") == "3" and root.get("mc.seed") == "4" and root.get("grid.d") == "3, 16",
          "root: the run settings, one attribute per config key")
    check(list(f["status"].attrs["flag_values"]) == [0, 1, 2, 3]
          and str(f["status"].attrs["flag_meanings"]) == "missing done failed undefined", "status: CF flags")
    check(np.isnan(f["lambda_mean"].attrs["_FillValue"]) and "_FillValue" not in f["trials"].attrs,
          "_FillValue NaN on float summaries only (0 is a count, not missing)")
    check(f["lambda_mean"].attrs["units"] == "1" and f["seconds"].attrs["units"] == "s", "units")
check(set(ds["lambda_mean"].coords) >= {"kappa", "beta", "gamma_critical"}, "kappa, beta, gamma_critical are coordinates")
r, g = ds["rho"], ds["gamma"]
gap = lambda a, b: float(abs(a - b).max())  # xarray aligns the dimensions by name
check(gap(ds["kappa"], g * (1 - r)) < 1e-12 and gap(ds["beta"], g * np.log(ds["n"]) + 0 * r) < 1e-12
      and gap(ds["gamma_critical"], 1 / (1 - r)) < 1e-12, "derived coordinates equal their definitions")
# Per-trial values: dimension trial, and their mean and standard error are the summaries.
check(ds["lambda_trial"].dims == ("rho", "gamma", "d", "n", "trial") and ds.sizes["trial"] == 3,
      f"xarray: lambda_trial dims {ds['lambda_trial'].dims}")
for var in ("lambda", "eta"):
    trials = ds[f"{var}_trial"]
    mean_gap = float(abs(trials.mean("trial") - ds[f"{var}_mean"]).max() / abs(ds[f"{var}_mean"]).max())
    se = trials.std("trial", ddof=1) / np.sqrt(3)
    se_gap = float(abs(se - ds[f"{var}_stderr"]).max() / abs(ds[f"{var}_stderr"]).max())
    check(mean_gap < 1e-13 and se_gap < 1e-12, f"{var}: per-trial mean and stderr match the summaries ({mean_gap:.1e}, {se_gap:.1e})")
# Quantiles over the trials: a `quantile` dimension; numpy's default (linear) quantiles of the
# per-trial values, an independent computation, to rounding.
levels = [0.05, 0.25, 0.5, 0.75, 0.95]
for var in ("lambda", "eta"):
    q = ds[f"{var}_quantile"]
    check(q.dims == ("rho", "gamma", "d", "n", "quantile") and list(ds["quantile"].values) == levels,
          f"xarray: {var}_quantile dims {q.dims}, levels {list(ds['quantile'].values)}")
    want = np.moveaxis(np.quantile(ds[f"{var}_trial"].values, levels, axis=-1), 0, -1)
    gap = float(np.max(np.abs(q.values - want) / np.maximum(np.abs(want), 1e-300)))
    check(gap < 1e-14, f"{var}_quantile equals numpy.quantile of the trials ({gap:.1e})")
    median = [float(r[f"{var}_median"]) for r in rows]
    check(median == [float(ds[f"{var}_quantile"].sel(rho=float(r["rho"]), gamma=float(r["gamma"]), d=int(r["d"]),
                                                    n=int(r["n"]), quantile=0.5)) for r in rows],
          f"query's {var}_median column is the file's")
with h5py.File("o.h5", "r") as f:
    check([d.label for d in f["lambda_mean"].dims] == ["rho", "gamma", "d", "n"], "h5py: dimension labels")
    check(int(f.attrs["schema_version"]) == 4, "schema_version 4")
sys.exit(1 if bad else 0)
PY

# query --trials: one row per trial, equal to the file's per-trial values.
"$BIN" query o.h5 --trials --rho 0.5 --d 16 --format csv > trials.csv || fail "query --trials exited $?"
[ "$(tail -n +2 trials.csv | wc -l)" = 9 ] && ok "query --trials: 3 cells x 3 trials" || fail "query --trials rows: $(wc -l < trials.csv)"
/usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import csv, sys
import h5py
rows = list(csv.DictReader(open("trials.csv")))
with h5py.File("o.h5", "r") as f:
    rho, gamma, d = list(f["rho"][()]), list(f["gamma"][()]), list(f["d"][()])
    lam, eta = f["lambda_trial"][()], f["eta_trial"][()]
bad = [r for r in rows if float(r["lambda"]) != lam[rho.index(float(r["rho"])), gamma.index(float(r["gamma"])),
                                                      d.index(int(r["d"])), 0, int(r["trial"])]
       or float(r["eta"]) != eta[rho.index(float(r["rho"])), gamma.index(float(r["gamma"])), d.index(int(r["d"])), 0,
                                 int(r["trial"])]]
print(("ok: " if not bad else "FAIL: ") + f"query --trials equals the file's per-trial values ({len(rows)} rows)")
sys.exit(1 if bad else 0)
PY

# Schema 1 (0.1's layout: /grid, /results, /cells), made from the new file by moving links, so
# the data are the same objects.
/usr/bin/python3 - <<'PY'
import shutil
import h5py, numpy as np
shutil.copy("o.h5", "old.h5")
with h5py.File("old.h5", "r+") as f:
    moves = {"rho": "grid/rho", "gamma": "grid/gamma", "d": "grid/d", "n": "grid/n",
             "lambda_mean": "results/lambda/mean", "lambda_stderr": "results/lambda/stderr",
             "eta_mean": "results/eta/mean", "eta_stderr": "results/eta/stderr", "trials": "results/trials",
             "status": "cells/status", "seconds": "cells/seconds", "attempts": "cells/attempts", "error": "cells/error"}
    for group in ("grid", "results", "results/lambda", "results/eta", "cells"):
        f.create_group(group)
    for old, new in moves.items():
        f.move(old, new)
    for name in ("lambda_trial", "eta_trial", "trial"):  # 0.1 had no per-trial values
        del f[name]
    for name in [name for name in f if name.startswith("eta_probe_stderr")]:  # nor the probes' error (schema 4)
        del f[name]
    f.attrs["schema_version"] = np.int64(1)
PY
"$BIN" status old.h5 > status_old.txt 2>&1 && ok "status reads a schema-1 file" || fail "status of schema 1: $(cat status_old.txt)"
# 0.1 kept no per-trial values, so its cells have no quantiles: the 14 columns of 0.2 are compared.
first14() { cut -d, -f1-14 "$@"; }
"$BIN" query old.h5 --format csv > old.csv 2> err.txt && cmp -s <(first14 o.csv) <(first14 old.csv) &&
  ok "query of schema 1 equals schema 3 (the columns 0.1 has)" ||
  fail "query of schema 1: $(cat err.txt)"
"$BIN" query old.h5 --trials > /dev/null 2> err.txt
[ $? = 2 ] && grep -q "no per-trial values" err.txt && ok "query --trials of schema 1: $(cat err.txt)" || fail "query --trials schema 1: $(cat err.txt)"
"$BIN" verify old.h5 > verify_old.txt 2>&1 && ok "verify passes a sound schema-1 file" || fail "verify schema 1: $(cat verify_old.txt)"
"$BIN" merge merged.h5 old.h5 > merge.txt 2>&1 && "$BIN" query merged.h5 --format csv | first14 | cmp -s - <(first14 o.csv) &&
  ok "merge reads schema 1 and writes schema 3 with the same cells" || fail "merge of schema 1: $(cat merge.txt)"

# The Python reader: both schemas, the values `query` prints, status decoded, the settings as
# attributes, the derived coordinates computed here from their definitions.
PYTHONPATH="$HERE/../python" /usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import csv, math
import numpy as np
import attnsweep
bad = 0
def check(ok, what):
    global bad
    print(("ok: " if ok else "FAIL: ") + what)
    bad += not ok
new, old = attnsweep.open_dataset("o.h5"), attnsweep.open_dataset("old.h5")
check(new.lambda_mean.dims == ("rho", "gamma", "d", "n") and old.lambda_mean.dims == new.lambda_mean.dims,
      "reader: schema 3 and schema 1 with the same dimensions")
mismatched = 0
for row in csv.DictReader(open("o.csv")):
    at = dict(rho=float(row["rho"]), gamma=float(row["gamma"]), d=int(row["d"]), n=int(row["n"]))
    for ds in (new, old):
        cell = ds.sel(at)
        mismatched += str(cell.status.values) != row["status"] or float(cell.lambda_mean) != float(row["lambda_mean"])
        mismatched += float(cell.eta_mean) != float(row["eta_mean"]) or int(cell.trials) != int(row["trials"])
check(mismatched == 0, "reader: status names and values equal query's in both schemas")
check(new.attrs["mc.trials"] == "3" and new.attrs["mc.seed"] == "4" and new.attrs["kind"] == "sweep"
      and new.attrs["Conventions"] == "CF-1.10", "reader: settings and the file's attributes")
check(int(new.status_code.max()) == 1 and set(np.unique(new.status.values)) == {"done"}, "reader: status_code kept")
rho, gamma, n = new.rho.values[:, None, None], new.gamma.values[None, :, None], new.n.values[None, None, :]
check(np.allclose(new.beta.transpose("rho", "gamma", "n").values, gamma * np.log(n) + 0 * rho), "reader: beta = gamma ln n")
check(np.allclose(new.kappa.values, (gamma * (1 - rho))[:, :, 0]), "reader: kappa = gamma (1 - rho)")
check(np.allclose(new.gamma_critical.values, 1 / (1 - new.rho.values)), "reader: gamma_critical = 1 / (1 - rho)")
open("junk.h5", "w").write("not hdf5")
try:
    attnsweep.open_dataset("junk.h5")
    check(False, "reader: a file that is not HDF5 refused")
except attnsweep.AttnsweepFileError as e:
    check("not an HDF5 file" in str(e), f"reader refuses junk: {str(e)[:60]}")
import sys
sys.exit(1 if bad else 0)
PY
# The heavy-tail flag in query's CSV equals the rule (mc::heavy_tailed) applied here to the
# file's per-trial values: eta at d = 2 has an infinite mean, d = 32 is light.
cat > tails.ini <<'INI'
[grid]
rho   = 0.3, 0.5, 0.7
gamma = 1, 3
d     = 2, 32
n     = 64
[mc]
trials = 32
seed   = 2025
INI
mpiexec -n 2 "$BIN" run --config tails.ini --output tails.h5 > /dev/null 2>&1 || fail "tails sweep"
"$BIN" query tails.h5 --format csv > tails.csv && "$BIN" query tails.h5 --trials --format csv > tails_trials.csv
/usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import csv, sys
import numpy as np
cells = list(csv.DictReader(open("tails.csv")))
trials = {}
for row in csv.DictReader(open("tails_trials.csv")):
    trials.setdefault((row["rho"], row["gamma"], row["d"], row["n"]), []).append(row)
bad, flagged = 0, {}
for cell in cells:
    rows = trials[(cell["rho"], cell["gamma"], cell["d"], cell["n"])]
    for name in ("lambda", "eta"):
        x = np.array([float(r[name]) for r in rows])
        x = x[~np.isnan(x)]
        q25, median, q75 = np.quantile(x, [0.25, 0.5, 0.75])
        iqr = q75 - q25
        want = len(x) >= 8 and x.std(ddof=1) > 2.5 * iqr / 1.349 and abs(x.mean() - median) > 0.05 * max(abs(median), iqr)
        bad += int(cell[f"{name}_heavy_tail"]) != int(want)
        flagged[(name, cell["d"])] = flagged.get((name, cell["d"]), 0) + int(want)
print(("ok: " if bad == 0 else "FAIL: ") + f"heavy-tail columns equal the rule on the per-trial values "
      f"(eta flagged in {flagged[('eta', '2')]} of 6 cells at d = 2, {flagged[('eta', '32')]} at d = 32)")
# The rule must fire where the tail is heavy (eta at d = 2: 5 of these 6 cells), not at d = 32.
ok = flagged[("eta", "2")] >= 3 and flagged[("eta", "32")] == 0
print(("ok: " if ok else "FAIL: ") + "flags eta at d = 2, not at d = 32")
sys.exit(1 if bad or not ok else 0)
PY
# A half-done schema-1 file (cells of rho 0.8 missing) resumed: rewritten as schema 3, and the
# result equals the uninterrupted run bitwise.
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
with h5py.File("old.h5", "r+") as f:
    for path in ("results/lambda/mean", "results/lambda/stderr", "results/eta/mean", "results/eta/stderr"):
        f[path][2] = np.nan
    f["results/trials"][2] = 0
    f["cells/attempts"][2] = 0
    f["cells/status"][2] = 0
PY
mpiexec -n 2 "$BIN" run --config o.ini --output old.h5 > resume.log 2>&1 || fail "resume of schema 1 exited $?"
grep -q "6 to run" resume.log && ok "resume of schema 1 runs the 6 missing cells" || fail "resume: $(grep -m1 'to run' resume.log)"
[ "$(/usr/bin/python3 -c "import h5py; print(int(h5py.File('old.h5', 'r').attrs['schema_version']))")" = 4 ] &&
  ok "the resumed file is schema 4" || fail "the resumed file kept schema 1"
cut -d, -f1-11,13-14 o.csv > want.csv
results old.h5 | cut -d, -f1-13 > got.csv
cmp -s want.csv got.csv && ok "resumed schema-1 file equals the uninterrupted run bitwise" || fail "resumed results differ"
# The resumed cells (rho 0.8) have their quantiles, the 0.1 cells none (no per-trial values).
"$BIN" query old.h5 --format csv --rho 0.8 | tail -n +2 | cut -d, -f17 | grep -qv nan &&
  [ "$("$BIN" query old.h5 --format csv --rho 0.2 | tail -n +2 | cut -d, -f17 | sort -u)" = nan ] &&
  ok "quantiles where the per-trial values are known, NaN where 0.1 kept none" || fail "quantiles of the resumed file"

# A schema from the future: refused, one line, exit 2.
cp o.h5 future.h5
/usr/bin/python3 -c "import h5py, numpy as np; f = h5py.File('future.h5', 'r+'); f.attrs['schema_version'] = np.int64(9)"
"$BIN" status future.h5 > /dev/null 2> err.txt
rc=$?
[ $rc = 2 ] && [ "$(wc -l < err.txt)" = 1 ] && grep -q "schema version 9 is not supported" err.txt &&
  ok "schema 9 refused: $(cat err.txt)" || fail "schema 9: exit $rc: $(cat err.txt)"
echo "outputs: $failures failures"
[ $failures = 0 ]
