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
    with pytest.raises(ValueError, match="image: no face detected in the 60×40 image"):
        prepare_observation(np.zeros((40, 60)), "auto", 64)
    blank, record = prepare_observation(np.zeros((40, 60)), None, 64)  # --crop none: fitted, but said
    assert blank.shape == (64, 64) and record == {"crop": "none", "face_box": None, "frame": [10, 0, 40, 40]}


def test_detects_faces_in_small_renders():
    from abc_inverse.render.simulator import Simulator

    simulator = Simulator()
    x, y, w, h = detect_face(simulator(simulator.prior.at_angles(0.0, 0.0, 45.0, 1))[0])  # found: enlarged first
    assert 26 < x + w / 2 < 38 and 22 < y + h / 2 < 38 and 40 <= w <= 56, (x, y, w, h)


def test_transparency_is_composited_over_white_or_refused(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "half.png")
    img = read_image(tmp_path / "half.png")
    np.testing.assert_allclose(img[:2], np.broadcast_to([200 / 255, 0, 0], (2, 6, 3)), atol=1e-6)
    np.testing.assert_allclose(img[2:], 1.0)  # white, not black
    la = np.zeros((3, 3, 2), np.uint8)
    la[..., 1] = 128
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(read_image(tmp_path / "la.png"), 1 - 128 / 255, atol=1e-6)  # black at half opacity
    Image.fromarray(np.zeros((64, 64, 4), np.uint8), "RGBA").save(tmp_path / "clear.png")
    with pytest.raises(ValueError, match="every pixel of .* is fully transparent"):
        read_image(tmp_path / "clear.png")


def test_save_png_is_atomic_and_round_trips(tmp_path):
    img = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    save_png(tmp_path / "x.png", img)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    np.testing.assert_allclose(read_image(tmp_path / "x.png"), img, atol=1 / 255)
