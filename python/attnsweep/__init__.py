"""Read attnsweep's HDF5 files as xarray Datasets.

    import sys; sys.path.insert(0, "python")       # or: export PYTHONPATH=python
    import attnsweep
    ds = attnsweep.open_dataset("figure1.h5")
    ds.lambda_mean.sel(d=512, n=1024).plot(x="rho", y="gamma")
    ds.status.to_series().value_counts()            # done / missing / failed / undefined
    ds.attrs["mc.trials"], ds.beta                   # the settings; derived coordinates

`open_dataset` reads a sweep's file (schemas 1 to 4) or a critical search's file and returns:

* every variable with its dimensions named (rho, gamma, d, n, the swept model parameters,
  trial, quantile; a critical file: rho, d, n, evaluation, trial);
* `status` decoded to its names (missing, done, failed, undefined; a critical search's: missing,
  done, failed, below, above) and the stored code as `status_code`;
* the run settings as attributes, one per config key (`grid.rho`, `mc.trials`, `mc.seed`, ...),
  besides the file's own (`kind`, `schema_version`, `title`, `Conventions`, ...) and `config`, the
  whole config text;
* derived coordinates where they apply: `gamma_value` (the gamma a cell ran at: the axis value,
  or value / (1 - rho) when the gamma axis is on the critical scale), `beta` (gamma_value times
  the scaling law of n), `kappa` = gamma_value (1 - rho) (the paper's control parameter), and
  `gamma_critical` = 1 / (1 - rho), the paper's critical gamma, only for one layer, alpha = 0 and
  beta = gamma ln n (the only case the paper's theorem covers).

Needs h5py, numpy and xarray (Debian: python3-h5py, python3-xarray; h5netcdf is not needed).
"""

import configparser
import math

import h5py
import numpy as np
import xarray as xr

__all__ = ["open_dataset", "AttnsweepFileError"]

SWEEP_STATUS = ("missing", "done", "failed", "undefined")
CRITICAL_STATUS = ("missing", "done", "failed", "below", "above", "absent")
FIXED_AXES = ("rho", "gamma", "d", "n")
# Coordinates a file of schema 3 stores (written since the CF metadata) and this reader derives
# for every file alike.
DERIVED = ("kappa", "beta", "gamma_critical")
SWEPT_AXES = ("alpha", "layers", "scaling", "mask")
# beta / gamma by law, for n keys (the per-position laws: the last row's, which sees n keys);
# T is qwen-logn's training length (mc.train-length).
LAWS = {
    "log": lambda n, T: np.log(n),
    "log-squared": lambda n, T: np.log(n) ** 2,
    "sqrt-log": lambda n, T: np.sqrt(np.log(n)),
    "constant": lambda n, T: np.ones_like(n, dtype=float),
    "log-keys": lambda n, T: np.log(n),
    "qwen-logn": lambda n, T: np.maximum(np.log(T), np.log(n)),
}
# Schema 1 (attnsweep 0.1) kept its arrays in groups; later schemas keep them at the root.
SCHEMA1 = {
    "lambda_mean": "results/lambda/mean", "lambda_stderr": "results/lambda/stderr",
    "eta_mean": "results/eta/mean", "eta_stderr": "results/eta/stderr", "trials": "results/trials",
    "status": "cells/status", "seconds": "cells/seconds", "attempts": "cells/attempts", "error": "cells/error",
}


class AttnsweepFileError(ValueError):
    """The file is not one this reader knows (not HDF5, not attnsweep's, a newer schema)."""


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _settings(config_text):
    """{'grid.rho': '0.1, 0.2', 'mc.trials': '8', ...} from the stored config text."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(config_text)
    return {f"{section}.{key}": value for section in parser.sections() for key, value in parser[section].items()}


def _values(dataset):
    data = dataset[()]
    if data.dtype.kind in "OS":
        data = np.vectorize(_text, otypes=[object])(data) if data.ndim else _text(data)
    return data


def _dims(f, path):
    labels = [d.label for d in f[path].dims]
    if all(labels):
        return labels
    raise AttnsweepFileError(f"{f.filename}: {path} has unlabelled dimensions (not an attnsweep file)")


def _sweep_variables(f, schema):
    if schema == 1:
        axes = {name: _values(f[f"grid/{name}"]) for name in FIXED_AXES}
        dims = list(FIXED_AXES)
        data = {name: (dims, _values(f[path])) for name, path in SCHEMA1.items() if path in f}
        return axes, data
    dims = _dims(f, "lambda_mean")
    axes = {name: _values(f[name]) for name in dims}
    for extra in ("trial", "quantile"):
        if extra in f:
            axes[extra] = _values(f[extra])
    data = {}
    for name, item in f.items():
        if isinstance(item, h5py.Dataset) and name not in axes and name not in DERIVED:
            data[name] = (_dims(f, name), _values(item))
    return axes, data


def _critical_variables(f):
    axes = {name: _values(f[name]) for name in ("rho", "d", "n", "position", "evaluation", "trial", "quantile")
            if name in f}
    data = {name: (_dims(f, name), _values(item)) for name, item in f.items()
            if isinstance(item, h5py.Dataset) and name not in axes}
    return axes, data


def _attributes(f, config_text, schema):
    attrs = {key: (_text(value) if isinstance(value, (bytes, str)) else value.item() if hasattr(value, "item") else value)
             for key, value in f.attrs.items() if not hasattr(value, "shape") or value.shape == ()}
    attrs.setdefault("kind", "sweep")
    attrs["schema_version"] = schema
    attrs["config"] = config_text
    attrs.update(_settings(config_text))
    return attrs


def _decode_status(ds, names):
    codes = ds["status"].values
    if codes.dtype.kind not in "iu":
        return ds
    labels = np.array(names + ("unknown",), dtype=object)[np.clip(codes, 0, len(names))]
    ds = ds.rename({"status": "status_code"})
    ds["status"] = (ds["status_code"].dims, labels)
    ds["status"].attrs["long_name"] = "status, decoded from status_code"
    return ds


def _in_order(ds, array):
    """`array` with its dimensions in the dataset's order (rho before gamma before n ...)."""
    return array.transpose(*[d for d in ds.dims if d in array.dims])


