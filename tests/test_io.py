import numpy as np
import pytest
from PIL import Image

from abc_inverse.io import crop_resize, detect_face, parse_crop, prepare_observation, read_image, save_png, to_grey


def test_read_formats(tmp_path, rng):
    rgb = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(rgb).save(tmp_path / "c.jpg")
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 255, np.uint8)])).save(tmp_path / "a.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g.png")
    np.testing.assert_allclose(read_image(tmp_path / "c.png"), rgb / 255, atol=1e-6)
    assert read_image(tmp_path / "c.jpg").shape == (20, 30, 3)
    np.testing.assert_allclose(read_image(tmp_path / "a.png"), rgb / 255, atol=1e-6)
    g = read_image(tmp_path / "g.png")
    assert g.shape == (20, 30) and g.dtype == np.float32


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image: no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(ValueError, match="image: cannot read"):
        read_image(tmp_path / "t.png")


def test_to_grey():
    np.testing.assert_allclose(to_grey(np.ones((2, 2, 3)) * [1, 0, 0]), np.full((2, 2), 0.21), atol=1e-6)
    with pytest.raises(ValueError, match=r"expected \(H, W\) grey or \(H, W, 3\) RGB, got shape \(2, 2, 4\)"):
        to_grey(np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="intensities"):
        to_grey(np.full((2, 2), np.nan))


def test_crop_resize_pads_outside():
    img = np.ones((10, 10), np.float32)
    out = crop_resize(img, (-5, 0, 10, 10), 10)
    assert out.shape == (10, 10)
    np.testing.assert_allclose(out[:, :5], 0)
    np.testing.assert_allclose(out[:, 5:], 1)
    with pytest.raises(ValueError, match="outside"):
        crop_resize(img, (20, 20, 5, 5), 8)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "0,0,0,5", "full"])
def test_parse_crop_errors(text):
    with pytest.raises(ValueError, match="--crop"):
        parse_crop(text)


def test_parse_crop():
    assert parse_crop("none") is None and parse_crop("auto") == "auto" and parse_crop("1,2,3,4") == (1, 2, 3, 4)


def test_detects_the_astronaut_face():
    from skimage import data

    grey = to_grey(data.astronaut() / 255.0)
    x, y, w, h = detect_face(grey)
    assert 150 < x + w / 2 < 260 and 50 < y + h / 2 < 160  # her face, not the flag or the helmet
    obs, record = prepare_observation(data.astronaut() / 255.0, "auto", 64)
    assert obs.shape == (64, 64) and record["face_box"] == [x, y, w, h]
    blank, record = prepare_observation(np.zeros((40, 60)), "auto", 64)
    assert record["frame"].startswith("central square")


def test_save_png_is_atomic_and_round_trips(tmp_path):
    img = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    save_png(tmp_path / "x.png", img)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    np.testing.assert_allclose(read_image(tmp_path / "x.png"), img, atol=1 / 255)
