"""Summary statistics by name and the same/different recognition test (§4.2)."""

from pathlib import Path

import numpy as np
import pytest

from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.base import PixelStatistic
from encoders.dcign import DEFAULT_CHECKPOINT, CheckpointMeta, DCIGNStatistic
from encoders.same_different import (
    best_threshold,
    cross_validated_accuracy,
    face_pairs,
    pair_correlations,
    same_different,
)
from encoders.statistics import make_statistic, simulator_for, split_label


def test_specs_and_labels():
    assert split_label("squeezenet:fire5") == ("squeezenet:fire5", "squeezenet:fire5")
    assert split_label("z16=dcign:runs/a.pt") == ("z16", "dcign:runs/a.pt")
    with pytest.raises(ValueError, match="LABEL=SPEC"):
        split_label("=pixels")
    assert isinstance(make_statistic("pixels"), PixelStatistic)
    assert isinstance(make_statistic("dcign"), DCIGNStatistic)
    assert make_statistic("squeezenet").name == "squeezenet:fire5"
    with pytest.raises(ValueError, match="expected pixels, dcign"):
        make_statistic("alexnet:fc7")
    with pytest.raises(ValueError, match="trained on 64-pixel renders, expected 32"):
        make_statistic("dcign", image_size=32)
    with pytest.raises(FileNotFoundError, match="checkpoint: no such file"):
        make_statistic("dcign:/no/such.pt")


def test_pixel_statistic_is_the_flattened_image():
    images = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    out = PixelStatistic(8)(images)
    assert out.shape == (2, 64) and out.dtype == np.float64
    np.testing.assert_array_equal(out[1], images[1].ravel())
    with pytest.raises(ValueError, match=r"expected shape \(N, 8, 8\)"):
        PixelStatistic(8)(images[0])


def test_pair_correlation_is_scale_free_pearson():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 30))
    np.testing.assert_allclose(pair_correlations(a, 3 * a + 2), 1.0)
    np.testing.assert_allclose(pair_correlations(a, -a), -1.0)
    b = rng.standard_normal((5, 30))
    np.testing.assert_allclose(pair_correlations(a, b), [np.corrcoef(x, y)[0, 1] for x, y in zip(a, b, strict=True)])
    assert pair_correlations(np.ones((1, 4)), a[:1, :4])[0] == 0.0


def test_best_threshold_known_answer():
    r = np.array([0.9, 0.8, 0.3, 0.1, 0.2, 0.85])
    same = np.array([True, True, True, False, False, False])
    accuracy, threshold = best_threshold(r, same)
    # cuts between 0.2 | 0.3 and 0.3 | 0.8 both classify 5 of 6 pairs correctly: the lowest wins
    assert accuracy == pytest.approx(5 / 6) and threshold == pytest.approx(0.25)
    separable = np.array([0.9, 0.8, 0.1, 0.2])
    assert best_threshold(separable, np.array([True, True, False, False])) == (1.0, pytest.approx(0.5))
    assert best_threshold(separable, np.ones(4, bool)) == (1.0, -1.0)
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2 == 0
    noisy = np.where(labels, 0.6, 0.1) + 0.05 * rng.standard_normal(40)
    assert cross_validated_accuracy(noisy, labels) == 1.0
    assert 0.3 < cross_validated_accuracy(rng.random(40), labels) < 0.7  # no signal: chance, within ±0.2


def test_face_pairs_are_half_same_and_even():
    sim = Simulator(settings=RenderSettings(image_size=32))
    a, b, same = face_pairs(sim, 8, seed=3)
    assert a.shape == b.shape == (8, 32, 32) and same.sum() == 4
    with pytest.raises(ValueError, match="even number"):
        face_pairs(sim, 7)
    with pytest.raises(ValueError, match="vary: expected some of"):
        face_pairs(sim, 4, vary=("hair",))
    # nothing varies: a same pair is one image twice, a different pair two identities in one scene
    a, b, same = face_pairs(sim, 8, seed=3, vary=())
    np.testing.assert_array_equal(a[same], b[same])
    assert all(np.abs(a[i] - b[i]).max() > 0 for i in np.flatnonzero(~same))
    # light only: same pairs keep their silhouette (pose and camera shared), only the shading changes
    a, b, same = face_pairs(sim, 8, seed=3, vary=("light",))
    np.testing.assert_array_equal(a[same] > 0, b[same] > 0)


