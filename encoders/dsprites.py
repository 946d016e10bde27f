"""dSprites, generated here: 2D sprites on the original dataset's factor grid (Matthey, Higgins, Hassabis &
Lerchner 2017, github.com/deepmind/dsprites-dataset), for the VITAE disentanglement table (Detlefsen & Hauberg,
"Quantitative study").

The grid is the original's: color (1: white) × shape (3: square, ellipse, heart) × scale (6, linearly spaced in
[0.5, 1]) × orientation (40, linearly spaced in [0, 2π], both ends included) × position x (32 in [0, 1]) ×
position y (32 in [0, 1]) = 737,280 binary 64 × 64 images, indexed in the original's order (position y varies
fastest, then x, orientation, scale, shape). As there, orientations repeat images for the symmetric shapes (the
square every π/2, the ellipse every π) and 0 equals 2π.

What is ours, since the original generator is not public: the sprites' outlines and the frame. A sprite of scale 1
fits a disc of radius :data:`UNIT_RADIUS_PX` (the square's half-diagonal, the ellipse's semi-major axis, the heart's
farthest point); scale multiplies it; its centre runs from :data:`MARGIN` to 1 − MARGIN of the image as its position
goes from 0 to 1, so no sprite touches the frame's outer pixels. The ellipse's axes are 1 : 0.5; the heart is the
classic parametric curve (x = 16 sin³t, y = 13 cos t − 5 cos 2t − 2 cos 3t − cos 4t, point up). A pixel is 1 when
its centre lies inside the outline (skimage.draw.polygon), 0 otherwise.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import polygon

IMAGE_SIZE = 64
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
UNIT_RADIUS_PX = 13.0  # the farthest point of a scale-1 sprite from its centre, pixels
MARGIN = (UNIT_RADIUS_PX + 1) / IMAGE_SIZE  # sprite centres span [MARGIN, 1 - MARGIN] of the image: a pixel to spare
N_IMAGES = int(np.prod(FACTOR_SIZES))


def factor_values() -> dict[str, np.ndarray]:
    """The value of every grid step, per factor: {name: (size,) float64}; shape holds 0, 1, 2 (:data:`SHAPES`),
    orientation is in radians, positions in [0, 1]."""
    return {"color": np.ones(1), "shape": np.arange(3.0), "scale": np.linspace(0.5, 1.0, 6),
            "orientation": np.linspace(0.0, 2 * np.pi, 40), "pos_x": np.linspace(0.0, 1.0, 32),
            "pos_y": np.linspace(0.0, 1.0, 32)}


def classes_of(indices: np.ndarray) -> np.ndarray:
    """Grid indices (N,) int in [0, 737280) → their factor classes (N, 6) int64 (columns :data:`FACTOR_NAMES`).
    Raises ValueError for indices outside the grid."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= N_IMAGES):
        raise ValueError(f"indices: expected integers in [0, {N_IMAGES}), got {indices.min()}..{indices.max()}")
    return np.stack(np.unravel_index(indices, FACTOR_SIZES), axis=-1).astype(np.int64)


def index_of(classes: np.ndarray) -> np.ndarray:
    """Factor classes (N, 6) int → grid indices (N,) int64, the inverse of :func:`classes_of`.
    Raises ValueError for another shape or a class outside its factor's range."""
    classes = np.asarray(classes, dtype=np.int64)
    if classes.ndim != 2 or classes.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"classes: expected shape (N, {len(FACTOR_SIZES)}), got {classes.shape}")
    if np.any(classes < 0) or np.any(classes >= np.array(FACTOR_SIZES)):
        raise ValueError(f"classes: expected each column below its factor's size {FACTOR_SIZES}")
    return np.ravel_multi_index(tuple(classes.T), FACTOR_SIZES).astype(np.int64)


def _outline(shape: int) -> np.ndarray:
    """The outline of a scale-1 sprite, centred, orientation 0: (M, 2) float64 (x right, y down), pixels."""
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    if shape == 0:
        half = UNIT_RADIUS_PX / np.sqrt(2)
        return np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    if shape == 1:
        return np.stack([UNIT_RADIUS_PX * np.cos(t), 0.5 * UNIT_RADIUS_PX * np.sin(t)], axis=1)
    x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    points = np.stack([x, -y], axis=1)  # y down: the point at the bottom
    points -= (points.max(0) + points.min(0)) / 2
    return points * UNIT_RADIUS_PX / np.linalg.norm(points, axis=1).max()


def render(classes: np.ndarray) -> np.ndarray:
    """The sprites of factor classes (N, 6) int (:func:`classes_of`): (N, 64, 64) uint8 in {0, 1}, row = y (down),
    column = x (right); orientation turns the sprite anticlockwise as seen. Raises ValueError as
    :func:`index_of`."""
    classes = np.asarray(classes, dtype=np.int64)
    index_of(classes)  # validates
    values = factor_values()
    outlines = [_outline(s) for s in range(len(SHAPES))]
    out = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    span = IMAGE_SIZE * (1 - 2 * MARGIN)
    for n, (_, shape, scale, orientation, pos_x, pos_y) in enumerate(classes):
        angle = values["orientation"][orientation]
        turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])  # anticlockwise, y down
        points = outlines[shape] @ turn.T * values["scale"][scale]
        centre = IMAGE_SIZE * MARGIN + span * np.array([values["pos_x"][pos_x], values["pos_y"][pos_y]])
        # pixel (row r, column c) has its centre at (c + 0.5, r + 0.5)
        rows, cols = polygon(points[:, 1] + centre[1] - 0.5, points[:, 0] + centre[0] - 0.5, out.shape[1:])
        out[n, rows, cols] = 1
    return out


def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n grid points drawn uniformly with replacement: (images (n, 64, 64) uint8 in {0, 1}, classes (n, 6) int64).
    Raises ValueError for n < 0."""
    if n < 0:
        raise ValueError(f"n: expected an integer ≥ 0, got {n}")
    classes = classes_of(rng.integers(N_IMAGES, size=n))
    return render(classes), classes
