"""Facial features painted into the mean albedo: eyes (sclera, iris, pupil, upper lash line), brows, lips and the
mouth line, so that a render shows what a photo's face shows (issue "Real photographs").

**Synthetic**, like the rest of the albedo: the regions are polygons of MediaPipe Face Mesh landmarks (the loops of
its ``FACEMESH_LIPS``, ``_EYE`` and ``_EYEBROW`` connection sets, Apache-2.0, notice in
``abc_inverse/data/LICENSE-mediapipe.txt``) placed on our mean face through the landmark correspondence of
:mod:`abc_inverse.model.landmarks`, and a vertex of the mean face takes a region's reflectance when its frontal
projection (x, y) falls inside the region's polygon (the mesh is a mask of the face's front, one vertex over each
point of that projection); the reflectances below are typical values chosen by hand, not
measured. The iris is a disc of ``IRIS_RADIUS`` of the eye opening's height about the opening's centre.
"""

from __future__ import annotations

import numpy as np

from abc_inverse.model.landmarks import CORRESPONDENCE

# Landmark loops (MediaPipe Face Mesh ids); the subject's right is the viewer's left.
LOOPS = {
    "lips": (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),
    "mouth": (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191),
    "right_eye": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    "left_eye": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
    "right_brow": (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
    "left_brow": (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
}
UPPER_LIDS = {"right_eye": (133, 173, 157, 158, 159, 160, 161, 246, 33),
              "left_eye": (362, 398, 384, 385, 386, 387, 388, 466, 263)}
REFLECTANCE = {  # linear RGB in [0, 1]
    "lips": (0.62, 0.33, 0.32), "mouth": (0.25, 0.12, 0.12), "brow": (0.30, 0.22, 0.17),
    "sclera": (0.80, 0.78, 0.76), "iris": (0.22, 0.15, 0.10), "pupil": (0.05, 0.05, 0.05),
    "lashes": (0.15, 0.10, 0.08),
}
IRIS_RADIUS, PUPIL_RADIUS = 0.5, 0.2  # of the eye opening's height
LASH_WIDTH_MM = 1.2  # vertices this close to the upper lid's line are lash-dark


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(P,) bool: which 2-D points (P, 2) lie inside the closed polygon (K, 2) (even-odd rule)."""
    from matplotlib.path import Path

    return Path(polygon).contains_points(points)


def _distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """(P,) distance of 2-D points (P, 2) to the open polyline (K, 2)."""
    a, b = line[:-1][None], line[1:][None]  # (1, K-1, 2)
    p = points[:, None]
    t = np.clip(np.sum((p - a) * (b - a), -1) / np.maximum(np.sum((b - a) ** 2, -1), 1e-12), 0, 1)
    return np.min(np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1), axis=1)


def feature_albedo(mean: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The mean albedo with facial features: skin (V, 3) with the regions of :data:`LOOPS` repainted.

    mean : (V, 3) float, the mean face in millimetres (x right, y up, z towards the viewer); skin : (V, 3) float
    linear RGB in [0, 1]. Returns (V, 3) float32. Raises FileNotFoundError without the landmark correspondence."""
    with np.load(CORRESPONDENCE) as z:
        vertex = z["vertex"]
    mean = np.asarray(mean, np.float64)
    xy = mean[:, :2]
    albedo = np.array(skin, np.float32)

    def region(name: str) -> np.ndarray:
        return _inside(xy, xy[vertex[list(LOOPS[name])]])

    for name, colour in (("lips", "lips"), ("mouth", "mouth"), ("right_brow", "brow"), ("left_brow", "brow")):
        albedo[region(name)] = REFLECTANCE[colour]
    for eye in ("right_eye", "left_eye"):
        outline = xy[vertex[list(LOOPS[eye])]]
        opening = region(eye)
        centre = outline.mean(0)
        height = np.ptp(outline[:, 1])
        radius = np.linalg.norm(xy - centre, axis=1)
        albedo[opening] = REFLECTANCE["sclera"]
        albedo[opening & (radius <= IRIS_RADIUS * height)] = REFLECTANCE["iris"]
        albedo[opening & (radius <= PUPIL_RADIUS * height)] = REFLECTANCE["pupil"]
        lid = xy[vertex[list(UPPER_LIDS[eye])]]
        albedo[_distance_to_polyline(xy, lid) <= LASH_WIDTH_MM] = REFLECTANCE["lashes"]
    return albedo
