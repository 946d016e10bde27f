"""The dropped jaw (abc_inverse/model/expression.py): a rigid turn of the lower face about the hinge, nothing above
the mouth moves, and the extra shape component renders the model's own faces at 0."""

import numpy as np
import pytest

from abc_inverse.model.expression import HINGE_MM, RAMP_MM, jaw_displacement, mouth_line, with_jaw
from abc_inverse.model.morphable import load_model
from abc_inverse.model.scene import ScenePrior
from abc_inverse.render.simulator import RenderSettings, Simulator


def test_the_jaw_turns_the_lower_face_about_the_hinge_and_leaves_the_rest():
    mean = load_model(3, 2).mean.astype(np.float64)
    line = mouth_line(mean)
    assert -30 < line < -22  # between the lips of our mean face (mm below its centroid)
    moved = mean + jaw_displacement(mean, 12.0)
    above, full = mean[:, 1] >= line, mean[:, 1] <= line - RAMP_MM
    assert above.sum() > 1000 and full.sum() > 100
    np.testing.assert_array_equal(moved[above], mean[above])
    np.testing.assert_array_equal(moved[:, 0], mean[:, 0])  # the turn is about an axis parallel to x
    before, after = (p[full][:, 1:] - np.array(HINGE_MM) for p in (mean, moved))
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), np.linalg.norm(before, axis=1), rtol=1e-5)
    turned = np.degrees(np.arctan2(after[:, 1], after[:, 0]) - np.arctan2(before[:, 1], before[:, 0]))
    np.testing.assert_allclose(turned, 12.0, atol=1e-3)
    chin = np.argmin(mean[:, 1])
    assert moved[chin, 1] < mean[chin, 1] - 5  # the chin drops
    with pytest.raises(ValueError, match="degrees: expected a finite angle ≥ 0, got -1"):
        jaw_displacement(mean, -1.0)


def test_the_jaw_component_renders_the_models_own_faces_at_zero_and_moves_only_the_lower_face():
    model = load_model(3, 2)
    plain, jawed = (Simulator(m, RenderSettings(image_size=64)) for m in (model, with_jaw(model, 15.0)))
    assert jawed.model.n_shape == model.n_shape + 1
    scenes = ScenePrior(3, 2).sample(np.random.default_rng(0), 2)
    scenes = scenes._replace(azimuth=np.zeros(2), elevation=np.zeros(2), light_azimuth=np.zeros(2))
    closed = scenes._replace(shape=np.concatenate([scenes.shape, np.zeros((2, 1))], 1))
    opened = scenes._replace(shape=np.concatenate([scenes.shape, np.ones((2, 1))], 1))
    np.testing.assert_array_equal(jawed(closed), plain(scenes))
    changed = np.abs(jawed(opened) - plain(scenes)).max(axis=(0, 2)) > 1e-4  # per image row, top to bottom
    assert changed.any() and not changed[:32].any()  # the upper half of a frontal face stays
