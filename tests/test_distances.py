import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from abc_inverse.distances import NAMES, distance, distance_batch
from tests.reference import distance_batch_ref

vectors = arrays(np.float64, 8, elements=st.floats(-100, 100, allow_nan=False))


@pytest.mark.parametrize("name", NAMES)
def test_batch_matches_reference(name, rng):
    x, ys = rng.standard_normal(16), rng.standard_normal((50, 16))
    np.testing.assert_allclose(distance_batch(name, x, ys), distance_batch_ref(name, x, ys), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(distance(name, x, ys[3]), distance_batch_ref(name, x, ys[3:4])[0], rtol=1e-10)


def test_known_values():
    x, y = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert distance("l1", x, y) == 3.0
    assert distance("l2", x, y) == pytest.approx(np.sqrt(5))
    assert distance("cosine", x, y) == pytest.approx(1.0)
    assert distance("correlation", np.array([1.0, 2, 3]), np.array([3.0, 2, 1])) == pytest.approx(2.0)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(x=vectors, y=vectors)
def test_properties(name, x, y):
    d_xy, d_yx = distance(name, x, y), distance(name, y, x)
    if np.isnan(d_xy):  # undefined for zero / constant vectors, consistently in both twins
        assert np.isnan(distance_batch_ref(name, x, y[None])[0])
        return
    assert d_xy == pytest.approx(d_yx, rel=1e-9, abs=1e-9)
    assert d_xy >= -1e-9
    d_xx = distance(name, x, x)
    assert np.isnan(d_xx) or d_xx == pytest.approx(0.0, abs=1e-9)


def test_zero_vector_cosine_is_nan():
    assert np.isnan(distance("cosine", np.zeros(3), np.ones(3)))
    assert np.isnan(distance_batch_ref("cosine", np.zeros(3), np.ones((1, 3)))[0])


def test_errors():
    with pytest.raises(ValueError, match="distance: expected one of"):
        distance("manhattan", np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"y: expected shape \(N, 3\), got \(2, 4\)"):
        distance_batch("l2", np.zeros(3), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x: expected a vector"):
        distance_batch("l2", np.zeros((1, 3)), np.zeros((2, 3)))
