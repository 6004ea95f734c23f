"""Drawing helpers shared by the plotting tools: where a grid cell's edges are, how cells that are
not done are marked, how figures are written, and the plot of the observables against n.

A cell that is not done is never left blank (blank reads as "no data" and hides why): missing
cells are hatched "//" in grey, failed ones "xx" in red, undefined ones ".." in blue (an
observable undefined in every trial), each in the legend when present.
"""
import os

import numpy as np

# status code -> (name, hatch, colour); 1 (done) is drawn as data.
NOT_DONE = {0: ("missing", "//", "0.45"), 2: ("failed", "xx", "tab:red"), 3: ("undefined", "..", "tab:blue")}
FORMATS = ("png", "pdf", "svg")


def edges(centres):
    """Cell edges around sorted centres: midpoints, and half a step beyond the ends."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5]) if c[0] else np.array([-0.5, 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def mark_not_done(ax, rho, gammas, status):
    """Hatch the cells of a (rho, gamma) panel whose status is not done; returns legend proxies."""
    from matplotlib.patches import Patch, Rectangle

    x = edges(rho)
    present = set()
    for i in range(len(rho)):
        y = edges(gammas[i])
        for j in range(gammas.shape[1]):
            code = int(status[i, j])
            if code not in NOT_DONE:
                continue
            name, hatch, colour = NOT_DONE[code]
            present.add(code)
            ax.add_patch(Rectangle((x[i], y[j]), x[i + 1] - x[i], y[j + 1] - y[j], fill=False, hatch=hatch,
                                   edgecolor=colour, linewidth=0))
    return [Patch(facecolor="white", edgecolor=NOT_DONE[c][2], hatch=NOT_DONE[c][1], label=NOT_DONE[c][0])
            for c in sorted(present)]


def panel_limits(ax, rho, gammas):
    """Axes within the data: rho in [0, 1), gamma >= 0 (a coarse grid's half cells would reach past)."""
    x = edges(rho)
    ax.set_xlim(max(0.0, x[0]), min(1.0, x[-1]))
    low = min(edges(g)[0] for g in gammas)
    high = max(edges(g)[-1] for g in gammas)
    ax.set_ylim(max(0.0, low), high)


def save(fig, out, stem, args):
    """Writes DIR/STEM.FORMAT at the chosen dpi, with room kept for the suptitle."""
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path = os.path.join(out, f"{stem}.{args.format}")
    fig.savefig(path, dpi=args.dpi)
    print(f"wrote {path}")
    return path


def middle_band(data, quantity, index):
    """(centre, low, high, what) along the gamma axis of one (rho, d, n): the median and the
    interquartile range when the file knows the quantiles, else the mean +- 2 standard errors."""
    q = data.get(quantity + "_q")
    if q is not None and np.isfinite(q[index + (2,)]).any():
        return q[index + (2,)], q[index + (1,)], q[index + (3,)], "median and interquartile range over trials"
    m, se = data[quantity][index], np.nan_to_num(data[quantity + "_se"][index])
    return m, m - 2 * se, m + 2 * se, "mean +- 2 SE (no per-trial values)"


def against_n(data, out, plt, args, label_of_law):
    """For each d: lambda and eta against n (log scale), a panel row per rho (at most 4, evenly
    chosen), a line per gamma (at most 6), the median with its interquartile band."""
    ns = np.asarray(data["n"], dtype=float)
    if len(ns) < 2:
        return []
    rows = np.unique(np.linspace(0, len(data["rho"]) - 1, min(4, len(data["rho"]))).round().astype(int))
    columns = np.unique(np.linspace(0, len(data["gamma"]) - 1, min(6, len(data["gamma"]))).round().astype(int))
    cmap = plt.get_cmap("viridis")
    written = []
    for jd, d in enumerate(data["d"]):
        fig, axes = plt.subplots(len(rows), 2, figsize=(10, 2.8 * len(rows) + 0.6), squeeze=False)
        for r, i in enumerate(rows):
            for c, quantity in enumerate(("lambda", "eta")):
                ax = axes[r, c]
                for k, j in enumerate(columns):
                    colour = cmap(k / max(len(columns) - 1, 1))
                    q = data.get(quantity + "_q")
                    if q is not None and np.isfinite(q[i, j, jd, :, 2]).any():
                        centre, low, high = q[i, j, jd, :, 2], q[i, j, jd, :, 1], q[i, j, jd, :, 3]
                    else:
                        m, se = data[quantity][i, j, jd, :], np.nan_to_num(data[quantity + "_se"][i, j, jd, :])
                        centre, low, high = m, m - 2 * se, m + 2 * se
                    gamma_text = f"{data['gamma'][j]:g}" + (" / (1 - rho)" if data["critical_scale"] else "")
                    ax.plot(ns, centre, "o-", color=colour, lw=1.2, ms=3, label=f"gamma = {gamma_text}")
                    ax.fill_between(ns, low, high, color=colour, alpha=0.18)
                ax.set_xscale("log", base=2)
                ax.set_xlabel("n")
                ax.set_ylabel(quantity)
                ax.set_title(f"{quantity}, rho = {data['rho'][i]:g}, d = {d}", fontsize=10)
                if r == 0 and c == 0:
                    ax.legend(fontsize=8, ncol=2)
        band = "median and interquartile range over trials" if data.get("lambda_q") is not None else "mean +- 2 SE"
        fig.suptitle(f"lambda and eta against n: d = {d}, beta = {label_of_law} ({band})")
        written.append(save(fig, out, f"against_n_d{d}", args))
        plt.close(fig)
    return written
