"""The real-photo experiments: a reference is compared with a fit only where both describe the same face
(real_photos.py); a statistic's pose reading under reframing (code_transfer.py); the reference's repeatability
(reference_repeatability.py)."""

import numpy as np
import pytest

from abc_inverse.io import crop_resize
from experiments.code_transfer import REFRAMINGS, framing_change, photos_with_reference, reframed
from experiments.intervals import abs_deltas
from experiments.real_photos import on_fitted_face, write_rows
from experiments.reference_repeatability import differences


def landmarks_around(cx: float, cy: float) -> np.ndarray:
    """(468, 3) points in pixels scattered ±20 px around (cx, cy)."""
    rng = np.random.default_rng(0)
    return np.column_stack([cx + rng.uniform(-20, 20, 468), cy + rng.uniform(-20, 20, 468), rng.normal(size=468)])


def test_reference_on_the_fitted_face_or_another():
    fitted = {"framing": {"crop": "auto", "face_box": [100, 50, 80, 80], "frame": [90, 45, 100, 100]}}
    assert on_fitted_face(landmarks_around(140, 90), fitted)  # the fit's face box holds the landmarks' centre
    assert not on_fitted_face(landmarks_around(260, 90), fitted)  # a neighbour in a group photo's crop
    assert not on_fitted_face(landmarks_around(140, 140), fitted)  # below the box
    unframed = {"framing": {"crop": "none", "face_box": None}}
    assert on_fitted_face(landmarks_around(260, 90), unframed)  # nothing to check against: kept


def write_per_photo(folder, rows):
    folder.mkdir()
    header = "photo,status,reference_found,reference_on_fitted_face,fit_azimuth,reference_azimuth,fit_elevation," \
             "reference_elevation\n"
    (folder / "per_photo.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))


def test_a_version_joins_its_photo_sets(tmp_path):
    write_per_photo(tmp_path / "main", [("a.png", "ok", True, True, 10, 4, -5, -10),
                                        ("b.png", "error", True, False, "", "", "", "")])
    write_per_photo(tmp_path / "more", [("c.png", "ok", True, True, -3, 1, 2, 0),
                                        ("d.png", "ok", True, False, 7, "", 1, "")])  # reference on another face
    joined = abs_deltas(f"{tmp_path / 'main'}+{tmp_path / 'more'}")
    assert joined == {"a.png": {"azimuth": 6.0, "elevation": 5.0}, "c.png": {"azimuth": 4.0, "elevation": 2.0}}
    with pytest.raises(ValueError, match="share photos.*a.png"):
        abs_deltas(f"{tmp_path / 'main'}+{tmp_path / 'main'}")
    with pytest.raises(FileNotFoundError, match="per_photo.csv"):
        abs_deltas(str(tmp_path / "none"))


def test_per_photo_csv_keeps_every_column_when_the_first_fit_failed(tmp_path):
    write_rows(tmp_path / "per_photo.csv", [{"photo": "a.png", "status": "error"},
                                            {"photo": "b.png", "status": "ok", "fit_azimuth": 1.5}])
    assert (tmp_path / "per_photo.csv").read_text().splitlines() == ["photo,status,fit_azimuth", "a.png,error,",
                                                                     "b.png,ok,1.5"]


def test_reframed_moves_in_crop_pixels_and_scales_about_the_centre():
    assert reframed((100, 50, 64, 64), 1.0, 0.0, 2.0) == (100, 52, 64, 64)  # one source pixel per crop pixel
    assert reframed((100, 50, 128, 128), 1.0, 2.0, 0.0) == (104, 50, 128, 128)  # two per crop pixel
    assert reframed((100, 50, 64, 64), 0.5, 0.0, 0.0) == (116, 66, 32, 32)  # same centre, half the side


def test_framing_change_of_a_reader_of_position():
    """A 'pose' that is a bright square's position in the crop changes as the reframed crops move it."""
    grey = np.zeros((256, 256), np.float32)
    grey[140:148, 100:108] = 1.0  # centre (104, 144) in continuous source coordinates
    frame = (64, 64, 128, 128)

    def centroid(images):  # (N, 2) intensity-weighted (column, row) in crop pixels
        rows, cols = np.mgrid[:64, :64]
        mass = images.sum(axis=(1, 2))
        return np.c_[(images * cols).sum(axis=(1, 2)) / mass, (images * rows).sum(axis=(1, 2)) / mass]

    def where(box):  # the square's centre in the crop of box (x, y, side, side), pixel-index coordinates
        x, y, side, _ = box
        return np.array([(104 - x) * 64 / side - 0.5, (144 - y) * 64 / side - 0.5])

    crops = crop_resize(grey, frame, 64)[None]
    np.testing.assert_allclose(centroid(crops)[0], where(frame), atol=0.05)
    expected = np.median([abs(where(reframed(frame, *move)) - where(frame)) for move in REFRAMINGS], axis=0)
    np.testing.assert_allclose(framing_change(centroid, [(grey, frame)], crops), expected, atol=0.15)  # resampling
    assert expected[1] >= 1.0  # the test can fail: the moves shift the square by pixels
    assert np.all(framing_change(lambda images: np.zeros((len(images), 2)), [(grey, frame)], crops) == 0)


def test_photos_with_reference_needs_as_many_fit_folders(tmp_path):
    with pytest.raises(ValueError, match="--fits: expected 2 folders"):
        photos_with_reference(f"{tmp_path}/a+{tmp_path}/b", str(tmp_path / "fa"))


def test_repeatability_differences_undo_the_mirror():
    original = {"azimuth": 10.0, "elevation": -5.0}
    mirrored = {"azimuth": -9.0, "elevation": -4.0}
    assert differences(original, mirrored, (-1.0, 1.0)) == (-1.0, 1.0)
    assert differences(original, original, (1.0, 1.0)) == (0.0, 0.0)
