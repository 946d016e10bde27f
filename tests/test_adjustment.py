"""The linear regression adjustment of ABC draws (samplers/adjustment.py) against known answers."""

import numpy as np
import pytest
from scipy.stats import chi2

from samplers.adjustment import regression_adjustment, within_draws

A = np.array([[1.0, 0.5], [0.2, 1.0], [0.7, -0.4]])  # a linear simulator θ (2,) -> s (3,)


def test_conjugate_gaussian_posterior_is_recovered_from_a_wide_kernel():
    """θ ~ N(0, I), s = Aθ + N(0, σ² I): among rejection-ABC draws θ | s is the exact posterior whatever ε, so the
    adjusted draws have the conjugate posterior's mean and covariance, while the unadjusted ones (ε wide) do not.
    Tolerances: 5 Monte Carlo standard errors of N draws."""
    rng = np.random.default_rng(0)
    sigma, s_obs = 0.3, A @ np.array([0.8, -0.5]) + np.array([0.1, -0.2, 0.05])
    cov = np.linalg.inv(np.eye(2) + A.T @ A / sigma**2)
    mean = cov @ A.T @ s_obs / sigma**2
    theta = rng.standard_normal((400_000, 2))
    s = theta @ A.T + sigma * rng.standard_normal((400_000, 3))
    keep = np.argsort(np.linalg.norm(s - s_obs, axis=1))[:80_000]  # the closest 20 %: a wide kernel
    draws, summaries = theta[keep], s[keep]
    result = regression_adjustment(draws, summaries, s_obs)
    n, sd = len(keep), np.sqrt(np.diag(cov))
    np.testing.assert_allclose(result.position.mean(axis=0), mean, atol=5 * sd.max() / np.sqrt(n))
    np.testing.assert_allclose(result.position.std(axis=0), sd, rtol=5 / np.sqrt(2 * n))
    np.testing.assert_allclose(np.corrcoef(result.position.T)[0, 1], cov[0, 1] / sd.prod(), atol=5 / np.sqrt(n))
    assert np.all(draws.std(axis=0) > 1.5 * sd)  # without the adjustment the kernel's width shows
    assert np.all((result.r_squared > 0.5) & (result.r_squared < 1))


def test_a_deterministic_linear_simulator_is_inverted_exactly():
    """s = Aθ + b with no noise: every adjusted draw is the θ that reproduces s_obs, and R² is 1."""
    rng = np.random.default_rng(1)
    b, truth = np.array([0.3, -1.0, 2.0]), np.array([-0.4, 1.1])
    theta = truth + rng.standard_normal((500, 2))
    result = regression_adjustment(theta, theta @ A.T + b, A @ truth + b)
    np.testing.assert_allclose(result.position, np.broadcast_to(truth, (500, 2)), atol=1e-9)
    np.testing.assert_allclose(result.r_squared, 1.0, atol=1e-12)
    np.testing.assert_allclose(result.coefficients.T @ A, np.eye(2), atol=1e-9)


def test_summaries_that_say_nothing_leave_the_draws_alone_and_collinear_ones_are_safe():
    """A constant summary column and an exact copy of another do not break the regression; a parameter the summary
    does not depend on is (almost) not moved."""
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((2000, 2))
    s1 = theta[:, 0] + 0.1 * rng.standard_normal(2000)
    summaries = np.column_stack([s1, s1, np.full(2000, 3.0)])
    result = regression_adjustment(theta, summaries, np.array([0.5, 0.5, 3.0]))
    assert np.all(np.isfinite(result.position))
    assert abs(result.position[:, 0].mean() - 0.5) < 0.05 and result.position[:, 0].std() < 0.15
    assert np.abs(result.position[:, 1] - theta[:, 1]).max() < 0.2
    assert result.r_squared[1] < 0.01


@pytest.mark.parametrize("position, summary, observed, match", [
    (np.zeros(10), np.zeros((10, 2)), np.zeros(2), r"position: expected shape \(N, D\)"),
    (np.zeros((10, 2)), np.zeros((9, 2)), np.zeros(2), r"summary: expected shape \(10, S\)"),
    (np.zeros((10, 2)), np.zeros((10, 2)), np.zeros(3), r"observed: expected shape \(2,\)"),
    (np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(2), "at least 4 draws"),
    (np.full((10, 2), np.nan), np.zeros((10, 2)), np.zeros(2), "position: expected finite"),
])
def test_bad_input_raises(position, summary, observed, match):
    with pytest.raises(ValueError, match=match):
        regression_adjustment(position, summary, observed)


def test_within_draws_is_the_mahalanobis_distance_against_the_chi_square_limit():
    """Draws s ~ N(m, C) with C = L Lᵀ: an observed m + L w lies at Mahalanobis distance |w|; the limit is
    √χ²_S(level). Tolerance: the sample covariance of 200 000 draws is within ~1 % of C."""
    rng = np.random.default_rng(3)
    m, chol = np.array([1.0, -2.0, 0.5]), np.array([[2.0, 0, 0], [0.5, 1.0, 0], [-0.3, 0.2, 0.1]])
    s = m + rng.standard_normal((200_000, 3)) @ chol.T
    inside, distance, limit = within_draws(s, m + chol @ np.array([1.0, 2.0, 2.0]))
    assert inside and distance == pytest.approx(3.0, rel=0.01) and limit == pytest.approx(np.sqrt(chi2.ppf(0.999, 3)))
    inside, distance, _ = within_draws(s, m + chol @ np.array([0.0, 3.0, 4.0]))  # 5 > 4.03
    assert not inside and distance == pytest.approx(5.0, rel=0.01)
    assert within_draws(s, m + chol @ np.array([0.0, 3.0, 4.0]), level=0.99999)[0]  # a limit of 5.09
    constant = np.column_stack([s[:, :2], np.zeros(len(s))])  # a column the draws never vary: ignored, as by
    inside, distance, limit = within_draws(constant, np.array([1.0, -2.0, 7.0]))  # the regression; 2 dof left
    assert inside and distance == pytest.approx(0.0, abs=0.01) and limit == pytest.approx(np.sqrt(chi2.ppf(0.999, 2)))
    collinear = np.column_stack([s[:, 0], s[:, 0] * (1 + 1e-7), s[:, 1]])  # a condition number of ~1e14
    assert within_draws(collinear, np.array([1.0 + 2.0, (1.0 + 2.0) * (1 + 1e-7), -2.0 + 0.5 + 1.0]))[:2] == (
        True, pytest.approx(np.hypot(1.0, 1.0), rel=0.01))  # 1 sd in z1 and, given it, 1 sd in the second code


@pytest.mark.parametrize("summary, observed, level, match", [
    (np.zeros((10, 2)), np.zeros(3), 0.999, "expected shapes"),
    (np.zeros((2, 2)), np.zeros(2), 0.999, "more draws than summaries"),
    (np.full((10, 2), np.inf), np.zeros(2), 0.999, "finite"),
    (np.zeros((10, 2)), np.zeros(2), 1.0, r"level: expected a probability in \(0, 1\)"),
])
def test_within_draws_bad_input_raises(summary, observed, level, match):
    with pytest.raises(ValueError, match=match):
        within_draws(summary, observed, level)
