"""Minibatches of the four DC-IGN transformation types, as scenes for the simulator.

Each batch varies one scene variable and holds everything else fixed (Kulkarni et al. 2015 §3.2): face azimuth,
face elevation, light azimuth, or the intrinsic properties (shape and albedo). Varied values are drawn from the
prior; the fixed ones are one prior draw shared by the batch. Intrinsic batches are drawn ``shape_bias`` times as
often as each extrinsic type (the paper's "shape bias"; the later Model section uses 1:1:1:10).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from abc_inverse.model.scene import Scene, ScenePrior

BATCH_TYPES = ("azimuth", "elevation", "light", "intrinsic")
LATENT_OF = {"azimuth": 0, "elevation": 1, "light": 2}  # z1, z2, z3; z4… are intrinsic
VARIED_ANGLE = {"azimuth": "azimuth", "elevation": "elevation", "light": "light_azimuth"}  # Scene field per type
CAMERA_TERM_KINDS = ("azimuth", "light")  # batch types whose latent (z1, z3) the camera term covers


def draw_batch_type(rng: np.random.Generator, shape_bias: float) -> str:
    """One of BATCH_TYPES with probabilities ∝ (1, 1, 1, shape_bias). Raises ValueError if shape_bias < 0."""
    if not shape_bias >= 0:
        raise ValueError(f"shape_bias: expected a number ≥ 0, got {shape_bias}")
    p = np.array([1.0, 1.0, 1.0, shape_bias])
    return BATCH_TYPES[rng.choice(4, p=p / p.sum())]


def transformation_scenes(prior: ScenePrior, rng: np.random.Generator, kind: str, n: int, spread: float = 1.0,
                          intrinsic_camera: bool = False) -> Scene:
    """n scenes in which only the variable(s) of ``kind`` vary (drawn from the prior), all else shared.

    spread : float in (0, 1]; a varied angle is drawn from spread × its prior range (the priors are uniform and
    centred on 0, so the draw is U(-spread·R, spread·R)); used by the training curriculum. intrinsic_camera : an
    intrinsic batch also varies the camera, so that everything but the three angles coded by z1-z3 varies in it
    (the camera is then left to z4…, and with clamping z1-z3 are asked to ignore it). With ``lighting="rich"`` an
    intrinsic batch also varies the lighting variables (light elevation, ambient, diffuse, harmonics, colour:
    nuisances for z1-z3 like the identity), and the other batches share them. Raises ValueError for an unknown
    kind or spread outside (0, 1].
    """
    if kind not in BATCH_TYPES:
        raise ValueError(f"batch type: expected one of {BATCH_TYPES}, got {kind!r}")
    if not 0 < spread <= 1:
        raise ValueError(f"spread: expected a number in (0, 1], got {spread}")
    base = prior.sample(rng, 1)
    varied = prior.sample(rng, n)
    fields = {name: np.repeat(value, n, axis=0) for name, value in base._asdict().items()}
    if kind in VARIED_ANGLE:
        fields[VARIED_ANGLE[kind]] = getattr(varied, VARIED_ANGLE[kind]) * spread
    else:
        for name in ("shape", "albedo", "lighting", *(("camera",) if intrinsic_camera else ())):
            fields[name] = getattr(varied, name)
    return Scene(**fields)


def active_latents(kind: str, latent_dim: int) -> np.ndarray:
    """(latent_dim,) bool: the latents trained by a batch of ``kind`` (z_train of §3.2). Needs latent_dim ≥ 4."""
    if latent_dim < 4:
        raise ValueError(f"latent_dim: specific-transformation training needs ≥ 4 latents, got {latent_dim}")
    active = np.zeros(latent_dim, dtype=bool)
    if kind == "intrinsic":
        active[3:] = True
    else:
        active[LATENT_OF[kind]] = True
    return active


class Batch(NamedTuple):
    """A training minibatch. x : (N, 1, S, S) float32 images in [0, 1]. active : (L,) bool mask of the latents it
    trains (None in random mode). order : (N,) int64 indices that sort the batch by its varied angle — the frames
    of the transformation as a video would show them (None in random mode and for intrinsic batches).
    x_camera : (N, 1, S, S) float32, the same scenes seen from cameras redrawn from the prior (only for azimuth and
    light batches when ``camera`` is asked for; in a distillation with ``centred_pose``, the teacher's renders of the
    scenes from the centred camera; else None). target : (N, 1, S, S) float32, what the decoder
    reconstructs when it is not x: the clean renders of a domain-randomised x (:mod:`encoders.augment`); in a
    distillation, the teacher's renders of the same scenes (:mod:`encoders.distill`). angles : (N, 3) float32, the
    scenes' azimuth, elevation and light azimuth in radians (a distillation with ``angle_pose``; else None)."""

    x: torch.Tensor
    active: torch.Tensor | None = None
    order: torch.Tensor | None = None
    x_camera: torch.Tensor | None = None
    target: torch.Tensor | None = None
    angles: torch.Tensor | None = None

