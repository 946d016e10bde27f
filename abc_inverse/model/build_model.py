"""Rebuild the shipped morphable face model (``abc_inverse/data/face_model.npz``).

Run ``python -m abc_inverse.model.build_model`` after ``pip install --no-deps python-shape-stats==1.0.0``; it is not
needed at run time. The source data are the 45 SIMPOP faces of python-shape-stats 1.0.0 (MIT, Copyright (c)
2023 harrymatthews50; notice in ``abc_inverse/data/LICENSE-python-shape-stats.txt``): 7160 vertices,
14050 triangles, same topology, millimetres.

What is data and what is synthetic:

* shape modes 1-9 (**data**): PCA of the 45 faces after rigid generalised Procrustes alignment, each basis
  vector scaled by its standard deviation so coefficients are N(0, 1) (Blanz & Vetter 1999; Kulkarni et al.
  2015 §4.1). The 10th and later components of 45 simulated faces are numerically zero.
* shape modes 10+ (**synthetic**): smooth displacements along the mean face's vertex normals, shaped by the
  lowest eigenfunctions of the mesh's cotangent Laplacian, with RMS displacement below that of data mode 9
  and decaying with frequency.
* albedo (**synthetic**): mean skin reflectance (RGB in [0, 1]) plus a skin-tone axis, a redness axis and
  smooth Laplacian luminance modes, coefficients N(0, 1).
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

N_FACES = 45
DEFAULT_OUT = Path(__file__).parents[1] / "data" / "face_model.npz"
SKIN_RGB = np.array([0.78, 0.58, 0.48])  # mean diffuse reflectance, linear RGB in [0, 1]


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read vertices ``(V, 3) float64`` (mm) and triangles ``(F, 3) int64`` (0-based) from a Wavefront OBJ."""
    verts, tris = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            verts.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("f "):
            tris.append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
    return np.asarray(verts), np.asarray(tris, dtype=np.int64)


def procrustes_align(shapes: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Rigid generalised Procrustes alignment (rotation + translation, no scaling).

    shapes : (S, V, 3) float64, mm. Returns the aligned shapes, centred on the mean's centroid, in the frame of
    the first shape (x right, y up, z out of the face towards the viewer).
    """
    centred = shapes - shapes.mean(axis=1, keepdims=True)
    reference = centred[0]
    for _ in range(iterations):
        aligned = np.empty_like(centred)
        for i, x in enumerate(centred):
            u, _, vt = np.linalg.svd(x.T @ reference)
            d = np.sign(np.linalg.det(u @ vt))
            rot = u @ np.diag([1.0, 1.0, d]) @ vt
            aligned[i] = x @ rot
        reference = aligned.mean(axis=0)
    return aligned


def cotangent_laplacian(verts: np.ndarray, tris: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Cotangent stiffness matrix ``L`` (positive semi-definite) and lumped mass matrix ``M`` of a mesh."""
    n = len(verts)
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = tris[:, (k + 1) % 3], tris[:, (k + 2) % 3], tris[:, k]
        e1, e2 = verts[i] - verts[o], verts[j] - verts[o]
        cot = np.einsum("ij,ij->i", e1, e2) / np.maximum(np.linalg.norm(np.cross(e1, e2), axis=1), 1e-12)
        rows += [i, j, i, j]
        cols += [j, i, i, j]
        vals += [-0.5 * cot, -0.5 * cot, 0.5 * cot, 0.5 * cot]
    lap = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    area = 0.5 * np.linalg.norm(np.cross(verts[tris[:, 1]] - verts[tris[:, 0]],
                                         verts[tris[:, 2]] - verts[tris[:, 0]]), axis=1)
    mass = np.bincount(tris.ravel(), weights=np.repeat(area / 3.0, 3), minlength=n)
    return lap, sp.diags(mass).tocsr()


def vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals ``(V, 3)`` of vertices ``(V, 3)`` and triangles ``(F, 3)``; 0 for a vertex
    in no triangle. The NumPy twin of the simulator's Numba normals (``tests/test_simulator.py`` compares them)."""
    fn = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, tris[:, k], fn)
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return np.where(norm > 0, vn / np.where(norm > 0, norm, 1), 0)


def build(n_synthetic_shape: int = 41, n_smooth_albedo: int = 18, faces_dir: Path | None = None) -> dict:
    """Build the model arrays (see the module docstring); returns a dict of arrays ready for ``np.savez``."""
    if faces_dir is None:
        faces_dir = Path(str(importlib.resources.files("python_shape_stats") / "data/sim_faces/faces"))
    shapes, tris = [], None
    for i in range(1, N_FACES + 1):
        v, t = read_obj(faces_dir / f"SIMPOP_{i:02d}.obj")
        if tris is not None and not np.array_equal(t, tris):
            raise ValueError(f"SIMPOP_{i:02d}.obj has a different topology")
        shapes.append(v)
        tris = t
    aligned = procrustes_align(np.stack(shapes))
    mean = aligned.mean(axis=0)
    centred = (aligned - mean).reshape(N_FACES, -1)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    sigma = s / np.sqrt(N_FACES - 1)
    n_data = int(np.sum(sigma > 1e-3 * sigma[0]))
    data_modes = (vt[:n_data] * sigma[:n_data, None]).reshape(n_data, -1, 3)

    lap, mass = cotangent_laplacian(mean, tris)
    n_eig = max(n_synthetic_shape, n_smooth_albedo) + 1
    evals, evecs = eigsh(lap, k=n_eig, M=mass, sigma=-1e-6, which="LM")
    order = np.argsort(evals)
    evecs = evecs[:, order[1:]]  # drop the constant mode
    evecs /= np.sqrt(np.mean(evecs**2, axis=0, keepdims=True))  # unit RMS over vertices

    normals = vertex_normals(mean, tris)
    rms_last = np.sqrt(np.mean(np.sum(data_modes[-1] ** 2, axis=1)))
    amp = 0.8 * rms_last / np.sqrt(np.arange(1, n_synthetic_shape + 1))
    synthetic = evecs[:, :n_synthetic_shape].T * amp[:, None]  # (K, V) mm along the mean normal

    n_v = len(mean)
    albedo_mean = np.tile(SKIN_RGB, (n_v, 1))
    tone = np.tile([-0.10, -0.09, -0.08], (n_v, 1))  # darker / lighter skin
    redness = np.tile([0.03, -0.015, -0.015], (n_v, 1))
    lum_amp = 0.05 / np.sqrt(np.arange(1, n_smooth_albedo + 1))
    smooth = evecs[:, :n_smooth_albedo].T[:, :, None] * lum_amp[:, None, None] * SKIN_RGB
    albedo_basis = np.concatenate([tone[None], redness[None], smooth])

    return {
        "mean": mean.astype(np.float32),
        "triangles": tris.astype(np.int32),
        "shape_data": data_modes.astype(np.float32),
        "shape_synthetic": synthetic.astype(np.float32),
        "mean_normals": normals.astype(np.float32),
        "albedo_mean": albedo_mean.astype(np.float32),
        "albedo_basis": albedo_basis.astype(np.float32),
        "shape_sigma_mm": sigma[:n_data].astype(np.float32),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m abc_inverse.model.build_model [--out PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    arrays = build()
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)
    print(f"wrote {args.out}: {len(arrays['shape_data'])} data + {len(arrays['shape_synthetic'])} synthetic "
          f"shape modes, {len(arrays['albedo_basis'])} albedo modes; shape sigma (mm) "
          f"{np.round(arrays['shape_sigma_mm'], 1).tolist()}")


if __name__ == "__main__":
    main()
