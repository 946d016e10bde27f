"""Distillation of a DC-IGN statistic into one that sees a face through what a photograph adds to it.

A *teacher* (a DC-IGN trained on clean renders, e.g. the shipped network) codes each prior scene from its own
render; the *student* — the same architecture, started from the teacher's weights — is trained to give that code
(encoder mean and log-variance) for the same scene rendered by this run's simulator (with facial features, anti-
aliased) and domain-randomised (:mod:`encoders.augment`: real backgrounds, framing, gamma, blur, noise, JPEG).
On clean renders the student's statistic then stands in for the teacher's, whose figures (|r| of z1–z3 with the
angles) it inherits as far as it matches; on a photo it reads the face, not the background (issue "Real
photographs", item 3). A share :data:`CLEAN_SHARE` of every batch is left clean, because ``fit`` encodes clean
renders. The decoder is the teacher's, untouched, so the student's checkpoint is a whole DC-IGN.

With ``centred_pose`` the targets of the pose codes z1–z3 are the teacher's codes of the same scene seen from the
centred camera (:data:`CENTRED_CAMERA`): the student's pose codes then ignore where the camera is, which the
teacher's do not fully (on renders a wrong camera height can stand in for elevation in its code,
``experiments/elevation_camera_ridge.py``), while z4… keep the teacher's code of the scene as rendered, camera
included. With ``angle_pose`` the targets of z1–z3 are further still from the render: each is the teacher's
straight line of that code on its own angle (:meth:`Teacher.fit_curves`: least squares over renders in which the
angle is drawn from the prior and the other two are 0, as in the paper's Fig. 9a–c sweeps), or with ``angle_bins``
its mean code in bins of the angle (its bends kept), evaluated at the scene's angle. The pose codes are then taught
to read their angle and nothing else — face, camera, the other two angles — on the teacher's scale: the limit of
§3.2.1's invariance targeting. On scenes where everything varies the teacher's z2 does not follow elevation
(``docs/results/encoders``: r_joint −0.12); such a student's should.

This is knowledge distillation (Hinton, Vinyals & Dean 2015) in its regression form: the student regresses the
teacher's encoder outputs, mean and log-variance, by squared error (as FitNets regress a teacher's features, Romero
et al. 2015), not the KL between the two Gaussians; the domain randomisation is Tobin et al. 2017's. Neither is in
Kulkarni et al. 2015, whose §3.2.1 "invariance targeting" is the nearest idea: the code must stay put when what it
does not describe changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from abc_inverse.model.scene import ANGLE_LIMITS, Scene
from abc_inverse.render.simulator import simulator_from_config
from encoders.batches import LATENT_OF, VARIED_ANGLE
from encoders.dcign import DCIGN, code_procedure, load_checkpoint, weights_digest

CLEAN_SHARE = 0.25  # share of each batch the student sees without domain randomisation
LOGVAR_WEIGHT = 0.1  # weight of the log-variance error against the mean's
CENTRED_CAMERA = 0.5  # camera variables (x, y, distance) of the view whose pose codes are the centred targets
POSE_CODES = sorted(LATENT_OF.values())  # z1-z3
POSE_ANGLES = tuple(VARIED_ANGLE[kind] for kind in sorted(LATENT_OF, key=LATENT_OF.get))  # their Scene fields
CURVE_SCENES = 1000  # renders per angle that fit the teacher's curves (angle_pose)
CURVE_SEED = 2 * 10**6  # with the run's seed, seeds those renders apart from training and held-out draws


class Teacher:
    """A frozen DC-IGN and the simulator it was trained on, giving the distillation targets.

    path : DC-IGN checkpoint trained on rendered faces. device : torch device of the network.
    Raises FileNotFoundError / ValueError for a missing or corrupt checkpoint (:func:`encoders.dcign.load_checkpoint`)
    and ValueError for one trained on dSprites (no simulator to render its inputs)."""

    def __init__(self, path: Path | str, device: torch.device | str = "cpu"):
        model, meta, _ = load_checkpoint(path)
        if not meta.simulator:
            raise ValueError(f"teacher: {str(path)!r} was trained on dSprites; a teacher must be trained on rendered "
                             f"faces")
        self.path = str(path)
        self.digest = weights_digest(model)
        self.mode = code_procedure(meta.train)  # how the codes the student copies were taught
        self.model: DCIGN = model.to(device).requires_grad_(False)
        self.simulator = simulator_from_config(meta.simulator)
        self.curves: tuple[np.ndarray, np.ndarray] | None = None  # knots, values (3, K) of z1-z3 (fit_curves)

    def fit_curves(self, rng: np.random.Generator, n: int = CURVE_SCENES, bins: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Fit and keep each of the teacher's pose codes z1–z3 as a function of its own angle alone: for each of
        azimuth, elevation and light azimuth, n prior scenes with that angle as drawn and the other two 0, rendered
        (:meth:`render`) and encoded. bins = 0: the least-squares straight line of the code's mean on the angle;
        bins = K > 0: the mean code in K equal bins of the angle's prior range, joined by straight segments through
        the bins' centres (flat beyond the outer centres) — the teacher's conditional mean, its bends kept.
        Returns (knots, values), each (3, K') float64 (radians; code units), K' = 2 for the line (the prior's
        limits), rows z1, z2, z3 (``angle_pose``). Raises ValueError for bins < 0 or a bin that no render fell in."""
        if bins < 0:
            raise ValueError(f"bins: expected an integer ≥ 0, got {bins}")
        knots, values = [], []
        for k, angle in zip(POSE_CODES, POSE_ANGLES, strict=True):
            scenes = self.simulator.prior.sample(rng, n)
            scenes = scenes._replace(**{a: np.zeros(n) for a in POSE_ANGLES if a != angle})
            with torch.no_grad():
                z = self.model.encode(self.render(scenes).to(self.device))[0][:, k].double().cpu().numpy()
            theta, limit = getattr(scenes, angle), ANGLE_LIMITS[angle]
            if bins == 0:
                slope, intercept = np.polyfit(theta, z, 1)
                knots.append(np.array([-limit, limit]))
                values.append(intercept + slope * knots[-1])
                continue
            edges = np.linspace(-limit, limit, bins + 1)
            which = np.clip(np.digitize(theta, edges) - 1, 0, bins - 1)
            counts = np.bincount(which, minlength=bins)
            if not counts.all():
                raise ValueError(f"bins: {bins} bins of {angle} leave some empty with n={n} renders; use fewer bins")
            knots.append((edges[:-1] + edges[1:]) / 2)
            values.append(np.bincount(which, weights=z, minlength=bins) / counts)
        self.curves = np.stack(knots), np.stack(values)
        return self.curves

    @property
    def device(self) -> torch.device:
        """The teacher network's torch device."""
        return next(self.model.parameters()).device

    def angles(self, scenes: Scene) -> torch.Tensor:
        """(N, 3) float32 on the CPU: the scenes' azimuth, elevation and light azimuth in radians (z1–z3's angles)."""
        return torch.from_numpy(np.stack([getattr(scenes, a) for a in POSE_ANGLES], 1)).float()

    def render(self, scenes: Scene) -> torch.Tensor:
        """The teacher's inputs: (N, 1, S, S) float32 clean renders of the N scenes, intensities in [0, 1], on the CPU,
        rendered as the teacher was trained on. Raises ValueError for invalid scenes (the simulator's)."""
        return torch.from_numpy(self.simulator(scenes))[:, None]

    def render_centred(self, scenes: Scene) -> torch.Tensor:
        """:meth:`render` of the scenes seen from the centred camera (every camera variable ``CENTRED_CAMERA``)."""
        return self.render(scenes._replace(camera=np.full_like(scenes.camera, CENTRED_CAMERA)))

    def codes(self, x: torch.Tensor, x_centred: torch.Tensor | None = None, angles: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets (mu, logvar), each (N, latent_dim) float32 on the teacher's device, of the teacher's inputs x
        (N, 1, S, S) float32 in [0, 1] (any device); with ``x_centred`` (N, 1, S, S), the same scenes from the centred
        camera, the targets of the pose codes z1-z3 are those of x_centred; with ``angles`` (N, 3) float32 radians
        (:meth:`angles`), the means of z1–z3 are the teacher's curves (:meth:`fit_curves`) at those angles
        (log-variances the render's). No gradient. Raises ValueError for angles before :meth:`fit_curves`."""
        if angles is not None and self.curves is None:
            raise ValueError("angles: the teacher's curves are not fitted; call fit_curves first")
        with torch.no_grad():
            mu, logvar = self.model.encode(x.to(self.device))
            if x_centred is not None:
                mu_c, logvar_c = self.model.encode(x_centred.to(self.device))
                mu[:, POSE_CODES], logvar[:, POSE_CODES] = mu_c[:, POSE_CODES], logvar_c[:, POSE_CODES]
            if angles is not None:
                theta = angles.double().cpu().numpy()
                pose = [np.interp(theta[:, k], *(table[k] for table in self.curves)) for k in POSE_CODES]
                mu[:, POSE_CODES] = torch.from_numpy(np.stack(pose, 1)).float().to(self.device)
            return mu, logvar


def clean_count(n: int) -> int:
    """How many of a batch of n ≥ 0 images stay clean: :data:`CLEAN_SHARE` · n rounded to the nearest integer (halves
    to even), at least 1 and at most n − 1 when n ≥ 2, else 0."""
    return min(n - 1, max(1, round(CLEAN_SHARE * n))) if n >= 2 else 0


def distillation_loss(model: DCIGN, x: torch.Tensor, mu_t: torch.Tensor, logvar_t: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ_k (mu_k − mu_t,k)² + LOGVAR_WEIGHT · Σ_k (logvar_k − logvar_t,k)², averaged over the batch, for the
    student's codes of x (N, 1, S, S) float32 in [0, 1] against the teacher's mu_t, logvar_t (N, L) float32 (code
    units; log σ² for the log-variance). Returns (loss, mean squared error of the means per latent), scalar tensors,
    the loss with a gradient. Regression-form distillation (Hinton et al. 2015; Romero et al. 2015)."""
    mu, logvar = model.encode(x)
    squared = (mu - mu_t) ** 2
    loss = squared.sum(1).mean() + LOGVAR_WEIGHT * ((logvar - logvar_t) ** 2).sum(1).mean()
    return loss, squared.mean()


def heldout_error(model: DCIGN, x: torch.Tensor, mu_t: torch.Tensor) -> float:
    """Mean squared error per latent (float) between the student's means of x (N, 1, S, S) and the teacher's
    targets mu_t (N, L) (:meth:`Teacher.codes` of the same scenes), no gradient; compare it with
    :func:`code_variance`."""
    with torch.no_grad():
        return float(((model.encode(x)[0] - mu_t) ** 2).mean())


def code_variance(mu_t: torch.Tensor) -> float:
    """The mean over latents of the variance of the teacher's targets mu_t (N, L) across the N scenes: the squared
    error per latent of a student that answered every image with the mean code."""
    return float(np.mean(mu_t.var(0, unbiased=False).cpu().numpy()))