def _derived_coordinates(ds, settings):
    """gamma_value, beta, kappa, gamma_critical where they apply (see the module's text)."""
    if not {"rho", "gamma", "n"} <= set(ds.dims):
        return ds
    rho, gamma, n = ds["rho"], ds["gamma"], ds["n"].astype(float)
    critical_scale = settings.get("grid.gamma-scale", "absolute").strip() == "critical"
    gamma_value = gamma / (1 - rho) if critical_scale else gamma + 0 * rho
    gamma_value = _in_order(ds, gamma_value)
    ds = ds.assign_coords(gamma_value=gamma_value, kappa=_in_order(ds, gamma_value * (1 - rho)))
    ds["gamma_value"].attrs["long_name"] = "gamma of the cell (the axis value, or value / (1 - rho) on the critical scale)"
    ds["kappa"].attrs["long_name"] = "gamma (1 - rho): subcritical below 1, supercritical above (the paper)"
    train_length = float(settings.get("mc.train-length", "nan"))
    if "scaling" in ds.dims:
        law = xr.concat([xr.DataArray(LAWS[_text(s)](n.values, train_length), dims=["n"], coords={"n": ds["n"]})
                         for s in ds["scaling"].values], dim=ds["scaling"])
    else:
        law = xr.DataArray(LAWS[settings.get("mc.scaling", "log").strip()](n.values, train_length), dims=["n"],
                           coords={"n": ds["n"]})
    ds = ds.assign_coords(beta=_in_order(ds, gamma_value * law))
    ds["beta"].attrs["long_name"] = "beta = gamma times the scaling law of n (the softmax's inverse temperature)"
    alpha_zero = "alpha" not in ds.dims and float(settings.get("mc.alpha", "0")) == 0
    one_layer = "layers" not in ds.dims and int(settings.get("mc.layers", "1")) == 1
    log_law = "scaling" not in ds.dims and settings.get("mc.scaling", "log").strip() == "log"
    no_mask = "mask" not in ds.dims and settings.get("mc.mask", "none").strip() == "none"
    if alpha_zero and one_layer and log_law and no_mask:
        ds = ds.assign_coords(gamma_critical=1 / (1 - rho))
        ds["gamma_critical"].attrs["long_name"] = "the paper's critical gamma 1 / (1 - rho) (one layer, alpha = 0)"
    return ds


def open_dataset(path):
    """The attnsweep file at `path` as an xarray Dataset (see the module's text)."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise AttnsweepFileError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        if "schema_version" not in f.attrs:
            raise AttnsweepFileError(f"{path}: not an attnsweep output (no schema_version attribute)")
        schema = int(f.attrs["schema_version"])
        kind = _text(f.attrs.get("kind", "sweep"))
        if kind == "sweep" and schema not in (1, 2, 3, 4) or kind == "critical" and schema != 1:
            raise AttnsweepFileError(f"{path}: {kind} schema {schema} is not supported (a newer attnsweep?)")
        config_text = _text(f["meta/config"][()])
        axes, data = _critical_variables(f) if kind == "critical" else _sweep_variables(f, schema)
        long_names = {name: _text(f[name].attrs["long_name"]) for name in list(axes) + list(data)
                      if name in f and "long_name" in f[name].attrs}
        attrs = _attributes(f, config_text, schema)
    ds = xr.Dataset({name: value for name, value in data.items()}, coords=axes, attrs=attrs)
    for name, text in long_names.items():
        ds[name].attrs["long_name"] = text
    ds = _decode_status(ds, CRITICAL_STATUS if kind == "critical" else SWEEP_STATUS)
    return ds if kind == "critical" else _derived_coordinates(ds, _settings(config_text))
