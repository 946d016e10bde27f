import numpy as np
import pytest

from abc_inverse.fit import FitConfig, fit
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.dcign import CheckpointMeta


class ZeroStatistic:
    """A summary statistic that maps every image to the zero vector (cosine distance is then undefined)."""

    image_size, dim, meta = 32, 3, CheckpointMeta()

    def __call__(self, images):
        return np.zeros((len(images), self.dim))

    def get_config(self):
        return {"name": "zero"}


@pytest.fixture(scope="module")
def small_sim(model):
    return Simulator(model, RenderSettings(image_size=32))


def test_undefined_distances_everywhere_raise(small_sim):
    with pytest.raises(ValueError, match="no pilot simulation gave a finite cosine distance"):
        fit(np.zeros((32, 32), np.float32), ZeroStatistic(), FitConfig(pilot=8, chains=2, explore_chains=0),
            small_sim, progress=False)


@pytest.mark.parametrize("observed, match", [(np.zeros((16, 16)), r"expected a \(32, 32\) grey image"),
                                             (np.full((32, 32), np.nan), "finite intensities")])
def test_bad_observation_raises(small_sim, observed, match):
    with pytest.raises(ValueError, match=match):
        fit(observed, ZeroStatistic(), FitConfig(pilot=8, chains=2, explore_chains=0), small_sim, progress=False)


@pytest.mark.parametrize("kwargs, match", [({"chains": 0}, "chains"), ({"pilot": 2, "chains": 4}, "pilot"),
                                           ({"explore_chains": -1}, "explore_chains"),
                                           ({"distance": "emd"}, "distance"), ({"kernel": "box"}, "kernel"),
                                           ({"min_alpha_scale": 0.0}, "min_alpha_scale"),
                                           ({"target_acceptance": 1.0}, "target_acceptance"),
                                           ({"epsilon": -1.0}, "epsilon")])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FitConfig(**kwargs)


def test_fit_with_l2_records_every_draw(small_sim):
    class MeanStatistic(ZeroStatistic):
        def __call__(self, images):
            return np.stack([images.mean((1, 2)), images.std((1, 2)), images[:, :16].mean((1, 2))], 1)

    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    idata = fit(obs, MeanStatistic(), FitConfig(chains=3, draws=20, tune=10, pilot=6, explore_chains=6,
                                                distance="l2"), small_sim, progress=False)
    assert idata.posterior["azimuth"].shape == (3, 20) and idata.warmup_posterior["azimuth"].shape == (3, 10)
    eps = idata.sample_stats["epsilon"].values
    assert np.all(eps == eps[0, 0])  # fixed after tuning
    stats = idata.sample_stats
    assert np.all((stats["distance"].values >= 0) & (stats["pixel_mse"].values >= 0))


def test_fit_with_smc_gives_one_resampled_population_per_chain(small_sim):
    class MeanStatistic(ZeroStatistic):
        def __call__(self, images):
            return np.stack([images.mean((1, 2)), images.std((1, 2)), images[:, :16].mean((1, 2))], 1)

    obs = small_sim(small_sim.prior.sample(np.random.default_rng(0), 1))[0]
    config = FitConfig(chains=2, draws=30, sampler="smc", particles=40, moves=2, distance="l2", pilot=1)
    idata = fit(obs, MeanStatistic(), config, small_sim, progress=False)
    assert idata.posterior["azimuth"].shape == (2, 30) and "warmup_posterior" not in idata.groups()
    eps = idata.constant_data["smc_epsilon"].values
    for row in eps:  # ε decreases round by round in each chain's run (NaN-padded to the longest run)
        finite = row[np.isfinite(row)]
        assert len(finite) >= 2 and np.all(np.diff(finite) < 0)
    np.testing.assert_allclose(idata.sample_stats["epsilon"].values[:, 0], np.nanmin(eps, axis=1))
