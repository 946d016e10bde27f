import arviz as az
import numpy as np
import pytest
from scipy import integrate, stats

import samplers
from samplers.abc_mcmc import ABCState, build_abc_mcmc, sample
from samplers.kernels import GaussianKernel, IndicatorKernel, make_kernel
from samplers.proposals import blockwise_elliptical, elliptical_move
from samplers.warmup import resample_chains, run_warmup

BLOCKS = {"a": slice(0, 2), "b": slice(2, 3)}


def test_alpha_zero_keeps_state(rng):
    u, nu = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_array_equal(elliptical_move(u, nu, np.zeros(4), np.ones((4, 3), bool)), u)
    np.testing.assert_allclose(elliptical_move(u, nu, np.ones(4), np.ones((4, 3), bool)), nu)


def test_proposal_moves_one_block(rng):
    propose = blockwise_elliptical(BLOCKS, 3)
    u = rng.standard_normal((200, 3))
    prop = propose(rng, u)
    changed = prop.position != u
    for i, b in enumerate(prop.block):
        expected = np.zeros(3, bool)
        expected[list(BLOCKS.values())[b]] = True
        np.testing.assert_array_equal(changed[i], expected)
    assert np.all(np.abs(prop.alpha) <= 1)


def test_bad_blocks_and_scale():
    with pytest.raises(ValueError, match="blocks: expected a partition"):
        blockwise_elliptical({"a": slice(0, 2)}, 3)
    with pytest.raises(ValueError, match="min_scale"):
        blockwise_elliptical(BLOCKS, 3, min_scale=0.0)


@pytest.mark.parametrize("min_scale", [1.0, 0.05])
def test_flat_kernel_reproduces_prior(min_scale):
    """With a kernel that accepts everything, the chain's stationary law is the N(0, I) prior."""
    rng = np.random.default_rng(1)
    init, step = build_abc_mcmc(lambda u: (np.zeros(len(u)), np.zeros(len(u))),
                                blockwise_elliptical(BLOCKS, 3, min_scale))
    trace = sample(rng, init(rng.standard_normal((4, 3))), step, GaussianKernel(1.0), 4000)
    idata = az.from_dict(posterior={"u": trace.position})
    ess = az.ess(idata)["u"].values
    mean, var = trace.position.reshape(-1, 3).mean(0), trace.position.reshape(-1, 3).var(0)
    assert np.all(np.abs(mean) < 4 / np.sqrt(ess))
    assert np.all(np.abs(var - 1) < 4 * np.sqrt(2 / ess))
    assert trace.is_accepted.all()


def _toy(x_obs, sigma):
    """θ ~ N(0, 1) (u = θ); x | θ ~ N(θ, σ²); summary = x; ρ = |x - x_obs|."""
    noise = np.random.default_rng(99)

    def simulate(u):
        x = u[:, 0] + sigma * noise.standard_normal(len(u))
        return np.abs(x - x_obs), np.full(len(u), np.nan)

    return simulate


@pytest.mark.parametrize("kernel", [GaussianKernel(0.5), IndicatorKernel(0.3)])
def test_conjugate_gaussian_abc_posterior(kernel):
    """ABC-MCMC agrees with the exact ABC posterior at the same ε (computed by quadrature)."""
    x_obs, sigma = 1.5, 0.6
    if isinstance(kernel, GaussianKernel):  # convolving N(θ, σ²) with the kernel: x_obs ~ N(θ, σ² + ε²)
        weight = lambda t: stats.norm.pdf(x_obs, t, np.hypot(sigma, kernel.epsilon))  # noqa: E731
    else:  # P(|x - x_obs| ≤ ε | θ)
        e = kernel.epsilon
        weight = lambda t: stats.norm.cdf((x_obs + e - t) / sigma) - stats.norm.cdf((x_obs - e - t) / sigma)  # noqa: E731
    dens = lambda t: stats.norm.pdf(t) * weight(t)  # noqa: E731
    z = integrate.quad(dens, -10, 10)[0]
    mean = integrate.quad(lambda t: t * dens(t), -10, 10)[0] / z
    var = integrate.quad(lambda t: (t - mean) ** 2 * dens(t), -10, 10)[0] / z

    rng = np.random.default_rng(3)
    init, step = build_abc_mcmc(_toy(x_obs, sigma), blockwise_elliptical({"theta": slice(0, 1)}, 1))
    (state, kernel), _ = run_warmup(rng, init(np.full((8, 1), x_obs / 2)), step, kernel, 500)
    draws = sample(rng, state, step, kernel, 6000).position[:, :, 0]
    ess = float(az.ess(az.from_dict(posterior={"theta": draws}))["theta"])
    assert ess > 500
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / ess)
    assert abs(draws.var() - var) < 4 * var * np.sqrt(2 / ess)
    rhat = float(az.rhat(az.from_dict(posterior={"theta": draws}))["theta"])
    assert rhat < 1.02


