"""A local linear emulator of the summary statistic: ν̂(u) = [u, 1] A, fitted by least squares on scenes a fit has
already simulated near its posterior, for the Hamiltonian moves' surrogate where no trained emulator applies
(:func:`abc_inverse.fit.local_emulator`).

Why linear: the shipped proposal's neural emulator learnt the network's summaries of faces on a plain background;
composited over a photo (``--background image``) the summaries are others (on the astronaut photo the cosine
distance to the photo's falls from 0.78 to 0.002), and no emulator was trained on them. Within the posterior's
region a plane is enough: on the astronaut photo, fitted on 1000 draws of an ensemble there, it predicted the other
500's log kernel −ρ²/(2ε²) with an error of sd 0.22 against their spread of 1.0 (a quadratic: 0.18). The emulator
only steers proposals; each is accepted on the simulated distance, so its error costs acceptance, not exactness
(Rasmussen 2003; the local regressions of Beaumont, Zhang & Balding 2002 in the other direction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOLDOUT = 0.2  # share of the rows kept out of the fit to measure the emulator's error


@dataclass(frozen=True)
class LinearEmulator:
    """ν̂(u) = u @ coef + intercept. coef : (D, S) float64; intercept : (S,) float64; meta : the
    ``emulator_validation_cosine_median`` (the median cosine distance between held-out summaries and their
    emulation) and ``emulator_rows`` (how many scenes it was fitted on), the keys a
    :class:`encoders.proposal.SceneProposal` carries for its own emulator."""

    coef: np.ndarray
    intercept: np.ndarray
    meta: dict

    @classmethod
    def fit(cls, u: np.ndarray, summaries: np.ndarray, rng: np.random.Generator) -> LinearEmulator:
        """Least squares of ``summaries`` (N, S) on ``u`` (N, D) standard-normal coordinates (duplicate rows, as
        rejected MCMC steps leave, are dropped); its error measured on a random ``HOLDOUT`` share of the rows
        fitted on the rest, then refitted on all. Raises ValueError for mismatched or non-finite rows, or fewer
        distinct rows than D + 2."""
        u, summaries = np.asarray(u, np.float64), np.asarray(summaries, np.float64)
        if u.ndim != 2 or summaries.ndim != 2 or len(u) != len(summaries):
            raise ValueError(f"u, summaries: expected (N, D) and (N, S) arrays, got shapes {u.shape} and "
                             f"{summaries.shape}")
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(summaries))):
            raise ValueError("u, summaries: expected finite values")
        u, keep = np.unique(u, axis=0, return_index=True)
        summaries = summaries[keep]
        if len(u) < u.shape[1] + 2:
            raise ValueError(f"u: expected at least {u.shape[1] + 2} distinct scenes to fit a plane in "
                             f"{u.shape[1]} coordinates, got {len(u)}")
        held = rng.permutation(len(u)) < max(1, int(HOLDOUT * len(u)))
        first = cls._least_squares(u[~held], summaries[~held], {})
        error = float(np.median(_cosine(summaries[held], first.emulate(u[held]))))
        return cls._least_squares(u, summaries, {"emulator_validation_cosine_median": error, "emulator_rows": len(u)})

    @classmethod
    def _least_squares(cls, u: np.ndarray, summaries: np.ndarray, meta: dict) -> LinearEmulator:
        solution = np.linalg.lstsq(np.column_stack([u, np.ones(len(u))]), summaries, rcond=None)[0]
        return cls(solution[:-1], solution[-1], meta)

    def emulate(self, u: np.ndarray) -> np.ndarray:
        """The emulated summaries (n, S) float64 of scenes u (n, D)."""
        return np.asarray(u, np.float64) @ self.coef + self.intercept

    def emulated_cosine(self, u: np.ndarray, summary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cosine distance ρ(summary, ν̂(u)) (n,) float64 between an observed summary (S,) and the emulated
        summaries of scenes u (n, D), and its gradient ∂ρ/∂u (n, D) float64 (exact: ν̂ is linear), as
        :meth:`encoders.proposal.SceneProposal.emulated_cosine`. Raises ValueError for a summary of another
        length than the emulator's."""
        observed = np.asarray(summary, np.float64)
        if observed.shape != self.intercept.shape:
            raise ValueError(f"summary: expected shape {self.intercept.shape}, got {observed.shape}")
        s = self.emulate(u)
        norm_s, norm_o = np.linalg.norm(s, axis=1), np.linalg.norm(observed)
        cos = s @ observed / (norm_s * norm_o)
        # ∂cos/∂s = o / (|s||o|) − cos · s / |s|², then through ν̂'s Jacobian coefᵀ
        d_cos = observed / (norm_s[:, None] * norm_o) - cos[:, None] * s / norm_s[:, None] ** 2
        return 1.0 - cos, -(d_cos @ self.coef.T)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine distance (N,) between (N, S) arrays."""
    return 1.0 - np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
