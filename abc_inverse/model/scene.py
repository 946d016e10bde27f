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
BLOCKS = ("shape", "albedo", "pose", "light", "camera")


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
    """

    shape: np.ndarray
    albedo: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    light_azimuth: np.ndarray
    camera: np.ndarray

    def take(self, index) -> Scene:
        """Scenes selected by an integer array, slice or boolean mask along N."""
        return Scene(*(np.asarray(f)[index] for f in self))

    @property
    def n(self) -> int:
        """Number of scenes N."""
        return len(self.azimuth)

    def variables(self) -> dict[str, np.ndarray]:
        """The scenes in the units people read: {field: array}, angles (N,) in **degrees**, the rest as stored.
        The one place where radians become degrees (outputs, plots); :meth:`from_variables` is its inverse."""
        return {name: np.degrees(value) if name in ANGLES else np.asarray(value)
                for name, value in self._asdict().items()}

    @classmethod
    def from_variables(cls, variables: dict) -> Scene:
        """Scenes from {field: array} with angles in degrees (the output of :meth:`variables`, or the posterior
        variables of a fit). Raises KeyError for a missing field."""
        return cls(**{name: np.radians(variables[name]) if name in ANGLES else np.asarray(variables[name])
                      for name in cls._fields})


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

    Attributes
    ----------
    dim : int. Length D of the standard-normal vector u = (shape, albedo, azimuth, elevation, light_azimuth,
        camera x, y, z).
    blocks : dict str -> slice. Indices of u moved together by a blockwise proposal: ``shape``, ``albedo``,
        ``pose`` (azimuth, elevation), ``light``, ``camera``.

    References
    ----------
    Kulkarni et al. 2015 §4.1, §4.3 (ranges); Murray, Adams & MacKay 2010 (elliptical moves need a Gaussian
    prior, hence the reparameterisation).
    """

    def __init__(self, n_shape: int, n_albedo: int):
        for name, n in (("n_shape", n_shape), ("n_albedo", n_albedo)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name}: expected an integer ≥ 1, got {n!r}")
        self.n_shape, self.n_albedo = int(n_shape), int(n_albedo)
        s, a = self.n_shape, self.n_albedo
        self.blocks = {"shape": slice(0, s), "albedo": slice(s, s + a), "pose": slice(s + a, s + a + 2),
                       "light": slice(s + a + 2, s + a + 3), "camera": slice(s + a + 3, s + a + 6)}
        self.dim = s + a + 6

    def __repr__(self) -> str:
        return f"ScenePrior(n_shape={self.n_shape}, n_albedo={self.n_albedo})"

    def get_config(self) -> dict:
        """Settings that reproduce this prior (for provenance in outputs)."""
        return {"n_shape": self.n_shape, "n_albedo": self.n_albedo, "azimuth_limit_rad": AZIMUTH_LIMIT,
                "elevation_limit_rad": ELEVATION_LIMIT, "light_azimuth_limit_rad": LIGHT_AZIMUTH_LIMIT,
                "camera_offset_mm": CAMERA_OFFSET_MM, "camera_distance_mm": list(CAMERA_DISTANCE_MM)}

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
        p = ndtr(u[:, s + a:])

        def unif(name, col):
            lo, hi = _UNIFORM[name]
            return lo + (hi - lo) * col

        return Scene(shape=u[:, :s].copy(), albedo=u[:, s:s + a].copy(), azimuth=unif("azimuth", p[:, 0]),
                     elevation=unif("elevation", p[:, 1]), light_azimuth=unif("light_azimuth", p[:, 2]),
                     camera=unif("camera", p[:, 3:6]))

    def to_normal(self, scene: Scene) -> np.ndarray:
        """Map scenes to standard-normal coordinates: (N, D) float64. Validates the scene first."""
        scene = self.validate(scene)
        cols = [scene.shape, scene.albedo]
        for name in ("azimuth", "elevation", "light_azimuth", "camera"):
            lo, hi = _UNIFORM[name]
            p = (np.asarray(getattr(scene, name)).reshape(scene.n, -1) - lo) / (hi - lo)
            cols.append(ndtri(np.clip(p, 1e-15, 1 - 1e-15)))
        return np.concatenate(cols, axis=1)

    def validate(self, scene: Scene) -> Scene:
        """Check shapes, finiteness and support of a scene batch; returns it as float64 arrays.

        Raises TypeError if ``scene`` is not a :class:`Scene`, ValueError naming the field otherwise.
        """
        if not isinstance(scene, Scene):
            raise TypeError(f"scene: expected abc_inverse.model.scene.Scene, got {type(scene).__name__}")
        fields = {k: np.asarray(v, dtype=np.float64) for k, v in scene._asdict().items()}
        n = fields["azimuth"].shape[0] if fields["azimuth"].ndim == 1 else None
        if n is None:
            raise ValueError(f"scene.azimuth: expected shape (N,), got {fields['azimuth'].shape}")
        expected = {"shape": (n, self.n_shape), "albedo": (n, self.n_albedo), "azimuth": (n,),
                    "elevation": (n,), "light_azimuth": (n,), "camera": (n, 3)}
        for name, shp in expected.items():
            if fields[name].shape != shp:
                raise ValueError(f"scene.{name}: expected shape {shp}, got {fields[name].shape}")
            if not np.all(np.isfinite(fields[name])):
                raise ValueError(f"scene.{name}: expected finite values, got NaN or inf")
        for name, (lo, hi) in _UNIFORM.items():
            v = fields[name]
            if np.any((v < lo) | (v > hi)):
                bad = v[(v < lo) | (v > hi)].ravel()[0]
                raise ValueError(f"scene.{name}: expected values in [{lo:.4g}, {hi:.4g}], got {bad:.4g}")
        return Scene(**fields)

    def at_angles(self, azimuth: float, elevation: float, light_azimuth: float, seed: int | None = None) -> Scene:
        """One scene at given angles in **degrees**, the camera centred (0.5, 0.5, 0.5): the mean face, or with
        ``seed`` an identity (shape, albedo) drawn from the prior by ``numpy.random.default_rng(seed)``. Raises
        ValueError (from :meth:`validate`) for an angle outside the prior's support."""
        if seed is None:
            shape, albedo = np.zeros((1, self.n_shape)), np.zeros((1, self.n_albedo))
        else:
            identity = self.sample(np.random.default_rng(seed), 1)
            shape, albedo = identity.shape, identity.albedo
        return self.validate(Scene.from_variables({"shape": shape, "albedo": albedo, "azimuth": [azimuth],
                                                   "elevation": [elevation], "light_azimuth": [light_azimuth],
                                                   "camera": np.full((1, 3), 0.5)}))

    def log_prob(self, scene: Scene) -> np.ndarray:
        """Log prior density of each scene (Lebesgue measure on θ): (N,) float64. Validates first."""
        scene = self.validate(scene)
        lp = -0.5 * (np.sum(scene.shape**2, 1) + np.sum(scene.albedo**2, 1))
        lp -= 0.5 * (self.n_shape + self.n_albedo) * np.log(2 * np.pi)
        for name, (lo, hi) in _UNIFORM.items():
            lp -= (3 if name == "camera" else 1) * np.log(hi - lo)
        return lp
