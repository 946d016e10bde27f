"""ABC-MCMC warm-up as one step of its own, in the style of BlackJAX's window adaptation: it takes chains and a
kernel and returns the tuned state and kernel plus what happened, and nothing of it is a posterior draw.

Three optional parts, in this order:

1. **Exploration**: more chains than will be kept run ``explore_steps`` steps (ε adapted), then the ``keep``
   closest to the observation go on; the others are dropped.
2. **ε adaptation**: during the ``n_steps`` tuning steps, log ε ← log ε − γ_t (mean acceptance of the step −
   target), γ_t = (t + 10)^-0.6 (stochastic approximation, Robbins & Monro 1951; Andrieu & Thoms 2008), so that
   a ``target_acceptance`` share of proposals is accepted; ε is then held fixed for the draws.
3. **Resampling**: every ``resample_every`` tuning steps during their first 80 %, the chains are resampled by
   their kernel weights K_ε(ρ) (:func:`resample_chains`, an SMC resampling step), so a chain stuck in a local mode
   of negligible weight moves to a better one.

References
----------
Andrieu & Thoms 2008, "A tutorial on adaptive MCMC"; Del Moral, Doucet & Jasra 2012 (adaptive SMC-ABC, ε
schedules and resampling); BlackJAX ``window_adaptation``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from samplers.abc_mcmc import ABCState, Callback, Trace, resample, run_steps

RESAMPLE_UNTIL = 0.8  # fraction of the tuning steps during which resampling may happen


class WarmupInfo(NamedTuple):
    """What the warm-up did. trace : :class:`samplers.abc_mcmc.Trace` (C, n_steps) of the tuning steps of the
    chains kept; explored : int, chains in the exploration phase (0 if there was none); epsilon : float, the tuned ε.
    """

    trace: Trace
    explored: int
    epsilon: float


def resample_chains(rng: np.random.Generator, state: ABCState, kernel) -> ABCState:
    """Systematic resampling of the chains' states with weights ∝ K_ε(ρ). If every weight is zero the state is
    returned unchanged."""
    logw = kernel.log_kernel(state.distance)
    if not np.isfinite(logw).any():
        return state
    w = np.exp(logw - logw.max())
    return resample(rng, state, w / w.sum())


def _adapt(n_steps: int, target_acceptance: float | None, resample_every: int | None, rng: np.random.Generator):
    """The update of :func:`samplers.abc_mcmc.run_steps` for one warm-up phase (ε adaptation, resampling)."""
    log_eps = [None]

    def update(t: int, state: ABCState, info, kernel):
        if target_acceptance is not None:
            if log_eps[0] is None:
                log_eps[0] = np.log(kernel.epsilon)
            log_eps[0] -= (t + 10.0) ** -0.6 * (info.is_accepted.mean() - target_acceptance)
            kernel = kernel.with_epsilon(float(np.exp(log_eps[0])))
        if resample_every and t < RESAMPLE_UNTIL * n_steps and t % resample_every == resample_every - 1:
            state = resample_chains(rng, state, kernel)
        return state, kernel

    return update


def run_warmup(rng: np.random.Generator, state: ABCState, step, kernel, n_steps: int, *, keep: int | None = None,
               explore_steps: int = 0, target_acceptance: float | None = None, resample_every: int | None = None,
               callback: Callback | None = None) -> tuple[tuple[ABCState, object], WarmupInfo]:
    """Tune C chains and their kernel (see the module docstring); returns ((state, kernel), info).

    state : ABCState of C chains. step : the transition used while tuning (abc-inverse uses the paper's
    α ~ U(-1, 1) proposal here, on whose acceptance rate ε is calibrated). kernel : ABC kernel with ``epsilon``,
    ``log_kernel`` and ``with_epsilon``. n_steps : int ≥ 0, tuning steps. keep : int or None; with
    keep < C, the closest ``keep`` chains go on, chosen after ``explore_steps`` steps of
    exploration (or at once when there are none). target_acceptance : float in
    (0, 1) or None (ε fixed). resample_every : int ≥ 1 or None (off). callback : called after every step.
    Raises ValueError for a negative count, keep < 1, a target outside (0, 1) or resample_every < 1.
    """
    for name, n in (("n_steps", n_steps), ("explore_steps", explore_steps)):
        if n < 0:
            raise ValueError(f"{name}: expected ≥ 0, got {n}")
    if keep is not None and keep < 1:
        raise ValueError(f"keep: expected an integer ≥ 1 or None, got {keep}")
    if resample_every is not None and resample_every < 1:
        raise ValueError(f"resample_every: expected an integer ≥ 1 or None, got {resample_every}")
    if target_acceptance is not None and not 0 < target_acceptance < 1:
        raise ValueError(f"target_acceptance: expected a number in (0, 1), got {target_acceptance}")
    explored = 0
    if keep is not None and keep < len(state.distance):
        if explore_steps > 0:
            explored = len(state.distance)
            state, kernel, _ = run_steps(rng, state, step, kernel, explore_steps,
                                         _adapt(explore_steps, target_acceptance, None, rng), callback)
        best = np.argsort(state.distance)[:keep]
        state = ABCState(state.position[best], state.distance[best], state.aux[best])
    state, kernel, trace = run_steps(rng, state, step, kernel, n_steps,
                                     _adapt(n_steps, target_acceptance, resample_every, rng), callback)
    return (state, kernel), WarmupInfo(trace, explored, float(kernel.epsilon))
