"""Scene parameters θ, their prior, and the standard-normal reparameterisation used by elliptical proposals.

θ = (shape, albedo, azimuth, elevation, light azimuth, camera). Shape and albedo coefficients are N(0, 1)
(Kulkarni et al. 2015 §4.1, as in the 3DMM). The other variables are uniform:

=================  ==============================  ===========================================================
variable           prior                           source / reason
=================  ==============================  ===========================================================
azimuth            U(-1.5, 1.5) rad (±85.9°)       DC-IGN §4.3 (test azimuths -1.5 … 1.5)
elevation          U(-π/2, π/2) rad (±90°)         DC-IGN §4.1 (S_elevation ~ U(-90, 90))
light_azimuth      U(-π/2, π/2) rad (±90°)         DC-IGN §4.1 (S_light ~ U(-90, 90)); light elevation is 0
camera (x, y, z)   U(0, 1) each                    DC-IGN §4.1; mapped by :func:`camera_position_mm`
=================  ==============================  ===========================================================

With ``lighting="rich"`` (``RenderSettings.lighting``; the default ``"directional"`` has none of these) the scene
also has ``Scene.lighting``, (N, L) columns of the lighting variables of :data:`LIGHTING_VARIABLES` (L = 11, or 14
with colour renders), rendered as :func:`abc_inverse.render.raster.render_scenes` documents:

=================  ==============================  ===========================================================
variable           prior                           meaning
=================  ==============================  ===========================================================
light_elevation    U(-π/3, π/3) rad (±60°)         the light's elevation, positive = from above
ambient            U(0.1, 0.6)                     ambient (direction-free) share of the shading
diffuse            U(0.3, 1.0)                     strength of the directional light
sh (8)             N(0, 0.1²) each                 real spherical-harmonic lighting of orders 1-2 beside them
light_colour (3)   U(0.8, 1.2) each                RGB gains of all the light (colour renders only)
=================  ==============================  ===========================================================

The fixed lighting of ``"directional"`` (ambient 0.3, diffuse 0.7, elevation 0, no harmonics, white) is inside
this prior (:data:`NEUTRAL_LIGHTING`), so every scene of the default simulator has a twin under ``"rich"``. Ambient
plus a directional light plus orders 1-2 of spherical harmonics is the low-order lighting of face fitting (Lambertian
irradiance is within ~1 % of its order-2 harmonics, Ramamoorthi & Hanrahan 2001; the Basel Face Model's fitting
uses order 2, Egger et al. 2018); keeping the directional term keeps light azimuth a variable of its own, which is
what DC-IGN's z3 codes.

Every variable has a standard-normal coordinate u (u = θ for N(0, 1) variables; u = Φ⁻¹((θ - a) / (b - a)) for
U(a, b)), so that the elliptical proposal u' = √(1 - α²) u + α ν, ν ~ N(0, I) leaves the whole prior invariant
(Murray, Adams & MacKay 2010).

Angles: azimuth turns the face about the vertical (y) axis, positive turns the face towards the viewer's right
(the subject's left); elevation tilts about the horizontal (x) axis, positive tilts the face up; light azimuth
is the light's direction about the vertical axis in the camera frame, 0 = from the camera, positive = from the
viewer's right.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

AZIMUTH_LIMIT = 1.5  # radians
ELEVATION_LIMIT = np.pi / 2  # radians
LIGHT_AZIMUTH_LIMIT = np.pi / 2  # radians
ANGLES = ("azimuth", "elevation", "light_azimuth")  # radians in a Scene, degrees wherever people read them
ANGLE_LIMITS = {"azimuth": AZIMUTH_LIMIT, "elevation": ELEVATION_LIMIT, "light_azimuth": LIGHT_AZIMUTH_LIMIT}
CAMERA_OFFSET_MM = 20.0  # camera u in [0, 1] -> lateral offset (u - 0.5) * 2 * 20 mm
CAMERA_DISTANCE_MM = (450.0, 550.0)  # camera u_z in [0, 1] -> distance 450 … 550 mm
BLOCKS = ("shape", "albedo", "pose", "light", "camera")  # and "lighting" with lighting="rich"
LIGHTINGS = ("directional", "rich")
LIGHT_ELEVATION_LIMIT = np.pi / 3  # radians
SH_SD = 0.1
# (name, columns, prior): ("uniform", low, high) or ("normal", sd); light_colour only with colour renders
LIGHTING_VARIABLES = (("light_elevation", 1, ("uniform", -LIGHT_ELEVATION_LIMIT, LIGHT_ELEVATION_LIMIT)),
                      ("ambient", 1, ("uniform", 0.1, 0.6)), ("diffuse", 1, ("uniform", 0.3, 1.0)),
                      ("sh", 8, ("normal", SH_SD)), ("light_colour", 3, ("uniform", 0.8, 1.2)))
SCENE_VARIABLES = ("shape", "albedo", *ANGLES, "camera", *(name for name, _, _ in LIGHTING_VARIABLES))  # every one
NEUTRAL_LIGHTING = {"light_elevation": 0.0, "ambient": 0.3, "diffuse": 0.7, "sh": 0.0, "light_colour": 1.0}


def lighting_variables(columns: int) -> list[tuple[str, slice, tuple]]:
    """(name, columns of ``Scene.lighting``, prior) of each lighting variable for L = ``columns``: 0 (the
    ``"directional"`` lighting: none), 11 (``"rich"``, grey) or 14 (``"rich"``, colour). Raises ValueError for
    another L."""
    out, start = [], 0
    for name, width, prior in LIGHTING_VARIABLES:
        if start == columns:
            break
        out.append((name, slice(start, start + width), prior))
        start += width
    if start != columns or columns not in (0, 11, 14):
        raise ValueError(f"scene.lighting: expected 0, 11 or 14 columns, got {columns}")
    return out


class Scene(NamedTuple):
    """A batch of N scenes.

    Attributes
    ----------
    shape : (N, n_shape) float64, N(0, 1) coefficients of the morphable model's shape basis.
    albedo : (N, n_albedo) float64, N(0, 1) coefficients of the albedo basis.
    azimuth : (N,) float64, radians, in [-1.5, 1.5].
    elevation : (N,) float64, radians, in [-π/2, π/2].
    light_azimuth : (N,) float64, radians, in [-π/2, π/2].
    camera : (N, 3) float64, unitless in [0, 1]; see :func:`camera_position_mm`.
    lighting : (N, L) float64 or None: the lighting variables of ``lighting="rich"`` (module docstring; light
        elevation in radians), L = 0 or None for the default ``"directional"`` lighting.
    """

    shape: np.ndarray
    albedo: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    light_azimuth: np.ndarray
    camera: np.ndarray
    lighting: np.ndarray | None = None

    def take(self, index) -> Scene:
        """Scenes selected by an integer array, slice or boolean mask along N."""
        return Scene(*(None if f is None else np.asarray(f)[index] for f in self))

    @property
    def n(self) -> int:
        """Number of scenes N."""
        return len(self.azimuth)

    def variables(self) -> dict[str, np.ndarray]:
        """The scenes in the units people read: {variable: array}, angles (N,) in **degrees**, the rest as stored;
        ``lighting``'s columns as their variables (``light_elevation`` (N,) in degrees, ``ambient``, ``diffuse``
        (N,), ``sh`` (N, 8), ``light_colour`` (N, 3)). The one place where radians become degrees (outputs, plots);
        :meth:`from_variables` is its inverse."""
        out = {name: np.degrees(value) if name in ANGLES else np.asarray(value)
               for name, value in self._asdict().items() if name != "lighting"}
        lighting = np.zeros((self.n, 0)) if self.lighting is None else np.asarray(self.lighting)
        for name, cols, _ in lighting_variables(lighting.shape[-1]):
            value = lighting[..., cols]
            value = value[..., 0] if value.shape[-1] == 1 else value
            out[name] = np.degrees(value) if name == "light_elevation" else value
        return out

    @classmethod
    def from_variables(cls, variables: dict) -> Scene:
        """Scenes from {variable: array} with angles in degrees (the output of :meth:`variables`, or the posterior
        variables of a fit); the lighting variables, where ``light_elevation`` is among them. Raises KeyError for a
        missing variable."""
        fields = {name: np.radians(variables[name]) if name in ANGLES else np.asarray(variables[name])
                  for name in cls._fields if name != "lighting"}
        n = len(fields["azimuth"])
        parts = [np.reshape(np.radians(variables[name]) if name == "light_elevation" else variables[name], (n, -1))
                 for name, _, _ in LIGHTING_VARIABLES if name in variables]
        lighting = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
        lighting_variables(lighting.shape[1])  # raises ValueError for an incomplete set
        return cls(**fields, lighting=lighting)


def angle_limit_degrees(name: str) -> float:
    """Half-width of the prior's support of angle ``name`` (one of :data:`ANGLES`), degrees."""
    return float(np.degrees(ANGLE_LIMITS[name]))


