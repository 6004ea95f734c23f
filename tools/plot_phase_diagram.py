#!/usr/bin/python3
"""Phase diagrams of an attnsweep HDF5 output: the paper's Figures 1 and 2, collapse plots
against kappa = gamma (1 - rho) with the exact-simplex theory, and the measured transition.

usage: plot_phase_diagram.py FILE.h5 --out DIR [--format png|pdf|svg] [--dpi N] [--select NAME=VALUE]

For each n in the file (FORMAT: png unless --format says otherwise; --dpi 150):
  DIR/figure1_n{n}.FORMAT   lambda over (rho, gamma), one panel per d, red dashed gamma = 1/(1 - rho)
  DIR/figure2_n{n}.FORMAT   eta over (rho, gamma), same layout, one log colour scale for all panels
For each (d, n):
  DIR/collapse_d{d}_n{n}.FORMAT   lambda and eta against kappa, one line per rho: the median over
                                  trials with its interquartile band (mean +- 2 standard errors for
                                  a file without per-trial values), the exact-simplex theory at the
                                  same n and the paper's n -> infinity limits where they apply
For each d, when the file has several n:
  DIR/against_n_d{d}.FORMAT   lambda and eta against n, median and interquartile band
DIR/transition.csv (also printed): per (d, n, rho), the gamma where lambda first crosses the
critical value 1/(1 + 3 rho), against the theory 1/(1 - rho), with a 95% bootstrap interval
(2000 resamples of the trial indices, each trial's draws kept together across gamma: the cells
of one (d, n) share their draws) when the file has per-trial values (schema 2).
Cells that are not done are hatched, not blank (tools/plot_cells.py: missing, failed, undefined).
Exit code 2 with a one-line message for a file that is not an attnsweep output, 1 when no cell
of the file is done (nothing to draw).
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

import plot_cells
import study_select


def fail(message):
    print(f"plot_phase_diagram: {message}", file=sys.stderr)
    sys.exit(2)


# beta for each scaling law of the config (`mc.scaling`), and how the figures name it.
BETA = {"log": lambda g, n: g * math.log(n), "log-squared": lambda g, n: g * math.log(n) ** 2,
        "sqrt-log": lambda g, n: g * math.sqrt(math.log(n)), "constant": lambda g, n: g}
BETA_LABEL = {"log": "gamma ln n", "log-squared": "gamma (ln n)^2", "sqrt-log": "gamma sqrt(ln n)",
              "constant": "gamma"}


def simplex_theory(rho, gamma, n, d, law="log"):
    """Exact finite-n lambda and eta for the simplex geometry, alpha = 0, q = 1, any beta
    (include/attnsweep/model/MODEL.md s. 5)."""
    beta = BETA[law](gamma, n)
    e = math.exp(-beta * (1 - rho))
    denom = 1 + (n - 1) * e
    p, one_minus_p, r = 1 / denom, (n - 1) * e / denom, e / denom
    c = p - r
    D = r * (1 + (n - 1) * rho) * (2 * c + n * r)
    lam = c * c / (c * c + D)
    g_i = p + one_minus_p * rho
    g = p * rho + r * (1 + (n - 2) * rho)
    s = p * p + 2 * p * one_minus_p * rho + r * r * (n - 1) * (1 + (n - 2) * rho)
    t = 1 - g - rho * rho + rho * g_i
    off = r * r * (d - 1) + 2 * beta * r * r * (rho * g - g_i) + beta**2 * r * r * (1 - 2 * g + s) * (1 - rho**2)
    m2 = r * r * (n - 1) * ((1 - 2 * g + s) * (1 - rho**2) + (n - 2) * (rho - 2 * g + s) * (rho - rho**2))
    diag = p * p * (d - 1) + 2 * p * beta * (n - 1) * r * t + beta**2 * m2
    eta = (diag + (n - 1) * off) / d
    return lam, eta


def limit_lambda(rho, kappa):
    return np.where(kappa < 1, 0.0, 1.0)


def first_crossing(gammas, values, target):
    """gamma where values first rise through target (linear interpolation); NaN if never."""
    for k in range(1, len(gammas)):
        a, b = values[k - 1], values[k]
        if np.isnan(a) or np.isnan(b):
            continue
        if a < target <= b:
            return gammas[k - 1] + (target - a) * (gammas[k] - gammas[k - 1]) / (b - a)
    return float("nan")


def mc_value(config, key, default):
    """A key's value in the [mc] section of a canonical config text (default when absent)."""
    section = ""
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[mc]" and line.partition("=")[0].strip() == key:
            return line.partition("=")[2].strip()
    return default


