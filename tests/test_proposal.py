"""The data-driven proposal q(u | summary): it learns, it round-trips, and fit refuses one made for another
statistic. Its use inside the sampler is exact by construction (tests/test_samplers.py, the mixture tests)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from abc_inverse.cli import main
from abc_inverse.fit import FitConfig, fit
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.base import PixelStatistic
from encoders.proposal import ProposalConfig, load_proposal, train_proposal


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "q.pt"
    statistic = PixelStatistic(16)
    simulator = Simulator(settings=RenderSettings(image_size=16))
    record = train_proposal(ProposalConfig(statistic="pixels", simulations=6000, epochs=8, hidden=64, seed=1,
                                           emulator_hidden=64, emulator_epochs=20),
                            statistic, simulator, path, progress=False)
    return path, record, statistic, simulator


def test_the_flow_learns_more_than_the_prior(trained):
    """Held-out log q(u | summary) beats the prior's own log density E[log N(u; 0, I)] = −D/2·(1 + log 2π)."""
    _, record, _, simulator = trained
    prior_log_density = -0.5 * simulator.prior.dim * (1 + np.log(2 * np.pi))
    assert record["validation_log_q"] > prior_log_density + 2.0
    assert record["simulations"] == 6000 and len(record["sha256"]) == 64


def test_round_trip_and_refusals(trained, tmp_path):
    path, _, statistic, simulator = trained
    q = load_proposal(path)
    s = statistic(simulator(simulator.prior.sample(np.random.default_rng(0), 1)))[0]
    u = q.sample(s, 7, np.random.default_rng(3))
    assert u.shape == (7, simulator.prior.dim) and np.all(np.isfinite(q.log_prob(u, s)))
    np.testing.assert_array_equal(u, q.sample(s, 7, np.random.default_rng(3)))  # seeded by the rng
    with pytest.raises(ValueError, match=r"summary: expected shape \(256,\)"):
        q.sample(s[:10], 2, np.random.default_rng(0))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable torch file"):
        load_proposal(bad)
    with pytest.raises(ValueError, match="proposal: made for the statistic 'pixels'"):
        fit(simulator(simulator.prior.sample(np.random.default_rng(0), 1))[0], _Renamed(),
            FitConfig(chains=4, draws=2, tune=2, pilot=4, explore_chains=0), simulator, progress=False, proposal=q)


class _Renamed(PixelStatistic):
    def __init__(self):
        super().__init__(16)
        self.name = "other"


def test_cli_train_proposal_then_fit_with_it(tmp_path, capsys):
    q = tmp_path / "q.pt"
    assert main(["train-proposal", "--out", str(q), "--statistic", "dcign", "--simulations", "600", "--epochs", "1",
                 "--hidden", "16", "--emulator-hidden", "16", "--emulator-epochs", "1", "--no-progress"]) == 0
    assert json.loads((tmp_path / "q.pt.config.json").read_text())["proposal"]["simulations"] == 600
    face = tmp_path / "face.png"
    assert main(["render", "--azimuth", "20", "--elevation", "0", "--light-azimuth", "30", "--out", str(face)]) == 0
    out = tmp_path / "fit"
    assert main(["fit", str(face), "--crop", "none", "--proposal", str(q), "--out", str(out), "--draws", "10",
                 "--tune", "10", "--pilot", "8", "--chains", "4", "--explore-chains", "0", "--no-progress"]) == 0
    import arviz as az

    attrs = az.from_netcdf(str(out / "posterior.nc")).posterior.attrs
    assert json.loads(attrs["proposal"])["simulations"] == 600


def test_the_emulator_learns_the_summaries(trained):
    """ν̂(u) predicts the (pixel) summaries of held-out renders better than their mean does: the median cosine
    distance between emulated and simulated summaries is well below (< 0.75×) that between the summaries and their mean
    (0.15 against 0.25 when written; an untrained emulator does no better than the mean)."""
    path, record, statistic, simulator = trained
    q = load_proposal(path)
    rng = np.random.default_rng(11)
    u = simulator.prior.sample_normal(rng, 200)
    true = statistic(simulator(simulator.prior.from_normal(u)))

    def cosine(a, b):
        return 1 - np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    emulated = q.emulate(u)
    assert emulated.shape == true.shape
    assert np.median(cosine(emulated, true)) < 0.75 * np.median(cosine(np.broadcast_to(true.mean(0), true.shape), true))
    assert record["emulator_validation_cosine_median"] < 0.5


def test_pooled_draws_carry_their_log_density(trained):
    """``given`` hands out the pool's draws in order with their log q, refilling the pool when it runs out."""
    path, _, statistic, simulator = trained
    q = load_proposal(path)
    s = statistic(simulator(simulator.prior.sample(np.random.default_rng(0), 1)))[0]
    sample, log_prob = q.given(s, pool=5)
    rng = np.random.default_rng(4)
    parts = [sample(rng, n) for n in (3, 3, 7)]  # the second call and the third need a new pool
    u = np.concatenate([p[0] for p in parts])
    assert u.shape == (13, simulator.prior.dim) and len(np.unique(u[:, 0])) == 13
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), log_prob(u), rtol=1e-4, atol=1e-3)


