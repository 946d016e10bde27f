"""The training objective as a sum of named, registered loss terms.

One training step runs :func:`forward_pass` once (encode, reparameterise, clamp the latents a batch does not
train, decode) and evaluates every term of :data:`TERMS` whose weight is not 0 on the result; the objective is the
sum of weight × term (:func:`objective`). A term returns a scalar tensor, or None where it does not apply (the
extras in random mode). The ELBO term and the clamping with invariance targeting are the paper's (Kulkarni et al.
2015 §3, §3.2, §3.2.1); ``mirror``, ``slowness`` and ``camera`` are not in the paper (each function says why it
exists). Each weight is a field of :class:`encoders.train.TrainConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from encoders.batches import CAMERA_TERM_KINDS, LATENT_OF, Batch
from encoders.clamp import clamp_latents, invariance_penalty
from encoders.dcign import DCIGN, sgvb_loss


class Forward(NamedTuple):
    """One step's forward pass. model; batch (:class:`encoders.batches.Batch`); mu, logvar, z (N, L) (z as sampled,
    before clamping); logits (N, 1, H, W) (decoded from the clamped z in specific mode); reconstruction, kl :
    scalar tensors, nats per image (the KL of the latents a batch clamps passes no gradient, §3.2)."""

    model: DCIGN
    batch: Batch
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class LossTerm(NamedTuple):
    """A registered term: its name, the TrainConfig field that weighs it (None: weight 1), whether it is in
    Kulkarni et al. 2015, and ``fn(forward, config) -> scalar tensor or None``."""

    name: str
    weight: str | None
    paper: bool
    fn: Callable


TERMS: dict[str, LossTerm] = {}


def register(name: str, weight: str | None, paper: bool):
    """Decorator: add ``fn(forward, config)`` to :data:`TERMS` under ``name`` (terms are summed in this order)."""
    def add(fn):
        TERMS[name] = LossTerm(name, weight, paper, fn)
        return fn
    return add


def forward_pass(model: DCIGN, batch: Batch, generator: torch.Generator, clamp: str) -> Forward:
    """Encode, reparameterise (noise from ``generator``), clamp the inactive latents of a specific-mode batch to
    ``clamp`` ('first' or 'mean'; :func:`encoders.clamp.clamp_latents`) and decode; the reconstruction is scored
    against ``batch.target`` when there is one, else against the input. A random-mode batch goes through the
    network's own ``forward`` (the same draws for a DC-IGN; C-VITAE reads appearance given the drawn z_P)."""
    if batch.active is None:
        logits, mu, logvar, z = model(batch.x, generator)
    else:
        mu, logvar = model.encode(batch.x)
        z = model.reparameterise(mu, logvar, generator)
        logits = model.decode_logits(clamp_latents(z, batch.active, clamp))
    _, rec, kl = sgvb_loss(logits, batch.x if batch.target is None else batch.target, mu, logvar, batch.active)
    return Forward(model, batch, mu, logvar, z, logits, rec, kl)


def objective(f: Forward, config) -> torch.Tensor:
    """Σ weight × term over :data:`TERMS` with a non-zero weight (``config`` holds the weights)."""
    total = None
    for term in TERMS.values():
        weight = 1.0 if term.weight is None else getattr(config, term.weight)
        value = term.fn(f, config) if weight else None
        if value is not None:
            value = value if term.weight is None else weight * value
            total = value if total is None else total + value
    return total


@register("elbo", weight=None, paper=True)
def negative_elbo(f: Forward, config) -> torch.Tensor:
    """Reconstruction + β·KL, nats per image (β = ``kl_weight``; 1 is the SGVB bound of §3)."""
    return f.reconstruction + config.kl_weight * f.kl


@register("invariance", weight="invariance", paper=True)
def invariance_term(f: Forward, config) -> torch.Tensor | None:
    """Invariance targeting (§3.2.1): :func:`encoders.clamp.invariance_penalty` of a specific-mode batch."""
    return None if f.batch.active is None else invariance_penalty(f.z, f.batch.active)


@register("mirror", weight="mirror", paper=False)
def mirror_term(f: Forward, config) -> torch.Tensor | None:
    """:func:`mirror_penalty` of a specific-mode batch."""
    return None if f.batch.active is None else mirror_penalty(f.model, f.batch.x, f.mu, f.batch.active)


@register("slowness", weight="slowness", paper=False)
def slowness_term(f: Forward, config) -> torch.Tensor | None:
    """:func:`slowness_penalty` of a specific-mode batch."""
    return None if f.batch.active is None else slowness_penalty(f.mu, f.batch.active, f.batch.order)


@register("camera", weight="camera_invariance", paper=False)
def camera_term(f: Forward, config) -> torch.Tensor | None:
    """:func:`camera_penalty` of a specific-mode batch."""
    return None if f.batch.active is None else camera_penalty(f.model, f.batch.x_camera, f.mu, f.batch.active)


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
    sign = torch.zeros(active.shape, dtype=mu.dtype, device=mu.device)
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

    A camera translation (±20 mm, :func:`abc_inverse.model.scene.camera_position_mm`) mostly shifts the face in the
    image,
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
