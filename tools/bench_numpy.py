#!/usr/bin/python3
"""A straightforward NumPy implementation of one attnsweep trial, for the benchmark comparison.

Same arithmetic as the C++ kernel (include/attnsweep/model/MODEL.md sections 1 and 3): Gaussian tokens, pre-LN, row
softmax, lambda over all pairs, Hutchinson eta with stacked Rademacher probes. Single thread:
run it with OPENBLAS_NUM_THREADS=1 (tools/bench.sh does). Prints the best time of a few repeats.

usage: bench_numpy.py [--n N] [--d D] [--probes M] [--repeats R]
"""
import argparse
import time

import numpy as np


def trial(rng, n, d, probes, rho=0.5, gamma=2.0):
    z0 = rng.standard_normal(d) / np.sqrt(d)
    z = rng.standard_normal((n, d)) / np.sqrt(d)
    x = np.sqrt(rho) * z0 + np.sqrt(1 - rho) * z
    beta = gamma * np.log(n)
    r = np.linalg.norm(x, axis=1)
    y = x / r[:, None]
    g = y @ y.T
    s = beta * (g - g.max(axis=1, keepdims=True))
    a = np.exp(s)
    a /= a.sum(axis=1, keepdims=True)
    xout = a @ y
    yout = xout / np.linalg.norm(xout, axis=1)[:, None]
    gout = yout @ yout.T
    iu = np.triu_indices(n, 1)
    lam = np.mean((1 - gout[iu]) / (1 - g[iu]))
    total = 0.0
    for _ in range(probes):
        v = rng.choice([-1.0, 1.0], size=(n, d))
        dy = (v - np.sum(v * y, axis=1, keepdims=True) * y) / r[:, None]
        q = y @ dy.T
        ds = beta * (q + q.T)
        ads = a * ds
        da = ads - a * ads.sum(axis=1, keepdims=True)
        jv = da @ y + a @ dy
        total += np.sum(jv * jv)
    return lam, total / probes / (n * d)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--probes", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rng = np.random.default_rng(2025)
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        trial(rng, args.n, args.d, args.probes)
        best = min(best, time.perf_counter() - t0)
    print(f"numpy_seconds={best:.6f}")


if __name__ == "__main__":
    main()