def test_sample_until_continues_the_chains_while_the_check_fails():
    """Rounds are added only while the check (shown all draws so far) fails, each continuing the chains exactly:
    three rounds of 50 draws equal one run of 150 from the same seeds; ``max_rounds`` caps them."""
    from samplers.abc_mcmc import sample_until

    moves = blockwise_elliptical({"theta": slice(0, 1)}, 1)
    seen = []

    def converged(trace):
        seen.append(trace.position.shape[1])
        return trace.position.shape[1] >= 150

    init, step = build_abc_mcmc(_toy(1.5, 0.6), moves)
    trace, rounds = sample_until(np.random.default_rng(1), init(np.zeros((4, 1))), step, GaussianKernel(0.5), 50,
                                 converged, 5)
    assert rounds == 2 and seen == [50, 100, 150]
    init, step = build_abc_mcmc(_toy(1.5, 0.6), moves)  # the same simulator noise again
    whole = sample(np.random.default_rng(1), init(np.zeros((4, 1))), step, GaussianKernel(0.5), 150)
    for name, part, one in zip(trace._fields, trace, whole, strict=True):
        np.testing.assert_array_equal(part, one, err_msg=name)
    trace, rounds = sample_until(np.random.default_rng(1), init(np.zeros((4, 1))), step, GaussianKernel(0.5), 50,
                                 lambda trace: False, 1)
    assert rounds == 1 and trace.position.shape == (4, 100, 1)
    with pytest.raises(ValueError, match="max_rounds"):
        sample_until(np.random.default_rng(1), init(np.zeros((4, 1))), step, GaussianKernel(0.5), 50, converged, -1)


def test_sample_until_rebuilds_the_step_from_the_draws_before_each_added_round():
    """``restep`` is handed all draws so far before each added round, and the chains continue with the step it
    returns: the draws equal running the same steps by hand from the same seeds."""
    from samplers.abc_mcmc import join_traces, run_steps, sample_until

    def steps():  # the paper's moves, then narrower ones (the "refitted" step), on one simulator
        forward = _toy(1.5, 0.6)
        return (*build_abc_mcmc(forward, blockwise_elliptical({"theta": slice(0, 1)}, 1)),
                build_abc_mcmc(forward, blockwise_elliptical({"theta": slice(0, 1)}, 1, 0.1))[1])

    init, step, narrow = steps()
    handed = []

    def restep(trace):
        handed.append(trace.position.shape[1])
        return narrow

    trace, rounds = sample_until(np.random.default_rng(1), init(np.zeros((4, 1))), step, GaussianKernel(0.5), 50,
                                 lambda trace: len(handed) == 2, 5, restep=restep)
    assert rounds == 2 and handed == [50, 100] and trace.position.shape == (4, 150, 1)
    init, step, narrow = steps()
    rng, state, kernel, parts = np.random.default_rng(1), init(np.zeros((4, 1))), GaussianKernel(0.5), []
    for move in (step, narrow, narrow):
        state, kernel, part = run_steps(rng, state, move, kernel, 50)
        parts.append(part)
    for name, part, one in zip(trace._fields, trace, join_traces(join_traces(*parts[:2]), parts[2]), strict=True):
        np.testing.assert_array_equal(part, one, err_msg=name)


def test_nonfinite_distances_are_counted_rejections(rng):
    init, step = build_abc_mcmc(lambda u: (np.full(len(u), np.nan), np.zeros(len(u))),
                                blockwise_elliptical(BLOCKS, 3))
    state = init(np.zeros((2, 3)))._replace(distance=np.zeros(2))
    new, info = step(rng, state, GaussianKernel(1.0))
    assert info.nonfinite.all() and not info.is_accepted.any()
    np.testing.assert_array_equal(new.position, state.position)


def test_epsilon_adaptation_hits_target(rng):
    init, step = build_abc_mcmc(_toy(0.0, 0.3), blockwise_elliptical({"theta": slice(0, 1)}, 1))
    (state, kernel), info = run_warmup(rng, init(np.zeros((8, 1))), step, GaussianKernel(5.0), 3000,
                                       target_acceptance=0.2)
    assert info.epsilon == kernel.epsilon < 5.0 and info.trace.epsilon.shape == (8, 3000)
    trace = sample(rng, state, step, kernel, 2000)
    assert np.all(trace.epsilon == kernel.epsilon)  # fixed after warm-up
    assert abs(trace.is_accepted.mean() - 0.2) < 0.05


