#!/usr/bin/env python3
"""The causal study's table and plots (tools/causal_study.sh writes the files; docs/causal.md reads them).

usage: plot_causal.py DIR
       plot_causal.py --configs   (prints the study's configs: tools/causal_study.sh runs these)

DIR holds the critical searches CONFIG-VARIANT.h5 (CONFIG: one of CONFIGS below, jobs/configs/causal-CONFIG.ini;
VARIANT: causal-log, causal-log-keys, causal-qwen-logn, full-log). Writes DIR/causal.csv (every search: gamma_c, its
bootstrap interval, the median's crossing, its status), DIR/tables.md (docs/causal.md's tables), and
DIR/positions.png, DIR/d512.png (gamma_c by position bucket), DIR/last.png and DIR/last-d512.png (the
last bucket's gamma_c against n at d 64 and d 512).
"""
import csv
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = [("causal-log", "causal, log (global beta = gamma ln n)"),
            ("causal-log-keys", "causal, log-keys (beta_i = gamma ln k_i)"),
            ("causal-qwen-logn", "causal, qwen-logn (T = 1024)"),
            ("full-log", "full attention, log")]
# Every config of the study; the first two search every bucket of one n, the others the last bucket only.
BY_POSITION = {"positions": "d 64, n 2048, 16 trials", "d512": "d 512, n 1024, 8 trials"}
LAST_ONLY = ("last", "long", "d512-short", "d512-long", "d512-16k")
CONFIGS = tuple(BY_POSITION) + LAST_ONLY
COLUMNS = ["config", "variant", "rho", "d", "n", "bucket", "first", "last", "gamma_c", "low", "high",
           "gamma_c_median", "status", "evaluations", "paper_gamma_c"]


def searches(path, config, variant):
    """Every search of one file as a dict per (rho, d, n, bucket) that was searched."""
    with h5py.File(path, "r") as f:
        meanings = f["status"].attrs["flag_meanings"]
        names = (meanings.decode() if isinstance(meanings, bytes) else str(meanings)).split()
        status = np.asarray(f["status"])
        for r, rho in enumerate(f["rho"][()]):
            for di, d in enumerate(f["d"][()]):
                for ni, n in enumerate(f["n"][()]):
                    for b in range(status.shape[3]):
                        name = names[status[r, di, ni, b]]
                        if name == "absent":
                            continue
                        yield {"config": config, "variant": variant, "rho": float(rho), "d": int(d), "n": int(n),
                               "bucket": b, "first": int(f["position_first"][b]),
                               "last": int(f["position_last"][ni, b]),
                               "gamma_c": float(f["gamma_c"][r, di, ni, b]),
                               "low": float(f["gamma_c_low"][r, di, ni, b]),
                               "high": float(f["gamma_c_high"][r, di, ni, b]),
                               "gamma_c_median": float(f["gamma_c_median"][r, di, ni, b]), "status": name,
                               "evaluations": int(f["evaluations"][r, di, ni, b]), "paper_gamma_c": 1 / (1 - rho)}


