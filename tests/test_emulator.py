"""The local linear emulator of the summary that steers Hamiltonian moves where no trained emulator applies."""

import numpy as np
import pytest

from abc_inverse.emulator import LinearEmulator, scene_features
from abc_inverse.model.scene import ScenePrior

PRIOR = ScenePrior(n_shape=2, n_albedo=2)  # D = 10


def test_scene_features_are_u_then_angles_light_direction_and_camera_with_their_derivatives(rng):
    u = rng.normal(size=(5, PRIOR.dim))
    features, jacobian = scene_features(PRIOR, u)
    scene = PRIOR.from_normal(u)
    assert np.array_equal(features[:, :PRIOR.dim], u)
    assert np.allclose(features[:, PRIOR.dim:], np.column_stack([
        scene.azimuth, scene.elevation, np.cos(scene.light_azimuth), np.sin(scene.light_azimuth), scene.camera]))
    h = 1e-5
    numeric = np.stack([(scene_features(PRIOR, u + h * e)[0] - scene_features(PRIOR, u - h * e)[0]) / (2 * h)
                        for e in np.eye(PRIOR.dim)], axis=-1)
    assert np.allclose(jacobian, numeric, atol=1e-6)


def test_a_summary_linear_in_the_features_is_recovered_exactly_and_duplicates_are_dropped(rng):
    """Summaries that are a plane in the regressors: the plane is found, its held-out error is ~0, and rows
    repeated (as rejected MCMC steps repeat them) count once."""
    coef, intercept = rng.normal(size=(PRIOR.dim + 7, 6)), rng.normal(size=6) + 5.0
    u = rng.normal(size=(60, PRIOR.dim))
    u = np.vstack([u, u[:10]])
    emulator = LinearEmulator.fit(PRIOR, u, scene_features(PRIOR, u)[0] @ coef + intercept, rng)
    assert np.allclose(emulator.coef, coef) and np.allclose(emulator.intercept, intercept)
    assert emulator.meta["emulator_rows"] == 60 and emulator.meta["emulator_validation_cosine_median"] < 1e-12


def test_the_cosine_gradient_matches_finite_differences(rng):
    """ρ(u) = 1 − cos(ν_obs, ν̂(u)) and ∂ρ/∂u against central differences, and ρ = 0 where ν̂(u) ∝ ν_obs."""
    u = rng.normal(size=(80, PRIOR.dim))
    emulator = LinearEmulator.fit(PRIOR, u, scene_features(PRIOR, u)[0] @ rng.normal(size=(PRIOR.dim + 7, 5)) + 2.0,
                                  rng)
    at = rng.normal(size=(2, PRIOR.dim))
    observed = emulator.emulate(at[:1])[0] * 3.0
    rho, grad = emulator.emulated_cosine(at, observed)
    assert rho[0] == pytest.approx(0.0, abs=1e-12) and rho[1] > 0
    h = 1e-6
    numeric = [(emulator.emulated_cosine(at[1:] + h * e, observed)[0][0]
                - emulator.emulated_cosine(at[1:] - h * e, observed)[0][0]) / (2 * h) for e in np.eye(PRIOR.dim)]
    assert np.allclose(grad[1], numeric, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("u, summaries, match", [
    (np.zeros((30, PRIOR.dim)), np.zeros((29, 2)), "expected \\(N, 10\\) and \\(N, S\\)"),
    (np.zeros((30, 3)), np.zeros((30, 2)), "expected \\(N, 10\\) and \\(N, S\\)"),
    (np.full((30, PRIOR.dim), np.nan), np.zeros((30, 2)), "finite"),
    (np.repeat(np.arange(12.0)[:, None], PRIOR.dim, axis=1), np.zeros((12, 2)), "at least 19 distinct scenes"),
])
def test_bad_rows_raise(u, summaries, match, rng):
    with pytest.raises(ValueError, match=match):
        LinearEmulator.fit(PRIOR, u, summaries, rng)


def test_a_summary_of_another_length_raises(rng):
    u = rng.normal(size=(40, PRIOR.dim))
    emulator = LinearEmulator.fit(PRIOR, u, u[:, :3], rng)
    with pytest.raises(ValueError, match="summary: expected shape \\(3,\\), got \\(2,\\)"):
        emulator.emulated_cosine(u, np.ones(2))
