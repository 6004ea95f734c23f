#!/usr/bin/env bash
# The plotting tool on a real small sweep: files exist, PNGs and CSV are valid, and the
# transition table equals an independent computation from the HDF5 file.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
TOOLS=$2
WORK=$(mktemp -d /tmp/attnsweep-plot.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
cat > p.ini <<'INI'
[grid]
rho   = 0.2, 0.5
gamma = 0.25:5:0.25
d     = 4, 40
n     = 96
[mc]
trials = 3
INI
mpiexec -n 2 "$BIN" run --config p.ini --output p.h5 > run.log 2>&1 || { echo "FAIL: sweep"; cat run.log; exit 1; }
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" p.h5 --out plots > plot.log 2>&1 || { echo "FAIL: plot"; cat plot.log; exit 1; }
/usr/bin/python3 - <<'PY'
import csv, sys
import h5py, numpy as np
failures = 0
def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    failures += not ok
expected = ["figure1_n96.png", "figure2_n96.png", "collapse_d4_n96.png", "collapse_d40_n96.png", "transition.csv"]
import os
for name in expected:
    path = os.path.join("plots", name)
    # Pictures are over 1 kB; the transition table has a header and one row per (d, n, rho) at least.
    minimum = 1000 if name.endswith(".png") else 100
    check(os.path.isfile(path) and os.path.getsize(path) > minimum, f"{name} exists ({os.path.getsize(path) if os.path.isfile(path) else 0} bytes)")
    if name.endswith(".png"):
        with open(path, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is a PNG")
# Independent crossing: scan gamma upward for the first sign change of lambda - 1/(1 + 3 rho).
with h5py.File("p.h5", "r") as f:
    rho, gamma, ds = f["rho"][()], f["gamma"][()], f["d"][()]
    lam = f["lambda_mean"][()]
rows = list(csv.DictReader(open("plots/transition.csv")))
check(len(rows) == len(rho) * len(ds), "one table row per (d, n, rho)")
for row in rows:
    i = int(np.argmin(abs(rho - float(row["rho"])))); j = list(ds).index(int(row["d"]))
    target = 1 / (1 + 3 * rho[i]); curve = lam[i, :, j, 0] - target
    k = next((k for k in range(1, len(gamma)) if curve[k - 1] < 0 <= curve[k]), None)
    want = float("nan") if k is None else gamma[k - 1] - curve[k - 1] * (gamma[k] - gamma[k - 1]) / (curve[k] - curve[k - 1])
    got = float(row["gamma_crossing"])
    same = (np.isnan(want) and np.isnan(got)) or abs(want - got) <= 1e-5 * max(1, abs(want))
    check(same, f"d={row['d']} rho={row['rho']}: crossing {got} vs direct {want}")
    check(abs(float(row["gamma_theory"]) - 1 / (1 - rho[i])) < 1e-5, "theory column is 1/(1 - rho)")
# Bootstrap intervals (the file has per-trial values): ordered, and around the estimate.
finite = [r for r in rows if r["gamma_crossing_low"] != "nan" and r["gamma_crossing_high"] != "nan"]
check(len(finite) >= len(rows) // 2, f"{len(finite)} of {len(rows)} rows have a bootstrap interval")
check(all(float(r["gamma_crossing_low"]) <= float(r["gamma_crossing_high"]) for r in finite), "low <= high")
inside = sum(float(r["gamma_crossing_low"]) <= float(r["gamma_crossing"]) <= float(r["gamma_crossing_high"])
             for r in finite)
check(inside >= 0.8 * len(finite), f"the estimate lies in its interval in {inside} of {len(finite)} rows")
sys.exit(1 if failures else 0)
PY
rc=$?
# Not an attnsweep file: one line, exit 2.
printf 'junk' > junk.h5
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" junk.h5 --out x > out.txt 2> err.txt
code=$?
if [ $code = 2 ] && [ "$(wc -l < err.txt)" = 1 ]; then echo "ok: junk file -> 2: $(cat err.txt)"; else echo "FAIL: junk file -> $code"; rc=1; fi
/usr/bin/python3 -c "import h5py; f = h5py.File('other.h5', 'w'); f['x'] = 1"
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" other.h5 --out x > out.txt 2> err.txt
code=$?
if [ $code = 2 ] && grep -q 'not an attnsweep output' err.txt; then echo "ok: foreign HDF5 -> 2"; else echo "FAIL: foreign HDF5 -> $code"; rc=1; fi
# Cells that are not done are marked, not blank; formats and resolution; nothing done is an error.
cat > f.ini <<'INI'
[grid]
rho   = 0.2, 0.5
gamma = 0.5, 1, 2
d     = 1, 8
n     = 2, 16
[mc]
trials = 3
seed   = 1
INI
ATTNSWEEP_INJECT_FAILURE=23 mpiexec -n 2 "$BIN" run --config f.ini --output f.h5 > /dev/null 2>&1
undefined=$("$BIN" query f.h5 --status undefined --format csv | tail -n +2 | wc -l)
if /usr/bin/python3 "$TOOLS/plot_phase_diagram.py" f.h5 --out fs --format svg > fs.log 2>&1; then
  grep -q 'failed' fs/figure1_n16.svg &&
    echo "ok: the failed cell is in figure 1's legend (svg)" || { echo "FAIL: no failed entry in the legend"; rc=1; }
  if [ "$undefined" -gt 0 ]; then
    grep -q 'undefined' fs/figure1_n2.svg && echo "ok: $undefined undefined cells in the legend of n = 2" ||
      { echo "FAIL: undefined cells not in the legend"; rc=1; }
  fi
  [ -s fs/against_n_d8.svg ] && [ -s fs/against_n_d1.svg ] && echo "ok: lambda and eta against n, one figure per d" ||
    { echo "FAIL: no against-n figure: $(ls fs)"; rc=1; }
  ls fs/*.png > /dev/null 2>&1 && { echo "FAIL: --format svg wrote PNGs"; rc=1; } || echo "ok: --format svg writes SVG only"
else
  echo "FAIL: plot of a file with failed cells: $(tail -2 fs.log)"; rc=1
fi
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" f.h5 --out fp --format pdf --dpi 72 > /dev/null 2>&1 &&
  head -c 5 fp/figure2_n2.pdf | grep -q '%PDF-' && echo "ok: --format pdf" || { echo "FAIL: pdf"; rc=1; }
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" p.h5 --out d1 --dpi 300 > /dev/null 2>&1 && /usr/bin/python3 "$TOOLS/plot_phase_diagram.py" p.h5 --out d2 --dpi 75 > /dev/null 2>&1 &&
  /usr/bin/python3 -c "
import struct, sys
size = lambda p: struct.unpack('>II', open(p, 'rb').read()[16:24])
(w1, h1), (w2, h2) = size('d1/figure1_n96.png'), size('d2/figure1_n96.png')
sys.exit(0 if abs(w1 / w2 - 4) < 0.05 and abs(h1 / h2 - 4) < 0.05 else 1)" && echo "ok: --dpi 300 is 4x the pixels of --dpi 75" || { echo "FAIL: --dpi"; rc=1; }
for bad in "--format gif" "--dpi 0" "--dpi many"; do
  /usr/bin/python3 "$TOOLS/plot_phase_diagram.py" f.h5 --out x $bad > /dev/null 2> err.txt
  code=$?
  [ $code = 2 ] && [ "$(wc -l < err.txt)" = 1 ] && echo "ok: $bad -> 2: $(cat err.txt)" || { echo "FAIL: $bad -> $code"; rc=1; }
done
/usr/bin/python3 - <<'PY'
import h5py
with h5py.File("f.h5", "r") as f, h5py.File("none.h5", "w") as g:
    for name, item in f.items():
        f.copy(item, g, name)
    for key, value in f.attrs.items():
        g.attrs[key] = value
    g["status"][...] = 0
PY
/usr/bin/python3 "$TOOLS/plot_phase_diagram.py" none.h5 --out x > /dev/null 2> err.txt
code=$?
[ $code = 1 ] && grep -q 'nothing to plot' err.txt && echo "ok: nothing done -> 1: $(cat err.txt)" || { echo "FAIL: nothing done -> $code: $(cat err.txt)"; rc=1; }
# The n-study tool (tools/plot_n_study.py) on small real runs: two scaling laws, a critical search
# over n, depths 1 and 2. Its tables must equal the files (lambda of the sweeps, gamma_c of the
# search) and its fit must reproduce the critical points it was given.
cat > ns.ini <<'INI'
[grid]
rho   = 0.5
gamma = 1, 2, 4
d     = 16
n     = 32, 64, 128
[mc]
trials = 3
jacobian = hutchinson
probes = 1
INI
for law in log constant; do
  mpiexec -n 2 "$BIN" run --config ns.ini --output ns-$law.h5 mc.scaling=$law > /dev/null 2>&1 || { echo "FAIL: n-study sweep $law"; rc=1; }
done
for L in 1 2; do
  mpiexec -n 2 "$BIN" run --config ns.ini --output depth-$L.h5 mc.layers=$L grid.n=64 > /dev/null 2>&1 || { echo "FAIL: depth sweep $L"; rc=1; }
done
mpiexec -n 2 "$BIN" critical --config ns.ini --output nc.h5 grid.gamma=1,6 mc.trials=12 > /dev/null 2>&1 || { echo "FAIL: critical"; rc=1; }
mkdir -p ns
if /usr/bin/python3 "$TOOLS/plot_n_study.py" --sweeps ns-log.h5 ns-constant.h5 --critical nc.h5 --depth depth-1.h5 depth-2.h5 --out ns > ns.log 2>&1; then
  /usr/bin/python3 - <<'PY' || rc=1
import csv, sys
import h5py, numpy as np
failures = 0
def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    failures += not ok
for name in ["n_study.png", "gamma_c_n.png", "depth.png"]:
    with open("ns/" + name, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"n-study {name} is a PNG")
rows = list(csv.DictReader(open("ns/n_study.csv")))
check(len(rows) == 2 * 3 * 3, f"n_study.csv: {len(rows)} rows (2 laws x 3 gammas x 3 n)")
for row in rows:
    with h5py.File(f"ns-{row['scaling']}.h5", "r") as f:
        j = list(f["gamma"][()]).index(float(row["gamma"])); m = list(f["n"][()]).index(int(row["n"]))
        want = f["lambda_mean"][0, j, 0, m]
    check(abs(float(row["lambda"]) - want) <= 1e-7 * abs(want), f"{row['scaling']} gamma {row['gamma']} n {row['n']}: lambda as in the file")
points = list(csv.DictReader(open("ns/gamma_c_n.csv")))
with h5py.File("nc.h5", "r") as f:
    gc = f["gamma_c"][0, 0, :]
check(len(points) == 3 and all(abs(float(p["gamma_c"]) - g) <= 1e-7 * g for p, g in zip(points, gc)), "gamma_c_n.csv holds the search's gamma_c")
fit = list(csv.DictReader(open("ns/gamma_c_fit.csv")))[0]
# An independent weighted fit a + b / ln n of the same points.
x = np.array([1 / np.log(int(p["n"])) for p in points]); y = np.array([float(p["gamma_c"]) for p in points])
s = np.array([(float(p["gamma_c_high"]) - float(p["gamma_c_low"])) / 3.92 for p in points])
b, a = np.polyfit(x, y, 1, w=1 / s)  # highest power first
check(abs(float(fit["gamma_c_infinity"]) - a) <= 1e-6 * abs(a), f"extrapolated gamma_c {fit['gamma_c_infinity']} = independent fit {a:.6g}")
depth = list(csv.DictReader(open("ns/depth.csv")))
check(sorted({int(r["layers"]) for r in depth}) == [1, 2], "depth.csv has L = 1 and 2")
# Its lambda is the median over trials (the file's quantile at 0.5), flagged at the rounding floor
# d eps^2 / (1 - rho) exactly when the median is at or below it.
bad = 0
for r in depth:
    with h5py.File(f"depth-{r['layers']}.h5", "r") as f:
        at = (list(f["rho"][()]).index(float(r["rho"])), list(f["gamma"][()]).index(float(r["gamma"])),
              list(f["d"][()]).index(int(r["d"])), list(f["n"][()]).index(int(r["n"])))
        median = f["lambda_quantile"][at + (2,)]
    floor = int(r["d"]) * 2.0 ** -106 / (1 - float(r["rho"]))
    bad += abs(float(r["lambda"]) - median) > 1e-7 * abs(median) or int(r["lambda_at_floor"]) != int(median <= floor)
check(bad == 0, f"depth.csv: lambda is the file's median, the floor flag its rule ({len(depth)} rows)")
sys.exit(1 if failures else 0)
PY
else
  echo "FAIL: plot_n_study.py: $(tail -3 ns.log)"; rc=1
fi
/usr/bin/python3 "$TOOLS/plot_n_study.py" --critical ns-log.h5 --out ns > out.txt 2> err.txt
code=$?
if [ $code = 2 ] && [ "$(wc -l < err.txt)" = 1 ]; then echo "ok: a sweep given as --critical -> 2: $(cat err.txt)"; else echo "FAIL: sweep as --critical -> $code"; rc=1; fi
# A study that sweeps model parameters: one value of each is chosen with --select (an axis of one
# value needs none); without it, or with a value off the axis, a one-line refusal (exit 2).
cat > swept.ini <<'INI'
[grid]
rho     = 0.2, 0.5
gamma   = 0.5:3:0.5
d       = 8
n       = 16
layers  = 1, 2
scaling = log
[mc]
jacobian = hutchinson
trials   = 2
INI
mpiexec -n 2 "$BIN" run --config swept.ini --output sw.h5 > /dev/null 2>&1 || { echo "FAIL: swept sweep"; rc=1; }
for case in "none:" "off:--select layers=3" "unknown:--select alpha=0"; do
  /usr/bin/python3 "$TOOLS/plot_phase_diagram.py" sw.h5 --out swp ${case#*:} > out.txt 2> err.txt
  code=$?
  if [ $code = 2 ] && [ "$(wc -l < err.txt)" = 1 ]; then echo "ok: ${case%%:*} selection -> 2: $(cat err.txt)"; else echo "FAIL: ${case%%:*} selection -> $code: $(tail -2 err.txt)"; rc=1; fi
done
if /usr/bin/python3 "$TOOLS/plot_phase_diagram.py" sw.h5 --out swp --select layers=2 > swp.log 2>&1 &&
  [ -s swp/figure1_n16.png ] && ! grep -q "1/(1" swp/transition.csv; then
  echo "ok: --select layers=2 draws the figures (no paper theory for 2 layers)"
else
  echo "FAIL: --select layers=2: $(tail -3 swp.log)"; rc=1
fi
exit $rc