def load(path, selections):
    try:
        import h5py
    except ImportError:
        fail("h5py is missing (apt-get install python3-h5py)")
    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: not a readable HDF5 file ({e})")
    with f:
        if "schema_version" not in f.attrs:
            fail(f"{path}: not an attnsweep output (no schema_version attribute)")
        schema = int(f.attrs["schema_version"])
        if schema not in LAYOUTS:
            fail(f"{path}: schema version {schema} is not supported (this tool reads 1 to 4)")
        where = LAYOUTS[schema]
        for name in where.values():
            if name not in f:
                fail(f"{path}: not an attnsweep output (no /{name})")
        index, chosen = study_select.swept_index(f, path, selections, fail)
        scale = f[where["gamma"]].attrs.get("scale", b"absolute")
        scale = scale.decode() if isinstance(scale, bytes) else str(scale)
        data = {key: f[name][()] for key, name in where.items() if key != "config"}
        for key in ("lambda", "lambda_se", "eta", "eta_se", "status"):
            data[key] = study_select.take(data[key], index)
        data["critical_scale"] = scale.startswith("critical")
        config = f[where["config"]][()]
        config = config.decode() if isinstance(config, bytes) else str(config)
        # The config's [mc] scalars, replaced by the chosen value of a swept parameter.
        data["scaling"] = str(chosen.get("scaling", mc_value(config, "scaling", "log")))
        if data["scaling"] not in BETA:
            fail(f"{path}: unknown scaling law '{data['scaling']}'")
        data["layers"] = int(chosen.get("layers", mc_value(config, "layers", "1")))
        data["alpha"] = float(chosen.get("alpha", mc_value(config, "alpha", "0")))
        data["selection"] = ", ".join(f"{k} = {v}" for k, v in chosen.items())
        # The paper's theory (critical curve, n -> infinity limits, 1/(1 - rho)) is for one layer
        # with beta = gamma ln n and no residual; the simplex closed form is for one layer, alpha 0.
        data["paper"] = data["scaling"] == "log" and data["layers"] == 1 and data["alpha"] == 0
        data["geometry"] = mc_value(config, "geometry", "gaussian")
        data["lambda_trial"] = (study_select.take(f["lambda_trial"][()], index)
                                if schema >= 2 and "lambda_trial" in f else None)
        # Quantiles over the trials (schema 3 stores them; schema 2's come from its per-trial values).
        for q in ("lambda", "eta"):
            if f"{q}_quantile" in f:
                data[q + "_q"] = study_select.take(f[f"{q}_quantile"][()], index)
            elif schema == 2 and f"{q}_trial" in f:
                values = study_select.take(f[f"{q}_trial"][()], index)
                with np.errstate(all="ignore"):
                    data[q + "_q"] = np.moveaxis(np.nanquantile(values, QUANTILE_LEVELS, axis=-1), 0, -1)
    if not (data["status"] == 1).any():
        print(f"plot_phase_diagram: nothing to plot: no cell of {path} is done (attnsweep status {path})",
              file=sys.stderr)
        sys.exit(1)
    return data


QUANTILE_LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]