@pytest.mark.parametrize("name, eps, match", [("gaussian", 0.0, "epsilon"), ("indicator", np.nan, "epsilon"),
                                              ("tophat", 1.0, "kernel: expected one of")])
def test_kernel_errors(name, eps, match):
    with pytest.raises(ValueError, match=match):
        make_kernel(name, eps)


def test_bad_counts_are_refused(rng):
    init, step = build_abc_mcmc(_toy(0.0, 1.0), blockwise_elliptical({"t": slice(0, 1)}, 1))
    state = init(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="n_draws"):
        sample(rng, state, step, GaussianKernel(1.0), -1)
    for kwargs, match in (({"keep": 0}, "keep"), ({"resample_every": 0}, "resample_every"),
                          ({"target_acceptance": 1.0}, "target_acceptance"), ({"explore_steps": -1}, "explore_steps")):
        with pytest.raises(ValueError, match=match):
            run_warmup(rng, state, step, GaussianKernel(1.0), 1, **kwargs)


def test_exploration_keeps_the_closest_chains(rng):
    """After exploring, the kept chains are the closest ones; resampling moves every chain to a heavy state."""
    init, step = build_abc_mcmc(_toy(0.0, 0.3), blockwise_elliptical({"theta": slice(0, 1)}, 1))
    state = init(np.linspace(-3, 3, 12)[:, None])
    (kept, _), info = run_warmup(rng, state, step, GaussianKernel(0.5), 5, keep=3, explore_steps=20)
    assert kept.position.shape == (3, 1) and info.explored == 12 and info.trace.position.shape == (3, 5, 1)
    (first, _), info = run_warmup(rng, state, step, GaussianKernel(0.5), 0, keep=3)
    np.testing.assert_array_equal(np.sort(first.distance), np.sort(state.distance)[:3])
    assert info.explored == 0
    heavy = ABCState(np.arange(4.0)[:, None], np.array([0.0, 50.0, 50.0, 50.0]), np.zeros(4))
    np.testing.assert_array_equal(resample_chains(rng, heavy, GaussianKernel(1.0)).position[:, 0], np.zeros(4))


def test_module_docstring_example_runs():
    """The toy example in samplers/__init__.py (a Gaussian simulator) runs and gives the exact ABC posterior mean."""
    import doctest

    result = doctest.testmod(samplers, raise_on_error=False)
    assert result.attempted > 10 and result.failed == 0


def _exact_gaussian_abc_moments(x_obs, sigma, eps):
    """Mean and variance of the toy's exact ABC posterior with a Gaussian kernel, by quadrature: the N(0, 1) prior
    times x_obs ~ N(θ, σ² + ε²)."""
    dens = lambda t: stats.norm.pdf(t) * stats.norm.pdf(x_obs, t, np.hypot(sigma, eps))  # noqa: E731
    z = integrate.quad(dens, -10, 10)[0]
    mean = integrate.quad(lambda t: t * dens(t), -10, 10)[0] / z
    return mean, integrate.quad(lambda t: (t - mean) ** 2 * dens(t), -10, 10)[0] / z


def _gaussian_q(mean, sd):
    """An independence proposal density N(mean, sd²) in one standard-normal coordinate."""
    from samplers.proposals import independence

    log_q = lambda u: -0.5 * ((u[:, 0] - mean) / sd) ** 2  # noqa: E731

    def sample(rng, n):
        draws = rng.normal(mean, sd, (n, 1))
        return draws, log_q(draws)

    return independence(sample, log_q)


@pytest.mark.parametrize("shared", [False, True], ids=["per chain", "shared"])
@pytest.mark.parametrize("q_mean, q_sd", [(0.62, 0.55), (1.8, 0.2)],
                         ids=["q near the posterior", "q shifted, too narrow"])
def test_mixture_with_an_independence_proposal_keeps_the_exact_abc_posterior(q_mean, q_sd, shared):
    """Independence moves from q (MH-corrected) mixed with elliptical moves target the exact ABC posterior, even
    for a q centred 3 posterior sd away and 3× too narrow: the correction at work; so does a mixture that picks
    one component for all chains of a step."""
    from samplers.proposals import mixture

    propose = mixture([blockwise_elliptical({"theta": slice(0, 1)}, 1), _gaussian_q(q_mean, q_sd)], [0.5, 0.5],
                      shared=shared)
    _assert_the_toy_abc_posterior(propose, np.random.default_rng(5), 5000)


