"""ABC-MCMC with prior-reversible (elliptical) proposals, vectorised over chains.

A sampler is two pure functions in the style of BlackJAX: ``init(position) -> ABCState`` and
``step(rng, state, kernel) -> (ABCState, ABCInfo)``. Each step proposes for all C chains at once and simulates
them as one batch. Because the proposal leaves the prior invariant, a proposal is accepted with probability
min(1, K_ε(ρ') / K_ε(ρ)) (Wilkinson 2013; Marjoram et al. 2003). Non-finite distances are rejections and are
counted in ``ABCInfo.nonfinite``. While a chain is outside the kernel's support (log K = -inf for its current
state, possible only with the indicator kernel before it first reaches ρ ≤ ε) it accepts any proposal that
is inside the support or closer.

References
----------
Kulkarni et al. 2015 §4.1, eq. 4-7; Wilkinson 2013; Murray, Adams & MacKay 2010.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from samplers.proposals import Proposal


class ABCState(NamedTuple):
    """State of C chains. position (C, D) float64 standard-normal coordinates; distance (C,) float64, ρ of
    the current simulation; pixel_mse (C,) float64, mean squared pixel error of the current simulation
    (NaN when the simulator has no images)."""

    position: np.ndarray
    distance: np.ndarray
    pixel_mse: np.ndarray


class ABCInfo(NamedTuple):
    """Diagnostics of one step. is_accepted (C,) bool; acceptance_probability (C,) float64;
    proposal_distance (C,) float64; block (C,) int64 and alpha (C,) float64 of the proposal; nonfinite (C,) bool,
    True where the proposal's distance was NaN or infinite."""

    is_accepted: np.ndarray
    acceptance_probability: np.ndarray
    proposal_distance: np.ndarray
    block: np.ndarray
    alpha: np.ndarray
    nonfinite: np.ndarray


Simulate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def build_abc_mcmc(simulate: Simulate, propose: Callable[[np.random.Generator, np.ndarray], Proposal]):
    """Factory of ``(init, step)``.

    simulate : u (C, D) -> (distance (C,), pixel_mse (C,)); renders and encodes all C positions as one batch.
    propose : ``(rng, u) -> Proposal``, e.g. :func:`samplers.proposals.blockwise_elliptical`.
    """

    def init(position: np.ndarray) -> ABCState:
        """State of chains at positions (C, D): simulates them once."""
        position = np.array(position, dtype=np.float64, ndmin=2)
        distance, mse = simulate(position)
        return ABCState(position, np.asarray(distance, np.float64), np.asarray(mse, np.float64))

    def step(rng: np.random.Generator, state: ABCState, kernel) -> tuple[ABCState, ABCInfo]:
        """One proposal per chain, simulated as one batch, accepted with probability min(1, K(ρ') / K(ρ))."""
        prop = propose(rng, state.position)
        distance, mse = simulate(prop.position)
        distance = np.asarray(distance, np.float64)
        nonfinite = ~np.isfinite(distance)
        log_new, log_old = kernel.log_kernel(distance), kernel.log_kernel(state.distance)
        outside = np.isneginf(log_old)
        with np.errstate(invalid="ignore"):
            log_ratio = np.where(outside, np.where(np.isfinite(log_new) | (distance < state.distance), 0.0, -np.inf),
                                 log_new - log_old)
        prob = np.exp(np.minimum(log_ratio, 0.0))
        accept = (rng.uniform(size=len(prob)) < prob) & ~nonfinite
        new = ABCState(np.where(accept[:, None], prop.position, state.position),
                       np.where(accept, distance, state.distance),
                       np.where(accept, np.asarray(mse, np.float64), state.pixel_mse))
        return new, ABCInfo(accept, prob, distance, prop.block, prop.alpha, nonfinite)

    return init, step


class Trace(NamedTuple):
    """Recorded chains. position (C, T, D); distance, pixel_mse, epsilon, acceptance_rate (the step's
    Metropolis-Hastings acceptance probability) (C, T) float64; is_accepted (C, T) bool; nonfinite (C, T) bool.
    The first ``n_tune`` of the T iterations are tuning (warm-up) draws."""

    position: np.ndarray
    distance: np.ndarray
    pixel_mse: np.ndarray
    acceptance_rate: np.ndarray
    is_accepted: np.ndarray
    nonfinite: np.ndarray
    epsilon: np.ndarray
    n_tune: int


