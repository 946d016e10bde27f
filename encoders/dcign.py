"""The DC-IGN variational auto-encoder and its encoder mean as a summary statistic.

References
----------
Kulkarni, Whitney, Kohli & Tenenbaum, "Deep Convolutional Inverse Graphics Network", NIPS 2015: §3 and Fig. 1
(conv + max-pool encoder, nearest-neighbour-unpooling + conv decoder), eq. 1-3 (Gaussian posterior with mean and
log-variance heads), SGVB objective -log P(x|z) + KL(Q(z|x) || P(z)) (Kingma & Welling 2014).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from abc_inverse.io import atomic_path
from encoders.base import check_images

DEFAULT_CHECKPOINT = Path(str(files("encoders") / "data" / "dcign_default.pt"))
GRAPHICS_CODES = slice(0, 3)  # z1, z2, z3: azimuth, elevation, light azimuth (encoders.batches.LATENT_OF)


@dataclass(frozen=True)
class DCIGNConfig:
    """Architecture of a DC-IGN.

    Attributes
    ----------
    image_size : int, pixels; input is (N, 1, image_size, image_size), divisible by 2**len(channels).
    latent_dim : int, size of the graphics code z (the paper used 200).
    channels : tuple of int, feature maps of the encoder blocks (5×5 conv → 2× max-pool → ReLU each);
        the decoder mirrors them (2× nearest-neighbour upsampling → 5×5 conv → ReLU), then a 5×5 conv to one
        channel and a sigmoid.
    kernel : int, convolution kernel size (odd).
    decoder_hidden : int ≥ 0. 0: the decoder's first layer is linear z → feature maps, then ReLU (the paper's
        Fig. 1). > 0: a hidden layer of this many ReLU units comes before it, so one latent can change the image
        non-linearly (tell +a from −a of an angle whose images mostly change by their even part; see
        ``experiments/decoder_sign_oracle.py``).
    """

    image_size: int = 64
    latent_dim: int = 64
    channels: tuple[int, ...] = (16, 32, 32)
    kernel: int = 5
    decoder_hidden: int = 0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.image_size % (2 ** len(self.channels)) or self.image_size < 2 ** len(self.channels):
            raise ValueError(f"image_size: expected a multiple of {2 ** len(self.channels)} for "
                             f"{len(self.channels)} pooling blocks, got {self.image_size}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim: expected ≥ 1, got {self.latent_dim}")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel: expected an odd size, got {self.kernel}")
        if self.decoder_hidden < 0:
            raise ValueError(f"decoder_hidden: expected ≥ 0 units, got {self.decoder_hidden}")


def conv_encoder(channels: tuple[int, ...], kernel: int) -> nn.Sequential:
    """The DC-IGN encoder trunk (Fig. 1): per entry of ``channels`` a kernel × kernel conv (same padding) → 2× max-pool
    → ReLU, then flatten. Input (N, 1, S, S); output (N, channels[-1] · (S / 2^len(channels))²)."""
    layers, c_in = [], 1
    for c in channels:
        layers += [nn.Conv2d(c_in, c, kernel, padding=kernel // 2), nn.MaxPool2d(2), nn.ReLU()]
        c_in = c
    return nn.Sequential(*layers, nn.Flatten())


class DCIGN(nn.Module):
    """DC-IGN encoder/decoder (Kulkarni et al. 2015 Fig. 1).

    ``encode(x)`` takes x (N, 1, H, W) float32 in [0, 1] and returns (mu, logvar), each (N, latent_dim);
    ``decode(z)`` returns Bernoulli means (N, 1, H, W) in (0, 1); ``forward(x, generator)`` returns
    (reconstruction, mu, logvar, z) with z = mu + exp(logvar / 2) · ε (reparameterisation trick).
    """

    checkpoint_format = "abc-inverse/dcign/1"

    def __init__(self, config: DCIGNConfig):
        super().__init__()
        self.config = config
        k, pad = config.kernel, config.kernel // 2
        self.encoder = conv_encoder(config.channels, k)
        self.bottom = config.image_size // 2 ** len(config.channels)
        n_feat = config.channels[-1] * self.bottom**2
        self.mu = nn.Linear(n_feat, config.latent_dim)
        self.logvar = nn.Linear(n_feat, config.latent_dim)
        h = config.decoder_hidden
        self.expand = (nn.Linear(config.latent_dim, n_feat) if h == 0 else
                       nn.Sequential(nn.Linear(config.latent_dim, h), nn.ReLU(), nn.Linear(h, n_feat)))
        dec = []
        rev = list(reversed(config.channels))
        for i, c in enumerate(rev):
            c_out = rev[i + 1] if i + 1 < len(rev) else rev[-1]
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c_out, k, padding=pad), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(rev[-1], 1, k, padding=pad))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (eq. 1-2): mu and log σ², each (N, latent_dim)."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits (N, 1, H, W)."""
        c0 = self.config.channels[-1]
        h = F.relu(self.expand(z)).view(-1, c0, self.bottom, self.bottom)
        return self.decoder(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli means (N, 1, H, W) in (0, 1)."""
        return torch.sigmoid(self.decode_logits(z))

    @staticmethod
    def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
        """z = mu + exp(logvar / 2) · ε, ε ~ N(0, I) drawn with ``generator`` (the reparameterisation trick): (N, L)."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)  # same noise on any device
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (N, 1, H, W) in [0, 1] -> (decoder logits (N, 1, H, W), mu, logvar, z), each code (N, latent_dim).
        Training with clamped latents composes the same steps (:func:`encoders.losses.forward_pass`)."""
        mu, logvar = self.encode(x)
        z = self.reparameterise(mu, logvar, generator)
        return self.decode_logits(z), mu, logvar, z


def sgvb_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
              active: torch.Tensor | None = None):
    """Negative ELBO per image, averaged over the batch: summed binary cross-entropy + KL(N(mu, σ²) || N(0, I)).

    logits : (N, 1, H, W) decoder logits; x : (N, 1, H, W) targets in [0, 1]; mu, logvar : (N, latent_dim).
    active : (latent_dim,) bool or None. Given (specific-transformation training), the KL terms of the inactive
    latents keep their value but pass no gradient: "gradients for z_k ≠ z_train set to zero" (§3.2) holds for
    the whole objective, so a latent is neither trained nor pulled to the prior by batches that clamp it.
    Returns (loss, reconstruction, kl), scalar tensors in nats per image.
    """
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl_terms = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    if active is not None:
        kl_terms = torch.where(active, kl_terms, kl_terms.detach())
    kl = kl_terms.sum() / len(x)
    return rec + kl, rec, kl


def elbo_terms(model: DCIGN, images: torch.Tensor, generator: torch.Generator) -> dict:
    """ELBO terms of a fixed batch (N, 1, H, W) in [0, 1], one reparameterisation sample drawn with
    ``generator``, nats per image: {'elbo', 'reconstruction', 'kl'}. No gradient; the model's mode is kept."""
    with torch.inference_mode():
        logits, mu, logvar, _ = model(images, generator)
        loss, rec, kl = sgvb_loss(logits, images, mu, logvar)
    return {"elbo": -loss.item(), "reconstruction": rec.item(), "kl": kl.item()}


@dataclass(frozen=True)
class CheckpointMeta:
    """Provenance stored with a checkpoint: how it was trained and how to render its inputs."""

    simulator: dict = field(default_factory=dict)  # Simulator.get_config() of the training data
    train: dict = field(default_factory=dict)  # command line, seed, steps, wall time, final ELBO, ...


def weights_digest(model: nn.Module) -> str:
    """sha256 (hex) of a model's parameters and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for t in model.state_dict().values():
        digest.update(t.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


CHECKPOINT_FORMATS = {DCIGN.checkpoint_format: (DCIGN, DCIGNConfig)}  # what load_checkpoint reads


def save_checkpoint(path: Path, model: nn.Module, meta: CheckpointMeta, extra: dict | None = None) -> None:
    """Write a checkpoint of a DC-IGN or another network with ``checkpoint_format`` and a dataclass ``config``
    (:class:`encoders.vitae.VITAE`) atomically (temporary file, then rename). ``extra`` holds optimizer/RNG
    state."""
    path = Path(path)
    payload = {"format": model.checkpoint_format, "config": asdict(model.config),
               "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "meta": json.dumps(asdict(meta))}
    if extra:
        payload["extra"] = extra
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: Path | str, networks: dict[str, tuple[type, type]]) -> tuple[nn.Module, CheckpointMeta,
                                                                                        dict]:
    """Load a checkpoint of one of ``networks`` ({format: (network class, config class)}; weights only, no code
    is unpickled). Returns (model in eval mode, meta, extra).
    Raises FileNotFoundError if missing, ValueError if corrupt, of another format, or its weights do not match its
    config."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no such file {str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise ValueError(f"checkpoint: {str(path)!r} is not a readable torch checkpoint ({exc.__class__.__name__})"
                         ) from None
    if not isinstance(payload, dict) or payload.get("format") not in networks:
        kinds = " or ".join(repr(k) for k in networks)
        raise ValueError(f"checkpoint: {str(path)!r} is not an abc-inverse {_kind(networks)} checkpoint (expected "
                         f"format {kinds})")
    network, config_class = networks[payload["format"]]
    try:
        model = network(config_class(**payload["config"]))
        model.load_state_dict(payload["state_dict"])
        meta = CheckpointMeta(**json.loads(payload["meta"]))
    except (TypeError, KeyError, RuntimeError, ValueError) as exc:
        raise ValueError(f"checkpoint: {str(path)!r} does not match its {_name(network)} config: {exc}") from None
    model.eval()
    return model, meta, payload.get("extra", {})


