"""Chains as ArviZ InferenceData, and their convergence summary.

Schema (ArviZ InferenceData): ``posterior`` and ``sample_stats`` with dims (chain, draw, ...), warm-up iterations
in ``warmup_posterior`` / ``warmup_sample_stats``, the observation in ``observed_data``, fixed settings in
``constant_data``, provenance in ``posterior.attrs``. Writing files is the caller's business (ArviZ's
``to_netcdf``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

import arviz as az
import numpy as np

from samplers.abc_mcmc import Trace

SAMPLE_STATS = ("distance", "is_accepted", "acceptance_rate", "aux", "epsilon", "nonfinite")


def trace_to_inference_data(draws: Trace, variables: Callable[[np.ndarray], dict], warmup: Trace | None = None,
                            aux_name: str = "aux", dims: dict | None = None, coords: dict | None = None,
                            observed_data: dict | None = None, constant_data: dict | None = None,
                            attrs: dict | None = None) -> az.InferenceData:
    """Build InferenceData from the recorded draws and, optionally, the warm-up trace of the same chains.

    variables : positions (C, T, D) -> {name: array (C, T, ...)}, the posterior variables (e.g. the prior's
    transform of the standard-normal coordinates). aux_name : the name of ``Trace.aux`` in ``sample_stats``.
    dims, coords : ArviZ dims/coords of the extra axes. attrs : provenance; values that are not str/number are
    stored as JSON strings, plus ``created_at`` and ``inference_library``.
    """
    def stats(trace: Trace) -> dict:
        return {aux_name if name == "aux" else name: getattr(trace, name) for name in SAMPLE_STATS}

    idata = az.from_dict(
        posterior=variables(draws.position), sample_stats=stats(draws),
        warmup_posterior=variables(warmup.position) if warmup is not None else None,
        warmup_sample_stats=stats(warmup) if warmup is not None else None,
        observed_data=observed_data, constant_data=constant_data, coords=coords, dims=dims,
        save_warmup=warmup is not None)
    meta = {"created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "inference_library": "samplers (ABC-MCMC, elliptical proposals)", **(attrs or {})}
    for name, value in meta.items():
        idata.posterior.attrs[name] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    return idata


def summary(idata: az.InferenceData, var_names: list[str]):
    """ArviZ summary (mean, sd, 94 % HDI, MCSE, bulk/tail ESS, R-hat) of the posterior variables, one row per
    scalar, unrounded: a pandas DataFrame."""
    return az.summary(idata, var_names=var_names, kind="all", round_to="none")


def stat_with_warmup(idata: az.InferenceData, name: str) -> tuple[np.ndarray, int]:
    """A sample statistic against iteration, warm-up included: ((C, warm-up + draws) values, warm-up steps)."""
    parts = [idata.sample_stats[name].values]
    if "warmup_sample_stats" in idata.groups():
        parts.insert(0, idata.warmup_sample_stats[name].values)
    n_tune = parts[0].shape[1] if len(parts) == 2 else 0
    return np.concatenate(parts, axis=1), n_tune


STUCK_SPREAD = 1e-9  # a chain whose draws spread less than this times the variable's scale never moved
NEVER_MOVED = "chains never moved"  # the words of convergence_warnings for stuck chains, for callers to test


def stuck_chains(draws: np.ndarray) -> np.ndarray:
    """(C,) bool: the chains of ``draws`` (C, T, ...) float in which some component never moved, its draws spreading
    less than ``STUCK_SPREAD`` times the variable's scale (max |draw|, at least 1): stuck, e.g. at the prior's edge,
    to rounding. Their R-hat is undefined (ArviZ: NaN, or a number made of rounding noise) and ArviZ cannot
    estimate their density (a zero bandwidth)."""
    draws = np.asarray(draws, np.float64)
    spread = np.ptp(draws, axis=1) <= STUCK_SPREAD * max(float(np.max(np.abs(draws))), 1.0)
    return np.any(spread.reshape(len(draws), -1), axis=1)


RHAT_MAX = 1.01  # split R-hat above this: the chains disagree (Vehtari et al. 2021; Stan's threshold)
ESS_MIN = 400  # bulk or tail ESS below this: too few effective draws for the summaries (Vehtari et al. 2021)


def convergence_warnings(idata: az.InferenceData, var_names: list[str], rhat_max: float = RHAT_MAX,
                         ess_min: float = ESS_MIN) -> list[str]:
    """Stan-style warnings: one message per variable whose split R-hat exceeds ``rhat_max`` or whose bulk or tail
    ESS is below ``ess_min`` (the worst over its components); an empty list when every variable passes.

    References: Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization, folding, and localization:
    an improved R-hat" (thresholds 1.01 and 100 per chain, here 400 in all as Stan's). R-hat is compared unrounded
    (1.014 warns; ArviZ's summary would show it as 1.01). Where a chain never moved (:func:`stuck_chains`) R-hat
    is undefined or meaningless, and the message says how many chains.
    """
    table = az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")  # ArviZ rounds to 2 digits
    out = []
    for name in var_names:
        rows = table[[label == name or label.startswith(name + "[") for label in table.index]]
        rhat, bulk, tail = rows["r_hat"].max(), rows["ess_bulk"].min(), rows["ess_tail"].min()
        stuck = stuck_chains(idata.posterior[name].values)
        problems = ([f"split R-hat undefined: {stuck.sum()} of {len(stuck)} {NEVER_MOVED}"] if stuck.any() else
                    [f"split R-hat {rhat:.4f} > {rhat_max:g}"] if not rhat <= rhat_max else []) + \
            [f"{kind} ESS {ess:.0f} < {ess_min:g}" for kind, ess in (("bulk", bulk), ("tail", tail))
             if not ess >= ess_min]
        if problems:
            out.append(f"{name}: {', '.join(problems)}")
    return out
