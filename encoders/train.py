"""Training DC-IGN on scenes drawn from the prior and rendered by the simulator.

``mode='random'`` is the random-transformation procedure (Kulkarni et al. 2015 §3.1): every minibatch holds
independent scenes from the prior (shape, albedo, pose, light and camera all vary), trained by SGVB.
``mode='specific'`` is the specific-transformation procedure (§3.2): each minibatch varies one of azimuth,
elevation, light azimuth or the intrinsic properties (:mod:`encoders.batches`, shape bias), and the latents it
does not train are clamped (:mod:`encoders.clamp`, to the first example or the batch mean, with optional
invariance targeting §3.2.1). The objective is a sum of registered loss terms (:mod:`encoders.losses`).
Optimiser as in §4: RMSprop with learning rate 0.0005; the squared-gradient average decays by 0.1 per step (torch
``alpha = 0.9``) and the "weight decay 0.01" of the paper is applied as L2 weight decay.

Other networks train through the same loop (``model``): a plain VAE and a β-VAE (the DC-IGN network on random
batches, KL weight 1 or β; Kingma & Welling 2014, Higgins et al. 2017) and U-VITAE / C-VITAE
(:mod:`encoders.vitae`), on rendered faces or on dSprites (``data``, :mod:`encoders.dsprites`).

With ``teacher`` the loop distils instead: a DC-IGN learns another one's codes through domain randomisation
(:mod:`encoders.distill`; random batches, the teacher's decoder kept).

Recipes are named by :data:`PRESETS`: ``paper`` (the paper's specific-transformation procedure) and ``default``
(the two stages that made the shipped network ``encoders/data/dcign_default.pt``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from abc_inverse.io import write_text
from abc_inverse.model.expression import with_jaw
from abc_inverse.model.morphable import load_model
from abc_inverse.model.scene import LIGHTINGS, Scene
from abc_inverse.options import check_options, option
from abc_inverse.render.simulator import RenderSettings, Simulator, simulator_from_config
from encoders.augment import augment
from encoders.batches import (
    CAMERA_TERM_KINDS,
    VARIED_ANGLE,
    Batch,
    active_latents,
    draw_batch_type,
    transformation_scenes,
)
from encoders.clamp import CLAMP_MODES
from encoders.dcign import (
    CHECKPOINT_FORMATS,
    DCIGN,
    CheckpointMeta,
    DCIGNConfig,
    elbo_terms,
    read_checkpoint,
    save_checkpoint,
    weights_digest,
)
from encoders.distill import CURVE_SEED, Teacher, clean_count, code_variance, distillation_loss, heldout_error
from encoders.dsprites import sample as sample_sprites
from encoders.losses import forward_pass, objective
from encoders.vitae import CHECKPOINT_FORMATS as VITAE_FORMATS
from encoders.vitae import VITAE, VITAEConfig

CURRICULUM_START = 0.1  # fraction of each angle's prior range varied at step 0 of the curriculum
JAW_SHARE = 0.5  # with jaw: share of a distillation batch's inputs whose jaw drops
# Settings a resumed run may change: they do not alter the sequence of updates.
RESUMABLE_CHANGES = ("steps", "checkpoint_every")
CPU = torch.device("cpu")
PAPER, BEYOND = "paper (Kulkarni et al. 2015)", "beyond the paper"
NETWORK = "network and data (DC-IGN or the VITAE comparison)"
MODELS = ("dcign", "vae", "beta-vae", "u-vitae", "c-vitae")
CHECKPOINTS = {**CHECKPOINT_FORMATS, **VITAE_FORMATS}  # every network a training checkpoint may hold


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run; each is an ``abc-inverse train`` flag of the same name. The paper's settings
    come first; the rest (group ``beyond the paper``) are off by default except the architecture's size. Raises
    ValueError naming the setting when one is out of range."""

    steps: int = option(10000, "minibatches", ge=1, group=PAPER)
    batch_size: int = option(32, "images per minibatch", ge=1, group=PAPER)
    lr: float = option(5e-4, "RMSprop learning rate (§4)", gt=0, le=1, group=PAPER)
    rms_alpha: float = option(0.9, "RMSprop squared-gradient smoothing (§4: decay 0.1)", gt=0, lt=1, group=PAPER)
    weight_decay: float = option(0.01, "L2 weight decay (§4)", ge=0, group=PAPER)
    seed: int = option(0, "seeds weights, scenes and reparameterisation noise", group=PAPER)
    checkpoint_every: int = option(1000, "steps between checkpoints", ge=1, group=PAPER)
    n_shape: int = option(20, "shape coefficients of the training scenes", ge=1, group=PAPER)
    n_albedo: int = option(10, "albedo coefficients of the training scenes", ge=1, group=PAPER)
    image_size: int = option(64, "pixels (the paper: 150)", ge=1, group=PAPER)
    latent_dim: int = option(64, "latents (the paper: 200)", ge=1, group=PAPER)
    channels: tuple[int, ...] = option((16, 32, 32), "encoder feature maps (the paper: 96,48,24)", ge=1,
                                       group=PAPER)
    mode: str = option("random", "random (§3.1) or specific (§3.2) transformations", choices=("random", "specific"),
                       group=PAPER)
    clamp: str = option("first", "specific mode: clamp inactive latents to the first example (§3.2) or the batch "
                        "mean (Model section)", choices=CLAMP_MODES, group=PAPER)
    invariance: float = option(0.0, "specific mode: invariance-targeting factor (§3.2.1; the paper: 0.01)", ge=0,
                               group=PAPER)
    shape_bias: float = option(10.0, "specific mode: odds of an intrinsic batch against each extrinsic type "
                               "(the paper: 10)", ge=0, group=PAPER)
    decoder_hidden: int = option(0, "hidden ReLU units before the decoder's first layer (0 = the paper's linear "
                                 "layer)", ge=0, group=BEYOND)
    kl_weight: float = option(1.0, "β: weight of the KL term in the objective (1 = the SGVB bound; the reported "
                              "ELBO is always unweighted)", gt=0, group=BEYOND)
    curriculum: int = option(0, "specific mode: steps to widen the varied angle's range to the prior's", ge=0,
                             group=BEYOND)
    mirror: float = option(0.0, "specific mode: weight of the mirror term (0 = off)", ge=0, group=BEYOND)
    slowness: float = option(0.0, "specific mode: weight of the slowness term (z1-z3 change slowly along their "
                             "batch's sorted angle; 0 = off)", ge=0, group=BEYOND)
    intrinsic_camera: bool = option(False, "specific mode: intrinsic batches also vary the camera, leaving it to "
                                    "z4…", group=BEYOND)
    camera_invariance: float = option(0.0, "specific mode: weight of the camera term (z1, z3 stay put when the "
                                      "camera moves; 0 = off)", ge=0, group=BEYOND)
    augment: bool = option(False, "domain randomisation: the encoder sees each render over a real background, "
                           "reframed, relit, blurred, noised and JPEG-compressed, the decoder reconstructs the clean "
                           "render (encoders/augment.py)", group=BEYOND)
    head: bool = option(False, "augment: paint a head silhouette (hair, neck) behind the face in most images "
                        "(encoders/augment.py)", group=BEYOND)
    framing: float = option(1.0, "augment: scale of the framing jitter (shift, scale, roll) against a face detector's "
                            "(1 = ±2 px at 64 px, ±7 %, ±6°; 0 = none)", ge=0, le=2, group=BEYOND)
    supersample: int = option(1, "render samples per pixel side (anti-aliasing; 1 = one sample per pixel)", ge=1, le=4,
                              group=BEYOND)
    features: bool = option(False, "renders with eyes, brows and lips painted into the mean albedo", group=BEYOND)
    lighting: str = option("directional", "'directional' (a light of fixed strength at elevation 0) or 'rich': light "
                           "elevation, ambient, diffuse and spherical-harmonic lighting as scene variables drawn "
                           "from their prior (abc_inverse/model/scene.py)", choices=LIGHTINGS, group=BEYOND)
    teacher: str = option("", "distillation (encoders/distill.py): start from this DC-IGN checkpoint and train its "
                          "encoder to give, for this run's renders (domain-randomised with --augment), the teacher's "
                          "code of each scene's render as the teacher was trained on it; '' = off", metavar="CKPT",
                          group=BEYOND)
    centred_pose: bool = option(False, "teacher: the targets of z1-z3 are the teacher's codes of each scene seen from "
                                "the centred camera, so that the pose codes ignore the camera", group=BEYOND)
    angle_pose: bool = option(False, "teacher: the targets of z1-z3 are the teacher's code of each as a function of "
                              "its own angle alone (see --angle-bins; fitted on renders with that angle drawn, the "
                              "other two 0), at each scene's angle, so that the pose codes read their angle alone",
                              group=BEYOND)
    angle_bins: int = option(0, "angle_pose: 0 = the teacher's straight line of each pose code on its angle; K > 0 = "
                             "its mean code in K equal bins of the angle, joined by straight segments", ge=0, le=50,
                             group=BEYOND)
    jaw: float = option(0.0, "teacher: half of the student's inputs drop the face's jaw by U(0, jaw) degrees "
                        "(abc_inverse/model/expression.py) while the targets stay the closed face's, so that the "
                        "codes ignore an open mouth; 0 = off", ge=0, le=30, group=BEYOND)
    lr_final: float = option(1.0, "learning rate at the last step as a share of --lr, reached linearly from the "
                             "first step (1 = constant, the paper's)", gt=0, le=1, group=BEYOND)

    model: str = option("dcign", "network: dcign; vae and beta-vae (the DC-IGN network on random batches, KL weight 1 "
                        "or --kl-weight > 1); u-vitae, c-vitae (encoders/vitae.py: latent_dim is z_A's size)",
                        choices=MODELS, group=NETWORK)
    data: str = option("faces", "training images: faces (the simulator's renders) or dsprites (encoders/dsprites.py, "
                       "64 px)", choices=("faces", "dsprites"), group=NETWORK)
    perspective_dim: int = option(6, "u-vitae, c-vitae: size of the perspective code z_P", ge=1, group=NETWORK)

    def __post_init__(self):
        check_options(self)
        if self.mode == "specific" and self.latent_dim < 4:
            raise ValueError(f"latent_dim: specific mode needs ≥ 4 latents, got {self.latent_dim}")
        if self.model != "dcign" and self.mode != "random":
            raise ValueError(f"mode: model {self.model!r} trains on random batches only, got mode {self.mode!r}")
        if self.model == "vae" and self.kl_weight != 1:
            raise ValueError(f"kl_weight: a plain VAE has KL weight 1, got {self.kl_weight} (use model beta-vae)")
        if self.model == "beta-vae" and not self.kl_weight > 1:
            raise ValueError(f"kl_weight: a β-VAE needs a KL weight β > 1, got {self.kl_weight}")
        if self.teacher and (self.model != "dcign" or self.mode != "random" or self.data != "faces"):
            raise ValueError(f"teacher: distillation trains a DC-IGN on random batches of faces, got model "
                             f"{self.model!r}, mode {self.mode!r}, data {self.data!r}")
        if self.head and not self.augment:
            raise ValueError("head: the head silhouette is part of the domain randomisation, got head=True without "
                             "augment")
        if self.centred_pose and not self.teacher:
            raise ValueError("centred_pose: needs a teacher (distillation), got centred_pose=True and no teacher")
        if self.angle_pose and (not self.teacher or self.centred_pose):
            raise ValueError(f"angle_pose: needs a teacher and replaces centred_pose, got teacher {self.teacher!r}, "
                             f"centred_pose {self.centred_pose}")
        if self.jaw and not self.teacher:
            raise ValueError(f"jaw: the closed face's targets come from a teacher, got jaw={self.jaw} and no teacher")
        if self.angle_bins and not self.angle_pose:
            raise ValueError(f"angle_bins: shapes angle_pose's targets, got angle_bins={self.angle_bins} without it")
        if self.data == "dsprites" and (self.image_size != 64 or self.mode != "random" or self.augment):
            raise ValueError(f"data: dsprites are 64-pixel images on random batches without augmentation, got "
                             f"image_size {self.image_size}, mode {self.mode!r}, augment {self.augment}")

    def network(self) -> DCIGNConfig | VITAEConfig:
        """The architecture this config trains."""
        if self.model.endswith("vitae"):
            return VITAEConfig(image_size=self.image_size, appearance_dim=self.latent_dim,
                               perspective_dim=self.perspective_dim, channels=self.channels,
                               decoder_hidden=self.decoder_hidden, conditional=self.model == "c-vitae")
        return DCIGNConfig(image_size=self.image_size, latent_dim=self.latent_dim, channels=self.channels,
                           decoder_hidden=self.decoder_hidden)


