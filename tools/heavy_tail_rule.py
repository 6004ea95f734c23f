#!/usr/bin/python3
"""How often the heavy-tail flag (mc::heavy_tailed, include/attnsweep/mc/samples.hpp) fires.

The rule: a cell's observable is flagged when it has at least 8 defined trials, its sample
standard deviation exceeds 2.5 times the interquartile scale (q75 - q25) / 1.349, and its mean lies
farther than 0.05 max(|median|, q75 - q25) from its median (quantiles of type 7, numpy's default). This script draws 20000 cells of T trials each from

  normal   N(0, 1): a light tail, where the mean is fine (the flag's false alarms);
  inv-chi2 1 / (chi2_2 / 2): 1/|x|^2 of a 2-D standard gaussian, as eta at d = 2 (infinite mean);
  inv-chi4 1 / (chi2_4 / 4): the same at d = 4 (finite mean, infinite variance),

and prints the fraction of cells flagged, with its binomial standard error (fixed seed 1).
"""
import numpy as np

RATIO, SHIFT, MIN_TRIALS, CELLS = 2.5, 0.05, 8, 20000


def flagged(x):
    if len(x) < MIN_TRIALS:
        return False
    q25, median, q75 = np.quantile(x, [0.25, 0.5, 0.75])
    iqr = q75 - q25
    return x.std(ddof=1) > RATIO * iqr / 1.349 and abs(x.mean() - median) > SHIFT * max(abs(median), iqr)


def main():
    rng = np.random.default_rng(1)
    draws = {
        "normal": lambda t: rng.normal(size=t),
        "inv-chi2": lambda t: 1 / (rng.chisquare(2, size=t) / 2),
        "inv-chi4": lambda t: 1 / (rng.chisquare(4, size=t) / 4),
    }
    print(f"{'trials':>6} " + " ".join(f"{name:>18}" for name in draws))
    for trials in (8, 16, 32, 64):
        cells = []
        for draw in draws.values():
            p = np.mean([flagged(draw(trials)) for _ in range(CELLS)])
            cells.append(f"{p:8.4f} +- {np.sqrt(p * (1 - p) / CELLS):.4f}")
        print(f"{trials:>6} " + " ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