def _assert_the_toy_abc_posterior(propose, rng, n_draws):
    """8 chains of ABC-MCMC with ``propose`` on the toy (x_obs 1.5, σ 0.6, Gaussian kernel ε 0.5), after 300 warm-up
    steps: bulk ESS > 400, and mean and variance within 4 Monte Carlo standard errors of the exact ABC posterior's."""
    x_obs, sigma, eps = 1.5, 0.6, 0.5
    mean, var = _exact_gaussian_abc_moments(x_obs, sigma, eps)
    init, step = build_abc_mcmc(_toy(x_obs, sigma), propose)
    (state, kernel), _ = run_warmup(rng, init(np.full((8, 1), x_obs / 2)), step, GaussianKernel(eps), 300)
    draws = sample(rng, state, step, kernel, n_draws).position[:, :, 0]
    ess = float(az.ess(az.from_dict(posterior={"theta": draws}))["theta"])
    assert ess > 400
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / ess)
    assert abs(draws.var() - var) < 4 * var * np.sqrt(2 / ess)


@pytest.mark.parametrize("shift", [0.0, 0.8], ids=["surrogate = the exact ABC likelihood", "surrogate shifted"])
def test_hamiltonian_moves_on_a_surrogate_keep_the_exact_abc_posterior(shift):
    """Hamiltonian trajectories on a cheap surrogate (x_obs ~ N(θ + shift, σ² + ε²), the toy's exact ABC likelihood
    when shift = 0), their end point accepted with the true kernel and the Hamiltonian's correction, target the
    exact ABC posterior, even with a surrogate shifted by 1.3 posterior sd; with the exact surrogate almost every
    move is accepted."""
    from samplers.proposals import hamiltonian

    x_obs, sigma, eps = 1.5, 0.6, 0.5  # the toy's, as in _assert_the_toy_abc_posterior
    s2 = sigma**2 + eps**2

    def surrogate(u):
        r = u[:, 0] + shift - x_obs
        return -0.5 * r**2 / s2, (-r / s2)[:, None]

    propose = hamiltonian(surrogate, 0.8, 5, np.array([[0.6]]))
    rng = np.random.default_rng(8)
    if shift == 0:  # the toy's likelihood is exact, so only the leapfrog error is left to reject
        init, step = build_abc_mcmc(_toy(x_obs, 0.0), propose)
        _, info = step(rng, init(np.full((400, 1), 0.5)), GaussianKernel(np.sqrt(s2)))
        assert info.acceptance_probability.mean() > 0.9
    _assert_the_toy_abc_posterior(propose, rng, 4000)


def test_hamiltonian_moves_keep_a_correlated_2d_posterior_with_a_wrong_surrogate(rng):
    """In two dimensions, with a non-diagonal mass matrix (so that L and Lᵀ cannot be mixed up unseen) and a surrogate
    that is shifted and 1.5× too sharp, 20 000 chains started from the exact posterior N(m, Σ) (prior N(0, I) times
    the Gaussian kernel of a known quadratic distance) stay there for 20 moves: mean and covariance within 4 Monte
    Carlo standard errors."""
    from samplers.proposals import hamiltonian

    precision, centre = np.array([[6.0, 4.0], [4.0, 9.0]]), np.array([1.0, -0.5])
    cov = np.linalg.inv(precision + np.eye(2))
    mean = cov @ precision @ centre

    def simulate(u):  # ρ with K_1(ρ) = exp(−½ (u − centre)ᵀ P (u − centre))
        r = u - centre
        return np.sqrt(np.einsum("ci,ij,cj->c", r, precision, r)), np.full(len(u), np.nan)

    def surrogate(u):
        r = u - centre - 0.1
        return -0.75 * np.einsum("ci,ij,cj->c", r, precision, r), -1.5 * r @ precision

    n = 20_000
    init, step = build_abc_mcmc(simulate, hamiltonian(surrogate, 0.5, 4, np.linalg.cholesky(cov) @ [[1.0, 0.0],
                                                                                                   [0.3, 0.8]]))
    state = init(rng.multivariate_normal(mean, cov, n))
    accepted = 0.0
    for _ in range(20):
        state, info = step(rng, state, GaussianKernel(1.0))
        accepted += info.is_accepted.mean() / 20
    draws = state.position
    assert 0.2 < accepted < 0.99  # the chains do move
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * np.sqrt(np.diag(cov) / n))
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(np.cov(draws.T) - cov) < 4 * np.outer(sd, sd) * np.sqrt(2 / n))