def resample_chains(rng: np.random.Generator, state: ABCState, kernel) -> ABCState:
    """Systematic resampling of the chains' states with weights ∝ K_ε(ρ) (an SMC resampling step).

    Used only during tuning: a chain stuck in a local mode whose kernel weight is negligible next to the others'
    is moved to a better chain's state. Raises nothing; if every weight is zero the state is returned unchanged.
    """
    logw = kernel.log_kernel(state.distance)
    if not np.isfinite(logw).any():
        return state
    w = np.exp(logw - logw.max())
    w /= w.sum()
    n = len(w)
    idx = np.minimum(np.searchsorted(np.cumsum(w), (rng.uniform() + np.arange(n)) / n), n - 1)
    return ABCState(state.position[idx], state.distance[idx], state.pixel_mse[idx])


def run_chains(rng: np.random.Generator, init_state: ABCState, step, kernel, n_tune: int, n_draws: int,
               target_acceptance: float | None = None, tune_step=None, resample_every: int | None = None,
               progress: bool = True, desc: str = "ABC-MCMC") -> Trace:
    """Run C chains for ``n_tune + n_draws`` steps and record every state.

    step : the transition of :func:`build_abc_mcmc`; tune_step : optional other transition used during tuning
    (e.g. with the paper's α ~ U(-1, 1) proposal, on whose acceptance rate ε is calibrated).
    resample_every : int or None. If given, the chains are resampled by :func:`resample_chains` every that many
    steps during the first 80 % of tuning (never during the recorded draws).
    kernel : an ABC kernel with ``log_kernel`` and ``with_epsilon``. target_acceptance : float in (0, 1) or None.
    If given, ε is adapted during the tuning steps by stochastic approximation,
    log ε ← log ε - γ_t (target - mean acceptance of the step), γ_t = (t + 10)^-0.6, and then held fixed; the
    draws after tuning are an ABC-MCMC at that fixed ε. Raises ValueError on invalid counts.
    """
    for name, n in (("n_tune", n_tune), ("n_draws", n_draws)):
        if n < 0:
            raise ValueError(f"{name}: expected ≥ 0, got {n}")
    if resample_every is not None and resample_every < 1:
        raise ValueError(f"resample_every: expected an integer ≥ 1 or None, got {resample_every}")
    if target_acceptance is not None and not 0 < target_acceptance < 1:
        raise ValueError(f"target_acceptance: expected a number in (0, 1), got {target_acceptance}")
    total = n_tune + n_draws
    n_chains, dim = init_state.position.shape
    pos = np.empty((total, n_chains, dim))
    rec = {k: np.empty((total, n_chains)) for k in ("distance", "pixel_mse", "acceptance_rate", "epsilon")}
    acc = np.zeros((total, n_chains), bool)
    bad = np.zeros((total, n_chains), bool)
    state, log_eps = init_state, np.log(kernel.epsilon)
    bar = tqdm(range(total), desc=desc, disable=not progress, mininterval=0.5)
    for t in bar:
        state, info = (tune_step if tune_step is not None and t < n_tune else step)(rng, state, kernel)
        if target_acceptance is not None and t < n_tune:
            log_eps -= (t + 10.0) ** -0.6 * (info.is_accepted.mean() - target_acceptance)
            kernel = kernel.with_epsilon(float(np.exp(log_eps)))
        if resample_every and t < 0.8 * n_tune and t % resample_every == resample_every - 1:
            state = resample_chains(rng, state, kernel)
        pos[t], acc[t], bad[t] = state.position, info.is_accepted, info.nonfinite
        rec["distance"][t], rec["pixel_mse"][t] = state.distance, state.pixel_mse
        rec["acceptance_rate"][t], rec["epsilon"][t] = info.acceptance_probability, kernel.epsilon
        if progress and t % 50 == 49:
            bar.set_postfix(acc=f"{acc[max(0, t - 499):t + 1].mean():.3f}", eps=f"{kernel.epsilon:.3g}",
                            mse=f"{np.mean(state.pixel_mse):.4f}")
    swap = lambda a: np.swapaxes(a, 0, 1)  # noqa: E731 - (T, C) -> (C, T)
    return Trace(swap(pos), swap(rec["distance"]), swap(rec["pixel_mse"]), swap(rec["acceptance_rate"]),
                 swap(acc), swap(bad), swap(rec["epsilon"]), n_tune)
