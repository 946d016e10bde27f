"""How disentangled a code is: the DCI framework of Eastwood & Williams (*A Framework for the Quantitative
Evaluation of Disentangled Representations*, ICLR 2018, §2-3), whose disentanglement D is the D_score of
Detlefsen & Hauberg's VITAE table.

For each factor k a regressor predicts it from the codes; R_ik ≥ 0 is the importance of code i in predicting factor k.
With P_ik = R_ik / Σ_k' R_ik',

- disentanglement of code i: D_i = 1 − H_K(P_i·), the entropy in base K (the number of factors), so a code that
  matters for one factor scores 1 and one that matters equally for all scores 0; overall D = Σ_i ρ_i D_i with
  ρ_i = Σ_k R_ik / Σ_ik R_ik (codes that matter little weigh little);
- completeness of factor k: C_k = 1 − H_L(P̃_·k) with P̃_ik = R_ik / Σ_i' R_i'k (L codes); overall C is the mean;
- informativeness: the regressors' error on held-out data, as normalised root mean squared error (factors are
  standardised, so 1 = predicting the mean).

The importances are a random forest's impurity-based feature importances (scikit-learn's
``RandomForestRegressor``, one of the two regressors Eastwood & Williams use; its maintained implementation rather
than our own trees). Categorical factors (dSprites' shape) are regressed on their class index, as in their paper.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DCI(NamedTuple):
    """Scores of :func:`dci`: disentanglement, completeness in [0, 1] (float); informativeness (float, mean
    held-out NRMSE over factors, lower is better); importance (L, K) float64, R of the module docstring, each
    factor's column summing to 1."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy in base ``base`` of each row of p (rows sum to 1; 0 log 0 = 0)."""
    logs = np.log(np.where(p > 0, p, 1.0)) / np.log(base)
    return -(p * logs).sum(axis=1)


def scores_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """(D, C) of an importance matrix R (L codes, K factors) ≥ 0, as in the module docstring.
    Raises ValueError for fewer than two codes or factors, negative or non-finite entries, or R = 0."""
    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2 or min(r.shape) < 2:
        raise ValueError(f"importance: expected (codes, factors) with at least 2 of each, got shape {r.shape}")
    if not np.all(np.isfinite(r)) or r.min() < 0 or r.sum() == 0:
        raise ValueError("importance: expected finite, non-negative values, not all 0")
    codes, factors = r.shape
    used = r.sum(axis=1) > 0
    d_per_code = 1 - _entropy(r[used] / r[used].sum(axis=1, keepdims=True), factors)
    weight = r[used].sum(axis=1) / r.sum()
    c_per_factor = 1 - _entropy((r / r.sum(axis=0, keepdims=True)).T, codes)
    return float(weight @ d_per_code), float(c_per_factor.mean())


def dci(codes: np.ndarray, factors: np.ndarray, rng: np.random.Generator, test_fraction: float = 0.2,
        n_estimators: int = 100, max_depth: int = 8) -> DCI:
    """The DCI scores of ``codes`` against the generative ``factors`` (see the module docstring).

    codes : (N, L) float, one row per image (e.g. encoder means); factors : (N, K) float, the known factors of the
    same images (K ≥ 2, none constant). rng : seeds the train/test split and the forests. test_fraction : share of
    rows held out for informativeness. n_estimators, max_depth : the random forests' size.
    Raises ValueError for mismatched or too few rows, fewer than two codes or factors, non-finite values, a
    constant factor or a test fraction outside (0, 1).
    """
    from sklearn.ensemble import RandomForestRegressor

    codes, factors = np.asarray(codes, np.float64), np.asarray(factors, np.float64)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"codes, factors: expected (N, L) and (N, K) arrays, got {codes.shape} and {factors.shape}")
    if codes.shape[1] < 2 or factors.shape[1] < 2 or len(codes) < 10:
        raise ValueError(f"codes, factors: expected ≥ 10 rows and ≥ 2 columns each, got {codes.shape} and "
                         f"{factors.shape}")
    if not (np.all(np.isfinite(codes)) and np.all(np.isfinite(factors))):
        raise ValueError("codes, factors: expected finite values")
    spread = factors.std(axis=0)
    if np.any(spread == 0):
        raise ValueError(f"factors: columns {np.flatnonzero(spread == 0).tolist()} are constant; leave them out")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    factors = (factors - factors.mean(axis=0)) / spread
    order = rng.permutation(len(codes))
    n_test = max(1, int(round(test_fraction * len(codes))))
    test, train = order[:n_test], order[n_test:]
    importance = np.empty((codes.shape[1], factors.shape[1]))
    errors = []
    for k in range(factors.shape[1]):
        forest = RandomForestRegressor(n_estimators=n_estimators, max_depth=max_depth, n_jobs=1,
                                       random_state=int(rng.integers(2**31)))
        forest.fit(codes[train], factors[train, k])
        importance[:, k] = forest.feature_importances_
        residual = forest.predict(codes[test]) - factors[test, k]
        errors.append(np.sqrt(np.mean(residual**2)))
    d, c = scores_from_importance(importance)
    return DCI(d, c, float(np.mean(errors)), importance)
