"""A local linear emulator of the summary statistic: ν̂(u) = [F(u), 1] A, F the scene's coordinates u and its angles,
light direction and camera (:func:`scene_features`), fitted by least squares on scenes a fit has
already simulated near its posterior, for the Hamiltonian moves' surrogate where no trained emulator applies
(:func:`abc_inverse.fit.local_emulator`).

Why this: the shipped proposal's neural emulator learnt the network's summaries of faces on a plain background;
composited over a photo (``--background image``) the summaries are others (on the astronaut photo the network's
cosine distance to the photo at the landmarks' best geometry falls from 0.78 to 0.002), and no emulator was trained
on them. Within the posterior's
region a linear map is close: fitted on 1000 posterior draws of three photos (astronaut, biden, luispedro) and
tested on 500 others, it predicted the log kernel −ρ²/(2ε²) with an error of sd 0.36 / 0.53 / 0.47 against a spread
of 1.04 / 0.92 / 1.22 (u alone: 0.49 / 0.86 / 0.69; squares of u: no better; a full quadratic in u, or cross terms
of the light and the albedo, overfitted). The emulator only steers proposals; each is accepted on the simulated
distance, so its error costs acceptance, not exactness (Rasmussen 2003).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abc_inverse.model.scene import ScenePrior

HOLDOUT = 0.2  # share of the rows kept out of the fit to measure the emulator's error
ANGLE_STEP = 1e-6  # central-difference step in u for the derivatives of the scene's angles and camera


def scene_features(prior: ScenePrior, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The regressors of :class:`LinearEmulator` for scenes u (n, D): (F (n, D + 7), ∂F/∂u (n, D + 7, D)) float64.
    F is u itself, then the scene's azimuth and elevation (radians), the cosine and sine of its light azimuth (the
    light's direction: Lambertian shading is linear in it, not in the angle) and its camera (3, in [0, 1])
    (:meth:`abc_inverse.model.scene.ScenePrior.from_normal`). Each of those 7 depends on one coordinate of u, whose
    derivative is a central difference of ``ANGLE_STEP``. On three real photos with the face composited over them,
    these regressors cut the emulated log kernel's error from sd 0.49–0.86 (u alone) to 0.36–0.53, against a spread
    of 0.9–1.2 over the posterior (scratch probe, 1000 draws fitted, 500 held out; cross terms of the light and the
    albedo overfitted)."""
    u = np.asarray(u, np.float64)
    n, d = u.shape
    columns = np.concatenate([np.arange(d)[prior.blocks[name]] for name in ("pose", "light", "camera")])

    def derived(x: np.ndarray) -> np.ndarray:
        scene = prior.from_normal(x)
        return np.column_stack([scene.azimuth, scene.elevation, np.cos(scene.light_azimuth),
                                np.sin(scene.light_azimuth), scene.camera])

    owner = np.array([0, 1, 2, 2, 3, 4, 5])  # which of ``columns`` each derived regressor depends on
    jacobian = np.zeros((n, d + 7, d))
    jacobian[:, np.arange(d), np.arange(d)] = 1.0
    for k, column in enumerate(columns):
        up, down = u.copy(), u.copy()
        up[:, column] += ANGLE_STEP
        down[:, column] -= ANGLE_STEP
        rows = np.flatnonzero(owner == k)
        jacobian[:, d + rows, column] = ((derived(up) - derived(down)) / (2 * ANGLE_STEP))[:, rows]
    return np.column_stack([u, derived(u)]), jacobian


