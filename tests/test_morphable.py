import numpy as np
import pytest

from abc_inverse.model.morphable import N_DATA_SHAPE_MODES, load_model


def test_shapes_and_units(model):
    v = model.shape(np.zeros((2, model.n_shape)))
    assert v.shape == (2, model.n_vertices, 3) and v.dtype == np.float32
    np.testing.assert_allclose(v[0], model.mean)
    extent = v[0].max(0) - v[0].min(0)  # a face in millimetres: ~14 cm wide, ~18 cm tall
    assert 100 < extent[0] < 200 and 140 < extent[1] < 240
    assert model.triangles.shape == (14050, 3) and model.n_vertices == 7160


def test_shape_round_trip(model, rng):
    coeffs = rng.standard_normal((3, model.n_shape))
    np.testing.assert_allclose(model.fit_shape(model.shape(coeffs)), coeffs, atol=2e-3)


def test_data_modes_are_orthogonal_pca_with_decreasing_sigma(model):
    basis = model.shape_basis[:N_DATA_SHAPE_MODES].reshape(N_DATA_SHAPE_MODES, -1).astype(np.float64)
    gram = basis @ basis.T  # scaled PCA: diagonal = sigma², off-diagonal 0
    sigma = np.sqrt(np.diag(gram))
    np.testing.assert_allclose(gram / np.outer(sigma, sigma), np.eye(N_DATA_SHAPE_MODES), atol=1e-4)
    assert np.all(np.diff(sigma) < 0)
    np.testing.assert_allclose(sigma[0], 357.8, rtol=0.01)  # DATA.md: sigma ≈ 358 mm for PC1
    rms = np.sqrt(np.mean(np.sum(model.shape_basis**2, axis=2), axis=1))
    assert np.all(rms[N_DATA_SHAPE_MODES:] < rms[N_DATA_SHAPE_MODES - 1])  # synthetic modes below the data


def test_albedo_in_unit_interval(model, rng):
    a = model.albedo(3 * rng.standard_normal((5, model.n_albedo)))
    assert a.shape == (5, model.n_vertices, 3) and a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("kwargs, match", [({"n_shape": 0}, "n_shape"), ({"n_shape": 51}, "n_shape"),
                                           ({"n_albedo": 21}, "n_albedo")])
def test_load_model_rejects_bad_dimensions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_model(**kwargs)


def test_wrong_coefficient_shape_raises(model):
    with pytest.raises(ValueError, match=r"shape coefficients: expected shape \(N, 20\)"):
        model.shape(np.zeros((2, 5)))
