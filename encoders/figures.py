"""Figures of a DC-IGN evaluation (Kulkarni et al. 2015 Fig. 8, 9, 10), from :mod:`encoders.evaluate` results."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abc_inverse.io import atomic_path  # noqa: E402

TITLES = {"azimuth": "face azimuth", "elevation": "face elevation", "light_azimuth": "light azimuth"}


def _save(fig, path: Path) -> None:
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def equivariance_plot(eq: dict, path: Path, title: str = "") -> None:
    """Fig. 9a-c: z1, z2, z3 (encoder mean) against the true swept angle (degrees), with Pearson r."""
    fig, axes = plt.subplots(1, len(eq), figsize=(4 * len(eq), 3.6))
    for ax, (name, e) in zip(np.atleast_1d(axes), eq.items(), strict=True):
        ax.scatter(e["truth_deg"], e["z"], s=3, alpha=0.25)
        ax.set(xlabel=f"true {TITLES[name]} (degrees)", ylabel=e["latent"], title=f"{e['latent']}: r = {e['r']:.3f}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def invariance_plot(curves: dict, path: Path) -> None:
    """Fig. 9d-f: mean cosine distance of z_identity to the frontal image's against each swept angle.

    curves : {network label: output of :func:`encoders.evaluate.invariance`}; one line per network, a band of
    ± one standard error over faces.
    """
    names = list(next(iter(curves.values())))
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        for label, inv in curves.items():
            c = inv[name]
            ax.plot(c["values_deg"], c["mean"], label=label)
            ax.fill_between(c["values_deg"], c["mean"] - c["sem"], c["mean"] + c["sem"], alpha=0.25)
        ax.set(xlabel=f"{TITLES[name]} (degrees)", title=TITLES[name])
    np.atleast_1d(axes)[0].set_ylabel("cosine distance of z_identity to frontal")
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def decoder_sweep_plot(sweeps: dict, path: Path) -> None:
    """Fig. 8/10: per variable, the true renders (top row) and the decoder's output with that latent swept and
    all others clamped (bottom row)."""
    rows = []
    for name, s in sweeps.items():
        rows += [(f"{TITLES[name]}\ntrue", s["true"]), (f"decoded,\n{s['latent']} swept", s["decoded"])]
    steps = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), steps, figsize=(1.1 * steps, 1.15 * len(rows)))
    for i, (label, images) in enumerate(rows):
        for j in range(steps):
            ax = axes[i, j]
            ax.imshow(images[j], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.2)
    _save(fig, path)