def test_hamiltonian_rejects_a_diverging_trajectory_and_bad_settings(rng):
    """A trajectory whose surrogate gradient is NaN, or that flies off beyond |u|² = DIVERGED, proposes the current
    state with log_correction −inf (so nothing non-finite is simulated and the move is rejected); bad settings are
    refused."""
    from samplers.proposals import DIVERGED, hamiltonian

    prop = hamiltonian(lambda u: (np.full(len(u), np.nan), np.full(u.shape, np.nan)), 0.1, 3, np.eye(2))(
        rng, np.ones((4, 2)))
    assert np.array_equal(prop.position, np.ones((4, 2))) and np.all(np.isneginf(prop.log_correction))
    # ∇ℓ̃ = u cancels the prior's pull where x < 0.5 (chain 1 drifts freely, far from there); 10⁶ beyond (chain 0)
    steep = hamiltonian(lambda u: (np.zeros(len(u)), np.where(u[:, :1] > 0.5, 1e6, u)), 1.0, 3, np.eye(2))(
        rng, np.array([[1.0, 1.0], [-20.0, 0.0]]))
    assert np.sum(steep.position[0] ** 2) < DIVERGED and np.isneginf(steep.log_correction[0])
    assert np.isfinite(steep.log_correction[1])
    ok = lambda u: (np.zeros(len(u)), np.zeros(u.shape))  # noqa: E731
    for kwargs, message in (({"step_size": 0.0}, "step_size: expected a number > 0"),
                            ({"n_steps": 0}, "n_steps: expected an integer ≥ 1"),
                            ({"cholesky": np.array([[1.0, 1.0], [0.0, 1.0]])}, "cholesky: expected a"),
                            ({"step_jitter": 1.0}, "step_jitter")):
        with pytest.raises(ValueError, match=message):
            hamiltonian(ok, **{"step_size": 0.1, "n_steps": 3, "cholesky": np.eye(2), **kwargs})


def test_adapt_hamiltonian_learns_the_surrogate_posterior_covariance_and_step(rng):
    """On a correlated Gaussian surrogate posterior (prior N(0, I) times a Gaussian likelihood, known covariance),
    the windowed adaptation's inverse mass matrix matches the covariance within the Monte Carlo error of its
    estimate, and the acceptance rate is near its target."""
    from samplers.warmup import adapt_hamiltonian

    precision = np.array([[400.0, 300.0], [300.0, 400.0]])  # the likelihood's; posterior sds ≈ 0.075, correlation −0.75
    cov = np.linalg.inv(precision + np.eye(2))

    def surrogate(u):
        r = u - 0.5
        return -0.5 * np.einsum("ci,ij,cj->c", r, precision, r), -r @ precision

    tuned = adapt_hamiltonian(rng, surrogate, rng.standard_normal((32, 2)), n_steps=300, n_leapfrog=5)
    estimate = tuned.cholesky @ tuned.cholesky.T
    assert np.allclose(np.sqrt(np.diag(estimate)), np.sqrt(np.diag(cov)), rtol=0.25)
    assert abs(estimate[0, 1] / np.sqrt(estimate[0, 0] * estimate[1, 1]) - cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
               ) < 0.1
    assert 0.6 < tuned.acceptance < 0.95
    with pytest.raises(ValueError, match="position: expected at least 2 chains"):
        adapt_hamiltonian(rng, surrogate, np.zeros((1, 2)))


def test_mixture_and_independence_refuse_bad_input(rng):
    from samplers.proposals import independence, mixture

    ell = blockwise_elliptical({"theta": slice(0, 1)}, 1)
    with pytest.raises(ValueError, match="weights: expected 2 non-negative"):
        mixture([ell, ell], [1.0])
    with pytest.raises(ValueError, match="weights"):
        mixture([ell, ell], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"sample: expected draws of shape \(3, 1\)"):
        independence(lambda r, n: (np.zeros((n, 2)), np.zeros(n)), lambda u: np.zeros(len(u)))(rng, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="sample: expected finite log q"):
        independence(lambda r, n: (np.zeros((n, 1)), np.full(n, np.nan)), lambda u: np.zeros(len(u)))(
            rng, np.zeros((3, 1)))