PRESETS: dict[str, tuple[dict, ...]] = {  # name -> stages; each stage starts from the previous one's weights
    "paper": ({"mode": "specific", "clamp": "first", "invariance": 0.01, "shape_bias": 10.0},),
    "default": ({"steps": 4000, "mode": "random", "decoder_hidden": 512},
                {"steps": 6000, "mode": "specific", "clamp": "mean", "shape_bias": 1.0, "decoder_hidden": 512,
                 "mirror": 10.0, "slowness": 5000.0, "intrinsic_camera": True, "camera_invariance": 300.0}),
}


def curriculum_spread(config: TrainConfig, step: int) -> float:
    """Fraction of the prior range an extrinsic batch varies at ``step`` (1-based): CURRICULUM_START rising
    linearly to 1 over ``config.curriculum`` steps, then 1."""
    if config.curriculum == 0:
        return 1.0
    return min(1.0, CURRICULUM_START + (1 - CURRICULUM_START) * (step - 1) / config.curriculum)


def _sprites(rng: np.random.Generator, n: int) -> torch.Tensor:
    """n dSprites drawn uniformly from the grid as network input: (n, 1, 64, 64) float32 in {0, 1}."""
    return torch.from_numpy(sample_sprites(rng, n)[0].astype(np.float32))[:, None]


