import json
from dataclasses import replace

import numpy as np
import pytest

from abc_inverse.fit import (
    NOISE_COPIES,
    SEARCH_QUANTILES,
    FitConfig,
    backdrop,
    fit,
    make_forward,
    noise_epsilon,
    with_tolerance,
)
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.dcign import CheckpointMeta


class ZeroStatistic:
    """A summary statistic that maps every image to the zero vector (cosine distance is then undefined)."""

    image_size, dim, meta = 32, 3, CheckpointMeta()

    def __call__(self, images):
        return np.zeros((len(images), self.dim))

    def get_config(self):
        return {"name": "zero"}


class MeanStatistic(ZeroStatistic):
    """Three moments of the image: a statistic under which the l2 distance is defined everywhere."""

    def __call__(self, images):
        return np.stack([images.mean((1, 2)), images.std((1, 2)), images[:, :16].mean((1, 2))], 1)


@pytest.fixture(scope="module")
def small_sim(model):
    return Simulator(model, RenderSettings(image_size=32))


@pytest.mark.parametrize("noise, match", [(0.02, "distance: the cosine distance from the observed summary to those "
                                                  "of noisy copies"),
                                          (0.0, "no pilot simulation gave a finite cosine distance")])
def test_undefined_distances_everywhere_raise(small_sim, noise, match):
    with pytest.raises(ValueError, match=match):
        fit(np.zeros((32, 32), np.float32), ZeroStatistic(),
            FitConfig(pilot=8, chains=4, explore_chains=0, image_noise=noise), small_sim, progress=False)


@pytest.mark.parametrize("observed, match", [(np.zeros((16, 16)), r"expected a \(32, 32\) grey image"),
                                             (np.full((32, 32), np.nan), "finite intensities")])
def test_bad_observation_raises(small_sim, observed, match):
    with pytest.raises(ValueError, match=match):
        fit(observed, ZeroStatistic(), FitConfig(pilot=8, chains=4, explore_chains=0), small_sim, progress=False)


@pytest.mark.parametrize("kwargs, match", [({"chains": 0}, "chains"), ({"pilot": 2, "chains": 4}, "pilot"),
                                           ({"explore_chains": -1}, "explore_chains"),
                                           ({"distance": "emd"}, "distance"), ({"kernel": "box"}, "kernel"),
                                           ({"min_alpha_scale": 0.0}, "min_alpha_scale"),
                                           ({"target_acceptance": 1.0}, "target_acceptance"),
                                           ({"epsilon": -1.0}, "epsilon")])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FitConfig(**kwargs)


def test_where_epsilon_was_raised_only_the_graphics_codes_are_regressed_on(small_sim):
    """ε raised for the model's error: the draws are adjusted on the statistic's graphics codes alone, when the
    observed codes lie among the draws' (here they are the pose and light coordinates plus noise, while the rest of
    the summary is far from anything simulated); not when even the codes lie outside, nor for a statistic without
    codes, nor with too few draws for three summaries."""
    from abc_inverse.fit import adjust_draws, adjustment_off
    from samplers.abc_mcmc import Trace
    from samplers.adjustment import regression_adjustment

    prior, rng = small_sim.prior, np.random.default_rng(5)
    pose = prior.blocks["pose"].start
    position = rng.standard_normal((4, 250, prior.dim))
    codes = position[..., pose:pose + 3] + 0.1 * rng.standard_normal((4, 250, 3))
    summaries = np.concatenate([codes, rng.standard_normal((4, 250, 5))], axis=-1)
    observed = np.concatenate([[0.3, -0.2, 0.5], np.full(5, 100.0)])  # unreachable beyond the codes
    draws = Trace(position, *[np.zeros((4, 250))] * 6)
    adjusted, says = adjust_draws(draws, summaries, observed, prior, slice(0, 3))
    expected = regression_adjustment(position.reshape(1000, -1), summaries.reshape(1000, -1)[:, :3], observed[:3])
    np.testing.assert_allclose(adjusted.reshape(1000, -1), expected.position)
    # the codes are the coordinates plus noise of sd 0.1: the adjusted mean is the observed codes shrunk by
    # 1 / (1 + 0.1²), off by 0.005 at most, plus a Monte Carlo error of ~0.1 / √1000 = 0.003
    np.testing.assert_allclose(adjusted[..., pose:pose + 3].mean(axis=(0, 1)), [0.3, -0.2, 0.5], atol=0.02)
    assert says.startswith("on: each draw moved along the linear regression of the standard-normal coordinates on "
                           "the codes z1–z3 alone (ε was raised")
    outside = np.concatenate([[5.0, -2.0, 0.5], np.full(5, 100.0)])  # 5 sd out in z1
    assert adjust_draws(draws, summaries, outside, prior, slice(0, 3)) == (None, (
        "off: ε was raised for the model's error, and even the observed codes z1–z3 lie outside the draws' "
        f"(Mahalanobis distance {mahalanobis_of_codes(summaries, outside):.1f} > 4.0), so the regression would "
        "extrapolate"))
    whole, says = adjust_draws(draws, summaries, observed, prior)  # ε not raised: adjusted, with a warning
    np.testing.assert_allclose(whole.reshape(1000, -1), regression_adjustment(
        position.reshape(1000, -1), summaries.reshape(1000, -1), observed).position)
    assert "; but the observed summary lies outside the draws' (Mahalanobis distance" in says
    assert "outside" not in adjust_draws(draws, summaries, np.concatenate([[0.3, -0.2, 0.5], np.zeros(5)]), prior)[1]
    raised = FitConfig(chains=4, draws=250)
    assert adjustment_off(raised, "ε raised", 8, slice(0, 3)) == ""
    assert adjustment_off(replace(raised, draws=10), "ε raised", 8, slice(0, 3)) == ""  # 40: enough for 3, not 8
    assert adjustment_off(raised, "ε raised", 8).startswith("off: ε was raised for the model's error, so no scene "
                                                            "reaches the observed summary, and the statistic has no "
                                                            "pose codes")
    assert adjustment_off(replace(raised, draws=7), "ε raised", 8, slice(0, 3)).startswith(
        "off: 28 draws are too few to regress on 3 summaries")


