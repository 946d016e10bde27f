"""Facial landmarks of a photo, for the fit's landmark summary (issue "Real photographs").

dlib's HOG face detector and its 68-point shape predictor (Kazemi & Sullivan 2014, CVPR, "One millisecond face
alignment with an ensemble of regression trees"; the model file trained on the iBUG 300-W markup, Sagonas et al.
2013, shipped by the ``face-recognition-models`` package, CC0; 300-W's own licence excludes commercial use, see
``docs/results/real_photos``) find the points on the full-resolution photo; :func:`to_frame` moves them into the
observation's pixels. They were trained on real photographs, which is why they read a photo's pose where our
renders-trained encoder does not (``docs/results/real_photos``). The evaluation's reference is another detector
(MediaPipe Face Mesh, trained on other data), though both pose estimates go through our mean face.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from abc_inverse.model.landmarks import angles_of, dlib_landmark_vertices
from abc_inverse.model.morphable import load_model

N_POINTS = 68
PREDICTOR = "shape_predictor_68_face_landmarks.dat"
MIN_OVERLAP = 0.3  # intersection over union with the fit's face box below which a dlib face is another one
UPSAMPLE = 1  # dlib's detector looks at the photo enlarged once (faces down to about 40 pixels)


def predictor_path() -> Path:
    """The shape predictor's file in the installed ``face-recognition-models`` package. Raises FileNotFoundError
    when the package or its file is missing (it is a dependency: ``make setup``)."""
    spec = importlib.util.find_spec("face_recognition_models")  # found without importing it (it needs pkg_resources)
    path = None if spec is None else Path(spec.submodule_search_locations[0]) / "models" / PREDICTOR
    if path is None or not path.is_file():
        raise FileNotFoundError(f"landmarks: no {PREDICTOR} (pip install face-recognition-models, or make setup)")
    return path


@cache
def _dlib_models():
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor_path()))


def overlap(a: tuple, b: tuple) -> float:
    """Intersection over union of two boxes (x, y, w, h) in pixels; 0 when either is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return float(ix * iy / union) if union > 0 else 0.0


