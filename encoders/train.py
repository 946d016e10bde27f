"""Training DC-IGN on scenes drawn from the prior and rendered by the simulator.

``mode='random'`` is the random-transformation procedure (Kulkarni et al. 2015 §3.1): every minibatch holds
independent scenes from the prior (shape, albedo, pose, light and camera all vary), trained by SGVB.
``mode='specific'`` is the specific-transformation procedure (§3.2): each minibatch varies one of azimuth,
elevation, light azimuth or the intrinsic properties (:mod:`encoders.batches`, shape bias), and the latents it
does not train are clamped (:mod:`encoders.clamp`, to the first example or the batch mean, with optional
invariance targeting §3.2.1). Optimiser as in §4: RMSprop
with learning rate 0.0005; the squared-gradient average decays by 0.1 per step (torch ``alpha = 0.9``) and the
"weight decay 0.01" of the paper is applied as L2 weight decay.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from abc_inverse.morphable import load_model
from abc_inverse.simulator import RenderSettings, Simulator
from encoders.batches import active_latents, draw_batch_type, transformation_scenes
from encoders.clamp import CLAMP_MODES
from encoders.dcign import DCIGN, CheckpointMeta, DCIGNConfig, save_checkpoint, sgvb_loss


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (each is an ``abc-inverse train`` flag of the same name).

    steps : int, minibatches. batch_size : int, images per minibatch. lr : float, RMSprop learning rate.
    rms_alpha : float, RMSprop squared-gradient smoothing. weight_decay : float, L2 weight decay.
    seed : int, seeds weights, scenes and reparameterisation noise. checkpoint_every : int, steps between
    checkpoints. n_shape, n_albedo : int, morphable-model dimensions of the training scenes.
    image_size : int, pixels. latent_dim : int. channels : tuple of int, encoder feature maps.
    mode : 'random' or 'specific'. clamp : 'first' or 'mean'. invariance : float ≥ 0, invariance-targeting factor
    (0 = zero gradient for clamped latents). shape_bias : float ≥ 0, odds of an intrinsic batch against each
    extrinsic type. The last four matter only in specific mode.
    """

    steps: int = 10000
    batch_size: int = 32
    lr: float = 5e-4
    rms_alpha: float = 0.9
    weight_decay: float = 0.01
    seed: int = 0
    checkpoint_every: int = 1000
    n_shape: int = 20
    n_albedo: int = 10
    image_size: int = 64
    latent_dim: int = 64
    channels: tuple[int, ...] = (16, 32, 32)
    mode: str = "random"
    clamp: str = "first"
    invariance: float = 0.0
    shape_bias: float = 10.0

    def __post_init__(self):
        if self.mode not in ("random", "specific"):
            raise ValueError(f"mode: expected 'random' or 'specific', got {self.mode!r}")
        if self.clamp not in CLAMP_MODES:
            raise ValueError(f"clamp: expected one of {CLAMP_MODES}, got {self.clamp!r}")
        if not (self.invariance >= 0 and self.shape_bias >= 0):
            raise ValueError(f"invariance, shape_bias: expected ≥ 0, got {self.invariance}, {self.shape_bias}")
        if self.mode == "specific" and self.latent_dim < 4:
            raise ValueError(f"latent_dim: specific mode needs ≥ 4 latents, got {self.latent_dim}")
        for name in ("steps", "batch_size", "checkpoint_every", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected > 0, got {self.lr}")


def heldout_elbo(model: DCIGN, images: torch.Tensor, generator: torch.Generator) -> dict:
    """ELBO terms on a fixed batch, nats per image: {'elbo', 'reconstruction', 'kl'}."""
    model.eval()
    with torch.inference_mode():
        logits, mu, logvar, _ = model(images, generator)
        loss, rec, kl = sgvb_loss(logits, images, mu, logvar)
    model.train()
    return {"elbo": -loss.item(), "reconstruction": rec.item(), "kl": kl.item()}


def train(config: TrainConfig, out: Path, command: str = "", progress: bool = True) -> dict:
    """Train a DC-IGN and write ``out`` (checkpoint) and ``out`` + ``.json`` (training record).

    Returns the training record: config, command line, wall time, final training and held-out ELBO.
    Checkpoints are written atomically every ``checkpoint_every`` steps and at the end.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    simulator = Simulator(load_model(config.n_shape, config.n_albedo), RenderSettings(image_size=config.image_size))
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = DCIGN(DCIGNConfig(image_size=config.image_size, latent_dim=config.latent_dim,
                                  channels=config.channels))
    opt = torch.optim.RMSprop(model.parameters(), lr=config.lr, alpha=config.rms_alpha,
                              weight_decay=config.weight_decay)
    heldout = torch.from_numpy(simulator(simulator.prior.sample(np.random.default_rng(10**6 + config.seed), 256))
                               )[:, None]
    record = {"command": command, "config": asdict(config), "simulator": simulator.get_config()}
    history = []
    start = time.perf_counter()

    def write(step: int):
        record.update(steps_done=step, wall_time_s=round(time.perf_counter() - start, 1),
                      final_train_elbo=float(np.mean(history[-100:])) if history else math.nan,
                      heldout=heldout_elbo(model, heldout, torch.Generator().manual_seed(1)),
                      torch_version=torch.__version__)
        save_checkpoint(out, model, CheckpointMeta(simulator=simulator.get_config(), train=dict(record)),
                        extra={"optimizer": opt.state_dict(), "step": step})
        tmp = out.with_name(out.name + ".json.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(out.with_name(out.name + ".json"))

    model.train()
    bar = tqdm(range(1, config.steps + 1), desc="train DC-IGN", disable=not progress, mininterval=1.0)
    for step in bar:
        if config.mode == "specific":
            kind = draw_batch_type(rng, config.shape_bias)
            scenes = transformation_scenes(simulator.prior, rng, kind, config.batch_size)
            active = torch.from_numpy(active_latents(kind, config.latent_dim))
        else:
            scenes, active = simulator.prior.sample(rng, config.batch_size), None
        x = torch.from_numpy(simulator(scenes))[:, None]
        logits, mu, logvar, _ = model(x, gen, active, config.clamp, config.invariance)
        loss, rec, kl = sgvb_loss(logits, x, mu, logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(-loss.item())
        if step % 20 == 0:
            bar.set_postfix(elbo=f"{np.mean(history[-20:]):.1f}", rec=f"{rec.item():.1f}", kl=f"{kl.item():.1f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            write(step)
    return record
