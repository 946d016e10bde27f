"""A jaw that drops: the one expression a photo shows most often (an open mouth, a laugh) and our face model lacks.

Our morphable model has identity only; in a photo with an open mouth the chin sits lower under the nose than in
our closed-mouth renders, and a face tilted up lengthens the nose-to-chin span in the same way (points nearer the
viewer rise more), so a statistic that reads elevation from the face reads the open mouth as an upward tilt
(measured in ``docs/results/real_photos``). :func:`with_jaw` gives the model one more shape component, the
displacement of the vertices below the mouth when the jaw turns down about a hinge near the ears, so that training
can show the statistic open mouths whose pose is known (``abc-inverse train --jaw``).

**Synthetic**: a rigid turn of the lower face chosen by hand (hinge, mouth line, ramp), not a learned expression
model; the lips stay joined (the skin between them stretches) and no teeth are painted. The mouth line is the mean
height of MediaPipe landmarks 13 and 14 (the inner lips' centres) on our mean face.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from abc_inverse.model.landmarks import CORRESPONDENCE
from abc_inverse.model.morphable import MorphableModel

HINGE_MM = (0.0, -60.0)  # (y, z) of the jaw's axis of turn, parallel to x: about the ears, behind the face
RAMP_MM = 8.0  # a vertex this far below the mouth line turns fully; those above it do not turn
INNER_LIPS = (13, 14)  # MediaPipe Face Mesh ids of the upper and lower inner lips' centres


def mouth_line(mean: np.ndarray) -> float:
    """Height y in mm of the mouth line on the mean face (V, 3): the mean y of the vertices corresponding to the
    inner lips' centres (:data:`INNER_LIPS`). Raises FileNotFoundError without the landmark correspondence."""
    with np.load(CORRESPONDENCE) as z:
        vertex = z["vertex"]
    return float(np.mean(np.asarray(mean, np.float64)[vertex[list(INNER_LIPS)], 1]))


def jaw_displacement(mean: np.ndarray, degrees: float) -> np.ndarray:
    """The displacement (V, 3) float32 in mm that drops the jaw of the face ``mean`` (V, 3) float mm (x right, y up,
    z towards the viewer) by ``degrees``: each vertex a distance d below the mouth line (:func:`mouth_line`) turns
    about the x-parallel axis through :data:`HINGE_MM` by degrees · min(d / RAMP_MM, 1), its chin moving down and
    back; vertices above the line stay. Raises ValueError for a non-finite or negative angle."""
    if not (np.isfinite(degrees) and degrees >= 0):
        raise ValueError(f"degrees: expected a finite angle ≥ 0, got {degrees}")
    mean = np.asarray(mean, np.float64)
    turn = np.radians(degrees) * np.clip((mouth_line(mean) - mean[:, 1]) / RAMP_MM, 0.0, 1.0)
    dy, dz = mean[:, 1] - HINGE_MM[0], mean[:, 2] - HINGE_MM[1]
    moved = np.stack([dy * np.cos(turn) - dz * np.sin(turn), dy * np.sin(turn) + dz * np.cos(turn)], 1)
    displacement = np.zeros_like(mean)
    displacement[:, 1:] = moved - np.stack([dy, dz], 1)
    return displacement.astype(np.float32)


def with_jaw(model: MorphableModel, degrees: float) -> MorphableModel:
    """``model`` with one more shape component after its own: :func:`jaw_displacement` of its mean face at
    ``degrees``, so that the last shape coefficient c opens the jaw by about c · degrees (c = 0: the model's own
    faces; c = 1: the full turn, to first order in the angle). Raises ValueError as :func:`jaw_displacement`."""
    jaw = jaw_displacement(model.mean, degrees)[None]
    return replace(model, shape_basis=np.concatenate([model.shape_basis, jaw.astype(model.shape_basis.dtype)]))