def detect_landmarks(image: np.ndarray, face_box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The 68 landmarks of the face in ``face_box``: (68, 2) float64 pixel positions in ``image``, x to the right
    and y down, pixel (i, j)'s centre at (j + 0.5, i + 0.5); None when dlib's detector finds no face overlapping
    the box by at least ``MIN_OVERLAP`` (intersection over union), so that the points describe the face the fit
    framed and not a neighbour.

    image : (H, W) or (H, W, 3) float in [0, 1]. face_box : (x, y, w, h) pixels (the fit's Haar-cascade box,
    :func:`abc_inverse.io.detect_face`). Raises ValueError for another image shape or values outside [0, 1],
    FileNotFoundError without the predictor's file."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"image: expected (H, W) grey or (H, W, 3) RGB, got shape {image.shape}")
    if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
        raise ValueError("image: expected finite intensities in [0, 1]")
    detector, predictor = _dlib_models()
    pixels = np.ascontiguousarray(np.round(image * 255).astype(np.uint8))
    faces = [(r.left(), r.top(), r.width(), r.height(), r) for r in detector(pixels, UPSAMPLE)]
    scored = [(overlap(face[:4], face_box), face[4]) for face in faces]
    scored = [(score, rect) for score, rect in scored if score >= MIN_OVERLAP]
    if not scored:
        return None
    shape = predictor(pixels, max(scored, key=lambda s: s[0])[1])
    return np.array([[shape.part(k).x + 0.5, shape.part(k).y + 0.5] for k in range(N_POINTS)], np.float64)


def weak_perspective_rotation(vertices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) of a weak-perspective camera, points ≈ s · (R vertices)[:2] + t, fitted by least
    squares (an affine fit made orthonormal, then refined with scipy). vertices : (K, 3) mm, x right, y up, z to the
    viewer; points : (K, 2) in the same orientation (a photo's y negated)."""
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    a, b = vertices - vertices.mean(0), points - points.mean(0)
    affine = np.linalg.lstsq(a, b, rcond=None)[0].T
    u, singular, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    start = np.vstack([rows, np.cross(rows[0], rows[1])])

    def residual(x: np.ndarray) -> np.ndarray:
        return (x[3] * a @ Rotation.from_rotvec(x[:3]).as_matrix()[:2].T - b).ravel()

    x = least_squares(residual, np.r_[Rotation.from_matrix(start).as_rotvec(), singular.mean()]).x
    return Rotation.from_rotvec(x[:3]).as_matrix()


def landmark_angles(points: np.ndarray) -> tuple[float, float, float]:
    """(azimuth, elevation, roll) in degrees (:func:`abc_inverse.model.landmarks.angles_of`, R = R_z(roll)
    R_x(elevation) R_y(azimuth), the renderer's pose after the roll; roll counter-clockwise as seen positive) of
    dlib's inner points (68, 2) photo pixels (y down) fitted to our mean face by :func:`weak_perspective_rotation`."""
    ids, vertices = dlib_landmark_vertices()
    mesh = load_model().mean.astype(np.float64)[vertices].mean(axis=1)
    return angles_of(weak_perspective_rotation(mesh, np.asarray(points, np.float64)[ids] * [1.0, -1.0]))


def head_roll(points: np.ndarray) -> float:
    """The head's roll in degrees, counter-clockwise as seen positive (:func:`landmark_angles`) of dlib's 68 points
    (68, 2) photo pixels. Not the eye line's tilt: with the head turned and tilted both at once (azimuth −17°,
    elevation −28°) a level eye line still leaves a roll of 8°, which a scene without roll can only mimic by turning
    the head the wrong way (it fitted azimuth −1°)."""
    return landmark_angles(points)[2]


def level(grey: np.ndarray, points: np.ndarray, roll: float,
          centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The image and its points turned counter-clockwise as seen by ``roll`` degrees about ``centre`` (x, y pixels,
    continuous coordinates; a head rolled by :func:`head_roll` stands upright after −roll): (grey (H, W) float32,
    bilinear, 0 where the turn brings in pixels from outside; points (K, 2) float64). The scene has no roll, so
    ``fit`` levels the photo before framing it (the similarity alignment of face analysis)."""
    turned = Image.fromarray(np.asarray(grey, np.float32), mode="F").rotate(
        roll, resample=Image.Resampling.BILINEAR, center=centre)
    angle = np.radians(roll)
    offset = np.asarray(points, np.float64) - centre
    x = offset[:, 0] * np.cos(angle) + offset[:, 1] * np.sin(angle)
    y = -offset[:, 0] * np.sin(angle) + offset[:, 1] * np.cos(angle)
    return np.clip(np.asarray(turned, np.float32), 0.0, 1.0), np.stack([x, y], axis=1) + centre


def landmark_frame(points: np.ndarray, reference: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The square frame (x, y, side, side) in pixels that, cut from the photo and resized to ``size``
    (:func:`to_frame`), puts ``points`` (K, 2) photo pixels where ``reference`` (K, 2) observation pixels are on
    average, at their spread (root-mean-square distance from their centroid): the photo framed like the renders,
    whose camera offsets (±20 mm, about ±6 pixels of 64) and distance (±10 %) then need absorb only what pose and
    identity move. Framed by the Haar box instead, the 25 photos' landmarks lay a median 2.9 pixels lower than a
    frontal render's (up to 17) at 0.73–1.42 times their spread, which the chains explained with the pose
    (docs/results/real_photos)."""
    points, reference = np.asarray(points, np.float64), np.asarray(reference, np.float64)
    spread = lambda p: np.sqrt(np.mean(np.sum((p - p.mean(axis=0)) ** 2, axis=1)))  # noqa: E731
    side = max(1, int(round(size * spread(points) / spread(reference))))
    corner = points.mean(axis=0) - reference.mean(axis=0) * side / size
    return int(round(corner[0])), int(round(corner[1])), side, side


def to_frame(points: np.ndarray, frame: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Points (K, 2) in a photo's pixels (as :func:`detect_landmarks`) -> the same points (K, 2) float64 in the
    pixels of the observation cut from the photo by ``frame`` (x, y, side, side) and resized to ``size``
    (:func:`abc_inverse.io.crop_resize`), with the same pixel-centre convention."""
    x, y, w, h = frame
    return (np.asarray(points, np.float64) - [x, y]) * [size / w, size / h]
