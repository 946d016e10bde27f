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


@pytest.mark.parametrize("color, columns", [(False, 11), (True, 14)])
def test_rich_lighting_prior_round_trip_moments_and_density(rng, color, columns):
    rich = ScenePrior(5, 3, lighting="rich", color=color)
    assert rich.dim == 14 + columns and rich.blocks["lighting"] == slice(14, 14 + columns)
    u = rng.standard_normal((50, rich.dim))
    np.testing.assert_allclose(rich.to_normal(rich.from_normal(u)), u, atol=1e-8)
    n, z = 40000, 5.0
    light = rich.sample(rng, n).lighting
    elevation, ambient, sh = light[:, 0], light[:, 1], light[:, 3:11]
    assert abs(elevation.mean()) < z * (2 * np.pi / 3 / np.sqrt(12)) / np.sqrt(n)
    assert np.abs(elevation).max() <= np.pi / 3
    assert abs(ambient.mean() - 0.35) < z * (0.5 / np.sqrt(12)) / np.sqrt(n) and ambient.min() >= 0.1
    assert abs(sh.std() - 0.1) < z * 0.1 / np.sqrt(2 * sh.size)
    one = rich.sample(rng, 3)
    directional = ScenePrior(5, 3).log_prob(one._replace(lighting=None))
    extra = (-np.log(2 * np.pi / 3) - np.log(0.5) - np.log(0.7) - 0.5 * np.sum((one.lighting[:, 3:11] / 0.1) ** 2, 1)
             - 8 * np.log(0.1 * np.sqrt(2 * np.pi)) - (3 * np.log(0.4) if color else 0))
    np.testing.assert_allclose(rich.log_prob(one), directional + extra)
    assert rich.variable_names[-4:] == (["ambient", "diffuse", "sh", "light_colour"] if color else
                                        ["light_elevation", "ambient", "diffuse", "sh"])


def test_scene_variables_round_trip_with_lighting(rng):
    rich = ScenePrior(5, 3, lighting="rich", color=True)
    scene = rich.sample(rng, 4)
    variables = scene.variables()
    assert variables["light_elevation"].shape == (4,) and variables["sh"].shape == (4, 8)
    np.testing.assert_allclose(variables["light_elevation"], np.degrees(scene.lighting[:, 0]))
    back = Scene.from_variables(variables)
    for a, b in zip(scene, back, strict=True):
        np.testing.assert_allclose(a, b)
    plain = ScenePrior(5, 3).sample(rng, 2)
    assert "light_elevation" not in plain.variables()
    assert Scene.from_variables(plain.variables()).lighting.shape == (2, 0)


def test_neutral_lighting_is_inside_the_rich_prior():
    rich = ScenePrior(5, 3, lighting="rich")
    scene = rich.at_angles(10, 0, 30)
    np.testing.assert_allclose(scene.lighting, [[0, 0.3, 0.7, *[0] * 8]])
    assert np.isfinite(rich.log_prob(scene)).all()


@pytest.mark.parametrize("lighting, match", [
    (None, r"scene.lighting: expected shape \(2, 11\) for lighting 'rich', got None"),
    (np.zeros((2, 11)), r"scene.lighting \(ambient\): expected values in \[0.1, 0.6\], got 0"),
    (np.zeros((2, 3)), r"scene.lighting: expected shape \(2, 11\), got \(2, 3\)"),
])
def test_invalid_lighting_raises(lighting, match):
    rich = ScenePrior(5, 3, lighting="rich")
    with pytest.raises(ValueError, match=match):
        rich.validate(_scene(rich, lighting=lighting))
    with pytest.raises(ValueError, match="lighting: expected one of"):
        ScenePrior(5, 3, lighting="studio")
