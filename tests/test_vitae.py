"""VITAE (encoders/vitae.py): the spatial-transformer decoder, C- against U-VITAE inference, and learning."""

import numpy as np
import pytest
import torch

from encoders.dcign import sgvb_loss
from encoders.dsprites import sample
from encoders.transforms import affine_warp
from encoders.vitae import VITAE, VITAEConfig

SMALL = {"image_size": 32, "appearance_dim": 4, "perspective_dim": 3, "channels": (8, 8), "gamma_hidden": 16}


def _sprites(n: int, seed: int = 0) -> torch.Tensor:
    """n dSprites at half size (N, 1, 32, 32), intensities in [0, 1] (2 × 2 means of the binary pixels)."""
    images = torch.from_numpy(sample(np.random.default_rng(seed), n)[0].astype(np.float32))[:, None]
    return torch.nn.functional.avg_pool2d(images, 2)


def test_a_new_vitae_draws_the_appearance_unmoved():
    torch.manual_seed(0)
    model = VITAE(VITAEConfig(**SMALL))
    z = torch.randn(5, 7)
    appearance = torch.sigmoid(model.appearance.decode_logits(z[:, 3:]))
    # γ = 0 at the start: x = T_0(x̃) = x̃, up to the resampling of the identity grid
    np.testing.assert_allclose(torch.sigmoid(model.decode_logits(z)).detach(), appearance.detach(), atol=1e-5)
    logits, mu, logvar, codes = model(_sprites(5), torch.Generator().manual_seed(0))
    assert logits.shape == (5, 1, 32, 32) and mu.shape == logvar.shape == codes.shape == (5, 7)


def test_c_vitae_reads_appearance_after_undoing_the_perspective_and_u_vitae_before():
    torch.manual_seed(0)
    c_vitae = VITAE(VITAEConfig(**SMALL, conditional=True))
    u_vitae = VITAE(VITAEConfig(**SMALL, conditional=False))
    u_vitae.load_state_dict(c_vitae.state_dict())
    with torch.no_grad():  # γ = a translation whatever z_P is
        c_vitae.gamma[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.3, 0.0, 0.0, -0.2]))
        u_vitae.gamma[-1].bias.copy_(c_vitae.gamma[-1].bias)
    x = _sprites(4)
    gamma = c_vitae.gamma[-1].bias.expand(4, 6)
    with torch.no_grad():
        mu_c, _ = c_vitae.encode(x)
        mu_u, _ = u_vitae.encode(x)
        expected, _ = c_vitae.appearance.encode(affine_warp(x, -gamma))
        plain, _ = c_vitae.appearance.encode(x)
    np.testing.assert_allclose(mu_c[:, 3:], expected, atol=1e-6)
    np.testing.assert_allclose(mu_u[:, 3:], plain, atol=1e-6)
    np.testing.assert_allclose(mu_c[:, :3], mu_u[:, :3])  # the perspective code is read the same way
    assert not torch.allclose(mu_c[:, 3:], mu_u[:, 3:])


@pytest.mark.parametrize("conditional", [True, False])
def test_the_elbo_rises_while_fitting_sprites(conditional):
    torch.manual_seed(0)
    model = VITAE(VITAEConfig(**SMALL, conditional=conditional))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, gen = _sprites(16), torch.Generator().manual_seed(0)
    losses = []
    for _ in range(40):
        logits, mu, logvar, _ = model(x, gen)
        loss = sgvb_loss(logits, x, mu, logvar)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.gamma.parameters())  # γ learns


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="perspective_dim: expected ≥ 1"):
        VITAEConfig(perspective_dim=0)
    with pytest.raises(ValueError, match="image_size: expected a multiple of 8"):
        VITAEConfig(image_size=60, channels=(8, 8, 8))
