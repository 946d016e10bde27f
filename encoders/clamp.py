"""Latent clamping for specific-transformation training (Kulkarni et al. 2015 §3.2) and invariance targeting
(§3.2.1).

:func:`clamp_latents` replaces the inactive latents of every row by one value per batch — the first example's (§3.2,
steps 3-4, and the original code) or the batch mean (the later Model section) — and gives them zero gradient
(§3.2 step 5). :func:`invariance_penalty` is the loss term whose gradient is ``z - mean_batch z`` on the inactive
latents, so that ``factor ·`` it pulls the inactive latents of a batch towards one another (§3.2.1; the paper's
factor: 1/100); :mod:`encoders.losses` registers it.
"""

from __future__ import annotations

import torch

CLAMP_MODES = ("first", "mean")


def clamp_latents(z: torch.Tensor, active: torch.Tensor, mode: str) -> torch.Tensor:
    """z (N, L) float latents of a batch; active (L,) bool, True for the latents the batch varies (z_train);
    mode 'first' or 'mean'. Returns (N, L): active columns as z (gradient passes), inactive columns constant over
    the batch (no gradient). Raises ValueError for another mode."""
    if mode not in CLAMP_MODES:
        raise ValueError(f"clamp: expected one of {CLAMP_MODES}, got {mode!r}")
    held = z[:1] if mode == "first" else z.mean(dim=0, keepdim=True)
    return torch.where(active, z, held.detach().expand_as(z))


def invariance_penalty(z: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Invariance targeting (§3.2.1) as a loss term: Σ over the batch and the inactive latents of z · sg(z − batch
    mean of z), sg stopping the gradient. z (N, L), active (L,) bool; returns a scalar tensor.

    §3.2.1 prescribes a gradient, not a loss: the term's gradient with respect to z is exactly ``z − mean`` on the
    inactive columns and 0 on the active ones, as the paper's; its value (Σ (z − mean)²) is only reported."""
    inactive = z[:, ~active]
    return (inactive * (inactive - inactive.mean(dim=0, keepdim=True)).detach()).sum()
