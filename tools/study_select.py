"""One value of each swept model parameter of an attnsweep file, for the plotting tools.

A study may sweep alpha, layers or scaling besides (rho, gamma, d, n) (schema 3: each is a
dimension after n). The figures are drawn over (rho, gamma, d, n), so each further dimension is
fixed at one value: `--select layers=2` (an axis of one value needs no selection).
"""

FIXED = ("rho", "gamma", "d", "n")


def parse_selections(items, fail):
    """["layers=2", "scaling=log"] -> {"layers": "2", "scaling": "log"}."""
    chosen = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            fail(f"--select '{item}' is not NAME=VALUE (for example layers=2)")
        chosen[name.strip()] = value.strip()
    return chosen


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _matches(value, wanted):
    value = _text(value)
    if isinstance(value, str):
        return value == wanted
    try:
        return abs(float(value) - float(wanted)) <= 1e-9 * max(1.0, abs(float(wanted)))
    except ValueError:
        return False


def swept_index(f, path, selections, fail):
    """(index tuple for the swept dimensions, {name: chosen value}) of the file `f`."""
    dims = [d.label for d in f["lambda_mean"].dims] if "lambda_mean" in f else list(FIXED)
    swept = dims[len(FIXED):]
    unknown = sorted(set(selections) - set(swept))
    if unknown:
        fail(f"{path}: --select {unknown[0]}: the file does not sweep {unknown[0]} "
             f"(its swept axes: {', '.join(swept) if swept else 'none'})")
    index, chosen = [], {}
    for name in swept:
        values = list(f[name][()])
        shown = ", ".join(str(_text(v)) for v in values)
        if name in selections:
            hits = [i for i, v in enumerate(values) if _matches(v, selections[name])]
            if not hits:
                fail(f"{path}: --select {name}={selections[name]} is not on the {name} axis ({shown})")
            i = hits[0]
        elif len(values) == 1:
            i = 0
        else:
            fail(f"{path} sweeps {name} ({shown}): choose one value with --select {name}=VALUE")
        index.append(i)
        chosen[name] = _text(values[i])
    return tuple(index), chosen


def take(array, index):
    """The array at the chosen swept indices: dimensions (rho, gamma, d, n[, trial])."""
    if not index:
        return array
    return array[(slice(None),) * len(FIXED) + index]
