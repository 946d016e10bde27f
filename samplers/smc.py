"""SMC-ABC: a weighted particle population moved through a decreasing sequence of tolerances ε_1 > ε_2 > ….

Each round (Del Moral, Doucet & Jasra 2012, with MCMC moves):

1. the next ε is the weighted ``quantile`` of the particles' distances (pyABC's median rule by default; it suits
   the indicator kernel, which drops the particles beyond ε), or, with ``ess_fraction``, the ε at which the
   reweighted population keeps that fraction of its effective sample size (Del Moral et al.'s rule; it suits the
   Gaussian kernel, whose soft weights barely move a quantile), never below ``target_epsilon``;
2. importance weights are updated by K_ε(ρ) / K_ε_prev(ρ), the ratio of the new target to the old one, at each
   particle's current distance;
3. when the effective sample size 1 / Σ w² drops below ``resample_below`` × N, the population is resampled
   (systematic) and the weights reset;
4. every particle takes ``moves`` steps of an ABC-MCMC transition at the new ε (e.g. the elliptical moves of
   :func:`samplers.abc_mcmc.build_abc_mcmc`), which leave π_ε invariant, so the weights stay valid.

It stops when ε reaches ``target_epsilon``, when the moves' acceptance rate falls below ``min_acceptance``, when ε
no longer decreases, or after ``max_rounds``. The weighted population approximates the ABC posterior at the last ε.

References
----------
Del Moral, Doucet & Jasra 2012, "An adaptive sequential Monte Carlo method for approximate Bayesian computation";
Beaumont et al. 2009; pyABC (Klinger, Rickert & Hasenauer 2018), median ε schedule.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from samplers.abc_mcmc import ABCState, Callback, resample


class SMCInfo(NamedTuple):
    """Per round r: epsilon (R,) float64; ess (R,) float64, effective sample size after reweighting (before any
    resampling); resampled (R,) bool; acceptance_rate (R,) float64 of the moves."""

    epsilon: np.ndarray
    ess: np.ndarray
    resampled: np.ndarray
    acceptance_rate: np.ndarray


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of ``values`` (N,) under normalised ``weights`` (N,) (the smallest value whose cumulative
    weight reaches q). Non-finite values count as +inf."""
    values = np.where(np.isfinite(values), values, np.inf)
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cumulative, q * cumulative[-1]), len(values) - 1)])


def _reweighted(weights: np.ndarray, distance: np.ndarray, kernel, eps: float, eps_prev: float) -> np.ndarray:
    """Normalised weights × K_eps(ρ) / K_eps_prev(ρ) (K_inf = 1); all zero if no particle keeps any weight."""
    log_w = np.log(weights) + kernel.with_epsilon(eps).log_kernel(distance)
    if np.isfinite(eps_prev):
        log_w -= kernel.with_epsilon(eps_prev).log_kernel(distance)
    log_w = np.where(np.isnan(log_w), -np.inf, log_w)
    if not np.isfinite(log_w).any():
        return np.zeros_like(weights)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def ess_epsilon(weights: np.ndarray, distance: np.ndarray, kernel, eps_prev: float, fraction: float,
                iterations: int = 60) -> float:
    """The ε < eps_prev at which the reweighted population's ESS is ``fraction`` of the current one (bisection on
    log ε between the smallest positive distance and eps_prev, or the largest finite distance when eps_prev is
    infinite)."""
    finite = distance[np.isfinite(distance) & (distance > 0)]
    if not len(finite):
        return 0.0
    goal = fraction / np.sum(weights**2)
    lo, hi = np.log(finite.min()), np.log(min(eps_prev, 10 * finite.max()))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        w = _reweighted(weights, distance, kernel, float(np.exp(mid)), eps_prev)
        lo, hi = (lo, mid) if w.any() and 1 / np.sum(w**2) >= goal else (mid, hi)
    return float(np.exp(hi))


def run_smc(rng: np.random.Generator, state: ABCState, step, kernel, *, target_epsilon: float | None = None,
            quantile: float = 0.5, ess_fraction: float | None = None, moves: int = 5, resample_below: float = 0.5,
            min_acceptance: float = 0.01, max_rounds: int = 50, callback: Callback | None = None
            ) -> tuple[ABCState, np.ndarray, SMCInfo]:
    """Run SMC-ABC from a population ``state`` of N particles drawn from the prior (or an importance proposal
    already reweighted by the caller) and return (population, weights (N,) float64 summing to 1, SMCInfo).

    step : an ABC-MCMC transition ``(rng, state, kernel) -> (state, info)``. kernel : an ABC kernel; only its type
    is used (its ε is replaced round by round). Raises ValueError for settings out of range or a population whose
    distances are all non-finite.
    """
    for name, value, ok in (("quantile", quantile, 0 < quantile < 1), ("moves", moves, moves >= 1),
                            ("ess_fraction", ess_fraction, ess_fraction is None or 0 < ess_fraction < 1),
                            ("resample_below", resample_below, 0 <= resample_below <= 1),
                            ("min_acceptance", min_acceptance, 0 <= min_acceptance < 1),
                            ("max_rounds", max_rounds, max_rounds >= 1),
                            ("target_epsilon", target_epsilon, target_epsilon is None or target_epsilon > 0)):
        if not ok:
            raise ValueError(f"{name}: out of range, got {value!r}")
    if not np.isfinite(state.distance).any():
        raise ValueError("distance: no particle has a finite distance to the observation")
    n = len(state.distance)
    weights, eps_prev = np.full(n, 1.0 / n), np.inf
    rounds: list[tuple[float, float, bool, float]] = []
    for _ in range(max_rounds):
        eps = weighted_quantile(state.distance, weights, quantile) if ess_fraction is None else \
            ess_epsilon(weights, state.distance, kernel, eps_prev, ess_fraction)
        eps = max(eps, target_epsilon or 0.0)
        if not 0 < eps < eps_prev:
            break
        weights = _reweighted(weights, state.distance, kernel, eps, eps_prev)
        ess = 1.0 / np.sum(weights**2)
        resampled = ess < resample_below * n
        if resampled:
            state, weights = resample(rng, state, weights), np.full(n, 1.0 / n)
        current, accepted = kernel.with_epsilon(eps), []
        for _ in range(moves):
            state, info = step(rng, state, current)
            accepted.append(info.is_accepted.mean())
            if callback is not None:
                callback(state, info, current)
        rounds.append((eps, ess, resampled, float(np.mean(accepted))))
        eps_prev = eps
        if eps == target_epsilon or rounds[-1][3] < min_acceptance:
            break
    info = SMCInfo(*(np.array(column) for column in zip(*rounds, strict=True))) if rounds else \
        SMCInfo(np.empty(0), np.empty(0), np.empty(0, bool), np.empty(0))
    return state, weights, info