def open_jaws(scenes: Scene, rng: np.random.Generator) -> Scene:
    """The scenes with one more shape coefficient, that of :func:`abc_inverse.model.expression.with_jaw`'s jaw: U(0, 1)
    (the jaw dropped by up to the run's ``jaw`` degrees) in a :data:`JAW_SHARE` of them at random, 0 (closed) in the
    rest."""
    n = len(scenes.azimuth)
    opening = np.where(rng.uniform(size=n) < JAW_SHARE, rng.uniform(size=n), 0.0)
    return scenes._replace(shape=np.concatenate([scenes.shape, opening[:, None]], 1))


def draw_batch(simulator: Simulator, rng: np.random.Generator, config: TrainConfig, step: int | None = None,
               teacher: Teacher | None = None, jaw_simulator: Simulator | None = None) -> Batch:
    """One training minibatch (:class:`encoders.batches.Batch`).

    Random mode: independent prior scenes. Specific mode: one batch type (shape bias), its scenes
    (:func:`encoders.batches.transformation_scenes`, angle range from :func:`curriculum_spread` at ``step``;
    None = the full range), its active latents and, for an extrinsic type, the order of its varied angle and
    (with ``config.camera_invariance``) its scenes rendered from other cameras. With ``config.augment`` the
    encoder's inputs are domain-randomised (:func:`encoders.augment.augment`; in specific mode one draw per batch)
    and the clean renders are the target. With a ``teacher`` (distillation, random mode): the first
    :func:`encoders.distill.clean_count` inputs are left clean and the target is the teacher's render of each scene
    (with ``config.centred_pose``, ``x_camera`` holds its render from the centred camera; with ``config.angle_pose``,
    ``angles`` holds the scenes' angles); with ``config.jaw``, the inputs (clean share included) are rendered by
    ``jaw_simulator`` (the simulator's model :func:`abc_inverse.model.expression.with_jaw`) with jaws opened by
    :func:`open_jaws`, the teacher's renders with the jaw closed.
    With ``config.data == 'dsprites'``: independent dSprites (random mode).
    """
    if config.data == "dsprites":
        return Batch(_sprites(rng, config.batch_size))
    if bool(config.jaw) != (jaw_simulator is not None):
        raise ValueError(f"jaw_simulator: expected one exactly when config.jaw > 0, got jaw={config.jaw} and "
                         f"{'a' if jaw_simulator is not None else 'no'} jaw simulator")

    def images(scenes, source: Simulator = simulator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(encoder input, clean render or None without augment) of the scenes, rendered by ``source``."""
        if not config.augment:
            return torch.from_numpy(source(scenes))[:, None], None
        clean, coverage = source.render_with_coverage(scenes)
        shared = config.mode == "specific"  # within a transformation batch only its factor varies
        x = augment(clean, coverage, rng, shared, config.framing, config.head)
        return torch.from_numpy(x)[:, None], torch.from_numpy(clean)[:, None]

    if config.mode != "specific":
        scenes = simulator.prior.sample(rng, config.batch_size)
        x, target = images(scenes) if jaw_simulator is None else images(open_jaws(scenes, rng), jaw_simulator)
        if teacher is None:
            return Batch(x, target=target)
        if target is not None:
            k = clean_count(len(x))
            x[:k] = target[:k]
        centred = teacher.render_centred(scenes) if config.centred_pose else None
        angles = teacher.angles(scenes) if config.angle_pose else None
        return Batch(x, x_camera=centred, target=teacher.render(scenes), angles=angles)
    kind = draw_batch_type(rng, config.shape_bias)
    spread = 1.0 if step is None else curriculum_spread(config, step)
    scenes = transformation_scenes(simulator.prior, rng, kind, config.batch_size, spread, config.intrinsic_camera)
    active = torch.from_numpy(active_latents(kind, config.latent_dim))
    x, target = images(scenes)
    if kind not in VARIED_ANGLE:
        return Batch(x, active, target=target)
    order = torch.from_numpy(np.argsort(getattr(scenes, VARIED_ANGLE[kind]), kind="stable"))
    x_camera = None
    if config.camera_invariance and kind in CAMERA_TERM_KINDS:
        moved = scenes._replace(camera=simulator.prior.sample(rng, config.batch_size).camera)
        x_camera = images(moved)[0]
    return Batch(x, active, order, x_camera, target)


def train_step(model: DCIGN, opt: torch.optim.Optimizer, batch: Batch, gen: torch.Generator, config: TrainConfig,
               teacher: Teacher | None = None) -> tuple[float, float, float]:
    """One update on a :class:`encoders.batches.Batch`: the objective of :mod:`encoders.losses` (the ELBO with
    clamping in specific mode, plus every term with a non-zero weight). Returns (loss, reconstruction, KL), nats
    per image, loss = -ELBO (unweighted). With a ``teacher``: the update minimises
    :func:`encoders.distill.distillation_loss` instead, and returns (that loss, the means' squared error per latent,
    0)."""
    if teacher is not None:
        loss, mse = distillation_loss(model, batch.x, *teacher.codes(batch.target, batch.x_camera, batch.angles))
        reported = loss.item(), mse.item(), 0.0
    else:
        f = forward_pass(model, batch, gen, config.clamp)
        loss = objective(f, config)
        reported = (f.reconstruction + f.kl).item(), f.reconstruction.item(), f.kl.item()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return reported


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of step 1 … config.steps: ``lr`` at step 1, falling linearly to ``lr_final`` · ``lr`` at the
    last step (constant with lr_final = 1, as in the paper). A resumed run that asks for more steps stretches the
    rest of the schedule."""
    done = (step - 1) / max(config.steps - 1, 1)
    return config.lr * (1 - (1 - config.lr_final) * done)


def make_optimizer(model: DCIGN, config: TrainConfig) -> torch.optim.RMSprop:
    """RMSprop with the run's learning rate, squared-gradient smoothing and weight decay (§4)."""
    return torch.optim.RMSprop(model.parameters(), lr=config.lr, alpha=config.rms_alpha,
                               weight_decay=config.weight_decay)


def resume_config(path: Path, changes: dict | None = None) -> TrainConfig:
    """The TrainConfig of the run that wrote checkpoint ``path``, with ``changes`` applied.

    changes : {field: value}; only fields in RESUMABLE_CHANGES may differ from the checkpoint's values.
    Raises FileNotFoundError / ValueError (from :func:`encoders.dcign.read_checkpoint`) for a missing or corrupt
    file, ValueError if the checkpoint holds no resumable training state or a change would alter the run.
    """
    _, meta, extra = read_checkpoint(path, CHECKPOINTS)
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


@dataclass
class Run:
    """The mutable state of a training run: what a checkpoint holds and what the loop changes."""

    config: TrainConfig
    simulator: Simulator
    model: DCIGN
    opt: torch.optim.Optimizer
    rng: np.random.Generator
    gen: torch.Generator
    heldout: torch.Tensor
    record: dict
    teacher: Teacher | None = None
    jaw_simulator: Simulator | None = None  # with config.jaw: renders the student's inputs (draw_batch)
    # a distillation's held-out set: (clean inputs, randomised inputs or None without augment, the teacher's means)
    heldout_distill: tuple | None = None
    history: list = field(default_factory=list)
    done: int = 0
    elapsed: float = 0.0


def start_run(config: TrainConfig, command: str, resume: Path | None, init: Path | None,
              device: torch.device = CPU) -> Run:
    """A fresh run, or one continued from checkpoint ``resume`` or started from the weights of ``init``, its network
    on ``device``. Raises ValueError for both, a checkpoint of another architecture or simulator, or one beyond
    config.steps."""
    if resume is not None and init is not None:
        raise ValueError("resume, init: give at most one (a resumed run keeps the weights it started from)")
    simulator = Simulator(load_model(config.n_shape, config.n_albedo),
                          RenderSettings(image_size=config.image_size, supersample=config.supersample,
                                         features=config.features, lighting=config.lighting))
    arch = config.network()
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = (VITAE if isinstance(arch, VITAEConfig) else DCIGN)(arch)
    teacher = Teacher(config.teacher, device) if config.teacher else None
    if teacher is not None:
        if teacher.model.config != arch:
            raise ValueError(f"teacher: {config.teacher!r} has architecture {asdict(teacher.model.config)}, the run "
                             f"trains {asdict(arch)}")
        if init is not None:
            raise ValueError(f"init, teacher: a distillation starts from its teacher's weights; give no init, got "
                             f"init {str(init)!r}")
        model.load_state_dict(teacher.model.state_dict())
    if resume is not None or init is not None:
        source = Path(resume if resume is not None else init)
        loaded, meta, extra = read_checkpoint(source, CHECKPOINTS)
        if loaded.config != arch:
            raise ValueError(f"{'resume' if resume is not None else 'init'}: {str(source)!r} has architecture "
                             f"{asdict(loaded.config)}, the run needs {asdict(arch)}")
        model.load_state_dict(loaded.state_dict())
    model.to(device)
    heldout_rng = np.random.default_rng(10**6 + config.seed)
    if config.data == "dsprites":  # no renderer: the checkpoint's simulator entry stays empty
        heldout, rendered_by = _sprites(heldout_rng, 256), {}
    else:
        scenes = simulator.prior.sample(heldout_rng, 256)
        heldout, coverage = (torch.from_numpy(a)[:, None] for a in simulator.render_with_coverage(scenes)) \
            if teacher is not None else (torch.from_numpy(simulator(scenes))[:, None], None)
        rendered_by = simulator.get_config()
    run = Run(config, simulator, model, make_optimizer(model, config), np.random.default_rng(config.seed),
              torch.Generator().manual_seed(config.seed), heldout.to(device),
              {"command": command, "config": asdict(config), "simulator": rendered_by, "device": str(device)},
              teacher, Simulator(with_jaw(simulator.model, config.jaw), simulator.settings) if config.jaw else None)
    if teacher is not None:
        randomised = torch.from_numpy(augment(heldout[:, 0].numpy(), coverage[:, 0].numpy(), heldout_rng,
                                              framing=config.framing, head=config.head))[:, None] \
            if config.augment else None
        centred = teacher.render_centred(scenes) if config.centred_pose else None
        curves = teacher.fit_curves(np.random.default_rng((CURVE_SEED, config.seed)), bins=config.angle_bins) \
            if config.angle_pose else None
        angles = teacher.angles(scenes) if config.angle_pose else None
        targets = teacher.codes(teacher.render(scenes), centred, angles)[0]  # fixed: encoded once
        run.heldout_distill = (run.heldout, None if randomised is None else randomised.to(device), targets)
        run.record["teacher"] = {"path": teacher.path, "weights_sha256": teacher.digest, "mode": teacher.mode,
                                 **({} if curves is None else {"pose_curves": {
                                     "knots": curves[0].round(6).tolist(), "values": curves[1].round(6).tolist()}})}
    if resume is None and init is None:
        return run
    if resume is None:
        run.record["init"] = {"path": str(source), "weights_sha256": weights_digest(model)}
        return run
    if (simulator_from_config(meta.simulator).get_config() if meta.simulator else {}) != rendered_by:
        raise ValueError(f"resume: {str(source)!r} was trained on renders from another model or renderer "
                         f"version; start a new run")
    trained_by = meta.train.get("teacher", {}).get("weights_sha256")
    if teacher is not None and trained_by != teacher.digest:
        raise ValueError(f"teacher: {config.teacher!r} has weights sha256 {teacher.digest[:12]}…, the run being "
                         f"resumed was distilled from {str(trained_by)[:12]}…; resume with the same teacher")
    run.done = int(extra["step"])
    if run.done > config.steps:
        raise ValueError(f"steps: the checkpoint is at step {run.done}, beyond the requested {config.steps}")
    run.opt.load_state_dict(extra["optimizer"])
    run.rng.bit_generator.state = json.loads(extra["numpy_rng"])
    run.gen.set_state(extra["torch_rng"])
    run.history, run.elapsed = extra["history"].tolist(), float(extra["wall_time_s"])
    # the run's own command stays its provenance; each resume is listed after it
    run.record["command"] = meta.train.get("command", command)
    if "init" in meta.train:
        run.record["init"] = meta.train["init"]
    run.record["resumed"] = [*meta.train.get("resumed", []), {"command": command, "from_step": run.done}]
    return run


def save_run(run: Run, out: Path, step: int, wall: float) -> None:
    """Write checkpoint ``out`` (weights, optimizer, random states, history) and its record ``out`` + ``.json``,
    both atomically."""
    final = float(np.mean(run.history[-100:])) if run.history else math.nan
    run.record.update(steps_done=step, wall_time_s=round(wall, 1),
                      heldout=elbo_terms(run.model, run.heldout, torch.Generator().manual_seed(1)),
                      torch_version=torch.__version__)
    if run.teacher is None:
        run.record["final_train_elbo"] = final
    else:  # history holds minus the distillation loss
        clean, randomised, targets = run.heldout_distill
        run.record.update(final_train_distillation_loss=-final, heldout_distillation={
            "mse_clean": heldout_error(run.model, clean, targets),
            "mse_randomised": None if randomised is None else heldout_error(run.model, randomised, targets),
            "teacher_code_variance": code_variance(targets)})
    state = {"optimizer": run.opt.state_dict(), "step": step, "numpy_rng": json.dumps(run.rng.bit_generator.state),
             "torch_rng": run.gen.get_state(), "history": torch.tensor(run.history, dtype=torch.float64),
             "wall_time_s": wall}
    save_checkpoint(out, run.model, CheckpointMeta(simulator=run.record["simulator"], train=dict(run.record)),
                    extra=state)
    write_text(out.with_name(out.name + ".json"), json.dumps(run.record, indent=2) + "\n")


def train(config: TrainConfig, out: Path, command: str = "", progress: bool = True, resume: Path | None = None,
          init: Path | None = None, device: torch.device = CPU) -> dict:
    """Train a DC-IGN and write ``out`` (checkpoint) and ``out`` + ``.json`` (training record).

    resume : checkpoint of an interrupted run with this ``config`` (see :func:`resume_config`); training goes on
    from its step with its optimizer, weights, history and random-number states, so the result equals an
    uninterrupted run's. init : checkpoint whose weights start the run (e.g. a random-mode network before
    specific-mode training); its architecture must match ``config``; the optimizer starts afresh. device : where
    the network trains (renders and their randomisation stay on the CPU; the reparameterisation noise is drawn on
    the CPU, so a run's random stream does not depend on the device, though its floating-point results may).
    Returns the training record: config, command line, wall time, final training and held-out ELBO.
    Checkpoints are written atomically every ``checkpoint_every`` steps and at the end.
    Raises ValueError for a mismatched ``resume``/``init`` checkpoint or ``resume`` beyond ``config.steps``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run = start_run(config, command, resume, init, device)
    start = time.perf_counter() - run.elapsed
    run.model.train()
    bar = tqdm(range(run.done + 1, config.steps + 1), desc="train DC-IGN", disable=not progress, mininterval=1.0,
               initial=run.done, total=config.steps)
    for step in bar:
        batch = draw_batch(run.simulator, run.rng, config, step, run.teacher, run.jaw_simulator)
        batch = Batch(*(None if t is None else t.to(device) for t in batch))
        for group in run.opt.param_groups:
            group["lr"] = learning_rate(config, step)
        loss, rec, kl = train_step(run.model, run.opt, batch, run.gen, config, run.teacher)
        run.history.append(-loss)
        if step % 20 == 0 and run.teacher is not None:
            bar.set_postfix(loss=f"{-np.mean(run.history[-20:]):.3f}", mse=f"{rec:.4f}")
        elif step % 20 == 0:
            bar.set_postfix(elbo=f"{np.mean(run.history[-20:]):.1f}", rec=f"{rec:.1f}", kl=f"{kl:.1f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_run(run, out, step, time.perf_counter() - start)
    if run.done == config.steps:
        save_run(run, out, run.done, time.perf_counter() - start)
    return run.record