def mahalanobis_of_codes(summaries: np.ndarray, observed: np.ndarray) -> float:
    """The Mahalanobis distance of observed[:3] from the draws' first three summaries, computed directly."""
    s = summaries.reshape(-1, summaries.shape[-1])[:, :3]
    d = observed[:3] - s.mean(axis=0)
    return float(np.sqrt(d @ np.linalg.solve(np.cov(s, rowvar=False), d)))


def test_fit_with_l2_records_every_draw(small_sim):
    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    idata = fit(obs, MeanStatistic(), FitConfig(chains=4, draws=20, tune=10, pilot=8, explore_chains=8,
                                                distance="l2"), small_sim, progress=False)
    assert idata.posterior["azimuth"].shape == (4, 20) and idata.warmup_posterior["azimuth"].shape == (4, 10)
    assert idata.posterior.attrs["surrogate"].endswith("; 4 chains × 20 draws")  # the budget, said
    assert idata.posterior.attrs["extended_draws"] == 0  # 4 × 20 draws: a quick look, not extended
    eps = idata.sample_stats["epsilon"].values
    assert np.all(eps == eps[0, 0])  # fixed after tuning
    stats = idata.sample_stats
    assert np.all((stats["distance"].values >= 0) & (stats["pixel_mse"].values >= 0))
    # the search before the warm-up (Fig. 6a's left end): the pilot's 8 prior draws, the fit's first random numbers
    u = small_sim.prior.sample_normal(np.random.default_rng(0), 8)
    pilot_mse = np.mean((small_sim(small_sim.prior.from_normal(u)) - obs) ** 2, axis=(1, 2))
    search = json.loads(idata.posterior.attrs["search_pixel_mse"])
    assert search["pilot_from"] == "prior" and "ensemble" not in search  # plain background: no emulator's ensemble
    np.testing.assert_allclose(search["pilot_quantiles"], np.quantile(pilot_mse, SEARCH_QUANTILES), rtol=1e-5)


def test_a_fit_that_fails_the_diagnostics_runs_its_chains_longer(small_sim):
    # 4 chains × 100 draws of the ensemble fail Stan's thresholds (ESS ≥ 400 needs every draw independent): one
    # more round of 100 continues them, and the fit says so
    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    idata = fit(obs, MeanStatistic(), FitConfig(chains=4, draws=100, tune=10, pilot=8, extend_draws=1), small_sim,
                progress=False)
    assert idata.posterior["azimuth"].shape == (4, 200) and idata.posterior.attrs["extended_draws"] == 1
    assert idata.posterior.attrs["surrogate"].endswith(
        "; 4 chains × 200 draws (1 more round of 100, run while the diagnostics failed)")
    assert json.loads(idata.posterior.attrs["convergence_warnings"])  # still failing: capped at one round


