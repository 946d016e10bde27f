import csv
import json

import numpy as np
import pytest
from PIL import Image

import abc_inverse.photos as photos
from abc_inverse.cli import main
from abc_inverse.photos import folder_names, photo_list

FAST = ["--draws", "15", "--tune", "15", "--pilot", "8", "--chains", "4", "--explore-chains", "8", "--no-progress",
        "--proposal", "none"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two photos of a face, a file that is not an image and an image with no face, in one folder."""
    from skimage import data

    path = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.astronaut()).save(path / "left.png")
    Image.fromarray(data.astronaut()[:300, 100:400]).save(path / "right.png")
    (path / "broken.png").write_text("not an image")
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(path / "wall.jpg")
    (path / "notes.txt").write_text("not a photo: skipped")
    return path


def read_summary(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_folder_is_fitted_photo_by_photo_and_resumes(folder, tmp_path, capsys, monkeypatch):
    out = tmp_path / "batch"
    assert main(["fit", str(folder), "--out", str(out), *FAST]) == 0
    rows = {r["folder"]: r for r in read_summary(out / "summary.csv")}
    assert sorted(rows) == ["broken", "left", "right", "wall"]  # the .txt is not a photo
    assert rows["broken"]["status"] == "error" and "cannot read" in rows["broken"]["error"]
    assert rows["wall"]["status"] == "error" and "no face detected" in rows["wall"]["error"]
    for name in ("left", "right"):  # the bad photos did not stop the good ones
        row = rows[name]
        assert row["status"] == "ok" and row["error"] == "" and float(row["best_pixel_mse"]) >= 0
        assert float(row["azimuth_hdi_3%"]) <= float(row["azimuth_hdi_97%"])  # (a few draws: the mean may lie out)
        assert {"shape[0]_mean", "albedo[0]_sd", "camera[x]_r_hat", "elevation_ess_bulk"} <= set(row)
        assert (out / name / "posterior.nc").is_file() and (out / name / "result.json").is_file()
        assert json.loads((out / name / "config.json").read_text())["images"] == [str(folder / f"{name}.png")]
    assert not (out / "broken" / "result.json").exists()
    printed = capsys.readouterr().out
    assert "2 photos fitted, 2 failed" in printed and "broken.png: error: image: cannot read" in printed

    def broken_only(image, opts, *args):  # a second run fits only the photos that have no finished fit
        assert image.stem in ("broken", "wall"), f"{image} was fitted again"
        raise ValueError("still broken")

    monkeypatch.setattr(photos, "fit_photo", broken_only)
    assert main(["fit", str(folder / "left.png"), str(folder), "--out", str(out), *FAST]) == 0
    again = {r["folder"]: r for r in read_summary(out / "summary.csv")}
    assert again["left"] == rows["left"] and again["broken"]["error"] == "still broken"
    with pytest.raises(SystemExit):  # other settings: not mixed into the same folder
        main(["fit", str(folder), "--out", str(out), *FAST[:-2], "--draws", "16"])
    assert "holds fits made with other settings" in capsys.readouterr().err
    other = tmp_path / "other" / "left.png"  # another file under a fitted one's name is fitted, not reused
    other.parent.mkdir()
    other.write_bytes((folder / "right.png").read_bytes())
    refitted = []
    monkeypatch.setattr(photos, "fit_photo", lambda image, *args: refitted.append(image) or refit(image))
    main(["fit", str(other), str(folder / "right.png"), "--out", str(out), *FAST])
    assert refitted == [other]


def refit(image):
    raise ValueError("not fitted in this test")


def test_photo_list_and_folder_names(folder, tmp_path):
    assert [p.name for p in photo_list((folder,))] == ["broken.png", "left.png", "right.png", "wall.jpg"]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        photo_list((tmp_path / "missing.jpg",))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        photo_list((tmp_path / "empty",))
    (tmp_path / "a").mkdir()
    names = folder_names([tmp_path / "a" / "x.png", tmp_path / "x.jpg", tmp_path / "y.png"])
    assert names[2] == "y" and names[0] != names[1] and all(n.startswith("x-") for n in names[:2])
    assert folder_names([tmp_path / "a" / "x.png", tmp_path / "x.jpg"]) == names[:2]  # stable


def test_single_fit_of_an_image_without_a_face(tmp_path, capsys):
    blank = tmp_path / "black.png"
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(blank)
    with pytest.raises(SystemExit):
        main(["fit", str(blank), "--out", str(tmp_path / "o"), *FAST])
    assert "image: no face detected in the 1×1 image" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["fit", str(blank), "--crop", "none", "--out", str(tmp_path / "o"), *FAST]) == 0
    assert "warning: no face detected in the image: with --crop none" in capsys.readouterr().err
    clear = tmp_path / "clear.png"
    Image.fromarray(np.zeros((64, 64, 4), np.uint8), "RGBA").save(clear)
    with pytest.raises(SystemExit):
        main(["fit", str(clear), "--out", str(tmp_path / "c"), *FAST])
    assert "is fully transparent" in capsys.readouterr().err
