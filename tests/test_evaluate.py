"""Encoder evaluation: invariance and equivariance measures against known answers, and the CLI end to end."""

import json

import numpy as np
import pytest

from abc_inverse.cli import main
from abc_inverse.render.simulator import RenderSettings, Simulator
from encoders.evaluate import SWEEPS, invariance, r_interval, sweep_abs_r, sweep_scenes


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
    for e in metrics["equivariance"].values():
        low, high = e["abs_r_interval"]
        assert low <= abs(e["r"]) + 1e-12 and abs(e["r"]) <= high + 1e-12
    with np.load(out / "sweep_codes.npz") as codes:  # what experiments/intervals.py encoders pairs networks by
        assert int(codes["faces"]) == 3
        for name, values in SWEEPS.items():
            assert codes[name].shape == (3, len(values)) and np.allclose(codes[f"{name}_values"], values)
            assert np.isclose(sweep_abs_r(values, codes[name]), abs(metrics["equivariance"][name]["r"]))
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


def test_r_interval_known_answers_and_pairing():
    """A code linear in the angle has |r| = 1 on every resample; a network against itself differs by exactly 0.
    Codes z = v + u_face + e have the pooled r c = sd(v) / sqrt(var(v) + var(u) + var(e)); the interval over 300
    faces holds it, and is about half as wide over 1200 (bootstrap width ∝ 1/sqrt(faces)). Two networks on the same
    faces, the second's slope 2 % steeper, are told apart only when paired: each one's interval overlaps the other's,
    the paired difference's lies above 0."""
    values = np.linspace(-1.0, 1.0, 11)
    exact = np.tile(3.0 * values - 1.0, (5, 1))
    assert r_interval(values, exact) == pytest.approx((1.0, 1.0))
    assert r_interval(values, exact, exact) == (0.0, 0.0)
    rng = np.random.default_rng(0)
    sd_u, sd_e = 0.3, 0.2
    truth = np.sqrt(np.var(values) / (np.var(values) + sd_u ** 2 + sd_e ** 2))
    widths = []
    for faces in (300, 1200):
        u = rng.normal(0, sd_u, (faces, 1))
        z = values + u + rng.normal(0, sd_e, (faces, len(values)))
        low, high = r_interval(values, z)
        assert low < truth < high
        widths.append(high - low)
    assert widths[1] == pytest.approx(widths[0] / 2, rel=0.3)
    faces = 300
    u = rng.normal(0, sd_u, (faces, 1))
    e = rng.normal(0, sd_e, (faces, len(values)))
    z, steeper = values + u + e, 1.02 * values + u + e
    a, b = r_interval(values, z), r_interval(values, steeper)
    assert b[0] < a[1]  # unpaired, the intervals overlap
    low, high = r_interval(values, steeper, z)
    assert 0 < low < sweep_abs_r(values, steeper) - sweep_abs_r(values, z) < high
    with pytest.raises(ValueError, match="z: expected"):
        r_interval(values, z[:, :5])
    with pytest.raises(ValueError, match="z_reference"):
        r_interval(values, z, z[:10])
