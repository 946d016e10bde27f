"""Chains as ArviZ InferenceData: conversion, convergence summary, NetCDF output.

Schema (ArviZ InferenceData): ``posterior`` and ``sample_stats`` with dims (chain, draw, ...), tuning draws in
``warmup_posterior`` / ``warmup_sample_stats``, the observation in ``observed_data``, fixed settings in
``constant_data``, provenance in ``posterior.attrs``.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import arviz as az
import numpy as np

from abc_inverse.io import atomic_path
from samplers.abc_mcmc import Trace

SAMPLE_STATS = ("distance", "is_accepted", "acceptance_rate", "pixel_mse", "epsilon", "nonfinite")


def trace_to_inference_data(trace: Trace, posterior: dict, dims: dict | None = None, coords: dict | None = None,
                            observed_data: dict | None = None, constant_data: dict | None = None,
                            attrs: dict | None = None) -> az.InferenceData:
    """Build InferenceData from a :class:`samplers.abc_mcmc.Trace`.

    posterior : name -> array (C, T, ...) over all T = n_tune + n_draws iterations (split here into warm-up and
    posterior). dims, coords : ArviZ dims/coords of the extra axes. attrs : provenance; values that are not
    str/number are stored as JSON strings, plus ``created_at`` and ``inference_library``.
    """
    k = trace.n_tune
    stats = {name: getattr(trace, name) for name in SAMPLE_STATS}
    idata = az.from_dict(
        posterior={n: v[:, k:] for n, v in posterior.items()},
        sample_stats={n: v[:, k:] for n, v in stats.items()},
        warmup_posterior={n: v[:, :k] for n, v in posterior.items()} if k else None,
        warmup_sample_stats={n: v[:, :k] for n, v in stats.items()} if k else None,
        observed_data=observed_data, constant_data=constant_data, coords=coords, dims=dims, save_warmup=bool(k))
    meta = {"created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "inference_library": "abc_inverse.samplers (ABC-MCMC, elliptical proposals)", **(attrs or {})}
    for name, value in meta.items():
        idata.posterior.attrs[name] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    return idata


def summary(idata: az.InferenceData, var_names: list[str], path: Path | None = None):
    """ArviZ summary (mean, sd, 94 % HDI, MCSE, bulk/tail ESS, R-hat) of the posterior variables, one row per
    scalar; written to ``path`` as CSV (atomically) when given. Returns the pandas DataFrame."""
    table = az.summary(idata, var_names=var_names, kind="all")
    if path is not None:
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index_label="variable")
    return table


def save_netcdf(idata: az.InferenceData, path: Path) -> None:
    """Write InferenceData to NetCDF atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")


def acceptance_rate(idata: az.InferenceData) -> np.ndarray:
    """Fraction of accepted proposals per chain after tuning: (C,) float64."""
    return idata.sample_stats["is_accepted"].mean("draw").values


def stat_with_warmup(idata: az.InferenceData, name: str = "pixel_mse") -> tuple[np.ndarray, int]:
    """A sample statistic against iteration, tuning included: ((C, tune + draws) values, number of tuning steps)."""
    parts = [idata.sample_stats[name].values]
    if "warmup_sample_stats" in idata.groups():
        parts.insert(0, idata.warmup_sample_stats[name].values)
    n_tune = parts[0].shape[1] if len(parts) == 2 else 0
    return np.concatenate(parts, axis=1), n_tune