# Where each array lives: schemas 4, 3 and 2 (axes and arrays at the root, netCDF-4 readable; 3 adds a
# dimension per swept model parameter after n, 4 adds eta_probe_stderr) and 1 (0.1's).
LAYOUTS = {
    4: {"rho": "rho", "gamma": "gamma", "d": "d", "n": "n", "lambda": "lambda_mean", "lambda_se": "lambda_stderr",
        "eta": "eta_mean", "eta_se": "eta_stderr", "status": "status", "config": "meta/config"},
    3: {"rho": "rho", "gamma": "gamma", "d": "d", "n": "n", "lambda": "lambda_mean", "lambda_se": "lambda_stderr",
        "eta": "eta_mean", "eta_se": "eta_stderr", "status": "status", "config": "meta/config"},
    2: {"rho": "rho", "gamma": "gamma", "d": "d", "n": "n", "lambda": "lambda_mean", "lambda_se": "lambda_stderr",
        "eta": "eta_mean", "eta_se": "eta_stderr", "status": "status", "config": "meta/config"},
    1: {"rho": "grid/rho", "gamma": "grid/gamma", "d": "grid/d", "n": "grid/n", "lambda": "results/lambda/mean",
        "lambda_se": "results/lambda/stderr", "eta": "results/eta/mean", "eta_se": "results/eta/stderr",
        "status": "cells/status", "config": "meta/config"},
}


def gamma_grid(data):
    """Actual gamma for every (rho, gamma-axis) pair."""
    rho, g = data["rho"], data["gamma"]
    if data["critical_scale"]:
        return g[None, :] / (1 - rho[:, None])
    return np.broadcast_to(g[None, :], (len(rho), len(g)))


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_crossings(gammas, trials, target, rng):
    """Crossing gamma of the mean curve over resampled trial sets: trials is (gamma, trial); the
    same resampled trial indices are used at every gamma (a trial's draws belong together)."""
    count = trials.shape[1]
    picks = rng.integers(0, count, size=(BOOTSTRAP_RESAMPLES, count))
    curves = trials[:, picks].mean(axis=2).T  # (resample, gamma)
    below, above = curves[:, :-1] < target, curves[:, 1:] >= target
    rises = below & above
    found = rises.any(axis=1)
    k = rises.argmax(axis=1)
    rows = np.arange(len(curves))
    a, b = curves[rows, k], curves[rows, k + 1]
    crossing = gammas[k] + (target - a) * (gammas[k + 1] - gammas[k]) / (b - a)
    return np.where(found, crossing, np.nan)


def transitions(data):
    rows = []
    gammas = gamma_grid(data)
    trials = data.get("lambda_trial")
    rng = np.random.default_rng(2025)  # fixed: the table is reproducible
    for jd, d in enumerate(data["d"]):
        for jn, n in enumerate(data["n"]):
            for i, rho in enumerate(data["rho"]):
                target = 1 / (1 + 3 * rho)
                crossing = first_crossing(gammas[i], data["lambda"][i, :, jd, jn], target)
                # 1/(1 - rho) is the paper's critical gamma, for beta = gamma ln n only.
                theory = 1 / (1 - rho) if data.get("paper", True) else float("nan")
                low = high = float("nan")
                if trials is not None and trials.shape[-1] > 1:
                    row = trials[i, :, jd, jn, :]
                    if not np.isnan(row).any():
                        boot = bootstrap_crossings(gammas[i], row, target, rng)
                        # Resamples whose curve never crosses say the crossing may lie off the
                        # grid: the interval is then open on that side (NaN), not made up.
                        if np.isnan(boot).mean() <= 0.025:
                            low, high = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
                rows.append({"d": int(d), "n": int(n), "rho": float(rho), "lambda_critical": target,
                             "gamma_crossing": crossing, "gamma_crossing_low": low, "gamma_crossing_high": high,
                             "gamma_theory": theory, "relative_difference": (crossing - theory) / theory,
                             "relative_low": (low - theory) / theory, "relative_high": (high - theory) / theory})
    return rows


