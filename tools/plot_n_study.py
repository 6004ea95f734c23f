#!/usr/bin/env python3
"""Plots and tables of the questions the paper leaves open (jobs/configs/n-study*.ini, depth.ini).

    plot_n_study.py [--sweeps S.h5 ...] [--critical C.h5 ...] [--depth D.h5 ...] --out DIR

--sweeps    `attnsweep run` outputs of jobs/configs/n-study.ini, one per scaling law (mc.scaling):
            DIR/n_study.png (lambda and eta against n, log axis, a column per law, a line per gamma)
            and DIR/n_study.csv.
--critical  `attnsweep critical` outputs (beta = gamma ln n): DIR/gamma_c_n.png, gamma_c(n) with
            its bootstrap interval against 1/ln n for each d, the weighted least-squares line
            gamma_c = a + b / ln n extrapolated to n -> infinity (1/ln n -> 0) against the paper's
            1/(1 - rho), and DIR/gamma_c_n.csv (the points and, per d, the fit).
--depth     `attnsweep run` outputs of jobs/configs/depth.ini, one per depth (mc.layers), or one file
            sweeping grid.layers (jobs/configs/claims-depth.ini):
            DIR/depth.png (lambda and eta of the L-layer map against L: medians, interquartile bands,
            the rounding floor marked) and DIR/depth.csv.

Each table is also printed. Exit 2 with one line for a file that is not what its option takes.
"""
import argparse
import csv
import math
import os
import sys

try:
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"plot_n_study.py: {e} (install python3-h5py, python3-matplotlib)", file=sys.stderr)
    sys.exit(2)

import study_select  # noqa: E402 (beside this script)

LAWS = ["log", "log-squared", "sqrt-log", "constant"]
LAW_LABEL = {"log": "gamma ln n", "log-squared": "gamma (ln n)^2", "sqrt-log": "gamma sqrt(ln n)", "constant": "gamma"}


def fail(message):
    print(f"plot_n_study.py: {message}", file=sys.stderr)
    sys.exit(2)


def config_value(text, key, default):
    """A key's value outside [grid] (where a swept parameter's line lists its axis)."""
    section = ""
    for line in text.splitlines():
        if line.strip().startswith("["):
            section = line.strip()
            continue
        name, _, value = line.partition("=")
        if name.strip() == key and (section != "[grid]" or key == "gamma-scale"):
            return value.strip()
    return default


SELECTIONS = {}  # --select NAME=VALUE: one value of each swept parameter


def open_h5(path):
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        fail(f"{path}: not a readable HDF5 file ({e})")


def read_sweep(path, selections=None):
    f = open_h5(path)
    if f.attrs.get("kind", b"") in ("critical", b"critical"):
        fail(f"{path}: a critical-search file, not a sweep (give it to --critical)")
    if "lambda_mean" not in f or "meta" not in f:
        fail(f"{path}: not an attnsweep sweep file (schema 2 to 4)")
    text = f["meta/config"][()]
    text = text.decode() if isinstance(text, bytes) else text
    index, chosen = study_select.swept_index(f, path, SELECTIONS if selections is None else selections, fail)
    data = {name: np.asarray(f[name]) for name in ["rho", "gamma", "d", "n"]}
    for name in ["lambda_mean", "lambda_stderr", "eta_mean", "eta_stderr", "status"]:
        data[name] = study_select.take(np.asarray(f[name]), index)
    for q in ("lambda", "eta"):  # quantiles over trials (schema 3 on); the median is level 2
        data[q + "_q"] = study_select.take(np.asarray(f[f"{q}_quantile"]), index) if f"{q}_quantile" in f else None
    # A swept parameter's chosen value, else the [mc] scalar (the [grid] line lists an axis).
    data["scaling"] = str(chosen.get("scaling", config_value(text, "scaling", "log")))
    data["layers"] = int(chosen.get("layers", config_value(text, "layers", "1")))
    data["gamma_scale"] = config_value(text, "gamma-scale", "absolute")
    data["path"] = path
    return data


