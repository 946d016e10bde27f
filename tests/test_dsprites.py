"""The dSprites generator (encoders/dsprites.py): the original factor grid, its order, and sprites that sit where
their factors say."""

import numpy as np
import pytest

from encoders.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    MARGIN,
    N_IMAGES,
    UNIT_RADIUS_PX,
    classes_of,
    factor_values,
    index_of,
    render,
    sample,
)


def test_the_grid_is_the_originals():
    assert N_IMAGES == 737_280 == 3 * 6 * 40 * 32 * 32
    assert FACTOR_NAMES == ("color", "shape", "scale", "orientation", "pos_x", "pos_y")
    values = factor_values()
    assert [len(values[name]) for name in FACTOR_NAMES] == list(FACTOR_SIZES)
    np.testing.assert_allclose(values["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert values["orientation"][0] == 0 and values["orientation"][-1] == pytest.approx(2 * np.pi)
    # position y varies fastest, then x, orientation, scale, shape
    np.testing.assert_array_equal(classes_of(np.array([0, 1, 32, 1024, 40960, 245760])),
                                  [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0],
                                   [0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0]])
    every = np.arange(N_IMAGES)
    np.testing.assert_array_equal(index_of(classes_of(every)), every)


def test_sprites_have_their_area_and_sit_where_their_position_says():
    square = render(np.array([[0, 0, 5, 0, x, 16] for x in range(32)]))
    side = 2 * UNIT_RADIUS_PX / np.sqrt(2)
    # a pixel counts when its centre is inside: the area errs by at most the perimeter's pixels
    assert abs(square[0].sum() - side**2) <= 4 * side
    columns = np.array([np.nonzero(im.any(0))[0].mean() for im in square])
    step = IMAGE_SIZE * (1 - 2 * MARGIN) / 31
    np.testing.assert_allclose(np.diff(columns), step, atol=1.0)  # one position step, up to a pixel's rounding
    assert columns[0] == pytest.approx(IMAGE_SIZE * MARGIN - 0.5, abs=1.0)
    ellipse = render(np.array([[0, 1, 5, 0, 16, 16]]))[0]
    assert abs(ellipse.sum() - np.pi * UNIT_RADIUS_PX * UNIT_RADIUS_PX / 2) <= 2 * np.pi * UNIT_RADIUS_PX
    assert np.ptp(np.nonzero(ellipse.any(0))[0]) > 1.8 * np.ptp(np.nonzero(ellipse.any(1))[0])  # wide, not tall


def test_orientation_and_scale_change_the_sprite_as_they_should():
    heart = render(np.array([[0, 2, 5, k, 16, 16] for k in (0, 10, 20, 39)]))
    assert np.array_equal(heart[0], heart[3])  # 0 and 2π are one orientation, as in the original
    assert not np.array_equal(heart[0], heart[2])  # the heart has no half-turn symmetry
    # orientation 20 of 39 steps is 184.6°: nearly the half turn, which flips both axes (about a centre half a
    # position step from the image centre)
    turned = heart[0][::-1, ::-1]
    overlap = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert overlap(heart[2], turned) > 0.7 > overlap(heart[0], turned)
    assert abs(int(heart[1].sum()) - int(heart[0].sum())) < 0.05 * heart[0].sum()  # turning keeps the area
    small, large = render(np.array([[0, 2, 0, 0, 16, 16], [0, 2, 5, 0, 16, 16]])).sum((1, 2))
    assert small / large == pytest.approx(0.25, rel=0.1)  # scale 0.5: a quarter of the area


def test_no_sprite_leaves_the_frame():
    corners = [[0, s, 5, k, x, y] for s in range(3) for k in range(0, 40, 3) for x in (0, 31) for y in (0, 31)]
    images = render(np.array(corners))
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    assert border.sum() == 0 and images.sum((1, 2)).min() > 50


def test_sample_is_seeded_and_binary():
    images, classes = sample(np.random.default_rng(0), 50)
    assert images.shape == (50, 64, 64) and images.dtype == np.uint8 and set(np.unique(images)) == {0, 1}
    np.testing.assert_array_equal(render(classes), images)
    np.testing.assert_array_equal(sample(np.random.default_rng(0), 50)[1], classes)


@pytest.mark.parametrize("call, match", [
    (lambda: classes_of(np.array([N_IMAGES])), r"indices: expected integers in \[0, 737280\)"),
    (lambda: index_of(np.zeros((2, 5))), r"classes: expected shape \(N, 6\)"),
    (lambda: render(np.array([[0, 3, 0, 0, 0, 0]])), "classes: expected each column below"),
    (lambda: sample(np.random.default_rng(0), -1), "n: expected an integer ≥ 0"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