def test_regression_adjustment_moves_the_simulated_draws_and_nothing_else(small_sim):
    """The posterior is the regression adjustment of the simulated draws (kept in unadjusted_posterior) on their own
    summaries, recomputed here from renders; without it the same seed gives those simulated draws as the
    posterior."""
    from abc_inverse.fit import posterior_scenes
    from samplers.adjustment import regression_adjustment

    obs = small_sim(small_sim.prior.at_angles(20.0, 5.0, 40.0, 2))[0]
    config = FitConfig(chains=4, draws=20, tune=10, pilot=8, explore_chains=8, distance="l2")
    idata = fit(obs, MeanStatistic(), config, small_sim, progress=False)
    plain = fit(obs, MeanStatistic(), replace(config, regression_adjustment=False), small_sim, progress=False)
    assert idata.posterior.attrs["regression_adjustment"].startswith("on: ")
    assert plain.posterior.attrs["regression_adjustment"] == "off (--no-regression-adjustment)"
    assert "unadjusted_posterior" not in plain.groups()
    for name in ("azimuth", "shape", "camera"):
        np.testing.assert_array_equal(idata.unadjusted_posterior[name].values, plain.posterior[name].values)
    index = [(c, d) for c in range(4) for d in range(20)]
    prior = small_sim.prior
    u = prior.to_normal(posterior_scenes(idata, index, "unadjusted_posterior"))
    expected = regression_adjustment(u, MeanStatistic()(small_sim(prior.from_normal(u))),
                                     MeanStatistic()(obs[None])[0]).position
    np.testing.assert_allclose(prior.to_normal(posterior_scenes(idata, index)), expected, atol=1e-6)
    assert not np.allclose(idata.posterior["azimuth"].values, plain.posterior["azimuth"].values)
    few = fit(obs, MeanStatistic(), replace(config, draws=7), small_sim, progress=False)  # 28 < 10 × 3 draws
    assert few.posterior.attrs["regression_adjustment"].startswith("off: 28 draws are too few")
    assert "unadjusted_posterior" not in few.groups()


def test_fit_with_smc_gives_one_resampled_population_per_chain(small_sim):
    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    config = FitConfig(chains=2, draws=30, sampler="smc", particles=40, moves=2, distance="l2", pilot=1)
    idata = fit(obs, MeanStatistic(), config, small_sim, progress=False)
    assert idata.posterior["azimuth"].shape == (2, 30) and "warmup_posterior" not in idata.groups()
    eps = idata.constant_data["smc_epsilon"].values
    for row in eps:  # ε decreases round by round in each chain's run (NaN-padded to the longest run)
        finite = row[np.isfinite(row)]
        assert len(finite) >= 2 and np.all(np.diff(finite) < 0)
    np.testing.assert_allclose(idata.sample_stats["epsilon"].values[:, 0], np.nanmin(eps, axis=1))


def test_noise_epsilon_is_the_median_distance_under_pixel_noise():
    class ImageMean(ZeroStatistic):
        def __call__(self, images):
            return images.mean((1, 2))[:, None]

    grey = np.full((32, 32), 0.5, np.float32)  # no clipping at these noise levels
    eps = [noise_epsilon(grey, ImageMean(), "l2", np.array([0.5]), noise, np.random.default_rng(3))
           for noise in (0.01, 0.02)]
    assert eps[1] == pytest.approx(2 * eps[0], rel=1e-4)  # the same noise draws, scaled: the distance is linear
    # |mean of 1024 N(0, σ²) pixels| is half-normal with scale σ/32, median 0.6745 σ/32; the sample median of
    # NOISE_COPIES draws has a relative sd of 1 / (2 f(m) m √n) = 0.146 at n = 64; 4 sd:
    assert eps[0] == pytest.approx(0.6745 * 0.01 / 32, rel=4 * 0.146 * np.sqrt(64 / NOISE_COPIES))
    with pytest.raises(ValueError, match="image_noise: noise of sd 1e-12 leaves"):
        noise_epsilon(grey, ImageMean(), "l2", np.array([0.5]), 1e-12, np.random.default_rng(3))


def test_noise_epsilon_has_its_own_random_stream(small_sim):
    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    config = FitConfig(chains=4, draws=15, tune=10, pilot=6, explore_chains=0, distance="l2")
    statistic = MeanStatistic()
    eps = with_tolerance(config, obs, statistic, statistic(obs[None])[0]).epsilon
    assert eps > 0 and with_tolerance(FitConfig(image_noise=0), obs, statistic, None).epsilon is None
    by_noise = fit(obs, statistic, config, small_sim, progress=False)
    fixed = fit(obs, statistic, FitConfig(**{**config.__dict__, "epsilon": eps}), small_sim, progress=False)
    np.testing.assert_array_equal(by_noise.posterior["azimuth"].values, fixed.posterior["azimuth"].values)
    assert np.all(by_noise.sample_stats["epsilon"].values == eps)


