"""experiments/real_photos.py: a reference is compared with a fit only where both describe the same face."""

import numpy as np
import pytest

from experiments.real_photos import on_fitted_face


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
    from experiments.intervals import abs_deltas

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
    from experiments.real_photos import write_rows

    write_rows(tmp_path / "per_photo.csv", [{"photo": "a.png", "status": "error"},
                                            {"photo": "b.png", "status": "ok", "fit_azimuth": 1.5}])
    assert (tmp_path / "per_photo.csv").read_text().splitlines() == ["photo,status,fit_azimuth", "a.png,error,",
                                                                     "b.png,ok,1.5"]
