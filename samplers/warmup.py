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

For Hamiltonian moves on a surrogate, :func:`adapt_hamiltonian` tunes their step and mass on the surrogate alone, and
:func:`surrogate_draws` then samples the surrogate posterior with them held fixed (no simulation), e.g. to fit an
independence proposal (:func:`samplers.proposals.mixture_proposal`).

References
----------
Andrieu & Thoms 2008, "A tutorial on adaptive MCMC"; Del Moral, Doucet & Jasra 2012 (adaptive SMC-ABC, ε
schedules and resampling); BlackJAX ``window_adaptation``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from samplers.abc_mcmc import ABCState, Callback, Trace, resample, run_steps
from samplers.proposals import hamiltonian

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


class HamiltonianTuning(NamedTuple):
    """What :func:`adapt_hamiltonian` found. step_size : float; cholesky : (D, D) float64, L with L Lᵀ the
    estimated posterior covariance (the inverse mass matrix); acceptance : float, the mean surrogate acceptance
    over the second half of the last window; position : (C, D) float64, where the chains ended (draws of the
    surrogate posterior)."""

    step_size: float
    cholesky: np.ndarray
    acceptance: float
    position: np.ndarray


def _surrogate_step(rng: np.random.Generator, log_likelihood_grad, move, position: np.ndarray, loglik: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Metropolis-Hastings step of ``move`` (:func:`samplers.proposals.hamiltonian`) on the surrogate target
    p(u) · exp(ℓ̃(u)), no simulation: (positions (C, D), their ℓ̃ (C,), acceptance probabilities (C,)). A NaN
    surrogate (at a start) is a rejection."""
    prop = move(rng, position)
    new = np.asarray(log_likelihood_grad(prop.position)[0], np.float64)
    with np.errstate(invalid="ignore"):
        log_ratio = np.where(np.isfinite(new), new - loglik + prop.log_correction, -np.inf)
    prob = np.nan_to_num(np.exp(np.minimum(log_ratio, 0.0)))
    accept = rng.uniform(size=len(position)) < prob
    return np.where(accept[:, None], prop.position, position), np.where(accept, new, loglik), prob


ADAPT_WINDOWS = 3  # windows of adapt_hamiltonian: the inverse mass matrix is re-estimated after each but the last


def adapt_hamiltonian(rng: np.random.Generator, log_likelihood_grad, position: np.ndarray, n_steps: int = 150,
                      n_leapfrog: int = 10, target_acceptance: float = 0.8) -> HamiltonianTuning:
    """Tune :func:`samplers.proposals.hamiltonian` on its surrogate alone, with no simulation: C chains run
    ``n_steps`` Hamiltonian Monte Carlo steps on the surrogate target p(u) · exp(ℓ̃(u)) (p = N(0, I)), in
    ``ADAPT_WINDOWS`` equal windows. The inverse mass matrix starts as the diagonal of the starting points' variance;
    after each window but the last it becomes the chains' covariance over the second half of that window (n rows:
    chains × steps), shrunk towards 10⁻³ I by Stan's formula (n / (n + 5) Σ + 10⁻³ · 5 / (n + 5) I). Within each
    window the log step size follows log h ← log h + (k + 1)^-0.6 (acceptance − target), k the step within the
    window (Robbins & Monro 1951), so that the last window tunes the step for the final mass matrix. Nothing of it
    is a draw of the ABC posterior; the returned step and mass are then held fixed, so the proposal stays exact.

    log_likelihood_grad : u (C, D) -> (ℓ̃ (C,), ∇ℓ̃ (C, D)). position : (C, D) float64 starting points (C ≥ 2).
    Returns :class:`HamiltonianTuning`. Raises ValueError for fewer than 2 chains, n_steps < ``ADAPT_WINDOWS``,
    n_leapfrog < 1 or a target outside (0, 1).

    References: Neal 2011, "MCMC using Hamiltonian dynamics"; Stan Reference Manual, "HMC algorithm parameters"
    (windowed adaptation).
    """
    position = np.array(position, dtype=np.float64, ndmin=2)
    c, dim = position.shape
    if c < 2:
        raise ValueError(f"position: expected at least 2 chains to estimate a covariance, got {c}")
    if n_steps < ADAPT_WINDOWS:
        raise ValueError(f"n_steps: expected ≥ {ADAPT_WINDOWS}, got {n_steps}")
    if n_leapfrog < 1:
        raise ValueError(f"n_leapfrog: expected an integer ≥ 1, got {n_leapfrog}")
    if not 0 < target_acceptance < 1:
        raise ValueError(f"target_acceptance: expected a number in (0, 1), got {target_acceptance}")

    def shrunk_cholesky(draws: np.ndarray, diagonal: bool = False) -> np.ndarray:
        n = len(draws)
        cov = np.cov(draws.T) if not diagonal else np.diag(np.var(draws, axis=0))
        return np.linalg.cholesky(n / (n + 5.0) * cov + 1e-3 * 5.0 / (n + 5.0) * np.eye(dim))

    log_step, chol = np.log(0.5), shrunk_cholesky(position, diagonal=True)
    loglik = np.asarray(log_likelihood_grad(position)[0], np.float64)
    window = n_steps // ADAPT_WINDOWS
    for w in range(ADAPT_WINDOWS):
        seen, acceptance = [], []
        for k in range(window if w < ADAPT_WINDOWS - 1 else n_steps - w * window):
            move = hamiltonian(log_likelihood_grad, float(np.exp(log_step)), n_leapfrog, chol)
            position, loglik, prob = _surrogate_step(rng, log_likelihood_grad, move, position, loglik)
            log_step += (k + 1.0) ** -0.6 * (prob.mean() - target_acceptance)
            seen.append(position)
            acceptance.append(prob.mean())
        if w < ADAPT_WINDOWS - 1:
            chol = shrunk_cholesky(np.concatenate(seen[len(seen) // 2:]))
    return HamiltonianTuning(float(np.exp(log_step)), chol, float(np.mean(acceptance[len(acceptance) // 2:])),
                             position)


def surrogate_draws(rng: np.random.Generator, log_likelihood_grad, tuning: HamiltonianTuning, position: np.ndarray,
                    n_steps: int, n_leapfrog: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the surrogate posterior p(u) · exp(ℓ̃(u)) (p = N(0, I)) by Hamiltonian Monte Carlo with the step and
    mass of ``tuning`` (:func:`adapt_hamiltonian`) held fixed, no simulation: C chains from ``position`` (C, D)
    float64 run ``n_steps`` steps of ``n_leapfrog`` leapfrog steps. Returns the positions (n_steps, C, D) float64
    and their log surrogate targets ℓ̃(u) − |u|²/2 (n_steps, C) float64 (−inf where ℓ̃ is not finite). Raises
    ValueError for n_steps < 1 or n_leapfrog < 1."""
    if n_steps < 1 or n_leapfrog < 1:
        raise ValueError(f"n_steps, n_leapfrog: expected integers ≥ 1, got {n_steps}, {n_leapfrog}")
    position = np.array(position, dtype=np.float64, ndmin=2)
    move = hamiltonian(log_likelihood_grad, tuning.step_size, n_leapfrog, tuning.cholesky)
    loglik = np.asarray(log_likelihood_grad(position)[0], np.float64)
    positions, targets = [], []
    for _ in range(n_steps):
        position, loglik, _ = _surrogate_step(rng, log_likelihood_grad, move, position, loglik)
        positions.append(position)
        targets.append(np.where(np.isfinite(loglik), loglik - 0.5 * np.sum(position**2, axis=1), -np.inf))
    return np.stack(positions), np.stack(targets)
