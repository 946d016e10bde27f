"""Latent clamping for specific-transformation training, with optional invariance targeting.

Forward: the inactive latents of every row are replaced by one value per batch — the first example's
(Kulkarni et al. 2015 §3.2, steps 3-4, and the original code) or the batch mean (the later Model section).
Backward: active latents pass their gradient unchanged; inactive latents get zero gradient (§3.2 step 5) or,
with invariance targeting (§3.2.1), the gradient ``factor · (z - mean_batch z)``, i.e. the gradient of
``factor / 2 · Σ ||z_inactive - mean||²``, which pulls the inactive latents of the batch towards one another
(the paper's factor: 1/100).
"""

from __future__ import annotations

import torch

CLAMP_MODES = ("first", "mean")


class ClampLatents(torch.autograd.Function):
    """``ClampLatents.apply(z, active, mode, invariance)``.

    z : (N, L) float tensor, latent codes of a batch. active : (L,) bool tensor, True for the latents the batch
    varies (z_train). mode : 'first' or 'mean'. invariance : float ≥ 0, invariance-targeting factor (0 = the
    paper's zero gradient). Returns (N, L): active columns as z, inactive columns constant over the batch.
    """

    @staticmethod
    def forward(ctx, z, active, mode, invariance):
        if mode not in CLAMP_MODES:
            raise ValueError(f"clamp: expected one of {CLAMP_MODES}, got {mode!r}")
        held = z[:1] if mode == "first" else z.mean(dim=0, keepdim=True)
        ctx.save_for_backward(z, active)
        ctx.invariance = float(invariance)
        return torch.where(active, z, held.expand_as(z))

    @staticmethod
    def backward(ctx, grad):
        z, active = ctx.saved_tensors
        inactive_grad = ctx.invariance * (z - z.mean(dim=0, keepdim=True))
        return torch.where(active, grad, inactive_grad), None, None, None
