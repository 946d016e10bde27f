import numpy as np
import pytest
import torch

from encoders.dcign import (
    DCIGN,
    CheckpointMeta,
    DCIGNConfig,
    DCIGNStatistic,
    load_checkpoint,
    save_checkpoint,
    sgvb_loss,
)


@pytest.fixture
def small():
    torch.manual_seed(0)
    return DCIGN(DCIGNConfig(image_size=16, latent_dim=4, channels=(4, 8)))


def test_shapes(small):
    x = torch.rand(3, 1, 16, 16)
    logits, mu, logvar, z = small(x, torch.Generator().manual_seed(0))
    assert logits.shape == x.shape and mu.shape == logvar.shape == z.shape == (3, 4)


def test_kl_is_zero_at_prior_and_matches_formula():
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    x = torch.full((2, 1, 4, 4), 0.5)
    _, _, kl = sgvb_loss(torch.zeros_like(x), x, mu, logvar)
    assert kl.item() == pytest.approx(0.0)
    mu = torch.tensor([[1.0, 0.0, 0.0]]).repeat(2, 1)
    _, rec, kl = sgvb_loss(torch.zeros_like(x), x, mu, logvar)
    assert kl.item() == pytest.approx(0.5)  # KL(N(1, 1) || N(0, 1)) = 1/2
    assert rec.item() == pytest.approx(16 * np.log(2))  # BCE of p = 0.5 at x = 0.5, 16 pixels


def test_overfits_a_tiny_batch(small):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 1, 16, 16, generator=g) > 0.5).float()
    opt = torch.optim.Adam(small.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        logits, mu, logvar, _ = small(x, g)
        loss, rec, _ = sgvb_loss(logits, x, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else rec.item()
    assert rec.item() < 0.5 * first


def test_checkpoint_round_trip(small, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small, CheckpointMeta(simulator={"image_size": 16}, train={"seed": 3}))
    model, meta, _ = load_checkpoint(path)
    assert meta.train == {"seed": 3} and model.config == small.config
    x = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(model.encode(x)[0], small.eval().encode(x)[0])


def test_decoder_hidden_layer_round_trips_and_older_configs_load(small, tmp_path):
    torch.manual_seed(1)
    deep = DCIGN(DCIGNConfig(image_size=16, latent_dim=4, channels=(4, 8), decoder_hidden=6))
    z = torch.randn(3, 4)
    assert deep.decode(z).shape == (3, 1, 16, 16)
    save_checkpoint(tmp_path / "deep.pt", deep, CheckpointMeta())
    loaded = load_checkpoint(tmp_path / "deep.pt")[0]
    assert loaded.config.decoder_hidden == 6
    torch.testing.assert_close(loaded.decode(z), deep.eval().decode(z))
    # a checkpoint written before decoder_hidden existed has no such key: it loads as the paper's decoder
    payload = torch.load(tmp_path / "deep.pt", weights_only=True)
    save_checkpoint(tmp_path / "plain.pt", small, CheckpointMeta())
    plain = torch.load(tmp_path / "plain.pt", weights_only=True)
    plain["config"].pop("decoder_hidden")
    torch.save(plain, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")[0].config.decoder_hidden == 0
    # weights of a hidden-layer decoder under a config without one: a clear mismatch error
    payload["config"]["decoder_hidden"] = 0
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="does not match its DC-IGN config"):
        load_checkpoint(tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="decoder_hidden"):
        DCIGNConfig(decoder_hidden=-1)


def test_corrupt_and_mismatched_checkpoints(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint: no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not an abc-inverse DC-IGN checkpoint"):
        load_checkpoint(foreign)
    path = tmp_path / "m.pt"
    save_checkpoint(path, small, CheckpointMeta())
    payload = torch.load(path, weights_only=True)
    payload["config"]["latent_dim"] = 5
    torch.save(payload, path)
    with pytest.raises(ValueError, match="does not match its DC-IGN config"):
        load_checkpoint(path)


def test_statistic_validates_images(small):
    stat = DCIGNStatistic(small)
    out = stat(np.random.default_rng(0).random((3, 16, 16), dtype=np.float32))
    assert out.shape == (3, 4) and out.dtype == np.float64
    with pytest.raises(ValueError, match=r"images: expected shape \(N, 16, 16\)"):
        stat(np.zeros((3, 16, 16, 3)))
    with pytest.raises(ValueError, match="intensities in"):
        stat(np.full((1, 16, 16), 2.0))


def test_shipped_checkpoint_loads_and_records_its_training():
    stat = DCIGNStatistic.from_checkpoint()
    train = stat.meta.train
    assert train["command"].startswith("abc-inverse train")
    assert {"seed", "wall_time_s", "final_train_elbo", "heldout"} <= set(train) | set(train["config"])
    assert stat.image_size == stat.meta.simulator["image_size"] == 64


def test_kl_passes_no_gradient_to_inactive_latents():
    mu = torch.tensor([[1.0, 2.0, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.5, 0.5, 0.5]], requires_grad=True)
    x = torch.full((1, 1, 2, 2), 0.5)
    active = torch.tensor([True, False, False])
    _, _, kl = sgvb_loss(torch.zeros_like(x), x, mu, logvar, active)
    _, _, kl_all = sgvb_loss(torch.zeros_like(x), x, mu, logvar)
    assert kl.item() == pytest.approx(kl_all.item())  # same value
    kl.backward()
    torch.testing.assert_close(mu.grad, torch.tensor([[1.0, 0.0, 0.0]]))  # d/dmu of mu²/2 on the active one
    torch.testing.assert_close(logvar.grad, torch.tensor([[0.5 * (np.exp(0.5) - 1), 0.0, 0.0]], dtype=torch.float32))