def heat_maps(data, quantity, label, out, plt, figure, args):
    from matplotlib import colors
    from matplotlib.lines import Line2D

    rho, gammas = data["rho"], gamma_grid(data)
    for jn, n in enumerate(data["n"]):
        nd = len(data["d"])
        fig, axes = plt.subplots(1, nd, figsize=(4.8 * nd, 4.4), squeeze=False)
        if quantity == "lambda":
            norm, bar_label = colors.Normalize(vmin=0, vmax=1), label
        else:
            # eta spans decades: about 0 below the curve, (1 - 1/d) above it at large d, and at
            # small d it is heavy-tailed (E[1/|x|^2] is infinite at d = 2: values of 2-9 are
            # common). One log scale for every panel of the figure, from 1e-3 to the largest value
            # of any panel, so that colours compare across d.
            finite = data[quantity][:, :, :, jn][np.isfinite(data[quantity][:, :, :, jn])]
            top = max(1.0, float(finite.max())) if finite.size else 1.0
            norm, bar_label = colors.LogNorm(vmin=1e-3, vmax=top, clip=True), label + " (log scale, shared)"
        for jd, d in enumerate(data["d"]):
            ax = axes[0, jd]
            values = np.ma.masked_invalid(data[quantity][:, :, jd, jn].T)
            if quantity != "lambda":
                values = np.ma.masked_less_equal(values, 0)
            mesh = ax.pcolormesh(np.broadcast_to(rho[:, None], gammas.shape).T, gammas.T, values,
                                 shading="nearest", cmap="viridis", norm=norm)
            fig.colorbar(mesh, ax=ax, label=bar_label)
            handles = plot_cells.mark_not_done(ax, rho, gammas, data["status"][:, :, jd, jn])
            if data["paper"]:  # the paper's critical curve is for one layer with beta = gamma ln n
                curve_rho = np.linspace(max(0.0, rho.min()), rho.max(), 200)
                ax.plot(curve_rho, 1 / (1 - curve_rho), "--", color="tab:red", lw=1.8)
                handles.insert(0, Line2D([], [], ls="--", color="tab:red", lw=1.8, label=r"$\gamma = 1/(1-\rho)$"))
            plot_cells.panel_limits(ax, rho, gammas)
            ax.set_xlabel(r"$\rho$")
            ax.set_ylabel(r"$\gamma$")
            ax.set_title(f"{label}: d = {d}, n = {n}")
            if handles:
                ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
        stack = "" if data["layers"] == 1 else f", {data['layers']} layers"
        fig.suptitle(f"Figure {figure}: {label} over (rho, gamma), beta = {BETA_LABEL[data['scaling']]}{stack}")
        plot_cells.save(fig, out, f"figure{figure}_n{n}", args)
        plt.close(fig)


