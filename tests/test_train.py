"""Training runs: exact resume, start from another network, clear errors for checkpoints that do not fit."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from abc_inverse.cli import main
from encoders.dcign import DCIGN, load_checkpoint, read_checkpoint
from encoders.train import CHECKPOINTS, TrainConfig, resume_config, train
from encoders.vitae import VITAE

TINY = dict(batch_size=4, image_size=16, latent_dim=6, channels=(4, 8), n_shape=3, n_albedo=2, mode="specific",
            clamp="mean", invariance=0.01, shape_bias=1.0, seed=3)


def _weights(path):
    return load_checkpoint(path)[0].state_dict()


def test_resume_equals_an_uninterrupted_run(tmp_path):
    whole = tmp_path / "whole.pt"
    train(TrainConfig(steps=6, checkpoint_every=6, **TINY), whole, progress=False)
    part = tmp_path / "part.pt"
    train(TrainConfig(steps=3, checkpoint_every=3, **TINY), part, progress=False)  # "interrupted" after step 3
    config = resume_config(part, {"steps": 6})
    record = train(config, part, command="resume", progress=False, resume=part)
    assert record["steps_done"] == 6 and record["resumed"] == [{"command": "resume", "from_step": 3}]
    a, b = _weights(whole), _weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)
    whole_record = json.loads((tmp_path / "whole.pt.json").read_text())
    assert record["final_train_elbo"] == whole_record["final_train_elbo"]
    assert record["heldout"] == whole_record["heldout"]


def test_resume_rejects_changes_that_alter_the_run(tmp_path):
    part = tmp_path / "part.pt"
    train(TrainConfig(steps=2, checkpoint_every=2, **TINY), part, progress=False)
    with pytest.raises(ValueError, match=r"only steps, checkpoint_every may change, got lr=0.1 \(checkpoint: 0.0005\)"):
        resume_config(part, {"lr": 0.1, "steps": 4})
    with pytest.raises(ValueError, match="beyond the requested 1"):
        train(resume_config(part, {"steps": 1}), part, progress=False, resume=part)


def test_cli_resume_and_init(tmp_path, capsys):
    base = ["--batch-size", "4", "--image-size", "16", "--latent-dim", "6", "--channels", "4,8", "--n-shape", "3",
            "--n-albedo", "2"]
    first = tmp_path / "random.pt"
    assert main(["train", "--out", str(first), "--steps", "2", *base]) == 0
    assert main(["train", "--resume", str(first), "--steps", "3"]) == 0
    assert json.loads((tmp_path / "random.pt.json").read_text())["steps_done"] == 3
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(first), "--steps", "4", "--mode", "specific"])
    assert "only steps, checkpoint_every may change, got mode='specific'" in capsys.readouterr().err
    spec = tmp_path / "specific.pt"
    assert main(["train", "--out", str(spec), "--init", str(first), "--steps", "1", "--mode", "specific", *base]) == 0
    assert json.loads((tmp_path / "specific.pt.json").read_text())["init"]["path"] == str(first)
    assert main(["train", "--resume", str(spec), "--steps", "2"]) == 0  # a resume keeps the record of --init
    record = json.loads((tmp_path / "specific.pt.json").read_text())
    assert record["init"]["path"] == str(first) and record["steps_done"] == 2
    with pytest.raises(SystemExit):  # a 7-latent run cannot start from a 6-latent network
        main(["train", "--out", str(spec), "--init", str(first), "--steps", "1", *base[:4], "--latent-dim", "7",
              *base[6:]])
    err = capsys.readouterr().err
    assert "init:" in err and "has architecture" in err
    with pytest.raises(SystemExit):
        main(["train", "--steps", "1"])
    assert "--out: a checkpoint path is required" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(first.read_bytes()[:100])
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(corrupt)])
    assert "not a readable torch checkpoint" in capsys.readouterr().err


def test_curriculum_widens_the_varied_angle_from_a_tenth_to_the_prior_range():
    from abc_inverse.model.scene import ScenePrior
    from encoders.batches import transformation_scenes
    from encoders.train import CURRICULUM_START, curriculum_spread

    config = TrainConfig(mode="specific", curriculum=100)
    assert curriculum_spread(config, 1) == pytest.approx(CURRICULUM_START)
    assert curriculum_spread(config, 51) == pytest.approx(CURRICULUM_START + (1 - CURRICULUM_START) / 2)
    assert curriculum_spread(config, 101) == curriculum_spread(config, 5000) == 1.0
    assert curriculum_spread(TrainConfig(mode="specific"), 1) == 1.0
    prior, rng = ScenePrior(3, 2), np.random.default_rng(0)
    narrow = transformation_scenes(prior, rng, "elevation", 2000, spread=0.1)
    assert np.abs(narrow.elevation).max() <= 0.1 * np.pi / 2 and np.abs(narrow.elevation).max() > 0.09 * np.pi / 2
    assert np.ptp(narrow.azimuth) == 0  # the other angles stay shared
    full = transformation_scenes(prior, rng, "light", 2000)
    assert np.abs(full.light_azimuth).max() > 0.95 * np.pi / 2
    with pytest.raises(ValueError, match="spread: expected a number in"):
        transformation_scenes(prior, rng, "azimuth", 4, spread=0.0)
    with pytest.raises(ValueError, match="curriculum: expected an integer ≥ 0"):
        TrainConfig(curriculum=-1)


def test_mirror_penalty_matches_hand_computation_and_skips_other_batches():
    from encoders.batches import active_latents
    from encoders.dcign import DCIGN, DCIGNConfig
    from encoders.losses import mirror_penalty

    torch.manual_seed(0)
    model = DCIGN(DCIGNConfig(image_size=16, latent_dim=5, channels=(4, 8)))
    x = torch.rand(3, 1, 16, 16)
    mu = model.encode(x)[0]
    mu_flip = model.encode(x.flip(3))[0]
    for kind, k in (("azimuth", 0), ("light", 2)):
        got = mirror_penalty(model, x, mu, torch.from_numpy(active_latents(kind, 5)))
        torch.testing.assert_close(got, ((mu_flip[:, k] + mu[:, k]) ** 2).mean())
    got = mirror_penalty(model, x, mu, torch.from_numpy(active_latents("elevation", 5)))
    torch.testing.assert_close(got, ((mu_flip[:, 1] - mu[:, 1]) ** 2).mean())  # z2 should not change
    assert mirror_penalty(model, x, mu, torch.from_numpy(active_latents("intrinsic", 5))).item() == 0.0
    # a left-right symmetric image: the term is (2 μ_k)², zero only for μ_k = 0
    sym = (x + x.flip(3)) / 2
    mu_sym = model.encode(sym)[0]
    torch.testing.assert_close(mirror_penalty(model, sym, mu_sym, torch.from_numpy(active_latents("azimuth", 5))),
                               (4 * mu_sym[:, 0] ** 2).mean())
    with pytest.raises(ValueError, match="mirror"):
        TrainConfig(mirror=-1.0)


def test_slowness_penalty_matches_hand_computation_and_prefers_monotone_codes():
    from encoders.batches import active_latents
    from encoders.losses import slowness_penalty

    mu = torch.tensor([[0.0, 3.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    order = torch.tensor([3, 1, 2, 0])  # sorted frames: codes 0, 1, 2, 3
    active = torch.from_numpy(active_latents("elevation", 4))
    # steps 1, 1, 1 → mean 1; population variance of (0, 1, 2, 3) = 1.25
    torch.testing.assert_close(slowness_penalty(mu, active, order), torch.tensor(1 / 2.5), atol=1e-5, rtol=0)
    assert slowness_penalty(mu, active, None).item() == 0.0  # intrinsic and random-mode batches
    # the same codes in another frame order: steps 2, 1, 1 (codes 0, 2, 1, 3 → |2|,|1|,|2|) cost more
    assert slowness_penalty(mu, active, torch.tensor([3, 2, 1, 0])) > slowness_penalty(mu, active, order)
    # uniform angles: linear code ≈ 12/((N+1)(N+2)), folded |angle| ≈ 4×, scale-free
    angle = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, 400))
    order = torch.argsort(angle)
    active = torch.from_numpy(active_latents("azimuth", 4))
    codes = {name: torch.zeros(400, 4, dtype=torch.float64) for name in ("linear", "folded")}
    codes["linear"][:, 0], codes["folded"][:, 0] = angle, angle.abs()
    linear = slowness_penalty(codes["linear"], active, order).item()
    assert abs(linear - 12 / (401 * 402)) < 0.2 * 12 / (401 * 402)
    assert 3 < slowness_penalty(codes["folded"], active, order).item() / linear < 5
    assert slowness_penalty(100 * codes["linear"], active, order).item() == pytest.approx(linear, rel=1e-5)
    with pytest.raises(ValueError, match="slowness"):
        TrainConfig(slowness=-1.0)


def test_camera_penalty_matches_hand_computation_and_draw_batch_renders_moved_cameras():
    from abc_inverse.model.morphable import load_model
    from abc_inverse.render.simulator import RenderSettings, Simulator
    from encoders.batches import active_latents
    from encoders.dcign import DCIGN, DCIGNConfig
    from encoders.losses import camera_penalty
    from encoders.train import draw_batch

    torch.manual_seed(0)
    model = DCIGN(DCIGNConfig(image_size=16, latent_dim=5, channels=(4, 8)))
    x, x_camera = torch.rand(6, 1, 16, 16), torch.rand(6, 1, 16, 16)
    mu, moved = model.encode(x)[0], model.encode(x_camera)[0]
    active = torch.from_numpy(active_latents("light", 5))
    want = ((moved[:, 2] - mu[:, 2]) ** 2).mean() / (2 * mu[:, 2].var(unbiased=False) + 1e-6)
    torch.testing.assert_close(camera_penalty(model, x_camera, mu, active), want)
    assert camera_penalty(model, x, mu, active).item() == 0.0  # the camera did not move the code
    assert camera_penalty(model, None, mu, active).item() == 0.0
    assert camera_penalty(model, x_camera, mu, torch.from_numpy(active_latents("elevation", 5))).item() == 0.0

    simulator = Simulator(load_model(4, 3), RenderSettings(image_size=16))
    config = TrainConfig(mode="specific", shape_bias=0.0, batch_size=4, camera_invariance=1.0)
    for seed in range(6):  # azimuth and light batches get the moved cameras, elevation batches not
        batch = draw_batch(simulator, np.random.default_rng(seed), config)
        plain = draw_batch(simulator, np.random.default_rng(seed),
                           TrainConfig(mode="specific", shape_bias=0.0, batch_size=4))
        assert plain.x_camera is None and torch.equal(plain.x, batch.x)
        if batch.active[1]:
            assert batch.x_camera is None
        else:
            assert batch.x_camera.shape == batch.x.shape and not torch.equal(batch.x_camera, batch.x)
    with pytest.raises(ValueError, match="camera_invariance"):
        TrainConfig(camera_invariance=-1.0)


def test_invariance_term_pulls_the_encoder_means_of_clamped_latents_together():
    """§3.2.1 through the whole forward pass: the invariance term's gradient with respect to μ is z − batch mean
    on the latents the batch clamps (dz/dμ = 1) and 0 on the one it trains."""
    from encoders.batches import Batch, active_latents
    from encoders.dcign import DCIGN, DCIGNConfig
    from encoders.losses import TERMS, forward_pass

    torch.manual_seed(0)
    model = DCIGN(DCIGNConfig(image_size=16, latent_dim=5, channels=(4, 8)))
    active = torch.from_numpy(active_latents("azimuth", 5))
    f = forward_pass(model, Batch(torch.rand(6, 1, 16, 16), active), torch.Generator().manual_seed(0), "mean")
    (grad,) = torch.autograd.grad(TERMS["invariance"].fn(f, TrainConfig(invariance=1.0)), f.mu)
    want = (f.z - f.z.mean(0)).detach()
    torch.testing.assert_close(grad[:, 1:], want[:, 1:])
    assert torch.equal(grad[:, 0], torch.zeros(6))


@pytest.mark.parametrize("model", ["vae", "c-vitae"])
def test_other_networks_train_on_dsprites_through_the_same_core_and_resume_exactly(tmp_path, model):
    config = TrainConfig(model=model, data="dsprites", batch_size=4, latent_dim=3, perspective_dim=2,
                         channels=(4, 4, 4), steps=4, checkpoint_every=4, seed=1)
    whole = tmp_path / "whole.pt"
    record = train(config, whole, progress=False)
    assert record["config"]["model"] == model and record["simulator"] == {}  # no renderer behind dSprites
    network, meta, _ = read_checkpoint(whole, CHECKPOINTS)
    assert isinstance(network, VITAE if model == "c-vitae" else DCIGN) and network.config == config.network()
    part = tmp_path / "part.pt"
    train(replace(config, steps=2, checkpoint_every=2), part, progress=False)
    train(resume_config(part, {"steps": 4}), part, command="resume", progress=False, resume=part)
    a, b = network.state_dict(), read_checkpoint(part, CHECKPOINTS)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="has architecture"):  # a VAE's weights do not start a VITAE, nor back
        train(replace(config, model="u-vitae" if model == "vae" else "vae"), tmp_path / "x.pt", progress=False,
              init=whole)


@pytest.mark.parametrize("changes, match", [
    ({"model": "vae", "mode": "specific"}, "mode: model 'vae' trains on random batches only"),
    ({"model": "vae", "kl_weight": 4.0}, "kl_weight: a plain VAE has KL weight 1"),
    ({"model": "beta-vae"}, "kl_weight: a β-VAE needs a KL weight β > 1"),
    ({"data": "dsprites", "image_size": 32}, "data: dsprites are 64-pixel images"),
    ({"model": "gan"}, "model: expected one of"),
])
def test_impossible_network_settings_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes)
