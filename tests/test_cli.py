import json

import arviz as az
import numpy as np
import pytest

from abc_inverse.cli import main
from abc_inverse.io import read_image

FAST = ["--draws", "15", "--tune", "15", "--pilot", "8", "--chains", "4", "--explore-chains", "8", "--no-progress"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "face.png"
    assert main(["render", "--azimuth", "20", "--elevation", "-10", "--light-azimuth", "45", "--seed", "1",
                 "--out", str(path)]) == 0
    return path


def test_render_writes_a_face(rendered):
    img = read_image(rendered)
    assert img.shape == (64, 64) and img.max() > 0.3 and img[0, 0] == 0


def test_fit_and_plot(rendered, tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["fit", str(rendered), "--crop", "none", "--out", str(out), "--seed", "3", *FAST]) == 0
    printed = capsys.readouterr()
    assert "azimuth" in printed.out and "the chains have not converged" in printed.err  # 15 draws cannot converge
    assert "proposal: q(θ | summary) shipped with the default network" in printed.out  # and says so
    assert "Hamiltonian moves: 5 leapfrog steps on the emulated ABC posterior" in printed.out
    idata = az.from_netcdf(str(out / "posterior.nc"))
    post = idata.posterior
    assert json.loads(post.attrs["proposal"])["command"].startswith("abc-inverse train-proposal")
    for name in ("azimuth", "elevation", "light_azimuth"):
        assert post[name].dims == ("chain", "draw") and post[name].shape == (4, 15)
    assert post["shape"].dims == ("chain", "draw", "shape_dim") and post["shape"].shape[2] == 20
    assert post["albedo"].dims == ("chain", "draw", "albedo_dim")
    assert np.all(np.abs(post["azimuth"].values) <= 86)
    for name in ("distance", "is_accepted", "pixel_mse"):
        assert idata.sample_stats[name].shape == (4, 15)
    assert json.loads(post.attrs["fit_config"])["seed"] == 3 and post.attrs["angle_units"] == "degrees"
    assert any(w.startswith("azimuth: split R-hat") for w in json.loads(post.attrs["convergence_warnings"]))
    assert isinstance(post.attrs["misfit_warning"], str)
    assert idata.observed_data["image"].shape == (64, 64)
    for png in ("trace.png", "pixel_error.png", "fit.png", "observed.png"):
        assert (out / png).stat().st_size > 1000
    csv = (out / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("variable,mean,sd") and csv[1].startswith("azimuth,")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "fit.png", "observed.png", "pixel_error.png",
                                                     "posterior.nc", "summary.csv", "trace.png"]  # no temp files
    (out / "fit.png").unlink()
    assert main(["plot", str(out / "posterior.nc")]) == 0
    assert (out / "fit.png").is_file()
    # same seed, same chains
    out2 = tmp_path / "fit2"
    main(["fit", str(rendered), "--crop", "none", "--out", str(out2), "--seed", "3", *FAST])
    again = az.from_netcdf(str(out2 / "posterior.nc")).posterior
    np.testing.assert_array_equal(again["azimuth"].values, post["azimuth"].values)


def test_fit_default_photo_with_face_detection(tmp_path):
    out = tmp_path / "astro"
    assert main(["fit", "--out", str(out), *FAST]) == 0
    attrs = az.from_netcdf(str(out / "posterior.nc")).posterior.attrs
    assert "astronaut" in attrs["image"] and json.loads(attrs["framing"])["face_box"] is not None


@pytest.mark.parametrize("argv, match", [
    (["fit", "MISSING.png"], "image: no such file"),
    (["fit", "--crop", "1,2"], "--crop: expected"),
    (["fit", "--chains", "0"], "--chains: expected an integer ≥ 1"),
    (["fit", "--epsilon", "nan"], "--epsilon: expected a number"),
    (["fit", "--epsilon", "-1"], "--epsilon: expected a number"),
    (["fit", "--tune", "0", "--image-noise", "0"], "epsilon: with tune = 0"),
    (["render", "--azimuth", "95", "--elevation", "0", "--light-azimuth", "0", "--out", "x.png"],
     r"--azimuth: expected degrees in \[-85.9\d*, 85.9\d*\]"),
    (["render", "--azimuth", "0", "--elevation", "0", "--light-azimuth", "0", "--size", "8", "--out", "x.png"],
     "image_size: expected an integer in 16..512"),
    (["render", "--azimuth", "0", "--elevation", "0", "--light-azimuth", "0", "--light-elevation", "30", "--out",
      "x.png"], "--light-elevation: needs --lighting rich, got --lighting directional"),
    (["render", "--azimuth", "0", "--elevation", "0", "--light-azimuth", "0", "--lighting", "rich",
      "--light-elevation", "70", "--out", "x.png"], r"--light-elevation: expected degrees in \[-60, 60\]"),
    (["plot", "MISSING.nc"], "posterior: no such file"),
    (["train", "--out", "x.pt", "--device", "gpu0"], "--device: expected a torch device"),
    (["train", "--out", "x.pt", "--device", "meta"], "--device: expected cpu or cuda"),
    (["train", "--out", "x.pt", "--device", "cuda:99"], "--device: 'cuda:99' asked for, but torch sees"),
])
def test_bad_input_gives_clear_errors(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert __import__("re").search(match, err), err
    assert "Traceback" not in err


def test_unreadable_image_and_corrupt_checkpoint(tmp_path, capsys, rendered):
    txt = tmp_path / "notes.png"
    txt.write_text("not an image")
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"\x00" * 100)
    for argv, match in ((["fit", str(txt)], "image: cannot read"),
                        (["fit", str(rendered), "--checkpoint", str(ckpt)], "not a readable torch checkpoint")):
        with pytest.raises(SystemExit):
            main([*argv, "--out", str(tmp_path / "o")])
        assert match in capsys.readouterr().err
    assert not (tmp_path / "o" / "posterior.nc").exists()


def test_train_writes_checkpoint_and_record_that_fit_uses(tmp_path, rendered):
    ckpt = tmp_path / "tiny.pt"
    argv = ["train", "--out", str(ckpt), "--steps", "3", "--checkpoint-every", "2", "--batch-size", "4",
            "--image-size", "16", "--latent-dim", "4", "--channels", "4,8", "--n-shape", "3", "--n-albedo", "2"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "tiny.pt.json").read_text())
    assert record["command"] == "abc-inverse " + " ".join(argv)
    assert record["steps_done"] == 3 and record["config"]["seed"] == 0 and record["wall_time_s"] >= 0
    assert np.isfinite(record["final_train_elbo"]) and record["simulator"]["image_size"] == 16
    out = tmp_path / "fit"
    assert main(["fit", str(rendered), "--crop", "none", "--checkpoint", str(ckpt), "--out", str(out), *FAST]) == 0
    post = az.from_netcdf(str(out / "posterior.nc")).posterior
    assert post["shape"].shape[2] == 3 and post["albedo"].shape[2] == 2
    assert az.from_netcdf(str(out / "posterior.nc")).observed_data["image"].shape == (16, 16)


