"""Figures of a fit: ArviZ trace plot, pixel error against iteration (paper Fig. 6a), observed vs renders."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abc_inverse.fit import backdrop, posterior_scenes, simulate_images, simulated_group  # noqa: E402
from abc_inverse.io import atomic_path  # noqa: E402
from abc_inverse.model.scene import ANGLES  # noqa: E402
from abc_inverse.render.simulator import Simulator  # noqa: E402
from samplers.diagnostics import stat_with_warmup, stuck_chains  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def trace_plot(idata: az.InferenceData, path: Path) -> None:
    """ArviZ trace plot of azimuth, elevation and light azimuth (degrees), one line per chain. The marginals are
    kernel density estimates, or histograms where a chain never moved (:func:`samplers.diagnostics.stuck_chains`,
    e.g. stuck at the prior's edge), whose density ArviZ cannot estimate (a zero bandwidth: it raised OverflowError)."""
    stuck = any(stuck_chains(idata.posterior[name].values).any() for name in ANGLES)
    with az.rc_context({"plot.density_kind": "hist" if stuck else "kde"}):
        axes = az.plot_trace(idata, var_names=list(ANGLES), compact=False, figsize=(10, 7))
    for ax in axes[:, 0]:
        ax.set_xlabel("degrees")
    _save(axes.ravel()[0].figure, path)


PILOT_GAP = 40  # iterations between the pilot's mark and the search's first step, in pixel_error_plot


def search_pixel_mse(idata: az.InferenceData) -> dict:
    """The pixel MSE of a fit's search before its warm-up (:func:`abc_inverse.fit.fit`'s attrs ``search_pixel_mse``:
    ``pilot_quantiles`` (5 floats, its 5/25/50/75/95 % quantiles over the pilot's draws), ``pilot_from`` ('prior' or
    'q') and, where the emulator's ensemble ran, ``ensemble`` (its median at each step)); {} for a fit without one
    (sampler 'smc', or written before it was recorded)."""
    record = idata.posterior.attrs.get("search_pixel_mse")
    return json.loads(record) if record else {}


def draw_search(ax, search: dict, color=None, label: bool = True) -> None:
    """Draw :func:`search_pixel_mse`'s record at negative iterations of ``ax``: the ensemble's median line ending at
    -1 and, ``PILOT_GAP`` further left, the pilot's median with its 5–95 % range."""
    ensemble = search.get("ensemble", [])
    if ensemble:
        ax.plot(np.arange(-len(ensemble), 0), ensemble, lw=1, color=color or "0.4", ls=":",
                label="emulator's ensemble warm-up (median)" if label else None)
    if "pilot_quantiles" in search:
        q = search["pilot_quantiles"]
        ax.errorbar(-len(ensemble) - PILOT_GAP, q[2], yerr=[[q[2] - q[0]], [q[4] - q[2]]], fmt="o", ms=3,
                    color=color or "k", lw=0.8, label=f"pilot's {search['pilot_from']} draws (median, 5–95 %)"
                    if label else None)


def iteration_axis(ax, n_tune: int) -> None:
    """Fig. 6a's x axis: linear over the search and the warm-up (up to ``n_tune``, at least 100 steps), logarithmic
    beyond, so that the search's few steps and thousands of draws both show."""
    ax.set_xscale("symlog", linthresh=max(n_tune, 100), linscale=2)
    ax.set_xlabel("iteration (the search before 0; logarithmic after the warm-up)")


def pixel_error_plot(idata: az.InferenceData, path: Path) -> None:
    """Pixel MSE between the observed image and the chain's current render against iteration, one line per
    chain, tuning included, and before it, at negative iterations, the search the chains start from
    (:func:`draw_search`: the pilot's draws, the emulator's ensemble warm-up) where the fit recorded it
    (Kulkarni et al. 2015 Fig. 6a)."""
    mse, n_tune = stat_with_warmup(idata, "pixel_mse")
    fig, ax = plt.subplots(figsize=(7, 4))
    for c, row in enumerate(mse):
        ax.plot(np.arange(len(row)), row, lw=1, label=f"chain {c}")
    if n_tune:
        ax.axvline(n_tune, color="k", ls="--", lw=0.8, label="end of tuning")
    draw_search(ax, search_pixel_mse(idata))
    iteration_axis(ax, n_tune)
    ax.set(ylabel="pixel MSE (intensity² in [0, 1])", yscale="log", title="Pixel reconstruction error during inference")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    _save(fig, path)


def fit_plot(idata: az.InferenceData, simulator: Simulator, path: Path, n_draws: int = 6, seed: int = 0) -> None:
    """Observed image | best-fit render (the simulated draw of smallest distance, before any regression
    adjustment) | renders of ``n_draws`` random posterior draws, each against the background the fit compared it on
    (:func:`abc_inverse.fit.backdrop`)."""
    observed = idata.observed_data["image"].values
    dist = idata.sample_stats["distance"].values
    best = np.unravel_index(np.argmin(dist), dist.shape)
    rng = np.random.default_rng(seed)
    n_chain, n_draw = dist.shape
    picks = [(int(c), int(d)) for c, d in zip(rng.integers(n_chain, size=n_draws), rng.integers(n_draw, size=n_draws),
                                              strict=True)]
    index = [(int(best[0]), int(best[1])), *picks]
    groups = [simulated_group(idata)] + ["posterior"] * n_draws
    background = json.loads(idata.posterior.attrs["fit_config"]).get("background", "plain")
    behind = backdrop(simulator, observed, background)
    renders = [*simulate_images(simulator, posterior_scenes(idata, index[:1], groups[0]), behind),
               *simulate_images(simulator, posterior_scenes(idata, picks), behind)]
    titles = ["observed", "best fit"] + [f"draw {c}:{d}" for c, d in picks]
    images = [observed, *renders]
    fig, axes = plt.subplots(1, len(images), figsize=(1.9 * len(images), 2.4))
    for ax, img, title, (c, d), group in zip(axes, images, titles, [(None, None), *index], [None, *groups],
                                             strict=True):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        if c is not None:
            post = idata[group]
            ax.set_xlabel(f"az {post['azimuth'].values[c, d]:.0f}° el {post['elevation'].values[c, d]:.0f}°\n"
                          f"light {post['light_azimuth'].values[c, d]:.0f}°", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    _save(fig, path)


def write_plots(idata: az.InferenceData, simulator: Simulator, out_dir: Path) -> list[Path]:
    """Write trace.png, pixel_error.png and fit.png into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "trace.png", out_dir / "pixel_error.png", out_dir / "fit.png"]
    trace_plot(idata, paths[0])
    pixel_error_plot(idata, paths[1])
    fit_plot(idata, simulator, paths[2])
    return paths


def bench_pixel_error_plot(traces: dict[str, list[np.ndarray]], path: Path, tune: int = 0,
                           faces_shown: int = 3) -> None:
    """Fig. 6a across statistics: one panel per statistic, pixel MSE against iteration (the first ``tune`` are
    tuning steps, marked by a dashed line) for every chain of the first ``faces_shown`` faces (thin lines, one
    colour per face) and the median over all faces and chains (black).
    traces : {label: [(chains, iterations) float per face]}."""
    n = len(traces)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), sharey=True, squeeze=False)
    for ax, (label, per_face) in zip(axes.ravel(), traces.items(), strict=False):
        for k, mse in enumerate(per_face[:faces_shown]):
            for row in mse:
                ax.plot(row, lw=0.6, alpha=0.6, color=f"C{k}")
        ax.plot(np.median(np.concatenate(per_face), axis=0), color="k", lw=1.5, label="median, all faces")
        if tune:
            ax.axvline(tune, color="k", ls="--", lw=0.8, label="end of tuning")
        ax.set(title=label, xlabel="iteration", yscale="log")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("pixel MSE")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle("Pixel error during inference, each summary statistic (colours: faces; lines: chains)")
    fig.tight_layout()
    _save(fig, path)


def bench_bars_plot(rows: list[dict], path: Path) -> None:
    """Fig. 6b: per statistic, final pixel MSE (left) and absolute error of the posterior mean angles (right),
    means across faces with standard-error bars. rows : :func:`abc_inverse.bench_stats.summarize` output."""
    labels = [r["statistic"] for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8.0, 1.3 * len(rows) + 4), 4.2))
    ax1.bar(x, [r["pixel_mse"] for r in rows], yerr=[r["pixel_mse_se"] for r in rows], capsize=3, color="C0")
    ax1.set(ylabel="pixel MSE (posterior renders vs observed)", title="Pixel reconstruction error")
    width = 0.27
    for i, (name, text) in enumerate((("azimuth", "azimuth"), ("elevation", "elevation"),
                                      ("light_azimuth", "light azimuth"))):
        ax2.bar(x + (i - 1) * width, [r[f"abs_error_{name}"] for r in rows], width,
                yerr=[r[f"abs_error_{name}_se"] for r in rows], capsize=2, label=text)
    ax2.set(ylabel="|posterior mean − truth| (degrees)", title="Pose and light error")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    fig.suptitle(f"Summary statistics compared ({rows[0]['faces'] if rows else 0} held-out faces; "
                 "bars: mean ± standard error)")
    fig.tight_layout()
    _save(fig, path)