def test_same_different_with_an_identity_oracle():
    same = np.array([True, False] * 8)
    rng = np.random.default_rng(4)
    ids = rng.standard_normal((16, 10))
    other = np.where(same[:, None], ids, rng.standard_normal((16, 10)))
    lookup = {}

    def oracle(images):  # the 'images' are row indices standing for renders
        return np.array([lookup[int(i)] for i in images[:, 0, 0]])

    for i in range(16):
        lookup[i], lookup[100 + i] = ids[i] + 0.1 * rng.standard_normal(10), other[i]
    index_a = np.arange(16)[:, None, None] * np.ones((1, 2, 2))
    result = same_different(oracle, index_a, index_a + 100, same)
    assert result["accuracy"] == 1.0
    assert result["mean_r_same"] > 0.9 > result["mean_r_different"]


def test_vitae_codes_are_statistics_whole_or_by_group(tmp_path):
    import torch

    from encoders.train import TrainConfig, train

    faces = tmp_path / "faces.pt"
    train(TrainConfig(model="c-vitae", image_size=16, channels=(4, 4), latent_dim=3, perspective_dim=2,
                      batch_size=4, steps=1, n_shape=3, n_albedo=2), faces, progress=False)
    images = np.random.default_rng(0).uniform(size=(5, 16, 16)).astype(np.float32)
    both = make_statistic(f"vitae:{faces}", image_size=16)
    with torch.inference_mode():
        expected = both.model.encode(torch.from_numpy(images)[:, None])[0].numpy()
    np.testing.assert_allclose(both(images), expected, rtol=1e-6)
    perspective = make_statistic(f"vitae:{faces}:perspective", image_size=16)
    appearance = make_statistic(f"vitae:{faces}:appearance", image_size=16)
    assert (perspective.dim, appearance.dim, both.dim) == (2, 3, 5)
    np.testing.assert_allclose(np.hstack([perspective(images), appearance(images)]), both(images), rtol=1e-6)
    assert simulator_for(both).settings.image_size == 16  # rebuilt from the checkpoint's record
    sprites = tmp_path / "sprites.pt"
    train(TrainConfig(model="u-vitae", data="dsprites", channels=(4, 4, 4), latent_dim=2, perspective_dim=1,
                      batch_size=2, steps=1), sprites, progress=False)
    with pytest.raises(ValueError, match="trained on dSprites"):
        make_statistic(f"vitae:{sprites}")
    with pytest.raises(ValueError, match="not an abc-inverse VITAE checkpoint"):
        make_statistic("vitae:" + str(Path(DEFAULT_CHECKPOINT)))


def test_graphics_codes_are_z1_to_z3_only_where_the_network_was_taught_them(tmp_path):
    """The shipped network (specific-transformation procedure) codes azimuth, elevation and light in z1–z3, as
    encoders.batches.LATENT_OF says; the random-mode network and a part of a code have no such columns."""
    from encoders.batches import LATENT_OF
    from encoders.dcign import GRAPHICS_CODES

    assert slice(min(LATENT_OF.values()), max(LATENT_OF.values()) + 1) == GRAPHICS_CODES
    shipped = DCIGNStatistic.from_checkpoint()
    assert shipped.graphics_codes == slice(0, 3)
    random_mode = DCIGNStatistic.from_checkpoint(Path(DEFAULT_CHECKPOINT).with_name("dcign_random.pt"))
    assert random_mode.graphics_codes is None  # its record predates the mode field
    for config, codes in [({"mode": "random"}, None), ({"mode": "specific"}, slice(0, 3)),
                          ({"mode": "random", "teacher": "t.pt"}, None)]:  # a student: its teacher's codes unknown
        assert DCIGNStatistic(shipped.model, CheckpointMeta(train={"config": config})).graphics_codes == codes
    for taught, codes in (("specific", slice(0, 3)), ("random", None)):  # a student whose record says how
        record = {"config": {"mode": "random", "teacher": "t.pt"}, "teacher": {"path": "t.pt", "mode": taught}}
        assert DCIGNStatistic(shipped.model, CheckpointMeta(train=record)).graphics_codes == codes
    assert DCIGNStatistic(shipped.model, shipped.meta, codes=slice(0, 2)).graphics_codes is None
    assert not hasattr(PixelStatistic(16), "graphics_codes")
