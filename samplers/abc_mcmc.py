"""ABC-MCMC with prior-reversible (elliptical) proposals, vectorised over chains.

A sampler is two pure functions in the style of BlackJAX: ``init(position) -> ABCState`` and
``step(rng, state, kernel) -> (ABCState, ABCInfo)``. Each step proposes for all C chains at once and simulates
them as one batch (:func:`build_abc_ensemble`: two batches, one per half of the chains, each proposing from the
other's positions). Because the proposal leaves the prior invariant, a proposal is accepted with probability
min(1, K_ε(ρ') / K_ε(ρ)) (Wilkinson 2013; Marjoram et al. 2003). Non-finite distances are rejections and are
counted in ``ABCInfo.nonfinite``. While a chain is outside the kernel's support (log K = -inf for its current
state, possible only with the indicator kernel before it first reaches ρ ≤ ε) it accepts any proposal that
is inside the support or closer. :func:`run_steps` runs and records a transition for many steps (the warm-up of
:mod:`samplers.warmup` adapts between them); :func:`sample` records the draws, :func:`sample_until` as many rounds
of them as a convergence check asks for.

References
----------
Kulkarni et al. 2015 §4.1, eq. 4-7; Wilkinson 2013; Murray, Adams & MacKay 2010.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from samplers.proposals import Proposal


class ABCState(NamedTuple):
    """State of C chains. position (C, D) float64 standard-normal coordinates; distance (C,) float64, ρ of
    the current simulation; aux (C,) or (C, K) float64, what the simulate function reports with each simulation
    beside ρ and the sampler only records (abc-inverse: the pixel MSE of the render and the summary statistic,
    which :func:`samplers.adjustment.regression_adjustment` needs; NaN when there is none)."""

    position: np.ndarray
    distance: np.ndarray
    aux: np.ndarray


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


def resample(rng: np.random.Generator, state: ABCState, weights: np.ndarray) -> ABCState:
    """Systematic resampling of C states with normalised ``weights`` (C,): C states, each drawn ∝ its weight with
    one uniform for all (Kitagawa 1996)."""
    n = len(weights)
    idx = np.minimum(np.searchsorted(np.cumsum(weights), (rng.uniform() + np.arange(n)) / n), n - 1)
    return ABCState(state.position[idx], state.distance[idx], state.aux[idx])


Simulate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _simulated(simulate: Simulate, position: np.ndarray) -> ABCState:
    """State of chains at positions (C, D): simulates them once."""
    position = np.array(position, dtype=np.float64, ndmin=2)
    distance, aux = simulate(position)
    return ABCState(position, np.asarray(distance, np.float64), np.asarray(aux, np.float64))


def _accept(rng: np.random.Generator, state: ABCState, prop: Proposal, simulate: Simulate, kernel
            ) -> tuple[ABCState, ABCInfo]:
    """Simulate ``prop`` as one batch and accept each chain's proposal with probability min(1, K(ρ') / K(ρ) ·
    exp(log_correction)) (the correction is 0 for prior-reversible moves)."""
    distance, aux = simulate(prop.position)
    distance = np.asarray(distance, np.float64)
    nonfinite = ~np.isfinite(distance)
    log_new, log_old = kernel.log_kernel(distance), kernel.log_kernel(state.distance)
    outside = np.isneginf(log_old)
    with np.errstate(invalid="ignore"):
        log_ratio = np.where(outside, np.where(np.isfinite(log_new) | (distance < state.distance), 0.0, -np.inf),
                             log_new - log_old + prop.log_correction)
    prob = np.exp(np.minimum(log_ratio, 0.0))
    accept = (rng.uniform(size=len(prob)) < prob) & ~nonfinite
    aux = np.asarray(aux, np.float64)
    new = ABCState(np.where(accept[:, None], prop.position, state.position),
                   np.where(accept, distance, state.distance),
                   np.where(accept.reshape(-1, *(1,) * (aux.ndim - 1)), aux, state.aux))
    return new, ABCInfo(accept, prob, distance, prop.block, prop.alpha, nonfinite)


def build_abc_mcmc(simulate: Simulate, propose: Callable[[np.random.Generator, np.ndarray], Proposal]):
    """Factory of ``(init, step)``.

    simulate : u (C, D) -> (distance (C,), aux (C,) or (C, K)); simulates all C positions as one batch (e.g.
        :func:`discrepancy`).
    propose : ``(rng, u) -> Proposal``, e.g. :func:`samplers.proposals.blockwise_elliptical`.
    ``init(position)`` simulates chains at positions (C, D); ``step(rng, state, kernel)`` proposes for every chain,
    simulates the proposals as one batch and accepts each with probability min(1, K(ρ') / K(ρ) ·
    exp(log_correction)).
    """

    def init(position: np.ndarray) -> ABCState:
        return _simulated(simulate, position)

    def step(rng: np.random.Generator, state: ABCState, kernel) -> tuple[ABCState, ABCInfo]:
        return _accept(rng, state, propose(rng, state.position), simulate, kernel)

    return init, step


def build_abc_ensemble(simulate: Simulate,
                       propose_given: Callable[[np.ndarray], Callable[[np.random.Generator, np.ndarray], Proposal]]):
    """Factory of ``(init, step)`` for an ensemble of C ≥ 4 chains moved in two halves (the red-blue scheme of
    Goodman & Weare 2010 and emcee, Foreman-Mackey et al. 2013).

    Each step moves the even-numbered chains with the proposal ``propose_given(others)``, others (C/2, D) the
    current positions of the odd-numbered ones, accepted as in :func:`build_abc_mcmc`; then the odd-numbered
    chains given the even ones. While one half moves the other is held fixed, so each half-step leaves the joint
    ABC posterior of all C chains (independent copies) invariant (ter Braak 2006). ``propose_given`` is e.g. a
    :func:`samplers.proposals.mixture` of :func:`samplers.proposals.differential_evolution` and elliptical moves.
    One step simulates C proposals in two batches. The chains are not independent of each other, so R-hat
    across them is a weaker check than across independent runs. Raises ValueError for fewer than 4 chains.
    """

    def init(position: np.ndarray) -> ABCState:
        return _simulated(simulate, position)

    def step(rng: np.random.Generator, state: ABCState, kernel) -> tuple[ABCState, ABCInfo]:
        """Both halves of the ensemble, one after the other; returns the new state and each chain's ABCInfo."""
        c = len(state.distance)
        if c < 4:
            raise ValueError(f"state: an ensemble needs at least 4 chains, got {c}")
        halves = (np.arange(0, c, 2), np.arange(1, c, 2))
        position, distance, aux = state.position.copy(), state.distance.copy(), state.aux.copy()
        infos = []
        for moving, fixed in (halves, halves[::-1]):
            half = ABCState(position[moving], distance[moving], aux[moving])
            new, info = _accept(rng, half, propose_given(position[fixed])(rng, half.position), simulate, kernel)
            position[moving], distance[moving], aux[moving] = new
            infos.append(info)
        back = np.argsort(np.concatenate(halves))  # chain order from (even chains, odd chains)
        return ABCState(position, distance, aux), ABCInfo(*(np.concatenate(parts)[back]
                                                            for parts in zip(*infos, strict=True)))

    return init, step


class Trace(NamedTuple):
    """Recorded chains, one entry per step. position (C, T, D); distance, epsilon, acceptance_rate (the step's
    Metropolis-Hastings acceptance probability) (C, T) float64; aux (C, T) or (C, T, K) float64, as the state's;
    is_accepted (C, T) bool; nonfinite (C, T) bool."""

    position: np.ndarray
    distance: np.ndarray
    aux: np.ndarray
    acceptance_rate: np.ndarray
    is_accepted: np.ndarray
    nonfinite: np.ndarray
    epsilon: np.ndarray


def discrepancy(simulator: Callable[[np.ndarray], np.ndarray], summary: Callable[[np.ndarray], np.ndarray],
                observed: np.ndarray, distance: Callable[[np.ndarray, np.ndarray], np.ndarray],
                transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Simulate:
    """The ``simulate`` of :func:`build_abc_mcmc` for any simulator and summary statistic.

    simulator : θ (C, ...) -> data x (C, ...). summary : x -> (C, S) summaries. observed : the observed data (one
    item, without the batch axis). distance : (s_obs (S,), s (C, S)) -> ρ (C,). transform : u (C, D) standard-normal
    coordinates -> θ (the prior's reparameterisation; default: θ = u, a N(0, I) prior). aux is NaN.
    """
    s_obs = np.asarray(summary(np.asarray(observed)[None]))[0]

    def simulate(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = u if transform is None else transform(u)
        return np.asarray(distance(s_obs, summary(simulator(theta))), np.float64), np.full(len(u), np.nan)

    return simulate


Callback = Callable[[ABCState, ABCInfo, object], None]
Update = Callable[[int, ABCState, ABCInfo, object], tuple[ABCState, object]]


def run_steps(rng: np.random.Generator, state: ABCState, step, kernel, n_steps: int, update: Update | None = None,
              callback: Callback | None = None) -> tuple[ABCState, object, Trace]:
    """Run C chains for ``n_steps`` steps of ``step`` and record every state.

    update : optional ``(t, state, info, kernel) -> (state, kernel)`` applied after step t (0-based), before the
    state is recorded: the warm-up's ε adaptation and resampling (:mod:`samplers.warmup`). callback : optional
    ``(state, info, kernel) -> None`` after every step (a progress bar). Returns (final state, final kernel, Trace).
    Raises ValueError if ``n_steps`` < 0.
    """
    if n_steps < 0:
        raise ValueError(f"n_steps: expected ≥ 0, got {n_steps}")
    n_chains, dim = state.position.shape
    pos = np.empty((n_steps, n_chains, dim))
    rec = {k: np.empty((n_steps, n_chains)) for k in ("distance", "acceptance_rate", "epsilon")}
    rec["aux"] = np.empty((n_steps, *state.aux.shape))
    acc = np.zeros((n_steps, n_chains), bool)
    bad = np.zeros((n_steps, n_chains), bool)
    for t in range(n_steps):
        state, info = step(rng, state, kernel)
        if update is not None:
            state, kernel = update(t, state, info, kernel)
        pos[t], acc[t], bad[t] = state.position, info.is_accepted, info.nonfinite
        rec["distance"][t], rec["aux"][t] = state.distance, state.aux
        rec["acceptance_rate"][t], rec["epsilon"][t] = info.acceptance_probability, kernel.epsilon
        if callback is not None:
            callback(state, info, kernel)
    swap = lambda a: np.swapaxes(a, 0, 1)  # noqa: E731 - (T, C) -> (C, T)
    trace = Trace(swap(pos), swap(rec["distance"]), swap(rec["aux"]), swap(rec["acceptance_rate"]), swap(acc),
                  swap(bad), swap(rec["epsilon"]))
    return state, kernel, trace


def sample(rng: np.random.Generator, state: ABCState, step, kernel, n_draws: int,
           callback: Callback | None = None) -> Trace:
    """``n_draws`` recorded draws of C chains at a fixed kernel (after :func:`samplers.warmup.run_warmup`).
    Raises ValueError if ``n_draws`` < 0."""
    if n_draws < 0:
        raise ValueError(f"n_draws: expected ≥ 0, got {n_draws}")
    return run_steps(rng, state, step, kernel, n_draws, callback=callback)[2]


def sample_until(rng: np.random.Generator, state: ABCState, step, kernel, n_draws: int,
                 converged: Callable[[Trace], bool], max_rounds: int,
                 callback: Callable[[int], Callback | None] | None = None,
                 restep: Callable[[Trace], object] | None = None) -> tuple[Trace, int]:
    """:func:`sample`'s ``n_draws`` draws, then up to ``max_rounds`` more rounds of ``n_draws`` each, continuing the
    chains from where they stopped, while ``converged(trace of all draws so far) -> bool`` says no (e.g. Stan's
    thresholds, :func:`samplers.diagnostics.convergence_warnings`): running the chains longer until the diagnostics
    pass, rather than reporting draws known to be too few. Deciding the length on the diagnostics biases the draws
    only at the scale of their Monte Carlo error (Cowles, Roberts & Rosenthal 1999), which the thresholds bound.
    restep : ``trace of all draws so far -> step`` or None (the same step throughout): before each added round the
    step is rebuilt from the draws, e.g. an independence proposal refitted to them (adaptive independence samplers,
    Giordani & Kohn 2010). Each step leaves the target invariant and is rebuilt at most ``max_rounds`` times, so the
    chains stay ergodic (adaptation that stops: Roberts & Rosenthal 2007); all rounds' draws are kept.
    callback : ``round -> callback`` for :func:`run_steps` (0 for the first ``n_draws``), e.g. a progress bar per
    round. Returns (Trace (C, T, ...) with T = ``n_draws`` · (1 + rounds added), rounds added). Raises ValueError
    if ``n_draws`` or ``max_rounds`` < 0."""
    if n_draws < 0 or max_rounds < 0:
        raise ValueError(f"n_draws, max_rounds: expected ≥ 0, got {n_draws}, {max_rounds}")
    state, kernel, trace = run_steps(rng, state, step, kernel, n_draws, callback=callback and callback(0))
    rounds = 0
    while rounds < max_rounds and not converged(trace):
        rounds += 1
        step = step if restep is None else restep(trace)
        state, kernel, more = run_steps(rng, state, step, kernel, n_draws, callback=callback and callback(rounds))
        trace = join_traces(trace, more)
    return trace, rounds


def join_traces(first: Trace, then: Trace) -> Trace:
    """Traces (C, T₁, ...) and (C, T₂, ...) of the same C chains joined along the draws (C, T₁ + T₂, ...), the first
    one's draws first."""
    return Trace(*(np.concatenate(pair, axis=1) for pair in zip(first, then, strict=True)))