def _name(network: type) -> str:
    return network.__name__.replace("DCIGN", "DC-IGN")


def _kind(networks: dict[str, tuple[type, type]]) -> str:
    return " or ".join(_name(network) for network, _ in networks.values())


def load_checkpoint(path: Path | str | None = None) -> tuple[DCIGN, CheckpointMeta, dict]:
    """Load a DC-IGN checkpoint (:func:`read_checkpoint`); path : default the shipped network.
    Raises FileNotFoundError if missing, ValueError if corrupt or not an abc-inverse DC-IGN checkpoint or its
    weights do not match its config."""
    return read_checkpoint(path if path is not None else DEFAULT_CHECKPOINT, CHECKPOINT_FORMATS)


def code_procedure(train: dict) -> str | None:
    """How a DC-IGN's codes were taught, from its checkpoint's training record ``train`` (``CheckpointMeta.train``):
    the ``mode`` of its own run ('specific', 'random'), or, for a distilled student (:mod:`encoders.distill`), the
    mode its record passes on from its teacher (``teacher.mode``); None where the record does not say."""
    return train.get("teacher", {}).get("mode", train.get("config", {}).get("mode"))


class DCIGNStatistic:
    """Summary statistic ν(x) = μ(x), the DC-IGN encoder mean (Kulkarni et al. 2015 §4.1).

    Parameters
    ----------
    model : DCIGN, or another encoder with the same ``encode`` (:class:`encoders.vitae.VITAE`). meta :
    CheckpointMeta (its ``simulator`` entry says how the inputs must be rendered). codes : which of the encoder
    mean's entries the statistic keeps (default all; VITAE: the perspective or appearance group).

    Calling it on images (N, H, W) float32 in [0, 1] (H = W = ``image_size``) returns (N, dim) float64, encoded
    ``batch`` images at a time. Raises ValueError on a wrong shape or non-finite or out-of-range pixels. The model's
    convolution weights are put in channels-last memory order (in place; values unchanged): on this project's CPU
    that halves the encoder's time at a sampler's batch of 8–16 images (``docs/results/effective_draws``).
    """

    def __init__(self, model: nn.Module, meta: CheckpointMeta | None = None, name: str = "dcign",
                 codes: slice = slice(None)):
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.meta = meta if meta is not None else CheckpointMeta()
        self.name = name
        self.image_size = model.config.image_size
        self.codes = codes
        self.dim = len(range(model.config.latent_dim)[codes])
        self.batch = 512

    @classmethod
    def from_checkpoint(cls, path: Path | str | None = None) -> DCIGNStatistic:
        """Load from a checkpoint file (default: the shipped network)."""
        model, meta, _ = load_checkpoint(path)
        return cls(model, meta, name=f"dcign:{Path(path).name}" if path else "dcign")

    @property
    def graphics_codes(self) -> slice | None:
        """slice(0, 3) (``GRAPHICS_CODES``): the summary's columns z1–z3 that code azimuth, elevation and light
        azimuth, where the network was taught them, i.e. a DC-IGN whose (last) training run was the paper's
        specific-transformation procedure (Kulkarni et al. 2015 §3.2: each angle's batches vary only its own latent,
        the others clamped), or a student distilled to copy such a network's code (its record's ``teacher.mode``,
        :mod:`encoders.distill`), and a statistic keeping every code (``codes`` slice(None)). None otherwise: random
        mode, a student whose record does not say how its teacher's codes were taught (made before 2026-12-06), a
        VITAE, a part of the code."""
        taught = code_procedure(self.meta.train) == "specific"
        return GRAPHICS_CODES if taught and isinstance(self.model, DCIGN) and self.codes == slice(None) else None

    def get_config(self) -> dict:
        """Provenance: architecture, training record, a digest of the weights and, when not all, the codes kept."""
        config = {"name": self.name, "config": asdict(self.model.config), "meta": asdict(self.meta),
                  "weights_sha256": weights_digest(self.model)}
        if self.codes != slice(None):
            config["codes"] = [self.codes.start, self.codes.stop]
        return config

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self.image_size)
        out = np.empty((len(images), self.dim))
        with torch.inference_mode():
            for i in range(0, len(images), self.batch):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + self.batch], np.float32))[:, None] \
                    .contiguous(memory_format=torch.channels_last)
                out[i:i + self.batch] = self.model.encode(x)[0][:, self.codes].numpy()
        return out
