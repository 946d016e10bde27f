import numpy as np
import pytest

from abc_inverse.model.scene import AZIMUTH_LIMIT, ELEVATION_LIMIT, Scene, ScenePrior, camera_position_mm


@pytest.fixture
def prior():
    return ScenePrior(5, 3)


def test_reparameterisation_round_trip(prior, rng):
    u = rng.standard_normal((50, prior.dim))
    np.testing.assert_allclose(prior.to_normal(prior.from_normal(u)), u, atol=1e-8)
    scene = prior.sample(rng, 20)
    back = prior.from_normal(prior.to_normal(scene))
    for a, b in zip(scene, back, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_prior_moments(prior, rng):
    n = 40000
    s = prior.sample(rng, n)
    z = 5.0  # tolerance in Monte Carlo standard errors
    for x in (s.shape.ravel(), s.albedo.ravel()):
        assert abs(x.mean()) < z / np.sqrt(len(x))
        assert abs(x.var() - 1) < z * np.sqrt(2 / len(x))
    for x, lim in ((s.azimuth, AZIMUTH_LIMIT), (s.elevation, ELEVATION_LIMIT), (s.light_azimuth, np.pi / 2)):
        sd = 2 * lim / np.sqrt(12)  # U(-lim, lim)
        assert abs(x.mean()) < z * sd / np.sqrt(n)
        assert abs(x.var() - sd**2) < z * np.sqrt(4 * lim**4 / 45 / n)  # Var(x²) = 4L⁴/45 for U(-L, L)
        assert x.min() >= -lim and x.max() <= lim
    cam = s.camera.ravel()
    assert abs(cam.mean() - 0.5) < z * np.sqrt(1 / 12 / len(cam))


def test_blocks_partition_the_coordinates(prior):
    idx = np.concatenate([np.arange(prior.dim)[sl] for sl in prior.blocks.values()])
    np.testing.assert_array_equal(np.sort(idx), np.arange(prior.dim))
    assert list(prior.blocks) == ["shape", "albedo", "pose", "light", "camera"]


def test_camera_mapping():
    pos = camera_position_mm(np.array([[0.0, 1.0, 0.5]]))
    np.testing.assert_allclose(pos, [[-20.0, 20.0, 500.0]])


def test_log_prob_matches_densities(prior, rng):
    s = prior.sample(rng, 3)
    expected = (-0.5 * (np.sum(s.shape**2, 1) + np.sum(s.albedo**2, 1)) - 4 * np.log(2 * np.pi)
                - np.log(3.0) - 2 * np.log(np.pi))
    np.testing.assert_allclose(prior.log_prob(s), expected)


def _scene(prior, **changes):
    base = Scene(np.zeros((2, 5)), np.zeros((2, 3)), np.zeros(2), np.zeros(2), np.zeros(2), np.full((2, 3), 0.5))
    return base._replace(**changes)


@pytest.mark.parametrize("changes, match", [
    ({"azimuth": np.array([0.0, np.nan])}, r"scene.azimuth: expected finite"),
    ({"azimuth": np.array([0.0, 1.6])}, r"scene.azimuth: expected values in \[-1.5, 1.5\], got 1.6"),
    ({"elevation": np.array([0.0, -1.7])}, r"scene.elevation: expected values in"),
    ({"camera": np.full((2, 3), 1.2)}, r"scene.camera: expected values in \[0, 1\]"),
    ({"shape": np.zeros((2, 4))}, r"scene.shape: expected shape \(2, 5\), got \(2, 4\)"),
    ({"light_azimuth": np.zeros(3)}, r"scene.light_azimuth: expected shape \(2,\)"),
])
def test_invalid_scenes_raise(prior, changes, match):
    with pytest.raises(ValueError, match=match):
        prior.validate(_scene(prior, **changes))


def test_from_normal_rejects_nan_and_shape(prior):
    with pytest.raises(ValueError, match="u: expected finite"):
        prior.from_normal(np.full((1, prior.dim), np.nan))
    with pytest.raises(ValueError, match=r"u: expected shape \(N, 14\)"):
        prior.from_normal(np.zeros((1, 3)))
    with pytest.raises(TypeError, match="scene: expected"):
        prior.validate((1, 2))