@dataclass(frozen=True)
class LinearEmulator:
    """ν̂(u) = F(u) @ coef + intercept, F the :func:`scene_features` of ``prior``. coef : (D + 7, S) float64;
    intercept : (S,) float64; meta : the ``emulator_validation_cosine_median`` (the median cosine distance between
    held-out summaries and their emulation) and ``emulator_rows`` (how many scenes it was fitted on), the keys a
    :class:`encoders.proposal.SceneProposal` carries for its own emulator."""

    prior: ScenePrior
    coef: np.ndarray
    intercept: np.ndarray
    meta: dict

    @classmethod
    def fit(cls, prior: ScenePrior, u: np.ndarray, summaries: np.ndarray, rng: np.random.Generator) -> LinearEmulator:
        """Least squares of ``summaries`` (N, S) on the :func:`scene_features` of ``u`` (N, D) standard-normal
        coordinates of ``prior`` (duplicate rows, as rejected MCMC steps leave, are dropped); its error measured
        on a random ``HOLDOUT`` share of the rows fitted on the rest, then refitted on all. Raises ValueError for
        mismatched or non-finite rows, or fewer distinct rows than regressors + 1."""
        u, summaries = np.asarray(u, np.float64), np.asarray(summaries, np.float64)
        if u.ndim != 2 or summaries.ndim != 2 or len(u) != len(summaries) or u.shape[1] != prior.dim:
            raise ValueError(f"u, summaries: expected (N, {prior.dim}) and (N, S) arrays, got shapes {u.shape} and "
                             f"{summaries.shape}")
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(summaries))):
            raise ValueError("u, summaries: expected finite values")
        u, keep = np.unique(u, axis=0, return_index=True)
        summaries = summaries[keep]
        if len(u) < cls.least_rows(prior):
            raise ValueError(f"u: expected at least {cls.least_rows(prior)} distinct scenes to fit "
                             f"{cls.least_rows(prior) - 1} regressors, got {len(u)}")
        held = rng.permutation(len(u)) < max(1, int(HOLDOUT * len(u)))
        first = cls._least_squares(prior, u[~held], summaries[~held], {})
        error = float(np.median(_cosine(summaries[held], first.emulate(u[held]))))
        return cls._least_squares(prior, u, summaries,
                                  {"emulator_validation_cosine_median": error, "emulator_rows": len(u)})

    @staticmethod
    def least_rows(prior: ScenePrior) -> int:
        """The fewest distinct scenes :meth:`fit` accepts for ``prior``: one more than the regressors (D + 7 and
        the intercept)."""
        return prior.dim + 9

    @classmethod
    def _least_squares(cls, prior: ScenePrior, u: np.ndarray, summaries: np.ndarray, meta: dict) -> LinearEmulator:
        features = scene_features(prior, u)[0]
        solution = np.linalg.lstsq(np.column_stack([features, np.ones(len(u))]), summaries, rcond=None)[0]
        return cls(prior, solution[:-1], solution[-1], meta)

    def emulate(self, u: np.ndarray) -> np.ndarray:
        """The emulated summaries (n, S) float64 of scenes u (n, D)."""
        return scene_features(self.prior, u)[0] @ self.coef + self.intercept

    def emulated_cosine(self, u: np.ndarray, summary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cosine distance ρ(summary, ν̂(u)) (n,) float64 between an observed summary (S,) and the emulated
        summaries of scenes u (n, D), and its gradient ∂ρ/∂u (n, D) float64, as
        :meth:`encoders.proposal.SceneProposal.emulated_cosine`. Raises ValueError for a summary of another
        length than the emulator's."""
        observed = np.asarray(summary, np.float64)
        if observed.shape != self.intercept.shape:
            raise ValueError(f"summary: expected shape {self.intercept.shape}, got {observed.shape}")
        features, jacobian = scene_features(self.prior, u)
        s = features @ self.coef + self.intercept
        norm_s, norm_o = np.linalg.norm(s, axis=1), np.linalg.norm(observed)
        cos = s @ observed / (norm_s * norm_o)
        # ∂cos/∂s = o / (|s||o|) − cos · s / |s|², then through coefᵀ and the regressors' Jacobian
        d_cos = observed / (norm_s[:, None] * norm_o) - cos[:, None] * s / norm_s[:, None] ** 2
        return 1.0 - cos, -np.einsum("np,npd->nd", d_cos @ self.coef.T, jacobian)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine distance (N,) between (N, S) arrays."""
    return 1.0 - np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