def test_convergence_warnings_flag_chains_that_disagree_and_pass_mixed_ones():
    from samplers.diagnostics import convergence_warnings

    rng = np.random.default_rng(0)
    mixed = rng.standard_normal((4, 1000))
    stuck = mixed[:, :] * 0.1 + np.arange(4)[:, None]  # four chains, four places
    idata = az.from_dict(posterior={"good": mixed, "bad": stuck, "vec": np.stack([mixed, stuck], -1)})
    warnings = convergence_warnings(idata, ["good", "bad", "vec"])
    assert [w.split(":")[0] for w in warnings] == ["bad", "vec"]
    assert "split R-hat" in warnings[0] and "bulk ESS" in warnings[0]
    assert convergence_warnings(idata, ["good"]) == []
    # chains that never moved (stuck at the prior's edge, to rounding): R-hat is undefined, and the warning says so
    edge = mixed.copy()
    edge[:2] = 90.0
    edge[1, 0] += 7e-13
    stuck_warnings = convergence_warnings(az.from_dict(posterior={"edge": edge}), ["edge"])
    assert stuck_warnings[0].startswith("edge: split R-hat undefined: 2 of 4 chains never moved")
    # chains a little apart: split R-hat 1.0130, which ArviZ's rounded summary shows as 1.01, still warns
    offsets = 0.15 * np.array([-1, 1, -1, 1])[:, None]
    near = az.from_dict(posterior={"a": np.random.default_rng(0).standard_normal((4, 2000)) + offsets})
    assert 1.0125 < float(az.rhat(near)["a"]) < 1.0135
    assert convergence_warnings(near, ["a"]) == ["a: split R-hat 1.0130 > 1.01"]


@pytest.mark.parametrize("seed, ess_fraction", [(0, None), (2, None), (0, 0.5)])
def test_smc_abc_matches_the_exact_abc_posterior(seed, ess_fraction):
    """SMC-ABC (median ε schedule down to ε = 0.3, elliptical moves) against the quadrature posterior; tolerances
    from the weights' effective sample size."""
    from samplers.smc import run_smc

    x_obs, sigma, eps = 1.5, 0.6, 0.3
    mean, var = _exact_gaussian_abc_moments(x_obs, sigma, eps)
    rng = np.random.default_rng(seed)
    init, step = build_abc_mcmc(_toy(x_obs, sigma), blockwise_elliptical({"theta": slice(0, 1)}, 1))
    population, w, info = run_smc(rng, init(rng.standard_normal((2000, 1))), step, GaussianKernel(1.0),
                                  target_epsilon=eps, ess_fraction=ess_fraction)
    assert info.epsilon[-1] == eps and np.all(np.diff(info.epsilon) < 0) and w.sum() == pytest.approx(1.0)
    theta = population.position[:, 0]
    m, v, ess = np.sum(w * theta), np.sum(w * (theta - np.sum(w * theta)) ** 2), 1 / np.sum(w**2)
    assert abs(m - mean) < 4 * np.sqrt(var / ess)
    assert abs(v - var) < 4 * var * np.sqrt(2 / ess)


