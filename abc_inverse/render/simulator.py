"""The graphics simulator g(S): a batch of scenes -> a batch of images. The only path from θ to pixels.

References
----------
Kulkarni et al. 2015 §4.1, Fig. 5 (the graphics simulator of the ABC-MCMC scheme).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from abc_inverse.io import GREY_WEIGHTS
from abc_inverse.model.features import feature_albedo
from abc_inverse.model.morphable import MorphableModel, load_model
from abc_inverse.model.scene import LIGHTINGS, Scene, ScenePrior, camera_position_mm, lighting_variables
from abc_inverse.render.raster import render_scenes, shade_batch

BACKENDS = ("numba", "pyrender")
FACE_REGION_STREAM, FACE_REGION_SCENES = 20_260_101, 2000  # prior scenes from which Simulator.face_region is found
FACE_REGION_ANGLES = (45.0, 30.0)  # |azimuth|, |elevation| in degrees of those scenes
FACE_REGION_COVERAGE = 0.95


@dataclass(frozen=True)
class RenderSettings:
    """How scenes become pixels.

    Attributes
    ----------
    image_size : int, pixels (square images), 16-512. 64 by default; the paper used 150.
    color : bool. False renders grey (N, H, W); True renders RGB (N, H, W, 3).
    fov_deg : float, degrees. Vertical field of view of the perspective camera.
    ambient, diffuse : float ≥ 0. Shading = albedo · (ambient + diffuse · max(0, n·l)) with the default lighting.
    lighting : ``"directional"`` (default: the fixed ambient and diffuse above, a light at elevation 0, white) or
        ``"rich"``: light elevation, ambient, diffuse, orders 1-2 of spherical-harmonic lighting and, with
        ``color``, the light's colour are scene variables (``Scene.lighting``; priors in
        :mod:`abc_inverse.model.scene`), and ``ambient``/``diffuse`` here are not used.
    backend : ``"numba"`` (fast default) or ``"pyrender"`` (reference OpenGL engine, headless EGL/OSMesa).
    supersample : int 1-4. Each pixel is the mean of supersample² samples (anti-aliasing: without it the nose's
        and the face's outlines are jagged at 64 pixels); 1 = one sample at the pixel centre. (The pyrender
        backend also applies its own 4× MSAA, while its coverage counts samples at pixel centres, so its
        composites are approximate along the outline.)
    features : bool. The mean albedo carries eyes, brows and lips (:mod:`abc_inverse.model.features`); False = a
        uniform skin reflectance.

    A simulator config written before ``supersample``, ``features`` and ``lighting`` existed lacks them; it means 1,
    False and ``"directional"``.
    """

    image_size: int = 64
    color: bool = False
    fov_deg: float = 24.0
    ambient: float = 0.3
    diffuse: float = 0.7
    backend: str = "numba"
    supersample: int = 1
    features: bool = False
    lighting: str = "directional"

    def __post_init__(self):
        if not isinstance(self.image_size, (int, np.integer)) or not 16 <= self.image_size <= 512:
            raise ValueError(f"image_size: expected an integer in 16..512 pixels, got {self.image_size!r}")
        if not 1.0 <= self.fov_deg <= 120.0:
            raise ValueError(f"fov_deg: expected 1..120 degrees, got {self.fov_deg!r}")
        if self.ambient < 0 or self.diffuse < 0:
            raise ValueError(f"ambient, diffuse: expected ≥ 0, got {self.ambient!r}, {self.diffuse!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {self.backend!r}")
        if not isinstance(self.supersample, (int, np.integer)) or not 1 <= self.supersample <= 4:
            raise ValueError(f"supersample: expected an integer in 1..4, got {self.supersample!r}")
        if not isinstance(self.features, (bool, np.bool_)):
            raise ValueError(f"features: expected True or False, got {self.features!r}")
        if self.lighting not in LIGHTINGS:
            raise ValueError(f"lighting: expected one of {LIGHTINGS}, got {self.lighting!r}")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.image_size / np.tan(np.radians(self.fov_deg) / 2)


def rotation_matrices(azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """Face rotations R = R_x(elevation) · R_y(azimuth), (N, 3, 3) float64, for angles (N,) in radians.

    Positive azimuth turns the face towards the viewer's right; positive elevation tilts it up.
    """
    ca, sa, ce, se = np.cos(azimuth), np.sin(azimuth), np.cos(elevation), np.sin(elevation)
    zero, one = np.zeros_like(ca), np.ones_like(ca)
    r_y = np.stack([np.stack([ca, zero, sa], -1), np.stack([zero, one, zero], -1),
                    np.stack([-sa, zero, ca], -1)], -2)
    r_x = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, ce, se], -1),
                    np.stack([zero, -se, ce], -1)], -2)
    return r_x @ r_y


def simulator_from_config(config: dict) -> Simulator:
    """Rebuild a simulator from :meth:`Simulator.get_config` output. Raises ValueError/TypeError if invalid."""
    cfg = dict(config)
    try:
        model = load_model(int(cfg.pop("n_shape")), int(cfg.pop("n_albedo")))
        return Simulator(model, RenderSettings(**cfg))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"simulator config: expected the keys of Simulator.get_config(), got {config} ({exc})"
                         ) from None


class Simulator:
    """Render scenes of a morphable face model.

    Parameters
    ----------
    model : MorphableModel, optional. Defaults to ``load_model()`` (20 shape, 10 albedo dimensions). With
        ``settings.features`` the simulator's ``model`` is this one with the features in its mean albedo.
    settings : RenderSettings, optional.

    Calling ``simulator(scene)`` returns (N, H, W) float32 grey images, or (N, H, W, 3) RGB when
    ``settings.color``, intensities in [0, 1], background 0. Raises ValueError/TypeError on invalid scenes.
    """

    def __init__(self, model: MorphableModel | None = None, settings: RenderSettings | None = None):
        model = model if model is not None else load_model()
        self.settings = settings if settings is not None else RenderSettings()
        if self.settings.features:  # repaints fixed regions only, so a model painted already stays the same
            model = replace(model, albedo_mean=feature_albedo(model.mean, model.albedo_mean))
        self.model = model
        self.prior = ScenePrior(self.model.n_shape, self.model.n_albedo, self.settings.lighting, self.settings.color)
        albedo_mean, albedo_basis = self.model.albedo_mean, self.model.albedo_basis
        if not self.settings.color:
            albedo_mean, albedo_basis = albedo_mean @ GREY_WEIGHTS, albedo_basis @ GREY_WEIGHTS
        self._albedo_mean = np.ascontiguousarray(albedo_mean.reshape(self.model.n_vertices, -1), np.float32)
        self._albedo_basis = np.ascontiguousarray(
            albedo_basis.reshape(self.model.n_albedo, self.model.n_vertices, -1), np.float32)
        self._regions: dict[float, np.ndarray] = {}

    def get_config(self) -> dict:
        """Settings that reproduce this simulator."""
        return {"n_shape": self.model.n_shape, "n_albedo": self.model.n_albedo, **asdict(self.settings)}

    def _pose(self, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
        """Face rotations (N, 3, 3), camera positions (N, 3) mm, unit light directions (N, 3), float32, and the
        shading arguments of :func:`abc_inverse.render.raster.render_scenes` (ambient (N,), diffuse (N,), sh
        (N, 8), light_colour (N, C)) of validated scenes."""
        rot = rotation_matrices(scene.azimuth, scene.elevation).astype(np.float32)
        cam = camera_position_mm(scene.camera).astype(np.float32)
        lighting = self._lighting(scene)
        elevation = lighting["light_elevation"]
        light = np.stack([np.sin(scene.light_azimuth) * np.cos(elevation), np.sin(elevation),
                          np.cos(scene.light_azimuth) * np.cos(elevation)], 1)
        shading = lighting["ambient"], lighting["diffuse"], lighting["sh"], lighting["light_colour"]
        return rot, cam, light.astype(np.float32), shading

    def _lighting(self, scene: Scene) -> dict[str, np.ndarray]:
        """The lighting of validated scenes as float32 arrays: light_elevation (N,) radians, ambient, diffuse (N,),
        sh (N, 8), light_colour (N, C) (white, ones, unless the scenes have colour lighting; C = 1 for grey renders,
        whose prior has no light colour)."""
        n, s = scene.n, self.settings
        out = {"light_elevation": np.zeros(n), "ambient": np.full(n, s.ambient), "diffuse": np.full(n, s.diffuse),
               "sh": np.zeros((n, 8)), "light_colour": np.ones((n, 3 if s.color else 1))}
        for name, cols, _ in lighting_variables(scene.lighting.shape[1]):
            value = scene.lighting[:, cols]
            out[name] = value[:, 0] if value.shape[1] == 1 else value
        return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}

    def camera_space(self, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geometry and materials of scenes in camera space, computed with NumPy (the reference twin of the
        geometry stage of :func:`abc_inverse.render.raster.render_scenes`).

        Returns verts (N, V, 3) float32 mm, albedo (N, V, C) float32 in [0, 1], light (N, 3) float32 unit.
        """
        scene = self.prior.validate(scene)
        rot, cam, light, _ = self._pose(scene)
        verts = np.matmul(self.model.shape(scene.shape), rot.transpose(0, 2, 1)) - cam[:, None, :]
        albedo = self.model.albedo(scene.albedo)
        if not self.settings.color:
            albedo = (albedo @ GREY_WEIGHTS)[..., None]
        return verts.astype(np.float32), np.ascontiguousarray(albedo, dtype=np.float32), light

    def project(self, scene: Scene, vertices: np.ndarray) -> np.ndarray:
        """Where points of the face land in the image: (N, K, 2) float64 pixels, x to the right and y down, pixel
        (i, j)'s centre at (j + 0.5, i + 0.5) (as the rasterizer samples, :func:`abc_inverse.render.raster._project`,
        at every ``supersample``). Each point is the mean of the vertices in a row of ``vertices`` ((K,) or (K, M)
        int vertex ids), moved by the scenes' shape, pose and camera; the projection is the renderer's pinhole.
        Only those vertices are computed, so it costs microseconds per scene. Raises ValueError for invalid scenes
        or vertex ids outside the mesh."""
        scene = self.prior.validate(scene)
        ids = np.asarray(vertices).reshape(len(vertices), -1)
        if ids.size == 0 or ids.min() < 0 or ids.max() >= self.model.n_vertices:
            raise ValueError(f"vertices: expected ids in [0, {self.model.n_vertices}), got "
                             f"{ids.min() if ids.size else 'none'}…{ids.max() if ids.size else ''}")
        basis = self.model.shape_basis[:, ids].astype(np.float64).mean(axis=2)  # (n_shape, K, 3)
        points = self.model.mean[ids].astype(np.float64).mean(axis=1) + np.einsum("ns,skd->nkd", scene.shape, basis)
        rot = rotation_matrices(scene.azimuth, scene.elevation)
        view = np.matmul(points, rot.transpose(0, 2, 1)) - camera_position_mm(scene.camera)[:, None, :]
        depth = np.maximum(-view[..., 2], 1e-6)
        half, focal = 0.5 * self.settings.image_size, self.settings.focal_px
        return np.stack([half + focal * view[..., 0] / depth, half - focal * view[..., 1] / depth], axis=-1)

    def render_with_depth(self, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
        """Images as ``__call__`` plus depth (N, H, W) float32, millimetres along the view axis, 0 = background
        (with ``supersample`` > 1: the mean depth of a pixel's samples that the face covers)."""
        return self._render(scene, with_depth=True)[:2]

    def render_with_coverage(self, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
        """Images as ``__call__`` plus coverage (N, H, W) float32 in [0, 1], the share of each pixel's samples that
        the face covers (0 or 1 without ``supersample``): the images are the face premultiplied by it, so that
        ``image + (1 - coverage) · background`` composites the face over a background."""
        image, _, coverage = self._render(scene, with_depth=True)
        return image, coverage

    def __call__(self, scene: Scene) -> np.ndarray:
        return self._render(scene, with_depth=False)[0]

    def face_region(self, coverage: float = FACE_REGION_COVERAGE) -> np.ndarray:
        """The pixels (H, W) bool that the face covers in at least ``coverage`` of the renders of prior scenes
        turned less than ``FACE_REGION_ANGLES`` (azimuth, elevation; degrees), identity, camera and light from the
        prior (``FACE_REGION_SCENES`` draws of a fixed stream, so the region is a function of the settings): where
        a face framed like the renders is, whatever its pose. At 64 pixels, coverage 0.95: a central strip of about
        440 pixels, a quarter of a frontal face. Raises ValueError for ``coverage`` outside (0, 1]."""
        if not 0 < coverage <= 1:
            raise ValueError(f"coverage: expected a number in (0, 1], got {coverage}")
        if coverage not in self._regions:
            scenes = self.prior.sample(np.random.default_rng(FACE_REGION_STREAM), FACE_REGION_SCENES)
            turned = (np.abs(np.degrees(scenes.azimuth)) <= FACE_REGION_ANGLES[0]) & \
                (np.abs(np.degrees(scenes.elevation)) <= FACE_REGION_ANGLES[1])
            covered = self.render_with_coverage(scenes.take(np.flatnonzero(turned)))[1] > 0.5
            self._regions[coverage] = covered.mean(axis=0) >= coverage
        return self._regions[coverage]

    def render_over(self, scene: Scene, background: np.ndarray) -> np.ndarray:
        """Images of the scenes composited over ``background``: each pixel the face covers is the render's, every
        other pixel the background's, and a pixel the face's outline crosses a blend by its coverage (the "image as
        background" of analysis-by-synthesis face
        fitting: the observed photo's own pixels outside the face, so that its hair, neck and scene are not
        differences for the face to explain).

        background : (H, W) float32 in [0, 1] (grey), or (H, W, 3) with ``settings.color``, H = W =
        ``settings.image_size``. Returns images shaped as ``__call__``'s. Raises ValueError for a background of
        another shape or with values outside [0, 1]."""
        size = self.settings.image_size
        expected = (size, size, 3) if self.settings.color else (size, size)
        background = np.asarray(background, dtype=np.float32)
        if background.shape != expected:
            raise ValueError(f"background: expected an image of shape {expected}, got {background.shape}")
        if not (np.all(np.isfinite(background)) and background.min() >= 0 and background.max() <= 1):
            raise ValueError("background: expected finite intensities in [0, 1]")
        images, coverage = self.render_with_coverage(scene)
        if self.settings.color:
            coverage = coverage[..., None]
        return images + (1.0 - coverage) * background[None]

    def _render(self, scene: Scene, with_depth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, depth, coverage) of the scenes, each sample grid of ``supersample``² per pixel averaged."""
        s = self.settings
        k, f32 = s.supersample, np.float32
        size = s.image_size * k
        if s.backend == "numba":
            scene = self.prior.validate(scene)
            rot, cam, light, shading = self._pose(scene)
            image, depth = render_scenes(
                self.model.mean, self.model.shape_basis, scene.shape.astype(f32), self._albedo_mean,
                self._albedo_basis, scene.albedo.astype(f32), rot, cam, light, self.model.triangles,
                f32(s.focal_px * k), size, size, *shading)
        else:
            from abc_inverse.render.pyrender_backend import render_meshes

            verts, albedo, light = self.camera_space(scene)
            shading = self._pose(self.prior.validate(scene))[3]
            colors = shade_batch(verts, albedo, light, self.model.triangles, *shading)
            image, depth = render_meshes(verts, colors, self.model.triangles, s.fov_deg, size, with_depth or k > 1)
        if not s.color:
            image = image[..., 0]
        if k == 1:
            return image, depth, (depth > 0).astype(f32)
        n, m = len(image), s.image_size
        image = image.reshape(n, m, k, m, k, *image.shape[3:]).mean(axis=(2, 4), dtype=f32)
        covered = (depth > 0).reshape(n, m, k, m, k)
        count = covered.sum(axis=(2, 4))
        depth = np.where(count > 0, depth.reshape(n, m, k, m, k).sum(axis=(2, 4)) / np.maximum(count, 1), 0.0)
        return image, depth.astype(f32), (count / (k * k)).astype(f32)
