"""What every summary statistic is: the :class:`SummaryStatistic` interface, the input check all of them share, and
the no-learning baseline (raw pixels). The networks (:mod:`encoders.dcign`, :mod:`encoders.imagenet`) build on this
module; :mod:`encoders.statistics` names them all.

A summary statistic ν is any object with ``name`` (str), ``image_size`` (int, pixels), ``get_config()``
(provenance dict) and ``__call__(images (N, image_size, image_size) float32 grey in [0, 1]) -> (N, S)``
(Kulkarni et al. 2015 §4.1: ν(I_D), ν(I_R) compared by a distance ρ).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SummaryStatistic(Protocol):
    """What the sampler needs of a summary statistic (see the module docstring)."""

    name: str
    image_size: int

    def get_config(self) -> dict: ...

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


def check_images(images: np.ndarray, size: int) -> np.ndarray:
    """``images`` as an array after checking it is (N, size, size) with finite intensities in [0, 1].
    Raises ValueError naming what was expected and what was received."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(f"images: expected shape (N, {size}, {size}) grey, got {images.shape}")
    if not np.all(np.isfinite(images)) or images.min(initial=0) < 0 or images.max(initial=0) > 1:
        raise ValueError("images: expected finite intensities in [0, 1]")
    return images


class PixelStatistic:
    """ν(x) = x: the grey intensities in [0, 1], flattened to (N, image_size²) float64 (the no-learning baseline)."""

    def __init__(self, image_size: int = 64):
        self.name, self.image_size = "pixels", int(image_size)

    def get_config(self) -> dict:
        """Provenance: name and image size."""
        return {"name": self.name, "image_size": self.image_size}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self.image_size)
        return images.reshape(len(images), -1).astype(np.float64)