def test_de_only_moves_with_too_few_chains_are_refused(small_sim):
    """Every move DE with 32 chains left 16 per half, spanning at most 15 of 36 directions: SBC found the posterior
    over-confident (docs/results/calibration). Such settings are refused; mixing in elliptical moves is not."""
    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    config = FitConfig(chains=4, draws=3, tune=2, pilot=4, explore_chains=0, distance="l2", de_weight=1.0)
    with pytest.raises(ValueError, match=r"de_weight: .* must span all \d+ directions"):
        fit(obs, MeanStatistic(), config, small_sim, progress=False)
    fit(obs, MeanStatistic(), FitConfig(**{**config.__dict__, "de_weight": 0.8}), small_sim, progress=False)


def test_image_background_explains_the_pixels_outside_the_face(small_sim):
    """A face composited over a textured photo: with --background image the true scene reproduces the observation
    exactly (its face covers the blacked-out face region), the plain background cannot, and a scene that hides its
    face (seen edge-on) leaves the face region black instead of matching the photo."""
    rng = np.random.default_rng(5)
    truth = small_sim.prior.at_angles(10.0, 5.0, 30.0, 1)
    texture = rng.random((32, 32)).astype(np.float32)
    observed = small_sim.render_over(truth, texture)[0]
    assert np.all(small_sim.render_with_depth(truth)[1][0][small_sim.face_region()] > 0)
    statistic = MeanStatistic()
    nu_obs = statistic(observed[None])[0]
    over = make_forward(observed, statistic, small_sim, "l2", nu_obs, background="image")
    plain = make_forward(observed, statistic, small_sim, "l2", nu_obs, background="plain")
    u = small_sim.prior.to_normal(truth)
    distance, aux = over(u)
    np.testing.assert_allclose(distance, [0.0], atol=1e-12)
    np.testing.assert_allclose(aux, [[0.0, *nu_obs]], atol=1e-12)  # pixel MSE, then the summary
    assert plain(u)[1][0, 0] > 0.05
    hidden = small_sim.prior.to_normal(small_sim.prior.at_angles(10.0, 85.0, 30.0, 1))
    assert over(hidden)[1][0, 0] > 0.01
    behind = backdrop(small_sim, observed, "image")
    np.testing.assert_array_equal(behind[~small_sim.face_region()], observed[~small_sim.face_region()])
    assert np.all(behind[small_sim.face_region()] == 0) and 0.05 < small_sim.face_region().mean() < 0.3
    idata = fit(observed, statistic, FitConfig(chains=4, draws=10, tune=10, pilot=8, explore_chains=8, distance="l2",
                                               background="image"), small_sim, progress=False)
    assert idata.sample_stats["pixel_mse"].values.min() < plain(u)[1][0, 0]


class _StubEmulator:
    """Stands in for a SceneProposal: ρ(u) = 0.001 |u|², ∂ρ/∂u = 0.002 u, emulator error 0.0025."""

    meta = {"emulator_validation_cosine_median": 0.0025}

    def emulated_cosine(self, u, summary):
        return 0.001 * np.sum(u**2, axis=1), 0.002 * u


def test_emulated_likelihood_is_on_only_where_it_can_help_and_its_gradient_is_right():
    """The Hamiltonian moves' surrogate is off, with a sentence saying why, without an emulator, for ε below the
    emulator's error or a pilot too small to tune them; on, ℓ̃ = −ρ² / (2ε²) and its gradient matches finite
    differences."""
    from abc_inverse.fit import surrogate_log_likelihood

    on = FitConfig(epsilon=0.005)
    for proposal, config, why in ((None, on, "no emulator"), (_StubEmulator(), FitConfig(epsilon=0.001), "below"),
                                  (_StubEmulator(), FitConfig(epsilon=0.005, pilot=1, chains=1, de_weight=0), "pilot"),
                                  (_StubEmulator(), FitConfig(epsilon=0.005, kernel="indicator"), "gaussian kernel")):
        surrogate, says = surrogate_log_likelihood(proposal, np.zeros(3), config)
        assert surrogate is None and says.startswith("Hamiltonian moves: off") and why in says
    surrogate, says = surrogate_log_likelihood(_StubEmulator(), np.zeros(3), on)
    assert says.startswith("Hamiltonian moves: 5 leapfrog steps")
    u = np.array([[0.3, -1.2, 2.0]])
    value, grad = surrogate(u)
    assert np.isclose(value[0], -0.5 * (0.001 * np.sum(u**2) / 0.005) ** 2)
    h = 1e-6
    numeric = [(surrogate(u + h * e)[0][0] - surrogate(u - h * e)[0][0]) / (2 * h) for e in np.eye(3)[:, None, :]]
    assert np.allclose(grad[0], numeric, rtol=1e-5)


