"""Domain randomisation of training renders (encoders/augment.py) and its use in training."""

import numpy as np
import pytest
import torch

from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.augment import ROLL_DEG, SCALE, SHIFT_PX, _recipe, augment, random_background
from encoders.train import TrainConfig, draw_batch, resume_config, train
from tests.test_train import TINY, _weights


@pytest.fixture(scope="module")
def renders(model):
    simulator = Simulator(model, RenderSettings(image_size=32, supersample=2, features=True))
    return simulator.render_with_coverage(simulator.prior.sample(np.random.default_rng(0), 6))


def test_augment_keeps_the_face_and_changes_what_a_photo_changes(renders):
    images, coverage = renders
    out = augment(images, coverage, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    background = coverage == 0
    assert out[background].std() > 0.03  # no longer the renders' black
    for clean, noisy, face in zip(images, out, coverage == 1, strict=True):  # the same face, slightly reframed
        assert np.corrcoef(clean[face], noisy[face])[0, 1] > 0.3
    np.testing.assert_array_equal(augment(images, coverage, np.random.default_rng(1)), out)  # seeded
    assert not np.array_equal(augment(images, coverage, np.random.default_rng(2)), out)
    with pytest.raises(ValueError, match="images, coverage: expected two"):
        augment(images, coverage[:, :8], np.random.default_rng(0))
    with pytest.raises(ValueError, match="framing: expected a number ≥ 0, got -1"):
        augment(images, coverage, np.random.default_rng(0), framing=-1)


def test_framing_scales_the_shift_scale_and_roll_jitter():
    for framing in (0.0, 0.5, 1.0):
        draws = [_recipe(np.random.default_rng(seed), 64, framing) for seed in range(200)]
        shift = max(np.abs(d["shift"]).max() for d in draws)
        scale = max(abs(d["scale"] - 1) for d in draws)
        roll = max(abs(np.degrees(d["roll"])) for d in draws)
        # the largest of 200 uniform draws lies within 2 % of its bound with probability 1 - 0.98^200 > 0.98
        for got, bound in ((shift, SHIFT_PX), (scale, SCALE[1] - 1), (roll, ROLL_DEG)):
            assert framing * bound * 0.95 <= got <= framing * bound + 1e-12


def test_random_background_is_a_textured_patch():
    patch = random_background(np.random.default_rng(0), 64)
    assert patch.shape == (64, 64) and patch.dtype == np.float32 and patch.min() >= 0 and patch.max() <= 1
    assert patch.std() > 0.01


def test_augmented_training_reconstructs_the_clean_render_and_resumes_exactly(tmp_path):
    config = TrainConfig(steps=4, checkpoint_every=4, augment=True, supersample=2, features=True, **TINY)
    run = Simulator(settings=RenderSettings(image_size=16, supersample=2, features=True))
    batch = draw_batch(run, np.random.default_rng(0), config, step=1)
    assert batch.target is not None and batch.target.shape == batch.x.shape
    assert not torch.equal(batch.x, batch.target)  # the encoder sees the randomised copy, the decoder the render
    whole = tmp_path / "whole.pt"
    record = train(config, whole, progress=False)
    assert record["simulator"]["supersample"] == 2 and record["simulator"]["features"] is True
    part = tmp_path / "part.pt"
    train(TrainConfig(**{**config.__dict__, "steps": 2, "checkpoint_every": 2}), part, progress=False)
    train(resume_config(part, {"steps": 4}), part, command="resume", progress=False, resume=part)
    a, b = _weights(whole), _weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_shared_draw_varies_only_what_the_renders_vary(renders):
    images, coverage = renders
    same = np.repeat(images[:1], 4, axis=0), np.repeat(coverage[:1], 4, axis=0)
    shared = augment(*same, np.random.default_rng(4), shared=True)
    apart = augment(*same, np.random.default_rng(4), shared=False)
    spread = lambda batch: np.abs(batch - batch.mean(0)).mean()  # noqa: E731
    assert spread(shared) < 0.03 < spread(apart)  # one background, framing and lighting: only the pixel noise differs


def test_head_silhouette_puts_hair_above_the_face_and_nothing_without_one():
    from encoders.augment import head_silhouette

    cover = np.zeros((64, 64), np.float32)
    cover[20:50, 22:42] = 1.0  # a face's box
    for seed in range(5):
        shade, where = head_silhouette(cover, np.random.default_rng(seed))
        assert where[19, 29:35].all()  # hair just above the forehead
        assert not where[:, :5].any() and not where[:, -5:].any()  # no wider than 1.5 face widths
        assert shade[where].min() >= 0 and shade[where].max() <= 1 and not shade[~where].any()
    shade, where = head_silhouette(np.zeros((64, 64), np.float32), np.random.default_rng(0))
    assert not where.any()
    with pytest.raises(ValueError, match="head: .* without augment"):
        TrainConfig(head=True)


def test_neck_silhouette_is_a_column_under_the_face_only():
    from encoders.augment import NECK_SHADE, neck_silhouette

    cover = np.zeros((64, 64), np.float32)
    cover[20:50, 22:42] = 1.0  # a face's box: the neck starts 0.7 box heights down, at row 41
    shade, where = neck_silhouette(cover, np.random.default_rng(3))
    assert not where[:41].any() and where[41:, 31:33].all() and where[-1, 31:33].all()  # under the chin, to the edge
    assert not where[:, :23].any() and not where[:, 42:].any()  # at most 0.7 face widths wide
    assert NECK_SHADE[0] <= shade[where].min() == shade[where].max() <= NECK_SHADE[1] and not shade[~where].any()
    assert not neck_silhouette(np.zeros((64, 64), np.float32), np.random.default_rng(0))[1].any()