def test_train_and_fit_with_rich_lighting(tmp_path, rendered):
    ckpt = tmp_path / "lit.pt"
    assert main(["train", "--out", str(ckpt), "--steps", "4", "--batch-size", "4", "--image-size", "16",
                 "--latent-dim", "6", "--channels", "4,8", "--mode", "specific", "--lighting", "rich"]) == 0
    assert json.loads((tmp_path / "lit.pt.json").read_text())["simulator"]["lighting"] == "rich"
    out = tmp_path / "fit"
    assert main(["fit", str(rendered), "--crop", "none", "--checkpoint", str(ckpt), "--out", str(out), *FAST]) == 0
    post = az.from_netcdf(str(out / "posterior.nc")).posterior
    assert post["light_elevation"].ndim == 2 and post["sh"].shape[2] == 8
    assert "light_elevation" in (out / "summary.csv").read_text()


def test_train_specific_mode(tmp_path):
    ckpt = tmp_path / "spec.pt"
    assert main(["train", "--out", str(ckpt), "--steps", "4", "--batch-size", "4", "--image-size", "16",
                 "--latent-dim", "6", "--channels", "4,8", "--mode", "specific", "--clamp", "mean",
                 "--invariance", "0.01", "--shape-bias", "1"]) == 0
    record = json.loads((tmp_path / "spec.pt.json").read_text())
    assert record["config"]["mode"] == "specific" and record["config"]["clamp"] == "mean"


def test_render_lit_from_above(tmp_path, rendered):
    out = tmp_path / "above.png"
    assert main(["render", "--azimuth", "20", "--elevation", "-10", "--light-azimuth", "45", "--seed", "1",
                 "--lighting", "rich", "--light-elevation", "40", "--out", str(out)]) == 0
    above, level = read_image(out), read_image(rendered)
    face = level > 0
    assert above.shape == level.shape and np.abs(above - level)[face].mean() > 0.02


def test_render_defaults_draw_what_the_shipped_network_was_trained_on():
    from abc_inverse.cli import RenderCommand
    from encoders.statistics import make_statistic, simulator_for

    shipped = simulator_for(make_statistic("dcign")).get_config()
    render = RenderCommand(azimuth=0.0, elevation=0.0, light_azimuth=0.0, out="x.png")
    assert (render.size, render.n_shape, render.n_albedo, render.supersample, render.features, render.lighting) == \
        tuple(shipped[k] for k in ("image_size", "n_shape", "n_albedo", "supersample", "features", "lighting"))


def test_fit_says_when_chains_never_moved(monkeypatch, capsys, rendered):
    # stuck chains (R-hat undefined) are not helped by more draws; fit's advice says what is
    angles = {n: {"mean": 90.0, "sd": 0.0, "r_hat": float("nan"), "ess_bulk": 16.0, "ess_tail": 16.0}
              for n in ("azimuth", "elevation", "light_azimuth")}
    result = {"photo": str(rendered), "framing": "none", "summary": angles, "misfit_warning": "",
              "convergence_warnings": ["azimuth: split R-hat undefined: 16 of 16 chains never moved"],
              "surrogate": "", "regression_adjustment": "off", "acceptance_rate": 0.0, "epsilon": 1.0,
              "best_pixel_mse": 0.1}
    monkeypatch.setattr("abc_inverse.photos.fit_photo", lambda *a, **k: result)
    assert main(["fit", str(rendered), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "16 of 16 chains never moved" in err and "more draws do not change" in err and "more --draws" not in err
