"""Linear regression adjustment of ABC draws (Beaumont, Zhang & Balding 2002).

An ABC sampler's draws (θ_i, s_i) come from π(θ) p(s | θ) K_ε(ρ(s, s_obs)): the kernel depends on s alone, so
among the draws θ given s is distributed as the posterior p(θ | s) whatever ε is. Regressing θ on s over the
draws and moving each draw along the fitted line to the observed summary,

    θ_i* = θ_i − β̂ᵀ (s_i − s_obs),

gives draws of p(θ | s_obs) where E[θ | s] is linear in s over the region the kernel admits and the residual
θ − E[θ | s] does not depend on s (Beaumont et al. 2002, eq. 3-5). The adjusted draws keep the ABC draws' order,
so chains stay chains and R-hat and ESS can be computed on them (ABC-MCMC followed by regression adjustment:
Wegmann, Leuenberger & Excoffier 2009). Under model misspecification, where no θ reproduces s_obs, the
adjustment extrapolates the line beyond the simulated summaries and can land anywhere (Frazier, Robert & Rousseau
2020, JRSS B 82, §4): a caller should not adjust then on the whole summary. It may on a part of the summary that
the draws do reach, the observed part lying inside the simulated ones (:func:`within_draws`): there the line is
interpolated, not extrapolated.

The regression is ordinary least squares with uniform weights: ABC-MCMC draws already carry the kernel (Beaumont's
Epanechnikov weights are for rejection-sampled draws). Summary columns are centred and scaled, and directions of
summary space the draws barely span are cut by the pseudo-inverse (``rcond``), so collinear summaries are safe.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import chi2


def standardised(summary: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the draws' summaries (N, S) centred and divided by each column's sd, the observed summary (S,) in the same
    units, the sds (S,), 1 for a column that does not vary)."""
    mean, scale = summary.mean(axis=0), summary.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (summary - mean) / scale, (observed - mean) / scale, scale


class Adjustment(NamedTuple):
    """What :func:`regression_adjustment` computed. position : (N, D) float64, the adjusted draws; coefficients :
    (S, D) float64, β̂ (change of θ per unit of each summary column); r_squared : (D,) float64, the share of each
    coordinate's variance over the draws that the summaries explain (near 0: the adjustment barely moved it)."""

    position: np.ndarray
    coefficients: np.ndarray
    r_squared: np.ndarray


def regression_adjustment(position: np.ndarray, summary: np.ndarray, observed: np.ndarray,
                          rcond: float = 1e-6) -> Adjustment:
    """Move ABC draws along their linear regression on the summary to the observed summary.

    Parameters
    ----------
    position : (N, D) float, the draws (any parameterisation in which E[θ | s] is close to linear; for a
        bounded parameter an unbounded one, e.g. the prior's standard-normal coordinates).
    summary : (N, S) float, the summary statistic of each draw's simulation.
    observed : (S,) float, the observed summary.
    rcond : singular values of the standardised summaries below ``rcond`` × the largest are treated as 0.

    Returns :class:`Adjustment`. Raises ValueError when the shapes disagree, a value is not finite, or there are
    fewer than S + 2 draws (the regression would be underdetermined).

    References
    ----------
    Beaumont, Zhang & Balding 2002, Genetics 162, "Approximate Bayesian computation in population genetics", eq. 3-5.
    """
    position, summary, observed = (np.asarray(a, np.float64) for a in (position, summary, observed))
    if position.ndim != 2:
        raise ValueError(f"position: expected shape (N, D), got {position.shape}")
    n, _ = position.shape
    if summary.ndim != 2 or summary.shape[0] != n:
        raise ValueError(f"summary: expected shape ({n}, S) for {n} draws, got {summary.shape}")
    if observed.shape != summary.shape[1:]:
        raise ValueError(f"observed: expected shape ({summary.shape[1]},), got {observed.shape}")
    if n < summary.shape[1] + 2:
        raise ValueError(f"position: expected at least {summary.shape[1] + 2} draws (summary dimension + 2) to "
                         f"regress on, got {n}")
    for name, a in (("position", position), ("summary", summary), ("observed", observed)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: expected finite values, got NaN or inf")
    x, _, scale = standardised(summary, observed)
    centred = position - position.mean(axis=0)
    slope = np.linalg.pinv(x, rcond=rcond) @ centred  # (S, D) in standardised units
    coefficients = slope / scale[:, None]
    adjusted = position - (summary - observed) @ coefficients
    residual = centred - x @ slope
    total = np.sum(centred**2, axis=0)
    r_squared = np.where(total > 0, 1 - np.sum(residual**2, axis=0) / np.where(total > 0, total, 1.0), 0.0)
    return Adjustment(adjusted, coefficients, r_squared)


def within_draws(summary: np.ndarray, observed: np.ndarray, level: float = 0.999,
                 rcond: float = 1e-6) -> tuple[bool, float, float]:
    """Whether the observed summary lies among the draws' summaries, so that :func:`regression_adjustment` on them
    interpolates: its Mahalanobis distance from their mean under their covariance, against the distance within
    which a Gaussian with that mean and covariance puts ``level`` of its mass (√ of the χ²_S quantile; the squared
    Mahalanobis distance of a Gaussian vector is χ²_S-distributed).

    summary : (N, S) float, the draws' summaries, N > S; observed : (S,) float; level : in (0, 1); rcond : as in
    :func:`regression_adjustment`: the columns are standardised, and the directions of summary space the draws
    barely span (singular values below ``rcond`` × the largest), which the regression ignores, are left out of
    the distance too (and from the χ² degrees of freedom), so a column that never varies does not count. Returns
    (inside, distance, limit), distances in standard deviations. Raises ValueError on shapes that disagree,
    non-finite values, N ≤ S or a level outside (0, 1).

    References
    ----------
    Mahalanobis 1936, "On the generalised distance in statistics", Proc. Natl. Inst. Sci. India 2.
    """
    summary, observed = np.asarray(summary, np.float64), np.asarray(observed, np.float64)
    if summary.ndim != 2 or observed.shape != summary.shape[1:]:
        raise ValueError(f"summary, observed: expected shapes (N, S) and (S,), got {summary.shape} and "
                         f"{observed.shape}")
    if summary.shape[0] <= summary.shape[1]:
        raise ValueError(f"summary: expected more draws than summaries, got {summary.shape[0]} draws of "
                         f"{summary.shape[1]}")
    if not (np.all(np.isfinite(summary)) and np.all(np.isfinite(observed))):
        raise ValueError("summary, observed: expected finite values, got NaN or inf")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a probability in (0, 1), got {level}")
    x, offset, _ = standardised(summary, observed)
    _, singular, directions = np.linalg.svd(x, full_matrices=False)
    kept = singular > rcond * singular.max()  # none when no column varies: distance 0
    sds = singular[kept] / np.sqrt(len(x) - 1)  # the draws' sd along each kept principal direction
    distance = float(np.linalg.norm((directions[kept] @ offset) / sds))
    limit = float(np.sqrt(chi2.ppf(level, df=max(int(kept.sum()), 1))))
    return distance <= limit, distance, limit