def read_critical(path):
    f = open_h5(path)
    kind = f.attrs.get("kind", b"")
    if kind not in ("critical", b"critical"):
        fail(f"{path}: not an attnsweep critical-search file")
    text = f["meta/config"][()]
    text = text.decode() if isinstance(text, bytes) else text
    if config_value(text, "scaling", "log") != "log" or config_value(text, "layers", "1") != "1":
        fail(f"{path}: the n -> infinity comparison is for one layer with beta = gamma ln n")
    return {name: np.asarray(f[name]) for name in ["rho", "d", "n", "gamma_c", "gamma_c_low", "gamma_c_high",
                                                    "status", "evaluations", "gamma_theory"]}


def write_csv(path, rows):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in row.items()})


def print_rows(title, rows):
    print(title)
    keys = list(rows[0].keys())
    print("  " + " ".join(f"{k:>14}" for k in keys))
    for row in rows:
        print("  " + " ".join(f"{(f'{v:.6g}' if isinstance(v, float) else str(v)):>14}" for v in row.values()))


def n_study(paths, out):
    sweeps = {}
    for path in paths:
        data = read_sweep(path)
        if data["layers"] != 1:
            fail(f"{path}: the n-study is for one layer (mc.layers = {data['layers']})")
        if data["scaling"] in sweeps:
            fail(f"{path}: a second sweep with scaling {data['scaling']}")
        sweeps[data["scaling"]] = data
    laws = [law for law in LAWS if law in sweeps]
    rows = []
    fig, axes = plt.subplots(2, len(laws), figsize=(4.2 * len(laws), 7), squeeze=False, sharex=True)
    for column, law in enumerate(laws):
        data = sweeps[law]
        n = data["n"].astype(float)
        for i, rho in enumerate(data["rho"]):
            for j, gamma in enumerate(data["gamma"]):
                g = gamma / (1 - rho) if data["gamma_scale"] == "critical" else gamma
                for k, d in enumerate(data["d"]):
                    done = data["status"][i, j, k, :] == 1
                    for row_index, (mean, err, name) in enumerate(
                            [("lambda_mean", "lambda_stderr", "lambda"), ("eta_mean", "eta_stderr", "eta")]):
                        y, e = data[mean][i, j, k, :], data[err][i, j, k, :]
                        axes[row_index, column].errorbar(n[done], y[done], yerr=np.nan_to_num(e[done]), marker="o",
                                                         ms=3, capsize=2, label=f"gamma = {g:g}, rho = {rho:g}, d = {d}")
                    for m in np.flatnonzero(done):
                        rows.append({"scaling": law, "rho": float(rho), "gamma": float(g), "d": int(d),
                                     "n": int(data["n"][m]), "lambda": float(data["lambda_mean"][i, j, k, m]),
                                     "lambda_stderr": float(data["lambda_stderr"][i, j, k, m]),
                                     "eta": float(data["eta_mean"][i, j, k, m]),
                                     "eta_stderr": float(data["eta_stderr"][i, j, k, m])})
        axes[0, column].set_title(f"beta = {LAW_LABEL[law]}")
        for r, name in enumerate(["lambda (angle ratio)", "eta = ||J||_F^2 / (n d)"]):
            axes[r, column].set_xscale("log", base=2)
            axes[r, column].set_ylabel(name)
            axes[r, column].grid(alpha=0.3)
        axes[1, column].set_yscale("log")
        axes[1, column].set_xlabel("n (tokens)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Which scaling keeps lambda inside (0, 1) as n grows (error bars: one standard error)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "n_study.png"), dpi=110)
    plt.close(fig)
    write_csv(os.path.join(out, "n_study.csv"), rows)
    print_rows("n-study: lambda and eta against n", rows)


def gamma_c_n(paths, out):
    points, fits = [], []
    fig, ax = plt.subplots(figsize=(7, 5))
    groups = {}
    for path in paths:
        c = read_critical(path)
        for i, rho in enumerate(c["rho"]):
            for k, d in enumerate(c["d"]):
                for m, n in enumerate(c["n"]):
                    if c["status"][i, k, m] != 1:
                        continue
                    row = {"rho": float(rho), "d": int(d), "n": int(n), "inverse_log_n": 1 / math.log(n),
                           "gamma_c": float(c["gamma_c"][i, k, m]), "gamma_c_low": float(c["gamma_c_low"][i, k, m]),
                           "gamma_c_high": float(c["gamma_c_high"][i, k, m]),
                           "gamma_theory": float(c["gamma_theory"][i, k, m])}
                    points.append(row)
                    groups.setdefault((float(rho), int(d)), []).append(row)
    if not points:
        fail("no finished critical search in the files given")
    for (rho, d), rows in sorted(groups.items()):
        rows.sort(key=lambda r: r["n"])
        x = np.array([r["inverse_log_n"] for r in rows])
        y = np.array([r["gamma_c"] for r in rows])
        # The 95% interval's half-width as 1.96 standard errors.
        s = np.array([max((r["gamma_c_high"] - r["gamma_c_low"]) / (2 * 1.96), 1e-12) for r in rows])
        line = ax.errorbar(x, y, yerr=[y - [r["gamma_c_low"] for r in rows], [r["gamma_c_high"] for r in rows] - y],
                           marker="o", ms=4, capsize=3, ls="none", label=f"d = {d}, rho = {rho:g}")
        if len(rows) >= 3:
            w = 1 / s**2
            A = np.vstack([np.ones_like(x), x]).T
            cov = np.linalg.inv(A.T @ (A * w[:, None]))
            a, b = cov @ (A.T @ (w * y))
            chi2 = float(np.sum(w * (y - a - b * x) ** 2))
            dof = len(rows) - 2
            # The standard error of a, scaled by the fit's reduced chi^2 when it exceeds 1.
            se_a = math.sqrt(cov[0, 0] * max(1.0, chi2 / dof)) if dof > 0 else float("nan")
            xs = np.linspace(0, x.max() * 1.05, 50)
            ax.plot(xs, a + b * xs, color=line[0].get_color(), lw=1)
            fits.append({"rho": rho, "d": d, "n_min": rows[0]["n"], "n_max": rows[-1]["n"], "points": len(rows),
                         "gamma_c_infinity": float(a), "stderr": se_a, "slope": float(b),
                         "chi2_per_dof": chi2 / dof if dof > 0 else float("nan"),
                         "gamma_theory": rows[0]["gamma_theory"]})
    for rho in sorted({r["rho"] for r in points}):
        ax.axhline(1 / (1 - rho), color="k", ls="--", lw=1, label=f"1/(1 - rho) = {1 / (1 - rho):g}")
    ax.set_xlim(left=0)
    ax.set_xlabel("1 / ln n  (n -> infinity at 0)")
    ax.set_ylabel("gamma_c: lambda crosses 1/(1 + 3 rho)")
    ax.set_title("Critical gamma against context length (95% bootstrap intervals; lines: weighted fit a + b / ln n)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "gamma_c_n.png"), dpi=110)
    plt.close(fig)
    write_csv(os.path.join(out, "gamma_c_n.csv"), points)
    print_rows("gamma_c(n)", points)
    if fits:
        write_csv(os.path.join(out, "gamma_c_fit.csv"), fits)
        print_rows("extrapolation to n -> infinity (gamma_c = a + b / ln n)", fits)


def rounding_floor(d, rho):
    """Where lambda is rounding (mc::lambda_rounding_floor): d eps^2 / (1 - rho), eps = 2^-53."""
    return d * 2.0 ** -106 / (1 - rho)


def centre_and_band(run, quantity, at):
    """The median and interquartile range over trials where the file has quantiles, else the
    mean +- 1 SE; and what it is, for the title."""
    q = run[quantity + "_q"]
    if q is not None and np.isfinite(q[at + (2,)]):
        return q[at + (2,)], q[at + (1,)], q[at + (3,)], "median and interquartile range over trials"
    m, se = run[quantity + "_mean"][at], np.nan_to_num(run[quantity + "_stderr"][at])
    return m, m - se, m + se, "mean +- 1 SE (no quantiles in the file)"


def depth_runs(paths):
    """One run per depth: a file per mc.layers, or a file that sweeps layers (one run per value)."""
    runs = []
    for path in paths:
        with h5py.File(path, "r") as f:
            layers = [int(v) for v in f["layers"][()]] if "layers" in f else []
        if len(layers) > 1 and "layers" not in SELECTIONS:
            runs += [read_sweep(path, {**SELECTIONS, "layers": str(L)}) for L in layers]
        else:
            runs.append(read_sweep(path))
    return sorted(runs, key=lambda r: r["layers"])


def depth(paths, out):
    runs = depth_runs(paths)
    if len({r["layers"] for r in runs}) != len(runs):
        fail("two depth sweeps with the same mc.layers")
    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    base = runs[0]
    what = ""
    for i, rho in enumerate(base["rho"]):
        for j, gamma in enumerate(base["gamma"]):
            for k, d in enumerate(base["d"]):
                for m, n in enumerate(base["n"]):
                    floor = rounding_floor(int(d), float(rho))
                    series = {"lambda": ([], [], [], []), "eta": ([], [], [], [])}
                    for r in runs:
                        at = (i, j, k, m)
                        if r["status"][at] != 1:
                            continue
                        row = {"rho": float(rho), "gamma": float(gamma), "d": int(d), "n": int(n), "layers": r["layers"]}
                        for quantity, (L, centre, low, high) in series.items():
                            c, lo, hi, what = centre_and_band(r, quantity, at)
                            L.append(r["layers"]), centre.append(c), low.append(lo), high.append(hi)
                            row.update({quantity: float(c), quantity + "_q25": float(lo), quantity + "_q75": float(hi),
                                        quantity + "_mean": float(r[quantity + "_mean"][at])})
                        row["lambda_at_floor"] = int(row["lambda"] <= floor)
                        rows.append(row)
                    label = f"gamma = {gamma:g} (kappa = {gamma * (1 - rho):g})"
                    for ax, (L, centre, low, high) in zip(axes, series.values()):
                        line, = ax.plot(L, centre, "o-", ms=3, label=label)
                        ax.fill_between(L, low, high, color=line.get_color(), alpha=0.15)
                        # Medians at the rounding floor: open markers (rounding, not a measurement).
                        if ax is axes[0]:
                            at_floor = [x <= floor for x in centre]
                            ax.plot([l for l, f in zip(L, at_floor) if f], [c for c, f in zip(centre, at_floor) if f],
                                    "o", ms=7, mfc="none", color=line.get_color())
    floor = rounding_floor(int(base["d"][0]), float(base["rho"][0]))
    axes[0].axhline(floor, color="grey", lw=0.8, ls="--", label=f"rounding floor d eps^2/(1 - rho) = {floor:.1g}")
    for ax, name in zip(axes, ["lambda of the L-layer map", "eta of the L-layer map"]):
        ax.set_yscale("log")
        ax.set_xlabel("layers L (same beta = gamma ln n in each)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    low_data = min((r["lambda_q25"] for r in rows if r["lambda_q25"] > 0), default=floor)
    bottom = min(low_data, floor) / 10
    axes[0].set_ylim(bottom, 3)
    axes[0].axhspan(bottom, floor, color="grey", alpha=0.15, lw=0)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Depth at rho = {base['rho'][0]:g}, d = {base['d'][0]}, n = {base['n'][0]} ({what}; "
                 "open circles: lambda at the rounding floor)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "depth.png"), dpi=110)
    plt.close(fig)
    write_csv(os.path.join(out, "depth.csv"), rows)
    print_rows("depth: lambda and eta of L layers (medians)", rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweeps", nargs="*", default=[])
    parser.add_argument("--critical", nargs="*", default=[])
    parser.add_argument("--depth", nargs="*", default=[])
    parser.add_argument("--out", required=True)
    parser.add_argument("--select", action="append", metavar="NAME=VALUE",
                        help="one value of a swept parameter (alpha, layers, scaling); repeat for each")
    args = parser.parse_args()
    SELECTIONS.update(study_select.parse_selections(args.select, fail))
    if not (args.sweeps or args.critical or args.depth):
        fail("nothing to plot: give --sweeps, --critical or --depth")
    if not os.path.isdir(args.out):
        fail(f"output folder '{args.out}' does not exist")
    for path in args.sweeps + args.critical + args.depth:
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
    if args.sweeps:
        n_study(args.sweeps, args.out)
    if args.critical:
        gamma_c_n(args.critical, args.out)
    if args.depth:
        depth(args.depth, args.out)


if __name__ == "__main__":
    main()