def by_position(rows, title, out):
    """gamma_c by position bucket: a panel per variant, a colour per rho, the interval as bars."""
    fig, axes = plt.subplots(1, len(VARIANTS), figsize=(4.2 * len(VARIANTS), 3.8), sharey=True)
    rhos = sorted({r["rho"] for r in rows})
    colours = dict(zip(rhos, plt.cm.viridis(np.linspace(0, 0.85, len(rhos)))))
    for ax, (variant, label) in zip(axes, VARIANTS):
        for rho in rhos:
            mine = [r for r in rows if r["variant"] == variant and r["rho"] == rho and r["status"] == "done"]
            x = np.array([max(r["first"], 1) for r in mine]) * 1.0
            y = np.array([r["gamma_c"] for r in mine])
            err = np.array([[r["gamma_c"] - r["low"] for r in mine], [r["high"] - r["gamma_c"] for r in mine]])
            ax.errorbar(x, y, yerr=np.clip(err, 0, None), marker="o", ms=3, capsize=2, color=colours[rho],
                        label=f"rho {rho:g}")
            ax.axhline(1 / (1 - rho), color=colours[rho], ls=":", lw=1)
            # No crossing in the range: lambda above the target at every gamma (gamma_c below the range:
            # the bucket stays identity-like), or below it at every gamma (gamma_c above the range).
            for status, y, marker in (("above", 0.3, "v"), ("below", 15.5, "^")):
                none = [r for r in rows if r["variant"] == variant and r["rho"] == rho and r["status"] == status]
                if none:
                    ax.plot([max(r["first"], 1) for r in none], [y] * len(none), marker, color=colours[rho], ms=5)
        ax.set_xscale("log", base=2)
        ax.set_xlim(0.7, 1.5 * max(max(r["first"], 1) for r in rows))
        ax.set_xlabel("first token of the position bucket")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("gamma_c (bucket's lambda crosses 1/(1+3 rho))")
    axes[0].legend(fontsize=8)
    fig.suptitle(title + "  (dotted: the paper's 1/(1-rho); triangles down: gamma_c below the range 0.25..16, "
                 "lambda above the target everywhere; up: above the range)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def last_bucket_rows(rows, d):
    """The last bucket's searches at d: the last-bucket configs', and the by-position configs' last bucket
    where no last-bucket config searched that n (d 512, n 1024)."""
    last = [r for r in rows if r["config"] in LAST_ONLY and r["d"] == d]
    searched = {(r["variant"], r["rho"], r["n"]) for r in last}
    last += [r for r in rows if r["config"] in BY_POSITION and r["d"] == d and r["last"] == r["n"] - 1
             and (r["variant"], r["rho"], r["n"]) not in searched]
    return last


def last_against_n(rows, out, d):
    """The last bucket's gamma_c against n: a panel per rho, a line per variant."""
    rhos = sorted({r["rho"] for r in rows})
    fig, axes = plt.subplots(1, len(rhos), figsize=(4.4 * len(rhos), 3.8))
    for ax, rho in zip(axes, rhos):
        for variant, label in VARIANTS:
            mine = sorted((r for r in rows if r["variant"] == variant and r["rho"] == rho and r["status"] == "done"),
                          key=lambda r: r["n"])
            n = np.array([r["n"] for r in mine])
            y = np.array([r["gamma_c"] for r in mine])
            err = np.array([[r["gamma_c"] - r["low"] for r in mine], [r["high"] - r["gamma_c"] for r in mine]])
            ax.errorbar(n, y, yerr=np.clip(err, 0, None), marker="o", ms=3, capsize=2, label=label)
        ax.axhline(1 / (1 - rho), color="k", ls=":", lw=1, label="paper 1/(1-rho)")
        ax.set_xscale("log", base=2)
        ax.set_xlim(0.7 * min(r["n"] for r in rows), 1.4 * max(r["n"] for r in rows))
        ax.set_xlabel("n")
        ax.set_title(f"rho {rho:g}: the last bucket (tokens n/2 .. n-1), d {d}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("gamma_c")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def cell_text(r):
    """gamma_c [low, high] of one search, or why there is none."""
    if r is None:
        return ""
    if r["status"] == "above":
        return "< 0.25"
    if r["status"] == "below":
        return "> 16"
    if r["status"] != "done":
        return r["status"]
    return f"{r['gamma_c']:.3g} [{r['low']:.3g}, {r['high']:.3g}]"


def markdown_tables(rows):
    """docs/causal.md's tables: per config and rho, gamma_c by bucket (rows) and variant (columns)."""
    text = []
    for config in BY_POSITION:
        mine = [r for r in rows if r["config"] == config]
        for rho in sorted({r["rho"] for r in mine}):
            d, n = mine[0]["d"], mine[0]["n"]
            text.append(f"\n{config}: d {d}, n {n}, rho {rho:g} (the paper's gamma_c {1 / (1 - rho):.3g})\n")
            text.append("| bucket | tokens | " + " | ".join(v for v, _ in VARIANTS) + " |")
            text.append("|---|---|" + "---|" * len(VARIANTS))
            for b in sorted({r["bucket"] for r in mine}):
                at = {r["variant"]: r for r in mine if r["rho"] == rho and r["bucket"] == b}
                any_row = next(iter(at.values()))
                text.append(f"| {b} | {any_row['first']}..{any_row['last']} | " +
                            " | ".join(cell_text(at.get(v)) for v, _ in VARIANTS) + " |")
    for d in (64, 512):
        last = last_bucket_rows(rows, d)
        for rho in sorted({r["rho"] for r in last}):
            text.append(f"\nlast bucket: d {d}, rho {rho:g} (the paper's gamma_c {1 / (1 - rho):.3g})\n")
            text.append("| n | " + " | ".join(v for v, _ in VARIANTS) + " |")
            text.append("|---|" + "---|" * len(VARIANTS))
            for n in sorted({r["n"] for r in last}):
                at = {r["variant"]: r for r in last if r["rho"] == rho and r["n"] == n}
                text.append(f"| {n} | " + " | ".join(cell_text(at.get(v)) for v, _ in VARIANTS) + " |")
    return "\n".join(text) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--configs":
        print(" ".join(CONFIGS))
        return
    folder = sys.argv[1]
    rows = []
    for config in CONFIGS:
        for variant, _ in VARIANTS:
            path = os.path.join(folder, f"{config}-{variant}.h5")
            if os.path.exists(path):
                rows.extend(searches(path, config, variant))
    if not rows:
        sys.exit(f"plot_causal.py: no search files in {folder}")
    with open(os.path.join(folder, "causal.csv"), "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for config, title in BY_POSITION.items():
        mine = [r for r in rows if r["config"] == config]
        if mine:
            by_position(mine, title, os.path.join(folder, f"{config}.png"))
    for d, name in ((64, "last.png"), (512, "last-d512.png")):
        last = last_bucket_rows(rows, d)
        if len({r["n"] for r in last}) > 1:
            last_against_n(last, os.path.join(folder, name), d)
    with open(os.path.join(folder, "tables.md"), "w") as out:
        out.write(markdown_tables(rows))
    print(f"plot_causal.py: {len(rows)} searches -> {folder}/causal.csv, tables.md and the plots")


if __name__ == "__main__":
    main()
