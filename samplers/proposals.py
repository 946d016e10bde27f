"""Elliptical proposals in standard-normal coordinates, blockwise.

u' = √(1 - α²) u + α ν on one block of u, ν ~ N(0, I), α ~ U(-1, 1); the other blocks are unchanged. For every
α the pair (u, u') is jointly Gaussian with a symmetric covariance under u ~ N(0, I), so the proposal is
reversible with respect to the prior and the Metropolis-Hastings ratio reduces to the ABC kernel ratio.

That holds for any distribution of α drawn independently of the state, so besides the paper's α ~ U(-1, 1)
(``min_scale = 1``) a multi-scale variant is offered: α = s · U(-1, 1) with log s ~ U(log min_scale, 0). Once the
posterior is narrow (pose known to a few degrees), moves with |α| near 1 are almost always rejected; the small
scales keep such blocks mixing while the large ones still jump between modes.

Besides these prior-reversible moves, :func:`independence` proposes from a fixed density q(u) (a data-driven
proposal, Jampani et al. 2015, or :func:`mixture_proposal`'s Student-t mixture fitted to draws of an approximate
posterior) with its Metropolis-Hastings correction, and :func:`mixture` mixes proposals: the
choice of component does not depend on the state, so every component leaves the ABC posterior invariant and so
does the mixture (Tierney 1994). :func:`differential_evolution` proposes from the positions of other chains, for
the ensemble step of :func:`samplers.abc_mcmc.build_abc_ensemble`: the differences between chains carry the
posterior's scale and correlations across blocks, which one-block moves cannot follow.
:func:`hamiltonian` follows the gradient of a cheap, differentiable surrogate of the log likelihood (an emulator of
the simulator and summary statistic) along a Hamiltonian trajectory and proposes its end point, corrected for the
surrogate's error, so that one simulation moves a chain as far as a whole trajectory carries it.

References
----------
Kulkarni et al. 2015 §4.1 (elliptical proposals over 3DMM scene variables); Neal 1999; Murray, Adams & MacKay
2010 (elliptical slice sampling); ter Braak 2006 (differential evolution Markov chain); Rasmussen 2003 (Hamiltonian
Monte Carlo on a surrogate); Neal 2011 (MCMC using Hamiltonian dynamics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np


class Proposal(NamedTuple):
    """A batch of proposals. position (C, D) float64; alpha (C,) float64 (NaN where the move has none); block (C,)
    int64 (index into the block names; -1 for an independence move, -2 for a differential-evolution move, -4
    for a Hamiltonian move);
    log_correction (C,) float64, the Metropolis-Hastings correction log [p(u') g(u | u')] − log [p(u) g(u' | u)] for
    the N(0, I) prior p and the proposal density g (0 for prior-reversible moves, so the acceptance is the kernel
    ratio alone)."""

    position: np.ndarray
    alpha: np.ndarray
    block: np.ndarray
    log_correction: np.ndarray


def elliptical_move(u: np.ndarray, nu: np.ndarray, alpha: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """u' = √(1 - α²) u + α ν where mask is True, u elsewhere. u, nu, mask (C, D); alpha (C,) in [-1, 1]."""
    a = alpha[:, None]
    return np.where(mask, np.sqrt(1.0 - a**2) * u + a * nu, u)


def blockwise_elliptical(blocks: Mapping[str, slice], dim: int, min_scale: float = 1.0
                         ) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """Factory of a random-scan blockwise elliptical proposal.

    blocks : name -> slice of the D coordinates; together they must cover 0..D-1 without overlap.
    min_scale : float in (0, 1]. 1 gives the paper's α ~ U(-1, 1); smaller values draw α = s · U(-1, 1) with
    log s ~ U(log min_scale, 0).
    Returns ``propose(rng, u)`` for u (C, D) float64: each chain picks one block uniformly at random and moves
    it by :func:`elliptical_move`. Raises ValueError if the blocks do not partition 0..D-1 or min_scale is not in
    (0, 1].
    """
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale: expected a number in (0, 1], got {min_scale}")
    masks = np.zeros((len(blocks), dim), dtype=bool)
    for i, sl in enumerate(blocks.values()):
        masks[i, sl] = True
    if not np.array_equal(masks.sum(axis=0), np.ones(dim)):
        raise ValueError(f"blocks: expected a partition of 0..{dim - 1}, got {dict(blocks)}")

    def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        n = len(u)
        block = rng.integers(len(masks), size=n)
        alpha = rng.uniform(-1.0, 1.0, size=n) * min_scale ** rng.uniform(size=n)
        nu = rng.standard_normal(u.shape)
        return Proposal(elliptical_move(u, nu, alpha, masks[block]), alpha, block, np.zeros(n))

    return propose


def _log_prior(u: np.ndarray) -> np.ndarray:
    """log N(u; 0, I) up to its constant, for rows of u (C, D)."""
    return -0.5 * np.sum(u**2, axis=1)


def independence(sample: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]],
                 log_prob: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """Factory of an independence proposal u' ~ q, whatever the current u, with its MH correction.

    sample : (rng, n) -> (draws (n, D) float64 of q in standard-normal coordinates, their log q (n,)). log_prob :
    (n, D) -> (n,) log q (up to the same constant). The correction log p(u') + log q(u) − log p(u) − log q(u') keeps
    the target the ABC posterior however wrong q is (too narrow or shifted q only costs acceptance). Raises
    ValueError when ``sample`` returns the wrong shapes or non-finite log q at its own draws.
    """

    def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        new, log_q_new = sample(rng, len(u))
        new, log_q_new = np.asarray(new, dtype=np.float64), np.asarray(log_q_new, dtype=np.float64)
        if new.shape != u.shape or log_q_new.shape != (len(u),):
            raise ValueError(f"sample: expected draws of shape {u.shape} and log q of shape {(len(u),)}, got "
                             f"{new.shape} and {log_q_new.shape}")
        if not np.all(np.isfinite(log_q_new)):
            raise ValueError("sample: expected finite log q at the proposal's own draws")
        correction = _log_prior(new) + np.asarray(log_prob(u), np.float64) - _log_prior(u) - log_q_new
        return Proposal(new, np.full(len(u), np.nan), np.full(len(u), -1), correction)

    return propose


def mixture_proposal(draws: np.ndarray, rng: np.random.Generator, max_components: int = 3, df: float = 5.0,
                     block: slice | None = None) -> tuple[Callable[[np.random.Generator, np.ndarray], Proposal], dict]:
    """An independence proposal (:func:`independence`) from a mixture of multivariate Student-t densities fitted to
    ``draws`` (N, D) float64 of an approximation of the posterior (e.g. :func:`samplers.warmup.surrogate_draws`), and
    what was fitted.

    Gaussian mixtures of 1 … ``max_components`` full-covariance components are fitted by EM (scikit-learn's
    ``GaussianMixture``, seeded from ``rng``) and the one with the lowest BIC is kept; each component then becomes a
    Student-t with ``df`` degrees of freedom and the same location and scale matrix, whose heavier tails keep the
    importance ratio p/q bounded where the approximation is too narrow (a chain there would stay stuck). A mixture
    proposes into every mode it was fitted to, so chains reach modes that local moves rarely cross; the MH correction
    keeps the target exact however poor the fit (Tierney 1994; Giordani & Kohn 2010, adaptive independence MH with
    mixtures of t). Draws are made here (component by ``rng``), each chain's independently of the others'.
    With ``block`` (a slice of the D coordinates) the mixture is fitted to those coordinates of the draws alone and
    proposes them alone, the others kept (Metropolis-within-Gibbs): a jump between the modes of a few coordinates
    whose acceptance does not carry the mismatch of all D.
    Returns (propose, {"components": k, "weights": [k floats], "df": df}). Raises ValueError for draws that are not
    a finite (N, D) array with N > ``max_components`` · (D + 1) rows (D the block's size with ``block``),
    ``max_components`` < 1 or ``df`` ≤ 0.
    """
    from scipy.special import gammaln, logsumexp
    from sklearn.mixture import GaussianMixture

    draws = np.asarray(draws, dtype=np.float64)
    if block is not None and draws.ndim == 2:
        propose, fitted = mixture_proposal(draws[:, block], rng, max_components, df)
        return _in_block(propose, block), fitted
    if max_components < 1 or not df > 0:
        raise ValueError(f"max_components, df: expected an integer ≥ 1 and a number > 0, got {max_components}, {df}")
    if draws.ndim != 2 or len(draws) <= max_components * (draws.shape[1] + 1) or not np.all(np.isfinite(draws)):
        raise ValueError(f"draws: expected a finite (N, D) array with N > {max_components} · (D + 1), got shape "
                         f"{draws.shape}" + ("" if np.all(np.isfinite(draws)) else " with non-finite values"))
    seed = int(rng.integers(2**31))
    fits = [GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=seed).fit(draws)
            for k in range(1, max_components + 1)]
    best = fits[int(np.argmin([fit.bic(draws) for fit in fits]))]
    weights, means, dim = best.weights_, best.means_, draws.shape[1]
    cholesky = np.linalg.cholesky(best.covariances_)
    constant = (np.log(weights) + gammaln((df + dim) / 2) - gammaln(df / 2) - dim / 2 * np.log(df * np.pi)
                - np.log(np.diagonal(cholesky, axis1=1, axis2=2)).sum(axis=1))

    def log_prob(u: np.ndarray) -> np.ndarray:
        white = np.stack([np.linalg.solve(chol, (u - mean).T).T for chol, mean in zip(cholesky, means, strict=True)])
        return logsumexp(constant[:, None] - (df + dim) / 2 * np.log1p(np.sum(white**2, axis=2) / df), axis=0)

    def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        k = rng.choice(len(weights), size=n, p=weights)
        scale = np.sqrt(df / rng.chisquare(df, size=n))[:, None]
        new = means[k] + scale * np.einsum("nij,nj->ni", cholesky[k], rng.standard_normal((n, dim)))
        return new, log_prob(new)

    return independence(sample, log_prob), {"components": len(weights), "weights": weights.tolist(), "df": df}


