"""Summary statistics by name: one interface for DC-IGN codes, ImageNet CNN layers and raw pixels.

A summary statistic ν is any object with ``name`` (str), ``image_size`` (int, pixels), ``get_config()``
(provenance dict) and ``__call__(images (N, image_size, image_size) float32 grey in [0, 1]) -> (N, S)``
(Kulkarni et al. 2015 §4.1: ν(I_D), ν(I_R) compared by a distance ρ). DC-IGN statistics also carry ``meta``,
the record of the renders they were trained on.

Specifications (``abc-inverse bench-stats --statistics``), optionally prefixed by a label ``LABEL=``:

* ``pixels`` — the image itself, flattened (S = image_size²);
* ``dcign`` (the shipped network) or ``dcign:PATH`` (a checkpoint made by ``abc-inverse train``);
* ``squeezenet[:LAYER]``, ``efficientnet[:LAYER]`` — :class:`encoders.imagenet.ImageNetStatistic`.
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
        return {"name": self.name, "image_size": self.image_size}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self.image_size)
        return images.reshape(len(images), -1).astype(np.float64)


def split_label(spec: str) -> tuple[str, str]:
    """'LABEL=SPEC' -> (LABEL, SPEC); a bare SPEC is its own label. Raises ValueError on an empty part."""
    label, _, body = spec.partition("=") if "=" in spec else (spec, "", spec)
    label, body = label.strip(), body.strip()
    if not label or not body:
        raise ValueError(f"statistic: expected SPEC or LABEL=SPEC, got {spec!r}")
    return label, body


def make_statistic(spec: str, image_size: int = 64) -> SummaryStatistic:
    """The statistic named by ``spec`` (without label; see the module docstring) for renders of ``image_size``.

    Raises ValueError for an unknown name, network or layer, or a DC-IGN checkpoint for another image size;
    FileNotFoundError for a missing checkpoint.
    """
    name, _, arg = spec.partition(":")
    if name == "pixels" and not arg:
        return PixelStatistic(image_size)
    if name == "dcign":
        from encoders.dcign import DCIGNStatistic

        statistic = DCIGNStatistic.from_checkpoint(arg or None)
        if statistic.image_size != image_size:
            raise ValueError(f"statistic {spec!r}: trained on {statistic.image_size}-pixel renders, "
                             f"expected {image_size}")
        return statistic
    from encoders.imagenet import DEFAULT_LAYER, NETWORKS, ImageNetStatistic

    if name in NETWORKS:
        return ImageNetStatistic(name, arg or DEFAULT_LAYER[name], image_size)
    raise ValueError(f"statistic: expected pixels, dcign[:CHECKPOINT], squeezenet[:LAYER] or "
                     f"efficientnet[:LAYER], got {spec!r}")