def test_the_shipped_proposal_is_pinned_to_the_shipped_network():
    """encoders/data/dcign_default_q.pt: its record's sha256 is the file's, it was made by the project's own command
    for the shipped DC-IGN's weights (check_proposal passes), and fit --proposal auto picks it."""
    from abc_inverse.fit import check_proposal
    from abc_inverse.io import sha256_of
    from encoders.proposal import DEFAULT_PROPOSAL, proposal_for
    from encoders.statistics import make_statistic, simulator_for

    record = json.loads(DEFAULT_PROPOSAL.with_name(DEFAULT_PROPOSAL.name + ".json").read_text())
    assert record["sha256"] == sha256_of(DEFAULT_PROPOSAL)
    assert record["command"].startswith("abc-inverse train-proposal --out encoders/data/dcign_default_q.pt")
    statistic = make_statistic("dcign")
    q, says = proposal_for("auto", None)
    check_proposal(q, statistic, simulator_for(statistic))
    assert "shipped with the default network" in says
    assert proposal_for("auto", "other.pt")[0] is None and proposal_for("none", None)[0] is None
    q, says = proposal_for("auto", None, background="image")  # trained on plain backgrounds: not used on others
    assert q is None and "trained on plain backgrounds" in says


def test_the_emulated_cosine_distance_and_its_gradient(trained):
    """SceneProposal.emulated_cosine gives the cosine distance to the emulated summaries (as abc_inverse.distances
    computes it) and its autograd gradient, which matches central differences along random directions (float32
    network: tolerance 2 %)."""
    from abc_inverse.distances import distance_batch

    path, _, statistic, simulator = trained
    q = load_proposal(path)
    rng = np.random.default_rng(12)
    u = simulator.prior.sample_normal(rng, 4)
    observed = statistic(simulator(simulator.prior.from_normal(simulator.prior.sample_normal(rng, 1))))[0]
    rho, grad = q.emulated_cosine(u, observed)
    assert rho.shape == (4,) and grad.shape == u.shape
    assert np.allclose(rho, distance_batch("cosine", observed, q.emulate(u)), atol=1e-5)
    h = 1e-2
    for v in rng.standard_normal((3, *u.shape)):
        numeric = (q.emulated_cosine(u + h * v, observed)[0] - q.emulated_cosine(u - h * v, observed)[0]) / (2 * h)
        assert np.allclose(np.sum(grad * v, axis=1), numeric, rtol=0.02, atol=1e-4)
    with pytest.raises(ValueError, match="summary: expected shape"):
        q.emulated_cosine(u, observed[:-1])


class MomentCodes:
    """A statistic's summaries with their first three columns (the corner pixels: black in every render) replaced by
    the image's mean, sd and top half's mean, as its graphics codes: a white image's (1, 0, 1) lie far from any
    render's, whose black background keeps them near (0.2, 0.3, 0.2)."""

    graphics_codes = slice(0, 3)

    def __init__(self, statistic):
        self.statistic, self.name, self.image_size = statistic, statistic.name, statistic.image_size

    def get_config(self):
        return self.statistic.get_config()

    def __call__(self, images):
        summary = self.statistic(images).copy()
        summary[:, :3] = np.stack([images.mean((1, 2)), images.std((1, 2)),
                                   images[:, :images.shape[1] // 2].mean((1, 2))], axis=1)
        return summary


@pytest.mark.parametrize("proposal, settings", [(True, {}), (True, {"model_error": False}), (False, {}),
                                                (True, {"epsilon": 1e-4}), (True, {"image_noise": 0.0}),
                                                (True, {"kernel": "indicator"})])
def test_an_image_no_scene_explains_gets_epsilon_at_q_s_closest_pilot_draw(trained, proposal, settings):
    """With q, the gaussian kernel and ε from pixel noise, ε rises to the closest pilot distance when no pilot draw
    comes within it (here a white image, which no face on a black background matches). Not without q, whose prior
    pilot says nothing of what the model can attain; not with --no-model-error, a fixed or an adapted ε; not with
    the indicator kernel, inside whose support only the closest draw would lie."""
    from abc_inverse.fit import make_forward, with_tolerance

    path, _, statistic, simulator = trained
    q = load_proposal(path) if proposal else None
    white = np.ones((16, 16), np.float32)
    config = FitConfig(chains=4, draws=5, tune=2, pilot=16, explore_chains=0, leapfrog_steps=0, **settings)
    idata = fit(white, statistic, config, simulator, progress=False, proposal=q)
    nu = statistic(white[None])[0]
    post, eps = idata.posterior, float(idata.sample_stats["epsilon"].values.max())
    if proposal and not settings:
        noise = with_tolerance(config, white, statistic, nu).epsilon
        pilot = q.sample(nu, config.pilot, np.random.default_rng(config.seed))
        closest = make_forward(white, statistic, simulator, config.distance, nu)(pilot)[0].min()
        assert eps == pytest.approx(closest, rel=1e-9) and eps > 3 * noise
        assert post.attrs["misfit_warning"] == post.attrs["epsilon_raised"]
        assert post.attrs["epsilon_raised"].startswith(f"ε raised from {noise:.3g} (pixel noise of sd 0.02)")
        assert post.attrs["regression_adjustment"].startswith("off: ε was raised")  # it would extrapolate
        assert "unadjusted_posterior" not in idata.groups()
        coded = MomentCodes(statistic)  # graphics codes: the image's mean, sd and top half's mean, far from white's
        says = fit(white, coded, replace(config, draws=8), simulator, progress=False,
                   proposal=q).posterior.attrs["regression_adjustment"]  # 32 draws: enough for three codes
        assert says.startswith("off: ε was raised for the model's error, and even the observed codes z1–z3 lie "
                               "outside the draws'"), says
    else:
        assert post.attrs["epsilon_raised"] == ""
        if "image_noise" not in settings:  # an adapted ε is whatever the warm-up made it
            expected = settings.get("epsilon") or with_tolerance(config, white, statistic, nu).epsilon
            assert eps == pytest.approx(expected, rel=1e-12)
