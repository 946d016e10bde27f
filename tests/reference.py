"""Plain-NumPy reference twins of the library's Numba kernels (STYLE.md point 5): slow and obvious, used only by the
tests to check :mod:`abc_inverse.render.raster` and :mod:`abc_inverse.distances`. The NumPy vertex normals are
:func:`abc_inverse.model.build_model.vertex_normals`, which the model builder also uses."""

import numpy as np

from abc_inverse.distances import NAMES, _vectors


def sh_basis_ref(normals):
    """The real spherical harmonics of orders 1-2 at unit normals (V, 3), orthonormal on the sphere: (V, 8), in
    the order y, z, x, xy, yz, 3z² - 1, xz, x² - y² (up to their constants)."""
    x, y, z = normals.T
    return np.stack([np.sqrt(3 / (4 * np.pi)) * y, np.sqrt(3 / (4 * np.pi)) * z, np.sqrt(3 / (4 * np.pi)) * x,
                     np.sqrt(15 / (4 * np.pi)) * x * y, np.sqrt(15 / (4 * np.pi)) * y * z,
                     np.sqrt(5 / (16 * np.pi)) * (3 * z**2 - 1), np.sqrt(15 / (4 * np.pi)) * x * z,
                     np.sqrt(15 / (16 * np.pi)) * (x**2 - y**2)], axis=1)


def shade_ref(normals, albedo, light, ambient, diffuse, sh, colour):
    """Per-vertex colour, (V, C): albedo · colour · (ambient + diffuse · max(0, n·l) + Σ sh_k Y_k(n)), clipped."""
    lam = np.maximum(normals @ light, 0.0)
    shading = ambient + diffuse * lam + sh_basis_ref(normals) @ sh
    return np.clip(albedo * np.asarray(colour) * shading[:, None], 0.0, 1.0)


def rasterize_ref(verts, colors, tris, focal, height, width):
    """Slow reference rasteriser of one camera-space mesh, verts (V, 3) mm and colours (V, C): returns image
    (H, W, C) and depth (H, W) as one scene of :func:`render_scenes`."""
    inv = 1.0 / np.maximum(-verts[:, 2], 1e-6)
    sx = 0.5 * width + focal * verts[:, 0] * inv
    sy = 0.5 * height - focal * verts[:, 1] * inv
    image = np.zeros((height, width, colors.shape[1]))
    inv_depth = np.zeros((height, width))
    rows, cols = np.mgrid[0:height, 0:width] + 0.5
    for a, b, c in tris:
        area = (sx[b] - sx[a]) * (sy[c] - sy[a]) - (sx[c] - sx[a]) * (sy[b] - sy[a])
        if abs(area) < 1e-12:
            continue
        w0 = ((sx[b] - cols) * (sy[c] - rows) - (sx[c] - cols) * (sy[b] - rows)) / area
        w1 = ((sx[c] - cols) * (sy[a] - rows) - (sx[a] - cols) * (sy[c] - rows)) / area
        w2 = 1 - w0 - w1
        iz = w0 * inv[a] + w1 * inv[b] + w2 * inv[c]
        hit = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (iz > inv_depth)
        if not hit.any():
            continue
        inv_depth[hit] = iz[hit]
        p = np.stack([w0 * inv[a], w1 * inv[b], w2 * inv[c]], -1)[hit] / iz[hit, None]
        image[hit] = p @ colors[[a, b, c]]
    depth = np.where(inv_depth > 0, 1 / np.where(inv_depth > 0, inv_depth, 1), 0)
    return image, depth


def distance_batch_ref(name: str, x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """NumPy reference twin of :func:`distance_batch`."""
    x, ys = _vectors(x, ys, batched=True)
    if name == "l1":
        return np.abs(ys - x).sum(axis=1)
    if name == "l2":
        return np.sqrt(((ys - x) ** 2).sum(axis=1))
    if name in ("cosine", "correlation"):
        if name == "correlation":
            x, ys = x - x.mean(), ys - ys.mean(axis=1, keepdims=True)
        norms = np.sqrt((ys**2).sum(axis=1)) * np.sqrt((x**2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norms > 0, 1.0 - ys @ x / norms, np.nan)
    raise ValueError(f"distance: expected one of {NAMES}, got {name!r}")
