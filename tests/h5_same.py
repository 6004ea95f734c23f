"""Exits 0 when two attnsweep files hold the same results, bit for bit.

Every dataset and attribute is compared except what differs between two runs of one study by
design: compute times (seconds), creation time and build provenance. Prints each difference.
Usage: h5_same.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np

IGNORED_DATASETS = {"seconds", "build"}
IGNORED_ATTRIBUTES = {"created_utc", "build", "engine_version", "history"}


def items(group, prefix=""):
    """(path, object) for every dataset and group below `group`, sorted."""
    out = []
    for name in sorted(group):
        obj = group[name]
        out.append((prefix + name, obj))
        if isinstance(obj, h5py.Group):
            out.extend(items(obj, prefix + name + "/"))
    return out


def same_values(a, b):
    if a.dtype.kind in "fc":
        return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    return a.shape == b.shape and np.array_equal(a, b)


def differences(a, b):
    found = []
    for name in sorted(set(a.attrs) | set(b.attrs)):
        if name in IGNORED_ATTRIBUTES:
            continue
        if name not in a.attrs or name not in b.attrs:
            found.append(f"attribute {name} only in one file")
        elif not np.array_equal(np.asarray(a.attrs[name]), np.asarray(b.attrs[name])):
            found.append(f"attribute {name}: {a.attrs[name]!r} vs {b.attrs[name]!r}")
    left, right = dict(items(a)), dict(items(b))
    for path in sorted(set(left) | set(right)):
        if path.split("/")[-1] in IGNORED_DATASETS:
            continue
        if path not in left or path not in right:
            found.append(f"{path} only in one file")
            continue
        x, y = left[path], right[path]
        if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
            found.append(f"{path}: a dataset in one file, a group in the other")
        elif isinstance(x, h5py.Dataset) and not same_values(x[()] if x.shape != () else np.asarray(x[()]),
                                                             y[()] if y.shape != () else np.asarray(y[()])):
            found.append(f"{path}: values differ")
    return found


def main():
    with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
        found = differences(a, b)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
