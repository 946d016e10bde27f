"""Encoder evaluation: invariance and equivariance measures against known answers, and the CLI end to end."""

import json

import numpy as np
import pytest

from abc_inverse.cli import main
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.evaluate import SWEEPS, invariance, sweep_scenes


def test_invariance_is_zero_for_constant_identity_and_known_for_a_rotation():
    faces, latent = 3, 6
    codes = {}
    for name, values in SWEEPS.items():
        z = np.ones((faces, len(values), latent))
        z[:, :, :3] = values[None, :, None]  # extrinsic latents may change freely
        codes[name] = z
    for c in invariance(codes).values():
        np.testing.assert_allclose(c["mean"], 0, atol=1e-12)
    # identity code rotated by the swept angle in one plane: cosine distance 1 - cos(angle)
    values = SWEEPS["light_azimuth"]
    z = np.zeros((faces, len(values), latent))
    z[:, :, 3], z[:, :, 4] = np.cos(values), np.sin(values)
    c = invariance({"light_azimuth": z})["light_azimuth"]
    np.testing.assert_allclose(c["mean"], 1 - np.cos(values), atol=1e-9)
    np.testing.assert_allclose(c["values_deg"], np.degrees(values))


def test_sweep_scenes_vary_one_angle_and_keep_the_rest_frontal():
    sim = Simulator(settings=RenderSettings(image_size=16))
    scenes = sweep_scenes(sim, 2, "elevation", np.array([-0.5, 0.0, 0.5]))
    assert scenes.n == 6
    np.testing.assert_allclose(scenes.elevation, [-0.5, 0, 0.5] * 2)
    assert not scenes.azimuth.any() and not scenes.light_azimuth.any()
    np.testing.assert_array_equal(scenes.shape[0], scenes.shape[2])
    assert not np.array_equal(scenes.shape[0], scenes.shape[3])
    with pytest.raises(ValueError, match="variable: expected one of"):
        sweep_scenes(sim, 2, "roll", np.zeros(1))


def test_evaluate_encoder_cli(tmp_path, capsys):
    ckpt = tmp_path / "tiny.pt"
    assert main(["train", "--out", str(ckpt), "--steps", "2", "--batch-size", "4", "--image-size", "16",
                 "--latent-dim", "6", "--channels", "4,8", "--n-shape", "3", "--n-albedo", "2"]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate-encoder", str(ckpt), "--out", str(out), "--faces", "3"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["equivariance"]) == set(SWEEPS)
    assert all(-1 <= e["r"] <= 1 for e in metrics["equivariance"].values())
    assert metrics["heldout"]["elbo"] < 0 and metrics["train"]["steps_done"] == 2
    for name in ("equivariance.png", "invariance.png", "decoder_sweeps.png", "report.md", "invariance.csv"):
        assert (out / name).stat().st_size > 0
    rows = (out / "invariance.csv").read_text().splitlines()
    assert len(rows) == 1 + sum(len(v) for v in SWEEPS.values())
    with pytest.raises(SystemExit):
        main(["evaluate-encoder", str(ckpt), "--out", str(out), "--faces", "1"])
    assert "--faces: expected an integer ≥ 2, got 1" in capsys.readouterr().err
    three = tmp_path / "three.pt"
    assert main(["train", "--out", str(three), "--steps", "1", "--batch-size", "2", "--image-size", "16",
                 "--latent-dim", "3", "--channels", "4,8", "--n-shape", "3", "--n-albedo", "2"]) == 0
    with pytest.raises(SystemExit):
        main(["evaluate-encoder", str(three), "--out", str(out)])
    assert "has 3 latents" in capsys.readouterr().err