def test_the_chain_budget_follows_the_moves_unless_given():
    """Left unset, chains × draws are 8 × 2500 when Hamiltonian moves steer the draws and 16 × 1600 for the
    differential-evolution ensemble; values given are kept; the result is checked like any config."""
    from abc_inverse.fit import ENSEMBLE_BUDGET, HAMILTONIAN_BUDGET

    unset = FitConfig()
    assert (unset.chains, unset.draws) == (None, None)
    assert HAMILTONIAN_BUDGET == (8, 2500) and ENSEMBLE_BUDGET == (16, 1600)
    assert (unset.with_budget(True).chains, unset.with_budget(True).draws) == HAMILTONIAN_BUDGET
    assert (unset.with_budget(False).chains, unset.with_budget(False).draws) == ENSEMBLE_BUDGET
    assert unset.with_budget(False).epsilon is None and unset.with_budget(False).tune == unset.tune  # nothing else
    given = FitConfig(chains=4, draws=7).with_budget(True)
    assert (given.chains, given.draws) == (4, 7)
    with pytest.raises(ValueError, match="pilot: expected ≥ chains"):
        FitConfig(pilot=10).with_budget(False)


def test_misfit_warning_fires_only_when_even_the_closest_draw_is_several_epsilon_away():
    from abc_inverse.fit import MISFIT_RATIO, misfit_warning

    eps = 0.01
    near = np.array([[0.5, 2.0], [np.nan, 40.0]]) * eps  # closest 0.5 ε; NaN ignored
    assert misfit_warning(near, eps) == ""
    assert misfit_warning(np.full((2, 3), MISFIT_RATIO * eps), eps) == ""  # at the threshold: no warning
    far = np.array([[5.0, 7.0], [np.inf, 6.0]]) * eps
    assert misfit_warning(far, eps).startswith("the closest draw's summary is 5 × ε from the observed one")


def test_model_error_raises_epsilon_to_the_closest_pilot_draw_only_when_none_comes_within_it():
    from abc_inverse.fit import with_model_error

    noise = FitConfig(epsilon=0.01, pilot=100)
    assert with_model_error(noise, 0.004) == (noise, "")  # a pilot draw within ε: ε stays
    assert with_model_error(noise, 0.01) == (noise, "")
    raised, says = with_model_error(noise, 0.25)
    assert raised.epsilon == 0.25 and raised.pilot == noise.pilot
    assert says.startswith("ε raised from 0.01 (pixel noise of sd 0.02) to 0.25, the closest of the 100 pilot "
                           "draws (25 × the noise ε)")
    off = FitConfig(epsilon=0.01, model_error=False)
    assert with_model_error(off, 0.25) == (off, "")


def test_fit_with_rich_lighting_samples_the_lighting_variables(model):
    from abc_inverse.fit import posterior_scenes

    rich = Simulator(model, RenderSettings(image_size=32, lighting="rich"))
    obs = rich(rich.prior.sample(np.random.default_rng(0), 1))[0]
    idata = fit(obs, MeanStatistic(), FitConfig(chains=4, draws=12, tune=6, pilot=8, explore_chains=8,
                                                distance="l2"), rich, progress=False)
    post = idata.posterior
    assert post["light_elevation"].shape == (4, 12) and post["sh"].shape == (4, 12, 8)
    assert np.all(np.abs(post["light_elevation"].values) <= 60) and np.all(post["ambient"].values >= 0.1)
    scenes = posterior_scenes(idata, [(0, 0), (3, 11)])
    np.testing.assert_allclose(np.degrees(scenes.lighting[:, 0]), post["light_elevation"].values[[0, 3], [0, 11]])
    assert rich(scenes).shape == (2, 32, 32)



def test_auto_background_composites_only_where_the_landmarks_hold_the_pose():
    from abc_inverse.fit import chosen_background

    assert chosen_background("auto", np.zeros((68, 2))) == "image" and chosen_background("auto", None) == "plain"
    assert chosen_background("plain", np.zeros((68, 2))) == "plain" and chosen_background("image", None) == "image"
