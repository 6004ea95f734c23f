#!/usr/bin/env python3
"""The exact-simplex theory of an L-layer stack, as `attnsweep cell` prints it, against the same
closed form evaluated in 1500-digit decimal arithmetic (Python's decimal, the plain rho-form
recurrence of MODEL.md section 9): relative error below 1e-12 at every depth, also where the stack
has collapsed far below double-precision rounding of rho (lambda down to 1e-300; below the range of
a double the printed value must be 0 or within it of 0).

usage: theory_test.py ATTNSWEEP_BINARY
"""
import json
import subprocess
import sys
from decimal import Decimal, getcontext

getcontext().prec = 1500


def stack_lambda(rho, gamma, n, alpha, layers):
    rho, gamma, n, alpha = Decimal(rho), Decimal(gamma), Decimal(n), Decimal(alpha)
    beta = gamma * n.ln()
    r0, q = rho, Decimal(1)
    for _ in range(layers):
        e = (-beta * (1 - rho)).exp()
        denom = 1 + (n - 1) * e
        p, r = 1 / denom, e / denom
        c = p - r + alpha * q.sqrt()
        D = r * (1 + (n - 1) * rho) * (2 * c + n * r)
        rho, q = (c * c * rho + D) / (c * c + D), c * c + D
    return (1 - rho) / (1 - r0)


def main():
    binary = sys.argv[1]
    failures, smallest = 0, 1.0
    cases = [(rho, gamma, alpha, layers) for rho, gamma in ((0.5, 1), (0.5, 2), (0.3, 1.2), (0.8, 4))
             for alpha in (0, 0.3) for layers in (1, 2, 3, 4, 6)]
    for rho, gamma, alpha, layers in cases:
        n = 256
        out = subprocess.run([binary, "cell", "--rho", str(rho), "--gamma", str(gamma), "--d", str(n + 1),
                              "--n", str(n), "--geometry", "simplex", "--alpha", str(alpha), "--layers", str(layers),
                              "--jacobian", "hutchinson", "--probes", "1", "--format", "json"],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"FAIL: cell exited {out.returncode}: {out.stderr.strip()}")
            failures += 1
            continue
        got = json.loads(out.stdout)["theory"]["simplex"]["lambda"]
        want = stack_lambda(rho, gamma, n, alpha, layers)
        label = f"rho {rho}, gamma {gamma}, alpha {alpha}, L = {layers}: lambda {want:.6e}"
        if want < Decimal("1e-300"):  # beyond double's normal range: rounding to 0 is the right answer
            if got is not None and 0 <= got < 1e-290:
                print(f"ok: {label}, printed {got!r}")
            else:
                print(f"FAIL: {label}: printed {got!r}")
                failures += 1
            continue
        error = abs(Decimal(got) - want) / want
        smallest = min(smallest, float(want))
        if error < Decimal("1e-12"):
            print(f"ok: {label}, relative error {float(error):.1e}")
        else:
            print(f"FAIL: {label}: printed {got!r}, relative error {float(error):.2e}")
            failures += 1
    print(f"theory: {len(cases)} stacks, smallest lambda {smallest:.1e}, {failures} failures")
    failures += limits(binary)
    return 1 if failures else 0


def limits(binary):
    """The n -> infinity limits `cell` shows: the paper's only for one layer, alpha = 0 and
    beta = gamma ln n; eta's for the cell's geometry (MODEL.md section 5): unit norm (1 - 1/d),
    gaussian (d - 1)/(d - 2) (E[1/|x|^2] = d/(d - 2)), none for gaussian tokens at d <= 2."""
    failures = 0
    def limit(*options):
        out = subprocess.run([binary, "cell", "--rho", "0.5", "--n", "64", "--format", "json", *options],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["theory"]["limit"]
    cases = [  # options, the expected eta limit (None: no limit shown), the expected lambda limit
        (("--gamma", "4", "--d", "32"), 31 / 30, 1.0),
        (("--gamma", "2", "--d", "32"), 31 / 30 / 4, 1 / 2.5),
        (("--gamma", "4", "--d", "65", "--geometry", "simplex"), 1 - 1 / 65, 1.0),
        (("--gamma", "4", "--d", "2"), None, 1.0),
        (("--gamma", "1", "--d", "2"), 0.0, 0.0),
    ]
    for options, eta, lam in cases:
        got = limit(*options)
        ok = abs(got["lambda"] - lam) < 1e-12 and (got["eta"] is None if eta is None else abs(got["eta"] - eta) < 1e-12)
        print(("ok: " if ok else "FAIL: ") + f"limits of {' '.join(options)}: lambda {got['lambda']}, eta {got['eta']}")
        failures += not ok
    for options in (("--alpha", "0.5"), ("--scaling", "sqrt-log")):
        got = limit("--gamma", "4", "--d", "32", *options)
        print(("ok: " if got is None else "FAIL: ") + f"no paper limit with {' '.join(options)}: {got}")
        failures += got is not None
    return failures


if __name__ == "__main__":
    sys.exit(main())
