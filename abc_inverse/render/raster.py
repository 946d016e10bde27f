"""Numba kernels of the simulator: vertex normals, Lambertian shading, z-buffer rasterisation. Their plain-NumPy
reference twins live in ``tests/reference.py``; the tests compare the two.

Conventions: camera space, x right, y up, the camera at the origin looking along -z (so visible points have
z < 0). Screen space: pixel (row, col) covers [col, col + 1) × [row, row + 1); row 0 is the top; pixel centres
are sampled. Triangles are not culled (double-sided), depth is tested on 1/(-z), and colours are interpolated
perspective-correctly (Gouraud shading of per-vertex Lambertian colours).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def _vertex_normals(verts, tris):
    n = np.zeros_like(verts)
    for t in range(tris.shape[0]):
        a, b, c = tris[t, 0], tris[t, 1], tris[t, 2]
        e1x, e1y, e1z = verts[b, 0] - verts[a, 0], verts[b, 1] - verts[a, 1], verts[b, 2] - verts[a, 2]
        e2x, e2y, e2z = verts[c, 0] - verts[a, 0], verts[c, 1] - verts[a, 1], verts[c, 2] - verts[a, 2]
        fx, fy, fz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
        n[a, 0] += fx
        n[a, 1] += fy
        n[a, 2] += fz
        n[b, 0] += fx
        n[b, 1] += fy
        n[b, 2] += fz
        n[c, 0] += fx
        n[c, 1] += fy
        n[c, 2] += fz
    for v in range(n.shape[0]):
        norm = np.sqrt(n[v, 0] ** 2 + n[v, 1] ** 2 + n[v, 2] ** 2)
        if norm > 0:
            inv = 1.0 / norm
            n[v, 0] *= inv
            n[v, 1] *= inv
            n[v, 2] *= inv
    return n


@numba.njit(cache=True, fastmath=True)
def _linear(mean, basis, coeffs, lo, hi):
    """clip(mean + Σ_k coeffs[k] · basis[k], lo, hi) for (V, C) arrays."""
    n_v, n_c = mean.shape
    out = np.empty_like(mean)
    for v in range(n_v):
        for c in range(n_c):
            acc = mean[v, c]
            for k in range(basis.shape[0]):
                acc += coeffs[k] * basis[k, v, c]
            out[v, c] = min(max(acc, lo), hi)
    return out


@numba.njit(cache=True, fastmath=True)
def _to_camera(verts, rot, cam):
    out = np.empty_like(verts)
    for v in range(verts.shape[0]):
        x, y, z = verts[v, 0], verts[v, 1], verts[v, 2]
        for i in range(3):
            out[v, i] = rot[i, 0] * x + rot[i, 1] * y + rot[i, 2] * z - cam[i]
    return out


# real spherical harmonics of orders 1-2 (orthonormal constants), in the order of the ``sh`` coefficients:
# Y_1,-1..1 = c1 (y, z, x); Y_2,-2..2 = c2 xy, c2 yz, c3 (3z² - 1), c2 xz, c4 (x² - y²)
SH_CONSTANTS = (0.4886025119029199, 1.0925484305920792, 0.31539156525252005, 0.5462742152960396)


@numba.njit(cache=True, fastmath=True)
def _shade(normals, albedo, light, ambient, diffuse, sh, colour):
    c1, c2, c3, c4 = SH_CONSTANTS
    out = np.empty_like(albedo)
    for v in range(normals.shape[0]):
        x, y, z = normals[v, 0], normals[v, 1], normals[v, 2]
        lam = x * light[0] + y * light[1] + z * light[2]
        s = ambient + diffuse * max(lam, 0.0)
        s += c1 * (sh[0] * y + sh[1] * z + sh[2] * x)
        s += c2 * (sh[3] * x * y + sh[4] * y * z + sh[6] * x * z) + c3 * sh[5] * (3 * z * z - 1)
        s += c4 * sh[7] * (x * x - y * y)
        for ch in range(albedo.shape[1]):
            out[v, ch] = min(max(albedo[v, ch] * colour[ch] * s, 0.0), 1.0)
    return out


@numba.njit(cache=True, fastmath=True)
def _project(verts, focal, height, width):
    scr = np.empty_like(verts)
    for v in range(verts.shape[0]):
        inv = 1.0 / max(-verts[v, 2], 1e-6)
        scr[v, 0] = 0.5 * width + focal * verts[v, 0] * inv
        scr[v, 1] = 0.5 * height - focal * verts[v, 1] * inv
        scr[v, 2] = inv
    return scr


@numba.njit(cache=True, fastmath=True)
def _rasterize(scr, colors, tris, image, inv_depth):
    height, width, n_ch = image.shape
    for t in range(tris.shape[0]):
        a, b, c = tris[t, 0], tris[t, 1], tris[t, 2]
        x0, y0, x1, y1, x2, y2 = scr[a, 0], scr[a, 1], scr[b, 0], scr[b, 1], scr[c, 0], scr[c, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-12:
            continue
        inv_area = 1.0 / area
        # pixel centres col + 0.5 inside the triangle's bounding box
        cmin = max(int(np.ceil(min(x0, x1, x2) - 0.5)), 0)
        cmax = min(int(np.floor(max(x0, x1, x2) - 0.5)), width - 1)
        if cmin > cmax:
            continue
        rmin = max(int(np.ceil(min(y0, y1, y2) - 0.5)), 0)
        rmax = min(int(np.floor(max(y0, y1, y2) - 0.5)), height - 1)
        if rmin > rmax:
            continue
        z0, z1, z2 = scr[a, 2], scr[b, 2], scr[c, 2]
        for r in range(rmin, rmax + 1):
            py = r + 0.5
            for col in range(cmin, cmax + 1):
                px = col + 0.5
                w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) * inv_area
                w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) * inv_area
                w2 = 1.0 - w0 - w1
                if w0 < 0 or w1 < 0 or w2 < 0:
                    continue
                iz = w0 * z0 + w1 * z1 + w2 * z2
                if iz <= inv_depth[r, col]:
                    continue
                inv_depth[r, col] = iz
                p0, p1, p2 = w0 * z0 / iz, w1 * z1 / iz, w2 * z2 / iz
                for ch in range(n_ch):
                    image[r, col, ch] = p0 * colors[a, ch] + p1 * colors[b, ch] + p2 * colors[c, ch]


@numba.njit(cache=True, parallel=True)
def render_scenes(mean, shape_basis, shape_coeffs, albedo_mean, albedo_basis, albedo_coeffs, rot, cam, light,
                  tris, focal, height, width, ambient, diffuse, sh, colour):
    """Render N faces of a linear morphable model with Lambertian + ambient + spherical-harmonic shading (the whole
    simulator). A vertex of albedo ρ and unit normal n has the colour, per channel c,
    clip(ρ_c · colour_c · (ambient + diffuse · max(0, n·l) + Σ_k sh_k Y_k(n)), 0, 1), Y_k the real spherical
    harmonics of orders 1-2 (:data:`SH_CONSTANTS`), all in camera space.

    Parameters
    ----------
    mean : (V, 3) float32 mm; shape_basis : (K, V, 3) float32 mm; shape_coeffs : (N, K) float32.
    albedo_mean : (V, C) float32; albedo_basis : (Ka, V, C) float32; albedo_coeffs : (N, Ka) float32.
        C = 1 (grey) or 3 (RGB); reflectance is clipped to [0, 1].
    rot : (N, 3, 3) float32, face rotation; cam : (N, 3) float32 mm, camera position (camera looks along -z).
    light : (N, 3) float32, unit direction towards the light, camera space.
    tris : (F, 3) int32. focal : float, pixels. height, width : int, pixels.
    ambient, diffuse : (N,) float32. sh : (N, 8) float32. colour : (N, C) float32, the light's gain per channel.

    Returns
    -------
    image : (N, H, W, C) float32 in [0, 1], 0 where no surface.
    depth : (N, H, W) float32, millimetres along -z, 0 where no surface.
    """
    n, n_ch = shape_coeffs.shape[0], albedo_mean.shape[1]
    image = np.zeros((n, height, width, n_ch), dtype=np.float32)
    depth = np.zeros((n, height, width), dtype=np.float32)
    for i in numba.prange(n):
        verts = _to_camera(_linear(mean, shape_basis, shape_coeffs[i], -np.inf, np.inf), rot[i], cam[i])
        albedo = _linear(albedo_mean, albedo_basis, albedo_coeffs[i], 0.0, 1.0)
        colors = _shade(_vertex_normals(verts, tris), albedo, light[i], ambient[i], diffuse[i], sh[i], colour[i])
        scr = _project(verts, focal, height, width)
        inv_depth = np.zeros((height, width), dtype=np.float32)
        _rasterize(scr, colors, tris, image[i], inv_depth)
        for r in range(height):
            for c in range(width):
                if inv_depth[r, c] > 0:
                    depth[i, r, c] = 1.0 / inv_depth[r, c]
    return image, depth


@numba.njit(cache=True, parallel=True)
def shade_batch(verts, albedo, light, tris, ambient, diffuse, sh, colour):
    """Per-vertex shaded colours of camera-space meshes: verts (N, V, 3), albedo (N, V, C), light (N, 3), ambient
    and diffuse (N,), sh (N, 8), colour (N, C), all float32 -> (N, V, C) float32 in [0, 1] (the shading stage of
    :func:`render_scenes`)."""
    out = np.empty_like(albedo)
    for i in numba.prange(verts.shape[0]):
        out[i] = _shade(_vertex_normals(verts[i], tris), albedo[i], light[i], ambient[i], diffuse[i], sh[i],
                        colour[i])
    return out
