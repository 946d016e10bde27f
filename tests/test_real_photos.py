"""experiments/real_photos.py: a reference is compared with a fit only where both describe the same face."""

import numpy as np

from experiments.real_photos import on_fitted_face


def landmarks_around(cx: float, cy: float) -> np.ndarray:
    """(468, 3) points in pixels scattered ±20 px around (cx, cy)."""
    rng = np.random.default_rng(0)
    return np.column_stack([cx + rng.uniform(-20, 20, 468), cy + rng.uniform(-20, 20, 468), rng.normal(size=468)])


def test_reference_on_the_fitted_face_or_another():
    fitted = {"framing": {"crop": "auto", "face_box": [100, 50, 80, 80], "frame": [90, 45, 100, 100]}}
    assert on_fitted_face(landmarks_around(140, 90), fitted)  # the fit's face box holds the landmarks' centre
    assert not on_fitted_face(landmarks_around(260, 90), fitted)  # a neighbour in a group photo's crop
    assert not on_fitted_face(landmarks_around(140, 140), fitted)  # below the box
    unframed = {"framing": {"crop": "none", "face_box": None}}
    assert on_fitted_face(landmarks_around(260, 90), unframed)  # nothing to check against: kept
