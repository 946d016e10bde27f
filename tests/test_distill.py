"""Distillation (encoders/distill.py): the batches pair each scene's randomised render with the teacher's render, the
student learns the teacher's codes through the randomisation, keeps the teacher's decoder, resumes exactly, and
settings that cannot work are refused."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from abc_inverse.model.morphable import load_model
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.dcign import DEFAULT_CHECKPOINT, load_checkpoint
from encoders.distill import LOGVAR_WEIGHT, POSE_ANGLES, Teacher, clean_count, distillation_loss
from encoders.train import TrainConfig, draw_batch, learning_rate, make_optimizer, resume_config, train, train_step

TINY = dict(batch_size=8, image_size=16, latent_dim=6, channels=(4, 8), n_shape=3, n_albedo=2, seed=3)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    train(TrainConfig(steps=30, checkpoint_every=30, **TINY), path, progress=False)
    return path


def _student(teacher, **changes):
    return TrainConfig(**{**TINY, "teacher": str(teacher), "augment": True, "features": True, "supersample": 2,
                          "checkpoint_every": 1000, **changes})


def _batch(teacher, **changes):
    """(a fresh Teacher, the first batch of a student with ``changes``, the batch's 8 scenes)."""
    simulator = Simulator(load_model(3, 2), RenderSettings(image_size=16, supersample=2, features=True))
    taught = Teacher(teacher)
    batch = draw_batch(simulator, np.random.default_rng(5), _student(teacher, **changes), 1, taught)
    return taught, batch, simulator.prior.sample(np.random.default_rng(5), 8)  # the same draw as the batch's


def test_a_batch_pairs_randomised_renders_with_the_teachers_renders_of_the_same_scenes(teacher):
    config = _student(teacher)
    simulator = Simulator(load_model(3, 2), RenderSettings(image_size=16, supersample=2, features=True))
    batch = draw_batch(simulator, np.random.default_rng(5), config, 1, Teacher(teacher))
    scenes = simulator.prior.sample(np.random.default_rng(5), 8)  # the same draw as the batch's
    own, teachers = simulator(scenes), Simulator(load_model(3, 2), RenderSettings(image_size=16))(scenes)
    k = clean_count(8)
    assert k == 2
    np.testing.assert_array_equal(batch.x[:k, 0].numpy(), own[:k])  # the clean share
    assert all(not np.allclose(batch.x[i, 0].numpy(), own[i], atol=1e-3) for i in range(k, 8))  # randomised
    np.testing.assert_array_equal(batch.target[:, 0].numpy(), teachers)
    assert not np.allclose(own, teachers, atol=1e-3)  # features and anti-aliasing: the two renders differ


def test_centred_pose_targets_come_from_the_centred_camera_for_z1_to_z3_only(teacher):
    taught, batch, scenes = _batch(teacher, centred_pose=True)
    centred = scenes._replace(camera=np.full((8, 3), 0.5))
    np.testing.assert_array_equal(batch.x_camera[:, 0].numpy(), taught.simulator(centred))
    mu, logvar = taught.codes(batch.target, batch.x_camera)
    mu_own, logvar_own = taught.codes(batch.target)
    mu_centred, _ = taught.codes(batch.x_camera)
    assert torch.equal(mu[:, :3], mu_centred[:, :3]) and torch.equal(mu[:, 3:], mu_own[:, 3:])
    assert not torch.equal(mu[:, :3], mu_own[:, :3])  # the camera moved the teacher's pose codes
    with pytest.raises(ValueError, match="centred_pose: needs a teacher"):
        TrainConfig(**TINY, centred_pose=True)


def _angle_coded(taught, monkeypatch, code):
    """Make ``taught`` a teacher whose z1–z3 are code(angles) (N, 3) → (N, 3) of the scene's three angles."""
    def render(scenes):  # an image that carries the three angles in its first pixels
        x = torch.zeros(len(scenes.azimuth), 1, 16, 16)
        x[:, 0, 0, :3] = torch.from_numpy(np.stack([getattr(scenes, a) for a in POSE_ANGLES], 1)).float()
        return x

    def encode(x):
        mu = torch.zeros(len(x), 6, dtype=torch.float64)
        mu[:, :3] = code(x[:, 0, 0, :3].double())
        return mu.float(), torch.zeros(len(x), 6)

    monkeypatch.setattr(taught, "render", render)
    monkeypatch.setattr(taught.model, "encode", encode)


def test_the_teachers_lines_are_fitted_with_the_other_angles_at_zero(teacher, monkeypatch):
    taught = Teacher(teacher)
    intercept, slope = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([2.5, 4.0, -1.5])
    # z_k = a_k + b_k · angle_k + 0.7 · (the sum of the angles): the other angles must be held at 0
    _angle_coded(taught, monkeypatch, lambda a: intercept + slope * a + 0.7 * a.sum(1, keepdim=True))
    knots, values = taught.fit_curves(np.random.default_rng(0), n=50)
    np.testing.assert_allclose(values, intercept.numpy()[:, None] + (slope.numpy() + 0.7)[:, None] * knots, atol=1e-5)
    np.testing.assert_allclose(knots[:, 1], [1.5, np.pi / 2, np.pi / 2])  # the prior's limits


def test_the_teachers_binned_curves_keep_its_bends(teacher, monkeypatch):
    taught = Teacher(teacher)
    _angle_coded(taught, monkeypatch, lambda a: a**2)  # a U-shaped code: its straight line is flat
    knots, values = taught.fit_curves(np.random.default_rng(0), n=400, bins=6)
    assert knots.shape == values.shape == (3, 6)
    # each bin's mean of angle² is its centre² plus the bin's variance, (width)² / 12, up to the draw's error
    width = 2 * np.array([1.5, np.pi / 2, np.pi / 2])[:, None] / 6
    np.testing.assert_allclose(values, knots**2 + width**2 / 12, atol=0.08)
    with pytest.raises(ValueError, match="bins: 50 bins of azimuth leave some empty"):
        taught.fit_curves(np.random.default_rng(0), n=20, bins=50)


def test_angle_pose_targets_are_the_teachers_lines_for_z1_to_z3_only(teacher):
    taught, batch, scenes = _batch(teacher, angle_pose=True)
    expected = np.stack([scenes.azimuth, scenes.elevation, scenes.light_azimuth], 1)
    np.testing.assert_allclose(batch.angles.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="angles: the teacher's curves are not fitted"):
        taught.codes(batch.target, angles=batch.angles)
    knots, values = taught.fit_curves(np.random.default_rng(1), n=20)
    mu, logvar = taught.codes(batch.target, angles=batch.angles)
    mu_own, logvar_own = taught.codes(batch.target)
    slope = (values[:, 1] - values[:, 0]) / (knots[:, 1] - knots[:, 0])
    np.testing.assert_allclose(mu[:, :3].numpy(), values[:, 0] + slope * (expected - knots[:, 0]), atol=1e-5)
    assert torch.equal(mu[:, 3:], mu_own[:, 3:]) and torch.equal(logvar, logvar_own)
    with pytest.raises(ValueError, match="angle_pose: needs a teacher"):
        TrainConfig(**TINY, angle_pose=True)
    with pytest.raises(ValueError, match="angle_pose: .* replaces centred_pose"):
        _student(teacher, angle_pose=True, centred_pose=True)
    with pytest.raises(ValueError, match="angle_bins: shapes angle_pose's targets"):
        _student(teacher, angle_bins=8)


def test_distillation_loss_known_answer():
    model = load_checkpoint(DEFAULT_CHECKPOINT)[0]
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    loss, mse = distillation_loss(model, x, mu + 0.5, logvar - 2.0)  # every mean off by 0.5, log-variance by 2
    latent = mu.shape[1]
    assert loss.item() == pytest.approx(latent * 0.25 + LOGVAR_WEIGHT * latent * 4.0, rel=1e-5)
    assert mse.item() == pytest.approx(0.25, rel=1e-5)


def test_a_centred_pose_step_minimises_the_loss_against_the_centred_targets(teacher):
    config = _student(teacher, centred_pose=True)
    taught = Teacher(teacher)
    simulator = Simulator(load_model(3, 2), RenderSettings(image_size=16, supersample=2, features=True))
    batch = draw_batch(simulator, np.random.default_rng(2), config, 1, taught)
    student = load_checkpoint(teacher)[0].train()
    expected = distillation_loss(student, batch.x, *taught.codes(batch.target, batch.x_camera))[0].item()
    uncentred = distillation_loss(student, batch.x, *taught.codes(batch.target))[0].item()
    loss, _, _ = train_step(student, make_optimizer(student, config), batch, torch.Generator(), config, taught)
    assert loss == pytest.approx(expected, rel=1e-6) and loss != pytest.approx(uncentred, rel=1e-3)


def test_the_student_learns_the_teachers_codes_through_randomisation_and_keeps_its_decoder(teacher, tmp_path):
    first = train(_student(teacher, steps=1), tmp_path / "s1.pt", progress=False)["heldout_distillation"]
    last = train(_student(teacher, steps=60), tmp_path / "s60.pt", progress=False)["heldout_distillation"]
    assert last["mse_randomised"] < 0.7 * first["mse_randomised"]
    assert last["mse_clean"] < first["mse_clean"]
    student, teach = load_checkpoint(tmp_path / "s60.pt")[0].state_dict(), load_checkpoint(teacher)[0].state_dict()
    decoder = [k for k in teach if k.startswith(("expand", "decoder"))]
    assert decoder and all(torch.equal(student[k], teach[k]) for k in decoder)
    assert not torch.equal(student["mu.weight"], teach["mu.weight"])


def test_a_distillation_resumes_exactly(teacher, tmp_path):
    train(_student(teacher, steps=4), tmp_path / "whole.pt", progress=False)
    train(_student(teacher, steps=2), tmp_path / "part.pt", progress=False)
    record = train(resume_config(tmp_path / "part.pt", {"steps": 4}), tmp_path / "part.pt", progress=False,
                   resume=tmp_path / "part.pt")
    assert record["teacher"]["path"] == str(teacher)
    a, b = (load_checkpoint(tmp_path / name)[0].state_dict() for name in ("whole.pt", "part.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert record["heldout_distillation"] == train(_student(teacher, steps=4), tmp_path / "again.pt",
                                                   progress=False)["heldout_distillation"]


def test_the_learning_rate_falls_linearly_to_its_final_share(teacher, tmp_path):
    config = _student(teacher, steps=11, lr=1e-3, lr_final=0.1)
    assert [learning_rate(config, s) for s in (1, 6, 11)] == pytest.approx([1e-3, 5.5e-4, 1e-4])
    assert learning_rate(replace(config, lr_final=1.0), 7) == 1e-3
    train(replace(config, steps=3), tmp_path / "s.pt", progress=False)
    optimizer = load_checkpoint(tmp_path / "s.pt")[2]["optimizer"]
    assert optimizer["param_groups"][0]["lr"] == pytest.approx(1e-4)  # the last step's


def test_a_distillation_resumed_with_another_teacher_is_refused(teacher, tmp_path):
    other = tmp_path / "other.pt"
    train(TrainConfig(steps=1, **{**TINY, "seed": 9}), other, progress=False)
    train(replace(_student(teacher), steps=2, teacher=str(other)), tmp_path / "part.pt", progress=False)
    other.write_bytes(teacher.read_bytes())  # the teacher file replaced by another network
    with pytest.raises(ValueError, match="teacher: .* was distilled from"):
        train(resume_config(tmp_path / "part.pt", {"steps": 4}), tmp_path / "part.pt", progress=False,
              resume=tmp_path / "part.pt")


def test_impossible_distillations_are_refused(teacher, tmp_path):
    with pytest.raises(ValueError, match="teacher: distillation trains a DC-IGN on random batches"):
        _student(teacher, mode="specific")
    with pytest.raises(ValueError, match="teacher: .* has architecture"):
        train(_student(teacher, latent_dim=5), tmp_path / "s.pt", progress=False)
    with pytest.raises(ValueError, match="init, teacher"):
        train(_student(teacher), tmp_path / "s.pt", progress=False, init=teacher)
    with pytest.raises(FileNotFoundError, match="no such file"):
        train(replace(_student(teacher), teacher=str(tmp_path / "missing.pt")), tmp_path / "s.pt", progress=False)


def test_jaw_inputs_open_the_jaw_and_the_targets_keep_it_closed(teacher):
    from abc_inverse.model.expression import with_jaw
    from encoders.train import open_jaws

    simulator = Simulator(load_model(3, 2), RenderSettings(image_size=16, supersample=2, features=True))
    jawed = Simulator(with_jaw(simulator.model, 15.0), simulator.settings)
    batch = draw_batch(simulator, np.random.default_rng(5), _student(teacher, jaw=15.0), 1, Teacher(teacher), jawed)
    rng = np.random.default_rng(5)
    scenes = simulator.prior.sample(rng, 8)  # the batch's draws, in order
    opened = open_jaws(scenes, rng)
    opening = opened.shape[:, -1]
    assert (opening > 0).any() and (opening == 0).any()
    k = clean_count(8)
    np.testing.assert_array_equal(batch.x[:k, 0].numpy(), jawed(opened)[:k])  # the clean share, jaw open
    assert opening[:k].all() and not np.allclose(batch.x[:k, 0].numpy(), simulator(scenes)[:k], atol=1e-3)
    np.testing.assert_array_equal(batch.target[:, 0].numpy(), Teacher(teacher).simulator(scenes))  # closed
    with pytest.raises(ValueError, match="jaw: the closed face's targets come from a teacher"):
        TrainConfig(**TINY, jaw=10.0)
    with pytest.raises(ValueError, match="jaw_simulator: expected one exactly when config.jaw > 0"):
        draw_batch(simulator, np.random.default_rng(5), _student(teacher, jaw=15.0), 1, Teacher(teacher))
