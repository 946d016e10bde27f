"""VITAE: a variational auto-encoder whose decoder ends in a spatial transformer, so that perspective and appearance
are separate latent groups by construction (Detlefsen & Hauberg, *Explicit Disentanglement of Appearance and
Perspective in Generative Models*, "Architecture", "Training details").

Generative model: z_A, z_P ~ N(0, I); the appearance x̃ is decoded from z_A (the DC-IGN decoder,
:class:`encoders.dcign.DCIGN`); a small network turns z_P into the velocity γ of an affine transformation
(:mod:`encoders.transforms`); the image is x = T_γ(x̃), Bernoulli per pixel as in DC-IGN (the sprites and our
renders are dark backgrounds with bright shapes; the paper writes a Gaussian).

Inference: q_P(z_P | x) is a DC-IGN encoder trunk. U-VITAE (``conditional=False``) infers q_A(z_A | x) from the
image as it is; C-VITAE (``conditional=True``) first undoes the perspective, q_A(z_A | T_γ⁻¹(x)) with
T_γ⁻¹ = T_−γ and γ from the z_P just drawn, so that appearance is read in the frame the decoder draws it in.

The layers of the appearance path are a DC-IGN's (the same trunk as the plain VAE and β-VAE baselines, which are
DC-IGNs trained on random batches with KL weight 1 or β). The velocity network's last layer starts at zero, so a
new VITAE starts from the identity transformation (as spatial transformers are usually started).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from encoders.dcign import DCIGN, DCIGNConfig, conv_encoder
from encoders.transforms import AFFINE_DIM, affine_warp

EPS = 1e-6  # Bernoulli means are kept in [EPS, 1 − EPS] before taking logits


@dataclass(frozen=True)
class VITAEConfig:
    """Architecture of a VITAE.

    Attributes
    ----------
    image_size, channels, kernel, decoder_hidden : as :class:`encoders.dcign.DCIGNConfig` (both encoders and the
        appearance decoder).
    appearance_dim : int ≥ 1, size of z_A. perspective_dim : int ≥ 1, size of z_P.
    conditional : bool, C-VITAE (q_A sees T_−γ(x)) if True, U-VITAE (q_A sees x) if False.
    gamma_hidden : int ≥ 1, hidden units of the z_P → γ network.
    """

    image_size: int = 64
    appearance_dim: int = 10
    perspective_dim: int = 6
    channels: tuple[int, ...] = (16, 32, 32)
    kernel: int = 5
    decoder_hidden: int = 0
    conditional: bool = True
    gamma_hidden: int = 64

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        self.appearance()  # validates the shared fields
        for name in ("perspective_dim", "gamma_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected ≥ 1, got {getattr(self, name)}")

    def appearance(self) -> DCIGNConfig:
        """The DC-IGN architecture of the appearance path (encoder q_A and decoder of x̃)."""
        return DCIGNConfig(image_size=self.image_size, latent_dim=self.appearance_dim, channels=self.channels,
                           kernel=self.kernel, decoder_hidden=self.decoder_hidden)

    @property
    def latent_dim(self) -> int:
        """Size of the whole code (z_P, z_A)."""
        return self.perspective_dim + self.appearance_dim


class VITAE(nn.Module):
    """U-VITAE / C-VITAE (see the module docstring).

    ``encode(x)`` takes x (N, 1, H, W) float32 in [0, 1] and returns (mu, logvar), each (N, perspective_dim +
    appearance_dim), the perspective code first; C-VITAE undoes the perspective of the posterior mean of z_P.
    ``forward(x, generator)`` returns (logits of the Bernoulli means of T_γ(x̃) (N, 1, H, W), mu, logvar, z), with
    z_P and then z_A drawn by the reparameterisation trick (noise from ``generator``), as
    :meth:`encoders.dcign.DCIGN.forward` does, so the same SGVB loss applies.
    """

    checkpoint_format = "abc-inverse/vitae/1"

    def __init__(self, config: VITAEConfig):
        super().__init__()
        self.config = config
        self.appearance = DCIGN(config.appearance())
        self.perspective_encoder = conv_encoder(config.channels, config.kernel)
        n_feat = config.channels[-1] * self.appearance.bottom**2
        self.perspective_mu = nn.Linear(n_feat, config.perspective_dim)
        self.perspective_logvar = nn.Linear(n_feat, config.perspective_dim)
        self.gamma = nn.Sequential(nn.Linear(config.perspective_dim, config.gamma_hidden), nn.Tanh(),
                                   nn.Linear(config.gamma_hidden, AFFINE_DIM))
        nn.init.zeros_(self.gamma[-1].weight)
        nn.init.zeros_(self.gamma[-1].bias)

    def velocity(self, z_perspective: torch.Tensor) -> torch.Tensor:
        """γ (N, 6), the affine velocity decoded from z_P (N, perspective_dim)."""
        return self.gamma(z_perspective)

    def _encode_appearance(self, x: torch.Tensor, z_perspective: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.conditional:
            x = affine_warp(x, -self.velocity(z_perspective))
        return self.appearance.encode(x)

    def _encode_perspective(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.perspective_encoder(x)
        return self.perspective_mu(h), self.perspective_logvar(h)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and log-variances (N, perspective_dim + appearance_dim), z_P first."""
        mu_p, logvar_p = self._encode_perspective(x)
        mu_a, logvar_a = self._encode_appearance(x, mu_p)
        return torch.cat([mu_p, mu_a], dim=1), torch.cat([logvar_p, logvar_a], dim=1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W) of the Bernoulli means of x = T_γ(x̃) for codes z (N, latent_dim), z_P first."""
        z_p, z_a = z[:, :self.config.perspective_dim], z[:, self.config.perspective_dim:]
        appearance = torch.sigmoid(self.appearance.decode_logits(z_a))
        return torch.logit(affine_warp(appearance, self.velocity(z_p)).clamp(EPS, 1 - EPS))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (N, 1, H, W) in [0, 1] -> (logits (N, 1, H, W), mu, logvar, z), each code (N, latent_dim)."""
        mu_p, logvar_p = self._encode_perspective(x)
        z_p = DCIGN.reparameterise(mu_p, logvar_p, generator)
        mu_a, logvar_a = self._encode_appearance(x, z_p)
        z_a = DCIGN.reparameterise(mu_a, logvar_a, generator)
        z = torch.cat([z_p, z_a], dim=1)
        return self.decode_logits(z), torch.cat([mu_p, mu_a], dim=1), torch.cat([logvar_p, logvar_a], dim=1), z


CHECKPOINT_FORMATS = {VITAE.checkpoint_format: (VITAE, VITAEConfig)}  # for encoders.dcign.read_checkpoint
