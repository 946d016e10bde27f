"""Elliptical proposals in standard-normal coordinates, blockwise.

u' = √(1 - α²) u + α ν on one block of u, ν ~ N(0, I), α ~ U(-1, 1); the other blocks are unchanged. For every
α the pair (u, u') is jointly Gaussian with a symmetric covariance under u ~ N(0, I), so the proposal is
reversible with respect to the prior and the Metropolis-Hastings ratio reduces to the ABC kernel ratio.

That holds for any distribution of α drawn independently of the state, so besides the paper's α ~ U(-1, 1)
(``min_scale = 1``) a multi-scale variant is offered: α = s · U(-1, 1) with log s ~ U(log min_scale, 0). Once the
posterior is narrow (pose known to a few degrees), moves with |α| near 1 are almost always rejected; the small
scales keep such blocks mixing while the large ones still jump between modes.

References
----------
Kulkarni et al. 2015 §4.1 (elliptical proposals over 3DMM scene variables); Neal 1999; Murray, Adams & MacKay
2010 (elliptical slice sampling).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np


class Proposal(NamedTuple):
    """A batch of proposals. position (C, D) float64; alpha (C,) float64; block (C,) int64 (index into
    the block names)."""

    position: np.ndarray
    alpha: np.ndarray
    block: np.ndarray


def elliptical_move(u: np.ndarray, nu: np.ndarray, alpha: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """u' = √(1 - α²) u + α ν where mask is True, u elsewhere. u, nu, mask (C, D); alpha (C,) in [-1, 1]."""
    a = alpha[:, None]
    return np.where(mask, np.sqrt(1.0 - a**2) * u + a * nu, u)


def blockwise_elliptical(blocks: Mapping[str, slice], dim: int, min_scale: float = 1.0
                         ) -> Callable[[np.random.Generator, np.ndarray], Proposal]:
    """Factory of a random-scan blockwise elliptical proposal.

    blocks : name -> slice of the D coordinates; together they must cover 0..D-1 without overlap.
    min_scale : float in (0, 1]. 1 gives the paper's α ~ U(-1, 1); smaller values draw α = s · U(-1, 1) with
    log s ~ U(log min_scale, 0).
    Returns ``propose(rng, u)`` for u (C, D) float64: each chain picks one block uniformly at random and moves
    it by :func:`elliptical_move`. Raises ValueError if the blocks do not partition 0..D-1 or min_scale is not in
    (0, 1].
    """
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale: expected a number in (0, 1], got {min_scale}")
    masks = np.zeros((len(blocks), dim), dtype=bool)
    for i, sl in enumerate(blocks.values()):
        masks[i, sl] = True
    if not np.array_equal(masks.sum(axis=0), np.ones(dim)):
        raise ValueError(f"blocks: expected a partition of 0..{dim - 1}, got {dict(blocks)}")

    def propose(rng: np.random.Generator, u: np.ndarray) -> Proposal:
        n = len(u)
        block = rng.integers(len(masks), size=n)
        alpha = rng.uniform(-1.0, 1.0, size=n) * min_scale ** rng.uniform(size=n)
        nu = rng.standard_normal(u.shape)
        return Proposal(elliptical_move(u, nu, alpha, masks[block]), alpha, block)

    return propose
