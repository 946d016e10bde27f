"""The DCI disentanglement score (encoders/disentanglement.py) on codes whose answer is known."""

import numpy as np
import pytest
from scipy.linalg import hadamard

from encoders.disentanglement import dci, scores_from_importance


def test_the_scores_of_known_importance_matrices():
    assert scores_from_importance(np.eye(4)) == pytest.approx((1.0, 1.0))  # one code per factor
    assert scores_from_importance(np.ones((4, 4))) == pytest.approx((0.0, 0.0), abs=1e-12)  # all mixed
    # two codes for one factor each, one code for both: D of the mixed code is 0, and it carries half the weight
    d, c = scores_from_importance(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert d == pytest.approx(0.5)
    assert 0 < c < 1
    # a dead code (no importance) does not count
    assert scores_from_importance(np.vstack([np.eye(3), np.zeros(3)]))[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def factors():
    return np.random.default_rng(0).uniform(-1, 1, size=(2000, 4))


def test_a_disentangled_code_scores_near_1_and_a_mixed_one_near_0(factors):
    rng = np.random.default_rng(1)
    noise = 0.05 * rng.standard_normal(factors.shape)
    clean = dci(np.hstack([factors + noise, rng.standard_normal((len(factors), 2))]), factors,
                np.random.default_rng(2))  # plus two codes of pure noise
    assert clean.disentanglement > 0.9 and clean.completeness > 0.9 and clean.informativeness < 0.2
    assert clean.importance.shape == (6, 4)
    np.testing.assert_allclose(clean.importance.sum(axis=0), 1.0)
    mixed = dci((factors + noise) @ hadamard(4) / 2, factors, np.random.default_rng(2))  # every code sums them all
    assert mixed.disentanglement < 0.1 and mixed.completeness < 0.1
    assert mixed.informativeness < 1.0  # the information is there, only mixed
    again = dci((factors + noise) @ hadamard(4) / 2, factors, np.random.default_rng(2))
    assert again.disentanglement == mixed.disentanglement  # seeded


@pytest.mark.parametrize("codes, factors, kwargs, match", [
    (np.zeros((20, 3)), np.zeros((19, 2)), {}, "codes, factors: expected"),
    (np.zeros((20, 1)), np.ones((20, 2)), {}, "≥ 2 columns"),
    (np.full((20, 2), np.nan), np.ones((20, 2)), {}, "expected finite values"),
    (np.zeros((20, 2)), np.column_stack([np.arange(20), np.ones(20)]), {}, r"columns \[1\] are constant"),
    (np.zeros((20, 2)), np.arange(40.0).reshape(20, 2), {"test_fraction": 1.0}, "test_fraction: expected"),
])
def test_bad_input_is_refused(codes, factors, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dci(codes, factors, np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="importance: expected"):
        scores_from_importance(-np.eye(2))
