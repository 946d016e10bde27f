"""The morphable face model: shape and albedo as linear functions of N(0, 1) coefficients.

References
----------
Blanz & Vetter, "A morphable model for the synthesis of 3D faces", SIGGRAPH 1999.
Kulkarni et al., "Deep Convolutional Inverse Graphics Network", NIPS 2015, §4.1 (3DMM prior, N(0, 1) coefficients).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

N_DATA_SHAPE_MODES = 9  # modes 1-9 come from PCA of the 45 SIMPOP faces; the rest are synthetic


@dataclass(frozen=True, eq=False)
class MorphableModel:
    """A 3DMM-style face model built by :mod:`abc_inverse.model.build_model`.

    Attributes
    ----------
    mean : (V, 3) float32, millimetres. Mean face; x right, y up, z out of the face towards the viewer, origin
        at the centroid of the mean face.
    triangles : (F, 3) int32. Vertex indices, counter-clockwise seen from +z.
    shape_basis : (n_shape, V, 3) float32, millimetres per unit coefficient. The first
        ``min(n_shape, 9)`` modes are PCA modes of real (simulated-population) data scaled by their standard
        deviation; the rest are synthetic smooth normal displacements (mesh-Laplacian eigenfunctions).
    albedo_mean : (V, 3) float32, linear RGB reflectance in [0, 1].
    albedo_basis : (n_albedo, V, 3) float32, reflectance per unit coefficient (synthetic: skin tone,
        redness, smooth luminance modes).
    """

    mean: np.ndarray
    triangles: np.ndarray
    shape_basis: np.ndarray
    albedo_mean: np.ndarray
    albedo_basis: np.ndarray

    @property
    def n_shape(self) -> int:
        """Number of shape coefficients."""
        return len(self.shape_basis)

    @property
    def n_albedo(self) -> int:
        """Number of albedo coefficients."""
        return len(self.albedo_basis)

    @property
    def n_vertices(self) -> int:
        """Number of mesh vertices V."""
        return len(self.mean)

    def shape(self, coeffs: np.ndarray) -> np.ndarray:
        """Vertices of faces with the given shape coefficients.

        coeffs : (N, n_shape) float, N(0, 1) units. Returns (N, V, 3) float32, millimetres.
        Raises ValueError on a wrong shape.
        """
        coeffs = _check_coeffs(coeffs, self.n_shape, "shape")
        flat = coeffs.astype(np.float32) @ self.shape_basis.reshape(self.n_shape, -1)
        return self.mean[None] + flat.reshape(len(coeffs), -1, 3)

    def albedo(self, coeffs: np.ndarray) -> np.ndarray:
        """Per-vertex reflectance for the given albedo coefficients.

        coeffs : (N, n_albedo) float, N(0, 1) units. Returns (N, V, 3) float32 linear RGB, clipped to [0, 1].
        Raises ValueError on a wrong shape.
        """
        coeffs = _check_coeffs(coeffs, self.n_albedo, "albedo")
        flat = coeffs.astype(np.float32) @ self.albedo_basis.reshape(self.n_albedo, -1)
        return np.clip(self.albedo_mean[None] + flat.reshape(len(coeffs), -1, 3), 0.0, 1.0)

    def fit_shape(self, vertices: np.ndarray) -> np.ndarray:
        """Least-squares shape coefficients of given vertices (the inverse of :meth:`shape` on its range).

        vertices : (N, V, 3) float, millimetres, in the model frame. Returns (N, n_shape) float64.
        """
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim != 3 or vertices.shape[1:] != self.mean.shape:
            raise ValueError(f"vertices: expected shape (N, {self.n_vertices}, 3), got {vertices.shape}")
        basis = self.shape_basis.reshape(self.n_shape, -1).astype(np.float64)
        resid = (vertices - self.mean[None]).reshape(len(vertices), -1)
        return np.linalg.lstsq(basis.T, resid.T, rcond=None)[0].T


def _check_coeffs(coeffs: np.ndarray, n: int, name: str) -> np.ndarray:
    coeffs = np.asarray(coeffs)
    if coeffs.ndim != 2 or coeffs.shape[1] != n:
        raise ValueError(f"{name} coefficients: expected shape (N, {n}), got {coeffs.shape}")
    return coeffs


@lru_cache(maxsize=8)
def load_model(n_shape: int = 20, n_albedo: int = 10) -> MorphableModel:
    """Load the shipped model with ``n_shape`` shape and ``n_albedo`` albedo dimensions.

    n_shape : 1-50; dimensions 1-9 are data, 10-50 synthetic. n_albedo : 1-20 (all synthetic).
    Raises ValueError when a count is outside its range. Cached: the same counts return the same object.
    """
    with np.load(files("abc_inverse") / "data" / "face_model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    n_data = len(arrays["shape_data"])
    max_shape = n_data + len(arrays["shape_synthetic"])
    max_albedo = len(arrays["albedo_basis"])
    if not 1 <= n_shape <= max_shape:
        raise ValueError(f"n_shape: expected 1..{max_shape}, got {n_shape}")
    if not 1 <= n_albedo <= max_albedo:
        raise ValueError(f"n_albedo: expected 1..{max_albedo}, got {n_albedo}")
    synthetic = arrays["shape_synthetic"][:, :, None] * arrays["mean_normals"][None]
    shape_basis = np.concatenate([arrays["shape_data"], synthetic])[:n_shape]
    return MorphableModel(
        mean=arrays["mean"],
        triangles=arrays["triangles"],
        shape_basis=np.ascontiguousarray(shape_basis, dtype=np.float32),
        albedo_mean=arrays["albedo_mean"],
        albedo_basis=np.ascontiguousarray(arrays["albedo_basis"][:n_albedo]),
    )