def camera_position_mm(camera: np.ndarray) -> np.ndarray:
    """Map camera variables in [0, 1]³ to the camera position in millimetres.

    camera : (N, 3) float. Returns (N, 3) float64: x and y offsets (u - 0.5)·40 mm (±20 mm), and the
    distance from the face origin along +z, 450 + 100·u mm. The camera always looks along -z.
    """
    camera = np.asarray(camera, dtype=np.float64)
    lo, hi = CAMERA_DISTANCE_MM
    return np.stack([(camera[:, 0] - 0.5) * 2 * CAMERA_OFFSET_MM,
                     (camera[:, 1] - 0.5) * 2 * CAMERA_OFFSET_MM,
                     lo + (hi - lo) * camera[:, 2]], axis=1)


_UNIFORM = {**{name: (-limit, limit) for name, limit in ANGLE_LIMITS.items()}, "camera": (0.0, 1.0)}  # (low, high)


class ScenePrior:
    """The prior over scenes and its standard-normal reparameterisation.

    Parameters
    ----------
    n_shape, n_albedo : int ≥ 1. Numbers of shape and albedo coefficients.
    lighting : one of :data:`LIGHTINGS`; ``"rich"`` adds the lighting variables (module docstring).
    color : bool. With ``lighting="rich"``: colour renders, whose lighting has ``light_colour`` too.

    Attributes
    ----------
    dim : int. Length D of the standard-normal vector u = (shape, albedo, azimuth, elevation, light_azimuth,
        camera x, y, z, lighting columns).
    lighting_columns : int. L, the columns of ``Scene.lighting`` (0, 11 or 14).
    blocks : dict str -> slice. Indices of u moved together by a blockwise proposal: ``shape``, ``albedo``,
        ``pose`` (azimuth, elevation), ``light``, ``camera``, and ``lighting`` when L > 0.
    variable_names : list of str. The variables of :meth:`Scene.variables` for scenes of this prior.

    Raises ValueError for a bad argument, naming it.

    References
    ----------
    Kulkarni et al. 2015 §4.1, §4.3 (ranges); Murray, Adams & MacKay 2010 (elliptical moves need a Gaussian
    prior, hence the reparameterisation).
    """

    def __init__(self, n_shape: int, n_albedo: int, lighting: str = "directional", color: bool = False):
        for name, n in (("n_shape", n_shape), ("n_albedo", n_albedo)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name}: expected an integer ≥ 1, got {n!r}")
        if lighting not in LIGHTINGS:
            raise ValueError(f"lighting: expected one of {LIGHTINGS}, got {lighting!r}")
        self.n_shape, self.n_albedo, self.lighting = int(n_shape), int(n_albedo), lighting
        self.lighting_columns = 0 if lighting == "directional" else 14 if color else 11
        self._lighting = lighting_variables(self.lighting_columns)
        s, a = self.n_shape, self.n_albedo
        self.blocks = {"shape": slice(0, s), "albedo": slice(s, s + a), "pose": slice(s + a, s + a + 2),
                       "light": slice(s + a + 2, s + a + 3), "camera": slice(s + a + 3, s + a + 6)}
        self.dim = s + a + 6 + self.lighting_columns
        if self.lighting_columns:
            self.blocks["lighting"] = slice(s + a + 6, self.dim)
        self.variable_names = [*(f for f in Scene._fields if f != "lighting"), *(n for n, _, _ in self._lighting)]

    def __repr__(self) -> str:
        extra = "" if self.lighting == "directional" else f", lighting={self.lighting!r}"
        return f"ScenePrior(n_shape={self.n_shape}, n_albedo={self.n_albedo}{extra})"

    def get_config(self) -> dict:
        """Settings that reproduce this prior (for provenance in outputs)."""
        config = {"n_shape": self.n_shape, "n_albedo": self.n_albedo, "azimuth_limit_rad": AZIMUTH_LIMIT,
                  "elevation_limit_rad": ELEVATION_LIMIT, "light_azimuth_limit_rad": LIGHT_AZIMUTH_LIMIT,
                  "camera_offset_mm": CAMERA_OFFSET_MM, "camera_distance_mm": list(CAMERA_DISTANCE_MM)}
        if self.lighting_columns:
            config["lighting"] = {name: [cols.stop - cols.start, *prior] for name, cols, prior in self._lighting}
        return config

    def sample_normal(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw u ~ N(0, I): (n, D) float64."""
        return rng.standard_normal((n, self.dim))

    def sample(self, rng: np.random.Generator, n: int) -> Scene:
        """Draw n scenes from the prior."""
        return self.from_normal(self.sample_normal(rng, n))

    def from_normal(self, u: np.ndarray) -> Scene:
        """Map standard-normal coordinates u, (N, D) float, to scenes. Raises ValueError on a wrong shape or NaN."""
        u = np.asarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(f"u: expected shape (N, {self.dim}), got {u.shape}")
        if not np.all(np.isfinite(u)):
            raise ValueError("u: expected finite values, got NaN or inf")
        s, a = self.n_shape, self.n_albedo
        p = ndtr(u[:, s + a:s + a + 6])

        def unif(name, col):
            lo, hi = _UNIFORM[name]
            return lo + (hi - lo) * col

        lighting = u[:, s + a + 6:].copy()
        for _, cols, prior in self._lighting:
            lighting[:, cols] = (prior[1] + (prior[2] - prior[1]) * ndtr(lighting[:, cols]) if prior[0] == "uniform"
                                 else prior[1] * lighting[:, cols])
        return Scene(shape=u[:, :s].copy(), albedo=u[:, s:s + a].copy(), azimuth=unif("azimuth", p[:, 0]),
                     elevation=unif("elevation", p[:, 1]), light_azimuth=unif("light_azimuth", p[:, 2]),
                     camera=unif("camera", p[:, 3:6]), lighting=lighting)

    def to_normal(self, scene: Scene) -> np.ndarray:
        """Map scenes to standard-normal coordinates: (N, D) float64. Validates the scene first."""
        scene = self.validate(scene)
        cols = [scene.shape, scene.albedo]
        for name in ("azimuth", "elevation", "light_azimuth", "camera"):
            lo, hi = _UNIFORM[name]
            p = (np.asarray(getattr(scene, name)).reshape(scene.n, -1) - lo) / (hi - lo)
            cols.append(ndtri(np.clip(p, 1e-15, 1 - 1e-15)))
        lighting = scene.lighting.copy()
        for _, sl, prior in self._lighting:
            lighting[:, sl] = (ndtri(np.clip((lighting[:, sl] - prior[1]) / (prior[2] - prior[1]), 1e-15, 1 - 1e-15))
                               if prior[0] == "uniform" else lighting[:, sl] / prior[1])
        return np.concatenate([*cols, lighting], axis=1)

    def validate(self, scene: Scene) -> Scene:
        """Check shapes, finiteness and support of a scene batch; returns it as float64 arrays (``lighting`` None
        becomes (N, 0) when this prior has no lighting variables).

        Raises TypeError if ``scene`` is not a :class:`Scene`, ValueError naming the field otherwise.
        """
        if not isinstance(scene, Scene):
            raise TypeError(f"scene: expected abc_inverse.model.scene.Scene, got {type(scene).__name__}")
        fields = {k: np.asarray(v, dtype=np.float64) for k, v in scene._asdict().items() if v is not None}
        n = fields["azimuth"].shape[0] if fields["azimuth"].ndim == 1 else None
        if n is None:
            raise ValueError(f"scene.azimuth: expected shape (N,), got {fields['azimuth'].shape}")
        if "lighting" not in fields and not self.lighting_columns:
            fields["lighting"] = np.zeros((n, 0))
        if "lighting" not in fields:
            raise ValueError(f"scene.lighting: expected shape ({n}, {self.lighting_columns}) for lighting "
                             f"{self.lighting!r}, got None")
        expected = {"shape": (n, self.n_shape), "albedo": (n, self.n_albedo), "azimuth": (n,),
                    "elevation": (n,), "light_azimuth": (n,), "camera": (n, 3),
                    "lighting": (n, self.lighting_columns)}
        for name, shp in expected.items():
            if fields[name].shape != shp:
                raise ValueError(f"scene.{name}: expected shape {shp}, got {fields[name].shape}")
            if not np.all(np.isfinite(fields[name])):
                raise ValueError(f"scene.{name}: expected finite values, got NaN or inf")
        supports = [(name, fields[name], lo, hi) for name, (lo, hi) in _UNIFORM.items()]
        supports += [(f"lighting ({name})", fields["lighting"][:, cols], prior[1], prior[2])
                     for name, cols, prior in self._lighting if prior[0] == "uniform"]
        for name, v, lo, hi in supports:
            if np.any((v < lo) | (v > hi)):
                bad = v[(v < lo) | (v > hi)].ravel()[0]
                raise ValueError(f"scene.{name}: expected values in [{lo:.4g}, {hi:.4g}], got {bad:.4g}")
        return Scene(**fields)

    def neutral_lighting(self, n: int) -> np.ndarray:
        """(n, L) float64: :data:`NEUTRAL_LIGHTING`, the default simulator's fixed lighting, as lighting columns."""
        out = np.zeros((n, self.lighting_columns))
        for name, cols, _ in self._lighting:
            out[:, cols] = NEUTRAL_LIGHTING[name]
        return out

    def at_angles(self, azimuth: float, elevation: float, light_azimuth: float, seed: int | None = None) -> Scene:
        """One scene at given angles in **degrees**, the camera centred (0.5, 0.5, 0.5), neutral lighting
        (:data:`NEUTRAL_LIGHTING`): the mean face, or with ``seed`` an identity (shape, albedo) drawn from the prior
        by ``numpy.random.default_rng(seed)``. Raises ValueError (from :meth:`validate`) for an angle outside the
        prior's support."""
        if seed is None:
            shape, albedo = np.zeros((1, self.n_shape)), np.zeros((1, self.n_albedo))
        else:
            identity = self.sample(np.random.default_rng(seed), 1)
            shape, albedo = identity.shape, identity.albedo
        return self.validate(Scene.from_variables({"shape": shape, "albedo": albedo, "azimuth": [azimuth],
                                                   "elevation": [elevation], "light_azimuth": [light_azimuth],
                                                   "camera": np.full((1, 3), 0.5)}
                                                  )._replace(lighting=self.neutral_lighting(1)))

    def log_prob(self, scene: Scene) -> np.ndarray:
        """Log prior density of each scene (Lebesgue measure on θ): (N,) float64. Validates first."""
        scene = self.validate(scene)
        lp = -0.5 * (np.sum(scene.shape**2, 1) + np.sum(scene.albedo**2, 1))
        lp -= 0.5 * (self.n_shape + self.n_albedo) * np.log(2 * np.pi)
        for name, (lo, hi) in _UNIFORM.items():
            lp -= (3 if name == "camera" else 1) * np.log(hi - lo)
        for _, cols, prior in self._lighting:
            width = cols.stop - cols.start
            if prior[0] == "uniform":
                lp -= width * np.log(prior[2] - prior[1])
            else:
                x = scene.lighting[:, cols] / prior[1]
                lp -= 0.5 * np.sum(x**2, 1) + width * (0.5 * np.log(2 * np.pi) + np.log(prior[1]))
        return lp
