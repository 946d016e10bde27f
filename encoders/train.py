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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from abc_inverse.io import write_text
from abc_inverse.morphable import load_model
from abc_inverse.simulator import RenderSettings, Simulator
from encoders.batches import LATENT_OF, VARIED_ANGLE, active_latents, draw_batch_type, transformation_scenes
from encoders.clamp import CLAMP_MODES
from encoders.dcign import (
    DCIGN,
    CheckpointMeta,
    DCIGNConfig,
    elbo_terms,
    load_checkpoint,
    save_checkpoint,
    sgvb_loss,
    weights_digest,
)

CURRICULUM_START = 0.1  # fraction of each angle's prior range varied at step 0 of the curriculum
# Settings a resumed run may change: they do not alter the sequence of updates.
RESUMABLE_CHANGES = ("steps", "checkpoint_every")
CAMERA_TERM_KINDS = ("azimuth", "light")  # batch types whose latent (z1, z3) the camera term covers


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (each is an ``abc-inverse train`` flag of the same name).

    steps : int, minibatches. batch_size : int, images per minibatch. lr : float, RMSprop learning rate.
    rms_alpha : float, RMSprop squared-gradient smoothing. weight_decay : float, L2 weight decay.
    seed : int, seeds weights, scenes and reparameterisation noise. checkpoint_every : int, steps between
    checkpoints. n_shape, n_albedo : int, morphable-model dimensions of the training scenes.
    image_size : int, pixels. latent_dim : int. channels : tuple of int, encoder feature maps.
    decoder_hidden : int ≥ 0, hidden ReLU units before the decoder's first layer (0 = none; DCIGNConfig).
    mode : 'random' or 'specific'. clamp : 'first' or 'mean'. invariance : float ≥ 0, invariance-targeting factor
    (0 = zero gradient for clamped latents). shape_bias : float ≥ 0, odds of an intrinsic batch against each
    extrinsic type. mode … shape_bias matter only in specific mode.
    kl_weight : float > 0, β multiplying the KL term of the training objective (1 = the SGVB bound of §3; the
    reported ELBO is always the unweighted bound). The KL term does not grow with the image while the summed
    reconstruction term does, so β < 1 at 64×64 keeps the balance the paper's 150×150 images had (≈ (64/150)²).
    mirror : float ≥ 0, specific mode: weight of the mirror term (:func:`mirror_penalty`) added to the objective of
    azimuth, elevation and light batches (0 = off, the paper's objective).
    intrinsic_camera : bool, specific mode: intrinsic batches vary the camera as well as shape and albedo
    (:func:`encoders.batches.transformation_scenes`; False = the paper's intrinsic batches).
    slowness : float ≥ 0, specific mode: weight of the slowness term (:func:`slowness_penalty`) added to the
    objective of azimuth, elevation and light batches (0 = off, the paper's objective).
    camera_invariance : float ≥ 0, specific mode: weight of the camera term (:func:`camera_penalty`) added to the
    objective of azimuth and light batches (0 = off, the paper's objective).
    curriculum : int ≥ 0, specific mode: steps over which the range of the angle an extrinsic batch varies widens
    linearly from CURRICULUM_START of its prior range to all of it (0 = the full range from the start). Over a
    narrow range an image changes almost linearly with the angle, so the latent learns a monotone code rather than
    folding onto the even part of the change (|elevation|, |light azimuth|), a local optimum it does not leave.
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
    decoder_hidden: int = 0
    mode: str = "random"
    clamp: str = "first"
    invariance: float = 0.0
    shape_bias: float = 10.0
    kl_weight: float = 1.0
    curriculum: int = 0
    mirror: float = 0.0
    slowness: float = 0.0
    intrinsic_camera: bool = False
    camera_invariance: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.mode not in ("random", "specific"):
            raise ValueError(f"mode: expected 'random' or 'specific', got {self.mode!r}")
        if self.clamp not in CLAMP_MODES:
            raise ValueError(f"clamp: expected one of {CLAMP_MODES}, got {self.clamp!r}")
        weights = {name: getattr(self, name) for name in
                   ("invariance", "shape_bias", "mirror", "slowness", "camera_invariance")}
        if not all(w >= 0 for w in weights.values()):
            raise ValueError(f"{', '.join(weights)}: expected ≥ 0, got {', '.join(map(str, weights.values()))}")
        if self.mode == "specific" and self.latent_dim < 4:
            raise ValueError(f"latent_dim: specific mode needs ≥ 4 latents, got {self.latent_dim}")
        for name in ("steps", "batch_size", "checkpoint_every", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected ≥ 1, got {getattr(self, name)}")
        if self.curriculum < 0:
            raise ValueError(f"curriculum: expected ≥ 0 steps, got {self.curriculum}")
        if not self.kl_weight > 0:
            raise ValueError(f"kl_weight: expected > 0, got {self.kl_weight}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected > 0, got {self.lr}")


def curriculum_spread(config: TrainConfig, step: int) -> float:
    """Fraction of the prior range an extrinsic batch varies at ``step`` (1-based): CURRICULUM_START rising
    linearly to 1 over ``config.curriculum`` steps, then 1."""
    if config.curriculum == 0:
        return 1.0
    return min(1.0, CURRICULUM_START + (1 - CURRICULUM_START) * (step - 1) / config.curriculum)


class Batch(NamedTuple):
    """A training minibatch. x : (N, 1, S, S) float32 images in [0, 1]. active : (L,) bool mask of the latents it
    trains (None in random mode). order : (N,) int64 indices that sort the batch by its varied angle — the frames
    of the transformation as a video would show them (None in random mode and for intrinsic batches).
    x_camera : (N, 1, S, S) float32, the same scenes seen from cameras redrawn from the prior (only for azimuth and
    light batches of a run with ``camera_invariance`` > 0, else None)."""
    x: torch.Tensor
    active: torch.Tensor | None = None
    order: torch.Tensor | None = None
    x_camera: torch.Tensor | None = None


def draw_batch(simulator: Simulator, rng: np.random.Generator, config: TrainConfig, step: int | None = None
               ) -> Batch:
    """One training minibatch (:class:`Batch`).

    Random mode: independent prior scenes. Specific mode: one batch type (shape bias), its scenes
    (:func:`encoders.batches.transformation_scenes`, angle range from :func:`curriculum_spread` at ``step``;
    None = the full range), its active latents and, for an extrinsic type, the order of its varied angle and
    (with ``config.camera_invariance``) its scenes rendered from other cameras.
    """
    if config.mode != "specific":
        return Batch(torch.from_numpy(simulator(simulator.prior.sample(rng, config.batch_size)))[:, None])
    kind = draw_batch_type(rng, config.shape_bias)
    spread = 1.0 if step is None else curriculum_spread(config, step)
    scenes = transformation_scenes(simulator.prior, rng, kind, config.batch_size, spread, config.intrinsic_camera)
    active = torch.from_numpy(active_latents(kind, config.latent_dim))
    x = torch.from_numpy(simulator(scenes))[:, None]
    if kind not in VARIED_ANGLE:
        return Batch(x, active)
    order = torch.from_numpy(np.argsort(getattr(scenes, VARIED_ANGLE[kind]), kind="stable"))
    x_camera = None
    if config.camera_invariance and kind in CAMERA_TERM_KINDS:
        moved = scenes._replace(camera=simulator.prior.sample(rng, config.batch_size).camera)
        x_camera = torch.from_numpy(simulator(moved))[:, None]
    return Batch(x, active, order, x_camera)


def mirror_penalty(model: DCIGN, x: torch.Tensor, mu: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Mirror term of a specific-mode batch: mean over the batch of Σ_k (μ_k(flip x) ± μ_k(x))² over the active
    ones of z1 (face azimuth) and z3 (light azimuth) with +, and of z2 (elevation) with −.

    Flipping an image left-right turns a (near-symmetric) face at azimuth a and elevation e lit from light azimuth b
    into one at −a, e, −b, so the term asks z1 and z3 to be odd functions of their angle — ruling out the folded,
    even codes that SGVB with clamping tends to find (see ``experiments/decoder_sign_oracle.py``) — and z2 not to
    change, so that the way z2 follows elevation cannot depend on which way the face is turned. Not in Kulkarni et
    al. 2015.
    x : (N, 1, H, W) images; mu : (N, L) their encoder means; active : (L,) bool. Returns a scalar tensor (0 for an
    intrinsic batch).
    """
    sign = torch.zeros(active.shape, dtype=mu.dtype)
    sign[[LATENT_OF["azimuth"], LATENT_OF["light"]]] = 1.0
    sign[LATENT_OF["elevation"]] = -1.0
    k = active & (sign != 0)
    if not k.any():
        return mu.new_zeros(())
    mu_flip, _ = model.encode(torch.flip(x, dims=[3]))
    return ((mu_flip[:, k] + sign[k] * mu[:, k]) ** 2).sum(dim=1).mean()


def _relative_to_spread(mean_square: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Σ over columns of mean_square (K,) / (2 · batch variance of m (N, K)): scale-free, 1 for independent draws."""
    return (mean_square / (2 * m.var(dim=0, unbiased=False) + 1e-6)).sum()


def slowness_penalty(mu: torch.Tensor, active: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
    """Slowness term of an extrinsic batch: for each active latent, the mean squared step between consecutive
    frames (the batch sorted by its varied angle) over twice its batch variance, summed over those latents.

    Read as a video of the transformation (a nodding face, a light moving round it), the batch should be coded by
    a latent that changes slowly from frame to frame relative to its total change: temporal coherence / slow
    feature analysis (Wiskott & Sejnowski 2002, Neural Comput. 14(4); Mobahi, Collobert & Weston 2009, ICML). Only
    the order of the frames is used, never the angles' values. For N angles drawn uniformly the term is about
    12/((N+1)(N+2)) for a code linear in the angle, about 4× that for a folded code (|angle|: same steps, a quarter
    of the variance) and about 1 for a code unrelated to the angle, so it favours the monotone code that SGVB with
    clamping tends to miss (see ``experiments/decoder_sign_oracle.py``). It does not depend on the latents' scale.
    Not in Kulkarni et al. 2015.
    mu : (N, L) encoder means; active : (L,) bool; order : (N,) int64 or None. Returns a scalar tensor (0 when
    ``order`` is None: random-mode and intrinsic batches).
    """
    if order is None:
        return mu.new_zeros(())
    m = mu[order][:, active]
    return _relative_to_spread((m[1:] - m[:-1]).pow(2).mean(dim=0), m)


def camera_penalty(model: DCIGN, x_camera: torch.Tensor | None, mu: torch.Tensor, active: torch.Tensor
                   ) -> torch.Tensor:
    """Camera term of an azimuth or light batch: the mean squared change of the active one of z1, z3 when each scene
    is seen from another camera, over twice its batch variance.

    A camera translation (±20 mm, :func:`abc_inverse.scene.camera_position_mm`) mostly shifts the face in the image,
    which an encoder can mistake for a turn of the face; z1 and z3 should not move with it. Dividing by the code's
    variation along its angle keeps the term from being met by shrinking the code (the unnormalised invariance
    gradient of §3.2.1 shrinks it). 0 for a code that ignores the camera, about 1 for one that follows only the
    camera. z2 is left out: a vertical shift looks like the up-down motion of the features that tells elevation's
    sign, and with z2 in the term the elevation code folded (|elevation|) in training. Not in Kulkarni et al. 2015.
    x_camera : (N, 1, H, W) images of the batch's scenes from other cameras, or None; mu : (N, L) encoder means of
    the batch; active : (L,) bool. Returns a scalar tensor (0 when ``x_camera`` is None or the batch trains
    neither z1 nor z3).
    """
    if x_camera is None:
        return mu.new_zeros(())
    k = torch.zeros_like(active)
    k[[LATENT_OF[kind] for kind in CAMERA_TERM_KINDS]] = True
    k &= active
    if not k.any():
        return mu.new_zeros(())
    moved, _ = model.encode(x_camera)
    m = mu[:, k]
    return _relative_to_spread((moved[:, k] - m).pow(2).mean(dim=0), m)


def train_step(model: DCIGN, opt: torch.optim.Optimizer, batch: Batch, gen: torch.Generator, config: TrainConfig
               ) -> tuple[float, float, float]:
    """One SGVB update on a :class:`Batch` (with clamping if it has active latents), objective reconstruction
    + β·KL, plus ``config.mirror`` × :func:`mirror_penalty`, ``config.slowness`` × :func:`slowness_penalty` and
    ``config.camera_invariance`` × :func:`camera_penalty` in specific mode.
    Returns (loss, reconstruction, KL), nats per image, loss = -ELBO (unweighted)."""
    x, active, order, x_camera = batch
    logits, mu, logvar, _ = model(x, gen, active, config.clamp, config.invariance)
    loss, rec, kl = sgvb_loss(logits, x, mu, logvar, active)
    objective = rec + config.kl_weight * kl
    if config.mirror and active is not None:
        objective = objective + config.mirror * mirror_penalty(model, x, mu, active)
    if config.slowness and active is not None:
        objective = objective + config.slowness * slowness_penalty(mu, active, order)
    if config.camera_invariance and active is not None:
        objective = objective + config.camera_invariance * camera_penalty(model, x_camera, mu, active)
    opt.zero_grad(set_to_none=True)
    objective.backward()
    opt.step()
    return loss.item(), rec.item(), kl.item()


def make_optimizer(model: DCIGN, config: TrainConfig) -> torch.optim.RMSprop:
    """RMSprop with the run's learning rate, squared-gradient smoothing and weight decay (§4)."""
    return torch.optim.RMSprop(model.parameters(), lr=config.lr, alpha=config.rms_alpha,
                               weight_decay=config.weight_decay)


def resume_config(path: Path, changes: dict | None = None) -> TrainConfig:
    """The TrainConfig of the run that wrote checkpoint ``path``, with ``changes`` applied.

    changes : {field: value}; only fields in RESUMABLE_CHANGES may differ from the checkpoint's values.
    Raises FileNotFoundError / ValueError (from :func:`encoders.dcign.load_checkpoint`) for a missing or corrupt
    file, ValueError if the checkpoint holds no resumable training state or a change would alter the run.
    """
    _, meta, extra = load_checkpoint(path)
    if "numpy_rng" not in extra or "config" not in meta.train:
        raise ValueError(f"resume: {str(path)!r} holds no training state to resume from (written by an older "
                         f"version, or not by abc-inverse train)")
    saved = TrainConfig(**meta.train["config"])
    bad = {k: (v, getattr(saved, k)) for k, v in (changes or {}).items()
           if k not in RESUMABLE_CHANGES and v != getattr(saved, k)}
    if bad:
        listed = ", ".join(f"{k}={v!r} (checkpoint: {old!r})" for k, (v, old) in bad.items())
        raise ValueError(f"resume: a resumed run continues the same run; only {', '.join(RESUMABLE_CHANGES)} may "
                         f"change, got {listed}")
    return replace(saved, **{k: v for k, v in (changes or {}).items() if k in RESUMABLE_CHANGES})


def train(config: TrainConfig, out: Path, command: str = "", progress: bool = True, resume: Path | None = None,
          init: Path | None = None) -> dict:
    """Train a DC-IGN and write ``out`` (checkpoint) and ``out`` + ``.json`` (training record).

    resume : checkpoint of an interrupted run with this ``config`` (see :func:`resume_config`); training goes on
    from its step with its optimizer, weights, history and random-number states, so the result equals an
    uninterrupted run's. init : checkpoint whose weights start the run (e.g. a random-mode network before
    specific-mode training); its architecture must match ``config``; the optimizer starts afresh.
    Returns the training record: config, command line, wall time, final training and held-out ELBO.
    Checkpoints are written atomically every ``checkpoint_every`` steps and at the end.
    Raises ValueError for a mismatched ``resume``/``init`` checkpoint or ``resume`` beyond ``config.steps``.
    """
    if resume is not None and init is not None:
        raise ValueError("resume, init: give at most one (a resumed run keeps the weights it started from)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    simulator = Simulator(load_model(config.n_shape, config.n_albedo), RenderSettings(image_size=config.image_size))
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    arch = DCIGNConfig(image_size=config.image_size, latent_dim=config.latent_dim, channels=config.channels,
                       decoder_hidden=config.decoder_hidden)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = DCIGN(arch)
    opt = make_optimizer(model, config)
    record = {"command": command, "config": asdict(config), "simulator": simulator.get_config()}
    history, done, elapsed = [], 0, 0.0
    if resume is not None or init is not None:
        source = Path(resume if resume is not None else init)
        loaded, meta, extra = load_checkpoint(source)
        if loaded.config != arch:
            raise ValueError(f"{'resume' if resume is not None else 'init'}: {str(source)!r} has architecture "
                             f"{asdict(loaded.config)}, the run needs {asdict(arch)}")
        model.load_state_dict(loaded.state_dict())
        if resume is not None:
            if meta.simulator != json.loads(json.dumps(simulator.get_config())):
                raise ValueError(f"resume: {str(source)!r} was trained on renders from another model or renderer "
                                 f"version; start a new run")
            done = int(extra["step"])
            if done > config.steps:
                raise ValueError(f"steps: the checkpoint is at step {done}, beyond the requested {config.steps}")
            opt.load_state_dict(extra["optimizer"])
            rng.bit_generator.state = json.loads(extra["numpy_rng"])
            gen.set_state(extra["torch_rng"])
            history = extra["history"].tolist()
            elapsed = float(extra["wall_time_s"])
            # the run's own command stays its provenance; each resume is listed after it
            record["command"] = meta.train.get("command", command)
            if "init" in meta.train:
                record["init"] = meta.train["init"]
            record["resumed"] = [*meta.train.get("resumed", []), {"command": command, "from_step": done}]
        else:
            record["init"] = {"path": str(source), "weights_sha256": weights_digest(model)}
    heldout = torch.from_numpy(simulator(simulator.prior.sample(np.random.default_rng(10**6 + config.seed), 256))
                               )[:, None]
    start = time.perf_counter() - elapsed

    def write(step: int):
        wall = time.perf_counter() - start
        record.update(steps_done=step, wall_time_s=round(wall, 1),
                      final_train_elbo=float(np.mean(history[-100:])) if history else math.nan,
                      heldout=elbo_terms(model, heldout, torch.Generator().manual_seed(1)),
                      torch_version=torch.__version__)
        state = {"optimizer": opt.state_dict(), "step": step, "numpy_rng": json.dumps(rng.bit_generator.state),
                 "torch_rng": gen.get_state(), "history": torch.tensor(history, dtype=torch.float64),
                 "wall_time_s": wall}
        save_checkpoint(out, model, CheckpointMeta(simulator=simulator.get_config(), train=dict(record)), extra=state)
        write_text(out.with_name(out.name + ".json"), json.dumps(record, indent=2) + "\n")

    model.train()
    bar = tqdm(range(done + 1, config.steps + 1), desc="train DC-IGN", disable=not progress, mininterval=1.0,
               initial=done, total=config.steps)
    for step in bar:
        loss, rec, kl = train_step(model, opt, draw_batch(simulator, rng, config, step), gen, config)
        history.append(-loss)
        if step % 20 == 0:
            bar.set_postfix(elbo=f"{np.mean(history[-20:]):.1f}", rec=f"{rec:.1f}", kl=f"{kl:.1f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            write(step)
    if done == config.steps:
        write(done)
    return record
