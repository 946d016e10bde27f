"""The pyrender (OpenGL) backend of the simulator: the reference graphics engine.

pyrender rasterises the same camera-space meshes with per-vertex colours shaded by our Lambertian model
(``RenderFlags.FLAT``: no pyrender lighting, no gamma), so the two backends differ only in rasterisation
(OpenGL, 4× MSAA at edges) and 8-bit output. Depth comes from a second pass with MSAA off (pyrender's
segmentation pass), so silhouettes are exact pixel-centre coverage, comparable with the Numba rasteriser.
Headless: ``PYOPENGL_PLATFORM`` defaults to ``egl`` (Mesa); set it to ``osmesa`` before the first render to use
OSMesa. One ``OffscreenRenderer`` is kept per process and
image size (deleting an EGL renderer breaks the others).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def _renderer(size: int):
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender

    return pyrender.OffscreenRenderer(size, size)


def render_meshes(verts: np.ndarray, colors: np.ndarray, tris: np.ndarray, fov_deg: float, size: int,
                  with_depth: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Render N camera-space meshes with pyrender.

    verts : (N, V, 3) float32 mm, camera at the origin looking along -z. colors : (N, V, C) float32 in [0, 1].
    tris : (F, 3) int. fov_deg : vertical field of view, degrees. size : image side, pixels.
    with_depth : bool. False skips the depth pass (depth is then all zeros).
    Returns image (N, size, size, C) float32 in [0, 1] (8-bit quantised, edges anti-aliased by 4× MSAA) and
    depth (N, size, size) float32 mm, 0 where the pixel centre is not covered.
    """
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender

    renderer = _renderer(size)
    camera = pyrender.PerspectiveCamera(yfov=np.radians(fov_deg), aspectRatio=1.0, znear=50.0, zfar=5000.0)
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=[1.0, 1.0, 1.0, 1.0], doubleSided=True)
    n, n_ch = len(verts), colors.shape[2]
    images = np.zeros((n, size, size, n_ch), np.float32)
    depths = np.zeros((n, size, size), np.float32)
    for i in range(n):
        rgb = colors[i] if n_ch == 3 else np.repeat(colors[i], 3, axis=1)
        rgba = np.concatenate([rgb, np.ones((len(rgb), 1), np.float32)], axis=1)
        prim = pyrender.Primitive(positions=verts[i], indices=tris, color_0=rgba, material=material)
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[0.0, 0.0, 0.0])
        node = scene.add(pyrender.Mesh([prim]))
        scene.add(camera, pose=np.eye(4))
        color, _ = renderer.render(scene, flags=pyrender.RenderFlags.FLAT)
        images[i] = color[..., :n_ch].astype(np.float32) / 255.0
        if with_depth:
            _, depths[i] = renderer.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map={node: (1, 1, 1)})
    return images, depths