def collapse_plots(data, out, plt, args):
    rho, gammas = data["rho"], gamma_grid(data)
    cmap = plt.get_cmap("plasma")
    for jd, d in enumerate(data["d"]):
        for jn, n in enumerate(data["n"]):
            fig, (ax_l, ax_e) = plt.subplots(1, 2, figsize=(11, 4.6))
            band = ""
            for i, r in enumerate(rho):
                kappa = gammas[i] * (1 - r)
                colour = cmap(i / max(len(rho) - 1, 1))
                for ax, q in ((ax_l, "lambda"), (ax_e, "eta")):
                    centre, low, high, band = plot_cells.middle_band(data, q, (i, slice(None), jd, jn))
                    ax.plot(kappa, centre, "-", color=colour, lw=1.2,
                            label=f"rho={r:g}" if len(rho) <= 10 or i % 2 == 0 else None)
                    ax.fill_between(kappa, low, high, color=colour, alpha=0.15)
            kmax = float(np.nanmax(gammas * (1 - rho[:, None])))
            kk = np.linspace(0, kmax, 400)
            # The exact-simplex curve only where a simplex of n directions exists (d >= n + 1);
            # elsewhere it is a formula outside its assumptions, and only the limits are drawn.
            if d >= n + 1 and data["layers"] == 1 and data["alpha"] == 0:
                r = float(rho[len(rho) // 2])
                theory = np.array([simplex_theory(r, k / (1 - r), float(n), float(d), data["scaling"]) for k in kk])
                ax_l.plot(kk, theory[:, 0], "k--", lw=2, label=f"simplex theory, rho={r:g}, n={n}")
                ax_e.plot(kk, theory[:, 1], "k--", lw=2, label=f"simplex theory, rho={r:g}, n={n}")
            if data["paper"]:  # the paper's limits: one layer, alpha = 0, beta = gamma ln n
                ax_l.plot(kk, limit_lambda(0.5, kk), "k:", lw=2, label="limit n -> inf (not a finite-n prediction)")
                # eta's limit for unit-norm tokens times E[1/|x|^2] = d/(d - 2) for gaussian ones
                # (MODEL.md section 5); gaussian tokens at d <= 2 have no finite limit.
                if data["geometry"] == "simplex":
                    ax_e.plot(kk, np.where(kk < 1, 0.0, 1 - 1 / d), "k:", lw=2, label="limit n -> inf: 0, then 1 - 1/d")
                elif d > 2:
                    ax_e.plot(kk, np.where(kk < 1, 0.0, (d - 1) / (d - 2)), "k:", lw=2,
                              label="limit n -> inf: 0, then (d - 1)/(d - 2)")
            for ax, name in ((ax_l, r"$\lambda$"), (ax_e, r"$\eta$")):
                ax.axvline(1.0, color="grey", lw=0.8)
                ax.set_xlim(0, min(kmax, 3.0))  # the transition lives near kappa = 1
                ax.set_xlabel(r"$\kappa = \gamma (1 - \rho)$")
                ax.set_ylabel(name)
                ax.legend(fontsize=8, ncol=2)
            top = np.nanpercentile(data["eta"][:, :, jd, jn], 98) if np.isfinite(data["eta"][:, :, jd, jn]).any() else 1
            ax_e.set_ylim(0, max(1.2, 1.1 * top))
            ax_l.set_ylim(-0.02, 1.05)
            note = "" if d >= n + 1 else "; no simplex theory: d < n + 1"
            law = "" if data["scaling"] == "log" else f", beta = {BETA_LABEL[data['scaling']]}"
            law += "" if data["layers"] == 1 else f", {data['layers']} layers"
            fig.suptitle(f"collapse onto kappa: d = {d}, n = {n}{law}\n(lines and bands: {band}{note})")
            plot_cells.save(fig, out, f"collapse_d{d}_n{n}", args)
            plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--select", action="append", metavar="NAME=VALUE",
                        help="one value of a swept parameter (alpha, layers, scaling); repeat for each")
    parser.add_argument("--format", default="png", help="png | pdf | svg (png)")
    parser.add_argument("--dpi", default="150", help="dots per inch of raster output (150)")
    args = parser.parse_args()
    if args.format not in plot_cells.FORMATS:
        fail(f"--format must be png, pdf or svg, not '{args.format}'")
    try:
        args.dpi = int(args.dpi)
    except ValueError:
        args.dpi = 0
    if not 20 <= args.dpi <= 1200:
        fail("--dpi must be a whole number from 20 to 1200")
    data = load(args.file, study_select.parse_selections(args.select, fail))
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f"cannot create {args.out}: {e.strerror}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = transitions(data)
    path = os.path.join(args.out, "transition.csv")
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    print(f"{'d':>5} {'n':>6} {'rho':>5} {'lambda_c':>9} {'gamma_cross':>12} {'95% interval':>19} "
          f"{'1/(1-rho)':>10} {'rel.diff':>9} {'rel. interval':>17}")
    for r in rows:
        print(f"{r['d']:>5} {r['n']:>6} {r['rho']:>5.2f} {r['lambda_critical']:>9.4f} {r['gamma_crossing']:>12.4f} "
              f"[{r['gamma_crossing_low']:>8.4f}, {r['gamma_crossing_high']:>8.4f}] "
              f"{r['gamma_theory']:>10.4f} {r['relative_difference']:>+9.4f} "
              f"[{r['relative_low']:>+7.4f}, {r['relative_high']:>+7.4f}]")
    print(f"wrote {path}")
    heat_maps(data, "lambda", r"lambda", args.out, plt, 1, args)
    heat_maps(data, "eta", r"eta", args.out, plt, 2, args)
    collapse_plots(data, args.out, plt, args)
    plot_cells.against_n(data, args.out, plt, args, BETA_LABEL[data["scaling"]])


if __name__ == "__main__":
    main()
