import os

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # OpenMP collapses when both cores are busy
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from abc_inverse.model.morphable import load_model  # noqa: E402
from abc_inverse.model.scene import Scene  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def model():
    return load_model(20, 10)


def make_scene(n=1, azimuth=0.0, elevation=0.0, light_azimuth=0.0, n_shape=20, n_albedo=10, rng=None):
    """Scenes with given angles (radians), mean or random identity, centred camera."""
    shape = rng.standard_normal((n, n_shape)) if rng is not None else np.zeros((n, n_shape))
    albedo = rng.standard_normal((n, n_albedo)) if rng is not None else np.zeros((n, n_albedo))
    full = lambda v: np.broadcast_to(np.asarray(v, float), (n,)).copy()  # noqa: E731
    return Scene(shape, albedo, full(azimuth), full(elevation), full(light_azimuth), np.full((n, 3), 0.5))
