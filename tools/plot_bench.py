#!/usr/bin/env python3
"""Log-log plot of `attnsweep_bench --scaling`'s CSV: time and peak RSS of one trial against n.

    plot_bench.py bench_scaling.csv kernel_scaling.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print("usage: plot_bench.py SCALING.csv OUT.png", file=sys.stderr)
        return 2
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        print(f"plot_bench.py: {sys.argv[1]} has no measurements", file=sys.stderr)
        return 2
    fig, (ax_time, ax_rss) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {("dense", "1"): ("k", "o", "dense, 1 thread"), ("tiled", "1"): ("tab:blue", "s", "tiled, 1 thread"),
              ("tiled", "2"): ("tab:orange", "^", "tiled, 2 threads")}
    for d, line in (("64", "-"), ("512", "--")):
        for (kernel, threads), (colour, marker, label) in styles.items():
            points = sorted((int(r["n"]), float(r["seconds"]), float(r["peak_rss_gib"])) for r in rows
                            if r["kernel"] == kernel and r["threads"] == threads and r["d"] == d
                            and float(r["seconds"]) > 0)
            if not points:
                continue
            n = [p[0] for p in points]
            ax_time.plot(n, [p[1] for p in points], line, color=colour, marker=marker, label=f"{label}, d = {d}")
            ax_rss.plot(n, [p[2] for p in points], line, color=colour, marker=marker, label=f"{label}, d = {d}")
    for ax, title, unit in ((ax_time, "time of one trial", "seconds"), (ax_rss, "peak RSS of the process", "GiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (tokens)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_rss.axhline(2.0, color="grey", lw=0.8, ls=":")
    ax_time.legend(fontsize=7)
    fig.suptitle("attnsweep kernel: one Hutchinson trial (1 probe), dense against tiled")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