def _in_block(propose: Callable[[np.random.Generator, np.ndarray], Proposal], block: slice
              ) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """``propose`` applied to the coordinates ``block`` of u (C, D), the others kept; its correction is unchanged, as
    the prior's factors of the kept coordinates cancel."""

    def propose_block(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        moved = propose(rng, u[:, block])
        position = np.array(u, dtype=np.float64)
        position[:, block] = moved.position
        return moved._replace(position=position)

    return propose_block


def mixture(components: Sequence[Callable[[np.random.Generator, np.ndarray], Proposal]], weights: Sequence[float],
            shared: bool = False) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """Factory of a mixture: each chain uses component k with probability weights[k] (independent of the state);
    with ``shared``, one draw picks the component for all chains of the step (fewer, larger calls of a costly
    component, such as a normalizing flow's).

    Each component proposes only for the chains that picked it. Raises ValueError for mismatched lengths or weights
    that are negative or sum to 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != len(components) or not len(w) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights: expected {len(components)} non-negative numbers with a positive sum, got {weights}")
    w = w / w.sum()

    def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        if shared:
            return components[rng.choice(len(w), p=w)](rng, u)
        pick = rng.choice(len(w), size=len(u), p=w)
        out = Proposal(np.empty_like(u, dtype=np.float64), np.empty(len(u)), np.empty(len(u), np.int64),
                       np.empty(len(u)))
        for k, component in enumerate(components):
            rows = np.flatnonzero(pick == k)
            if len(rows):
                for whole, part in zip(out, component(rng, u[rows]), strict=True):
                    whole[rows] = part
        return out

    return propose


def differential_evolution(jump_share: float = 0.1, jitter: float = 1e-4
                           ) -> Callable[[np.ndarray], Callable[[np.random.Generator, np.ndarray], Proposal]]:
    """Factory of ter Braak's (2006) differential-evolution move, given the positions of other chains.

    u' = u + γ (b₁ − b₂) + e, with b₁ ≠ b₂ two of ``others`` (M, D) drawn at random, e ~ N(0, jitter² I), and
    γ = 2.38 / √(2D) (the random-walk optimum for a Gaussian target), or γ = 1 with probability ``jump_share`` (a
    jump between modes that the other chains occupy). Given ``others``, the move is symmetric, so its
    Metropolis-Hastings correction is the prior ratio log p(u') − log p(u). It is exact only when ``others`` do not
    move while u does: use it through :func:`samplers.abc_mcmc.build_abc_ensemble`. Returns ``given(others)`` ->
    ``propose(rng, u)``; ``alpha`` records γ and ``block`` is −2. Raises ValueError for ``jump_share`` outside
    [0, 1], a negative ``jitter`` or fewer than two ``others``.
    """
    if not 0 <= jump_share <= 1:
        raise ValueError(f"jump_share: expected a number in [0, 1], got {jump_share}")
    if not jitter >= 0:
        raise ValueError(f"jitter: expected a number ≥ 0, got {jitter}")

    def given(others: np.ndarray) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
        others = np.asarray(others, dtype=np.float64)
        if others.ndim != 2 or len(others) < 2:
            raise ValueError(f"others: expected positions (M ≥ 2, D), got shape {others.shape}")

        def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
            n, m = len(u), len(others)
            first = rng.integers(m, size=n)
            second = (first + 1 + rng.integers(m - 1, size=n)) % m
            gamma = np.where(rng.uniform(size=n) < jump_share, 1.0, 2.38 / np.sqrt(2 * u.shape[1]))
            new = u + gamma[:, None] * (others[first] - others[second]) + jitter * rng.standard_normal(u.shape)
            return Proposal(new, gamma, np.full(n, -2), _log_prior(new) - _log_prior(u))

        return propose

    return given


DIVERGED = 1e4  # |u'|² beyond which a Hamiltonian trajectory counts as diverged (prior density below e⁻⁵⁰⁰⁰)


def hamiltonian(log_likelihood_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], step_size: float,
                n_steps: int, cholesky: np.ndarray, step_jitter: float = 0.2
                ) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """Factory of a Hamiltonian proposal whose trajectory follows a cheap surrogate of the log likelihood
    (Rasmussen 2003, "Gaussian processes to speed up hybrid Monte Carlo"; Meeds, Leenders & Welling 2015,
    Hamiltonian ABC).

    log_likelihood_grad : u (C, D) -> (ℓ̃(u) (C,), ∇ℓ̃(u) (C, D)) float64, a differentiable stand-in for the log ABC
    kernel (an emulator of the simulator and summary statistic); the N(0, I) prior's gradient −u is added here.
    step_size : float > 0, the leapfrog step in the units whitened by ``cholesky``. n_steps : int ≥ 1, leapfrog
    steps per trajectory. cholesky : (D, D) lower-triangular L with L Lᵀ = M⁻¹, the inverse mass matrix (the
    posterior's covariance, estimated by :func:`samplers.warmup.adapt_hamiltonian`). step_jitter : each chain's step
    is step_size · U(1 − jitter, 1 + jitter), drawn independently of the state (Neal 2011, §5.4.2.2).

    Each proposal draws a momentum p ~ N(0, M), runs ``n_steps`` leapfrog steps on the surrogate target
    p(u) · exp(ℓ̃(u)) and proposes the end point. Leapfrog is volume-preserving and reversible for any potential, so
    log_correction = log p(u') − log p(u) + ½ pᵀM⁻¹p − ½ p'ᵀM⁻¹p' makes the acceptance the true Hamiltonian
    ratio K(ρ') / K(ρ) · exp(log_correction): the target stays the ABC posterior however poor the surrogate, which
    only costs acceptance. A trajectory that diverges (a non-finite gradient or position, or |u'|² > ``DIVERGED``,
    where the prior's mass is below e⁻⁵⁰⁰⁰) proposes u itself with log_correction −inf, a rejection, so no
    non-finite or absurd scene reaches the simulator (the target is then the ABC posterior restricted to
    |u|² ≤ ``DIVERGED``). ``alpha`` records the step used; ``block`` is −4. Raises ValueError for a step_size ≤ 0,
    n_steps < 1, a jitter outside [0, 1) or a cholesky factor that is not (D, D) lower-triangular with a positive
    diagonal; ``propose`` raises ValueError for u whose number of coordinates is not D.
    """
    if not step_size > 0:
        raise ValueError(f"step_size: expected a number > 0, got {step_size}")
    if n_steps < 1:
        raise ValueError(f"n_steps: expected an integer ≥ 1, got {n_steps}")
    if not 0 <= step_jitter < 1:
        raise ValueError(f"step_jitter: expected a number in [0, 1), got {step_jitter}")
    chol = np.asarray(cholesky, dtype=np.float64)
    if chol.ndim != 2 or chol.shape[0] != chol.shape[1] or not np.allclose(chol, np.tril(chol)) \
            or not np.all(np.diag(chol) > 0):
        raise ValueError(f"cholesky: expected a (D, D) lower-triangular factor with a positive diagonal, got shape "
                         f"{chol.shape}")
    inverse_mass, momentum_scale = chol @ chol.T, np.linalg.inv(chol)  # p = L⁻ᵀ z, as rows: z L⁻¹

    def gradient(u: np.ndarray) -> np.ndarray:
        return np.asarray(log_likelihood_grad(u)[1], np.float64) - u

    def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        if u.shape[1] != len(chol):
            raise ValueError(f"u: expected {len(chol)} coordinates for the cholesky factor, got {u.shape[1]}")
        step = step_size * rng.uniform(1 - step_jitter, 1 + step_jitter, size=len(u))[:, None]
        z = rng.standard_normal(u.shape)
        momentum = z @ momentum_scale  # ~ N(0, M)
        position = np.array(u, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            momentum = momentum + 0.5 * step * gradient(position)
            for i in range(n_steps):
                position = position + step * (momentum @ inverse_mass)
                force = gradient(position)
                momentum = momentum + (step if i < n_steps - 1 else 0.5 * step) * force
            kinetic = 0.5 * np.sum((momentum @ chol) ** 2, axis=1)
            correction = _log_prior(position) - _log_prior(u) + 0.5 * np.sum(z**2, axis=1) - kinetic
        finite = np.isfinite(correction) & (np.sum(position**2, axis=1) <= DIVERGED)
        return Proposal(np.where(finite[:, None], position, u), step[:, 0], np.full(len(u), -4),
                        np.where(finite, correction, -np.inf))

    return propose