def test_smc_refuses_bad_settings(rng):
    from samplers.smc import run_smc

    init, step = build_abc_mcmc(_toy(0.0, 1.0), blockwise_elliptical({"t": slice(0, 1)}, 1))
    state = init(np.zeros((4, 1)))
    for kwargs in ({"quantile": 1.0}, {"moves": 0}, {"target_epsilon": 0.0}, {"max_rounds": 0},
                   {"ess_fraction": 1.0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            run_smc(rng, state, step, GaussianKernel(1.0), **kwargs)
    with pytest.raises(ValueError, match="no particle has a finite distance"):
        run_smc(rng, state._replace(distance=np.full(4, np.nan)), step, GaussianKernel(1.0))


def _ensemble(simulate, dim, de_weight):
    from samplers.abc_mcmc import build_abc_ensemble
    from samplers.proposals import differential_evolution, mixture

    evolve, local = differential_evolution(), blockwise_elliptical({"all": slice(0, dim)}, dim, 0.05)
    return build_abc_ensemble(simulate, lambda others: mixture([evolve(others), local], [de_weight, 1 - de_weight]))


def test_differential_evolution_ensemble_with_a_flat_kernel_reproduces_the_prior():
    """DE moves are not prior-reversible: with a kernel that accepts everything, only their prior-ratio correction
    keeps the N(0, I) prior the stationary law. A wrong correction (none) gives a variance far from 1."""
    rng = np.random.default_rng(2)
    init, step = _ensemble(lambda u: (np.zeros(len(u)), np.zeros(len(u))), 3, de_weight=1.0)
    trace = sample(rng, init(rng.standard_normal((16, 3))), step, GaussianKernel(1.0), 3000)
    ess = az.ess(az.from_dict(posterior={"u": trace.position}))["u"].values
    mean, var = trace.position.reshape(-1, 3).mean(0), trace.position.reshape(-1, 3).var(0)
    assert np.all(ess > 300)
    assert np.all(np.abs(mean) < 4 / np.sqrt(ess))
    assert np.all(np.abs(var - 1) < 4 * np.sqrt(2 / ess))
    assert 0.2 < trace.is_accepted.mean() < 0.95


def test_differential_evolution_ensemble_matches_the_exact_abc_posterior():
    """The red-blue ensemble of DE and elliptical moves against the quadrature ABC posterior of the toy problem."""
    x_obs, sigma, eps = 1.5, 0.6, 0.5
    mean, var = _exact_gaussian_abc_moments(x_obs, sigma, eps)
    rng = np.random.default_rng(4)
    init, step = _ensemble(_toy(x_obs, sigma), 1, de_weight=0.8)
    kernel = GaussianKernel(eps)
    (state, kernel), _ = run_warmup(rng, init(np.full((8, 1), x_obs / 2) + 0.1 * rng.standard_normal((8, 1))), step,
                                    kernel, 300)
    draws = sample(rng, state, step, kernel, 3000).position[:, :, 0]
    ess = float(az.ess(az.from_dict(posterior={"theta": draws}))["theta"])
    assert ess > 400
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / ess)
    assert abs(draws.var() - var) < 4 * var * np.sqrt(2 / ess)


def test_ensemble_and_differential_evolution_refuse_bad_input(rng):
    from samplers.proposals import differential_evolution

    init, step = _ensemble(_toy(0.0, 1.0), 1, de_weight=0.5)
    with pytest.raises(ValueError, match="an ensemble needs at least 4 chains, got 3"):
        step(rng, init(np.zeros((3, 1))), GaussianKernel(1.0))
    with pytest.raises(ValueError, match="jump_share"):
        differential_evolution(jump_share=1.5)
    with pytest.raises(ValueError, match=r"others: expected positions \(M ≥ 2, D\)"):
        differential_evolution()(np.zeros((1, 2)))


def test_a_fitted_mixture_proposal_jumps_between_the_modes_of_a_bimodal_abc_posterior():
    """A symmetric two-mode ABC posterior (the simulator sees only |θ|: distance ||θ| − 1.5|, Gaussian kernel ε 0.3)
    sampled by small elliptical moves, which cannot cross between the modes, mixed with independence moves from
    a Student-t mixture fitted to a lopsided, too narrow approximation (80 % of its draws in one mode): chains all
    started in one mode put half their draws in each, and E|θ| is the exact one, within 4 Monte Carlo errors."""
    from samplers.proposals import mixture, mixture_proposal

    eps, centre = 0.3, 1.5
    dens = lambda t: stats.norm.pdf(t) * np.exp(-0.5 * ((abs(t) - centre) / eps) ** 2)  # noqa: E731
    z = integrate.quad(dens, 0, 10)[0]
    mean_abs = integrate.quad(lambda t: t * dens(t), 0, 10)[0] / z
    rng = np.random.default_rng(11)
    approx = np.concatenate([rng.normal(1.3, 0.15, 800), rng.normal(-1.3, 0.15, 200)])[:, None]
    q, fitted = mixture_proposal(approx, rng, max_components=3)
    assert fitted["components"] == 2
    local = blockwise_elliptical({"theta": slice(0, 1)}, 1, min_scale=0.01)
    init, step = build_abc_mcmc(lambda u: (np.abs(np.abs(u[:, 0]) - centre), np.full(len(u), np.nan)),
                                mixture([local, q], [0.7, 0.3]))
    (state, kernel), _ = run_warmup(rng, init(np.full((8, 1), centre)), step, GaussianKernel(eps), 200)
    draws = sample(rng, state, step, kernel, 4000).position[:, :, 0]
    negative = (draws < 0).astype(float)
    ess = float(az.ess(az.from_dict(posterior={"s": negative}))["s"])
    assert ess > 400
    assert abs(negative.mean() - 0.5) < 4 * np.sqrt(0.25 / ess)
    assert float(az.rhat(az.from_dict(posterior={"theta": draws}))["theta"]) < 1.01
    ess_abs = float(az.ess(az.from_dict(posterior={"a": np.abs(draws)}))["a"])
    assert abs(np.abs(draws).mean() - mean_abs) < 4 * np.abs(draws).std() / np.sqrt(ess_abs)


def test_a_mixture_proposal_on_a_block_moves_that_block_alone_between_its_modes():
    """As above in two coordinates, the mixture fitted to the first alone (``block``): its proposals keep the
    second coordinate, and mixed with small elliptical moves the chains, all started in one mode of the first
    coordinate, put half their draws in each, with the second's exact mean (4 Monte Carlo errors)."""
    from samplers.proposals import mixture, mixture_proposal

    eps, centre, shift = 0.3, 1.5, 0.6
    rng = np.random.default_rng(12)
    approx = np.column_stack([np.concatenate([rng.normal(1.3, 0.15, 800), rng.normal(-1.3, 0.15, 200)]),
                              rng.normal(5.0, 3.0, 1000)])  # the second coordinate's draws far off: not used
    q, fitted = mixture_proposal(approx, rng, max_components=3, block=slice(0, 1))
    assert fitted["components"] == 2
    u = rng.normal(size=(50, 2))
    assert np.array_equal(q(rng, u).position[:, 1], u[:, 1])
    local = blockwise_elliptical({"a": slice(0, 1), "b": slice(1, 2)}, 2, min_scale=0.01)
    init, step = build_abc_mcmc(
        lambda u: (np.hypot(np.abs(u[:, 0]) - centre, u[:, 1] - shift), np.full(len(u), np.nan)),
        mixture([local, q], [0.7, 0.3]))
    (state, kernel), _ = run_warmup(rng, init(np.tile([centre, shift], (8, 1))), step, GaussianKernel(eps), 200)
    draws = sample(rng, state, step, kernel, 4000).position
    negative = (draws[:, :, 0] < 0).astype(float)
    ess = float(az.ess(az.from_dict(posterior={"s": negative}))["s"])
    assert ess > 400 and abs(negative.mean() - 0.5) < 4 * np.sqrt(0.25 / ess)
    # the second coordinate: N(0, 1) prior times N(shift, eps²) kernel → mean shift / (1 + eps²)
    ess_b = float(az.ess(az.from_dict(posterior={"b": draws[:, :, 1]}))["b"])
    assert abs(draws[:, :, 1].mean() - shift / (1 + eps**2)) < 4 * draws[:, :, 1].std() / np.sqrt(ess_b)


def test_mixture_proposal_density_is_the_student_t_mixture_and_bad_input_is_refused(rng):
    """One component: the proposal's log q is scipy's multivariate t at the fitted mean and covariance; its draws
    have that covariance · df / (df − 2); too few or non-finite draws and bad settings are refused."""
    from samplers.proposals import mixture_proposal

    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    approx = rng.multivariate_normal([0.5, -1.0], cov, 4000)
    q, fitted = mixture_proposal(approx, rng, max_components=1, df=6.0)
    assert fitted == {"components": 1, "weights": [1.0], "df": 6.0}
    prop = q(rng, np.zeros((20000, 2)))
    assert np.all(prop.block == -1)
    draws = prop.position
    assert np.allclose(np.cov(draws.T), np.cov(approx.T) * 6 / 4, rtol=0.1)
    log_q = stats.multivariate_t(approx.mean(0), np.cov(approx.T), df=6).logpdf(draws[:5])
    prior = -0.5 * np.sum(draws[:5] ** 2, axis=1)
    assert np.allclose(prop.log_correction[:5], prior - log_q + stats.multivariate_t(
        approx.mean(0), np.cov(approx.T), df=6).logpdf(np.zeros((5, 2))), atol=0.01)
    with pytest.raises(ValueError, match="draws: expected a finite"):
        mixture_proposal(approx[:5], rng)
    with pytest.raises(ValueError, match="non-finite"):
        mixture_proposal(np.where(approx > 3, np.nan, approx), rng)
    with pytest.raises(ValueError, match="df"):
        mixture_proposal(approx, rng, df=0.0)


def test_surrogate_draws_sample_the_surrogate_posterior(rng):
    """Hamiltonian draws with a tuned step and mass, no simulation, on the Gaussian surrogate of
    test_adapt_hamiltonian…: their mean and sds match the surrogate posterior's, and the log targets are its."""
    from samplers.warmup import adapt_hamiltonian, surrogate_draws

    precision = np.array([[400.0, 300.0], [300.0, 400.0]])
    cov = np.linalg.inv(precision + np.eye(2))
    mean = np.linalg.solve(precision + np.eye(2), precision @ [0.5, 0.5])

    def surrogate(u):
        r = u - 0.5
        return -0.5 * np.einsum("ci,ij,cj->c", r, precision, r), -r @ precision

    tuned = adapt_hamiltonian(rng, surrogate, rng.standard_normal((16, 2)), n_steps=150, n_leapfrog=5)
    positions, targets = surrogate_draws(rng, surrogate, tuned, tuned.position, 400, 5)
    assert positions.shape == (400, 16, 2) and targets.shape == (400, 16)
    draws = positions.reshape(-1, 2)
    assert np.allclose(draws.mean(0), mean, atol=4 * 0.075 / np.sqrt(400))
    assert np.allclose(draws.std(0), np.sqrt(np.diag(cov)), rtol=0.1)
    assert np.allclose(targets, surrogate(draws)[0].reshape(400, 16) - 0.5 * np.sum(positions**2, axis=2))
    with pytest.raises(ValueError, match="n_steps"):
        surrogate_draws(rng, surrogate, tuned, tuned.position, 0, 5)
