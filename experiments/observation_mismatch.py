"""Observations that the scene model cannot reproduce exactly: how far do they move the fitted pose? Renders lit
from above or more softly than the model lights, or framed higher or lower than the model frames, fitted by the
default `abc-inverse fit --crop none`.

The scene model lights a face from one direction at elevation 0 (in the horizontal plane) with shading
albedo · (0.3 + 0.7 · max(0, n·l)), and frames it as its renders (a photo is framed so by ``--crop auto``, whose
constants were calibrated on renders). Photos are mostly lit from above and more softly, and their face detector's
box can sit higher or lower on a face than on a render; a photo's face has a neck under it and a background around
it that is rarely black. On photos the fitted elevations are biased (the first fits: median −21° against the
MediaPipe reference's −10°; fit's default since 2026-12-06: +8.4° above it, docs/results/real_photos); this
experiment measures, on renders whose pose is known, how much of such a bias each mismatch alone can cause.

Each of the five known-angle scenes of experiments/known_angle_recovery.py (identities 1–5, camera centred) is
rendered under each :class:`Condition` of ``CONDITIONS`` (light from above, softer light, the face framed higher or
lower, eyes, brows and lips painted on, a hair ellipse and neck behind the face, a neck alone, a grey background
instead of black, a neck on a grey background) and fitted by the CLI with its
defaults, whose scene model has none of these. The renders go through the simulator's public stages: camera-space
geometry (:meth:`Simulator.camera_space`), Lambertian shading (:func:`abc_inverse.render.raster.shade_batch`) with
the light direction (sin a · cos e, sin e, cos a · cos e), and the pyrender rasteriser
(:func:`abc_inverse.render.pyrender_backend.render_meshes`, 4× MSAA at edges), so the ``control`` condition (the
model's own scene through the same path) gives the error that the path alone causes.

Writes ``--out``/results.csv (one row per fit: condition, scene, truth and error of the three angles, their
posterior mean, sd, split R-hat and bulk ESS, max split R-hat, acceptance, best pixel MSE, wall time), summary.md
(per condition: mean and range of the angles' errors, max split R-hat, min bulk ESS), errors.png and observed.png
(the observed renders, a row per condition, a column per scene). A finished fit (its posterior.nc) is not rerun.

Usage: python -m experiments.observation_mismatch --out docs/results/observation_mismatch [--fits DIR]
[--conditions control,above_30,...] [--fit-args "--checkpoint CKPT ..."]
"""

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import arviz as az  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from abc_inverse.io import save_png, write_csv, write_text  # noqa: E402
from abc_inverse.model.scene import ANGLES  # noqa: E402
from abc_inverse.render.pyrender_backend import render_meshes  # noqa: E402
from abc_inverse.render.raster import shade_batch  # noqa: E402
from abc_inverse.render.simulator import Simulator  # noqa: E402
from encoders.augment import head_silhouette, neck_silhouette  # noqa: E402
from encoders.statistics import load_statistic, simulator_for  # noqa: E402
from experiments.known_angle_recovery import SCENES  # noqa: E402
from samplers.diagnostics import summary  # noqa: E402


class Condition(NamedTuple):
    """How an observation differs from the scene model's own renders (the defaults: not at all)."""

    light_elevation: float = 0.0  # degrees, positive = light from above
    ambient: float = 0.3
    diffuse: float = 0.7
    shift_px: int = 0  # the image moved down by this many rows (up when negative), the rows left black
    features: bool = False  # eyes, brows and lips in the albedo (abc_inverse.model.features), which fit's model lacks
    head: bool = False  # a hair ellipse and neck behind the face (encoders.augment.head_silhouette, seeded by scene)
    neck: bool = False  # a neck alone under the face (encoders.augment.neck_silhouette, seeded by scene)
    background: float = 0.0  # grey level of every pixel that neither face, hair nor neck covers (the model's: 0)

    def label(self) -> str:
        """The fields that differ from the defaults, e.g. 'light_elevation=30, ambient=0.6'."""
        return ", ".join(f"{k}={v:g}" if not isinstance(v, bool) else k for k, v in self._asdict().items()
                         if v != Condition._field_defaults[k]) or "the model's own"


CONDITIONS = {
    "control": Condition(),
    "above_30": Condition(light_elevation=30.0),
    "above_60": Condition(light_elevation=60.0),
    "soft": Condition(ambient=0.6, diffuse=0.4),
    "soft_above_30": Condition(light_elevation=30.0, ambient=0.6, diffuse=0.4),
    "up_3px": Condition(shift_px=-3),
    "down_3px": Condition(shift_px=3),
    "features": Condition(features=True),
    "head": Condition(head=True),
    "neck": Condition(neck=True),
    "grey_background": Condition(background=0.4),
    "neck_grey_background": Condition(neck=True, background=0.4),
}


def observed_render(simulator, scene, condition: Condition, seed: int) -> np.ndarray:
    """The scene (one) rendered by pyrender as ``condition`` says: the light at the scene's azimuth and the
    condition's elevation, features painted, a head or a neck behind (drawn by ``numpy.random.default_rng(seed)``) on
    the condition's background level, then the image moved: (H, W) float32 grey in [0, 1]."""
    if condition.features:
        simulator = Simulator(simulator.model, replace(simulator.settings, features=True))
    verts, albedo, _ = simulator.camera_space(scene)
    a, e = float(scene.light_azimuth[0]), np.radians(condition.light_elevation)
    light = np.array([[np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)]], np.float32)
    one = lambda value: np.full(1, value, np.float32)  # noqa: E731
    colours = shade_batch(verts, albedo, light, simulator.model.triangles, one(condition.ambient),
                          one(condition.diffuse), np.zeros((1, 8), np.float32), np.ones((1, albedo.shape[-1]),
                                                                                      np.float32))
    around = condition.head or condition.neck or condition.background != 0
    image, depth = render_meshes(verts, colours, simulator.model.triangles, simulator.settings.fov_deg,
                                 simulator.settings.image_size, with_depth=around)
    image = image[0, ..., 0]
    if around:
        cover = depth[0] > 0
        behind = np.full_like(image, condition.background)
        if condition.head or condition.neck:
            draw = head_silhouette if condition.head else neck_silhouette
            shade, where = draw(cover.astype(np.float32), np.random.default_rng(seed))
            behind = np.where(where, shade, behind)
        image = np.where(cover, image, behind).astype(np.float32)
    moved, shift = np.zeros_like(image), condition.shift_px
    if shift >= 0:
        moved[shift:] = image[:len(image) - shift]
    else:
        moved[:shift] = image[-shift:]
    return moved


def fit_row(exe: str, image: Path, out: Path, seed: int, extra: list[str]) -> dict:
    """Fit ``image`` with the CLI's defaults and the flags ``extra`` into ``out`` (unless done already); the
    posterior's figures."""
    timing = out / "wall_time_s.txt"  # the fit's wall time, kept beside it for reruns that skip it
    if not (out / "posterior.nc").exists():
        start = time.perf_counter()
        subprocess.run([exe, "fit", str(image), "--crop", "none", "--out", str(out), "--seed", str(seed),
                        "--no-progress", *extra], check=True, capture_output=True)
        write_text(timing, f"{time.perf_counter() - start:.3f}\n")
    idata = az.from_netcdf(str(out / "posterior.nc"))
    table = summary(idata, list(ANGLES))
    row = {f"{n}_{s}": float(table.loc[n, s]) for n in ANGLES for s in ("mean", "sd", "r_hat", "ess_bulk")}
    row["max_r_hat"] = float(table["r_hat"].max())
    row["acceptance_rate"] = float(idata.sample_stats["is_accepted"].mean())
    row["best_pixel_mse"] = float(idata.sample_stats["pixel_mse"].min())
    row["wall_time_s"] = float(timing.read_text()) if timing.exists() else float("nan")
    return row


def summarise(rows: list[dict]) -> list[str]:
    lines = ["| condition (what differs from the model's renders) | fits | azimuth error: mean (range) | "
             "elevation error: mean (range) | light azimuth error: mean (range) | max split R-hat | min bulk ESS |",
             "|---|---|---|---|---|---|---|"]
    for name, condition in CONDITIONS.items():
        sub = [r for r in rows if r["condition"] == name]
        if not sub:
            continue
        cells = []
        for n in ANGLES:
            err = np.array([r[f"{n}_error"] for r in sub])
            cells.append(f"{err.mean():+.1f}° ({err.min():+.1f} … {err.max():+.1f})")
        lines.append(f"| {name} ({condition.label()}) | {len(sub)} | " + " | ".join(cells)
                     + f" | {max(r['max_r_hat'] for r in sub):.3f} | "
                     f"{min(r[f'{n}_ess_bulk'] for r in sub for n in ANGLES):.0f} |")
    return lines


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    names = list(CONDITIONS)
    for ax, angle in zip(axes, ANGLES, strict=True):
        for r in rows:
            x = names.index(r["condition"]) + 0.08 * (r["scene"] - 2)
            ax.errorbar(x, r[f"{angle}_error"], yerr=2 * r[f"{angle}_sd"], fmt="o", ms=4, color=f"C{r['scene']}",
                        label=f"scene {r['scene']}" if r["condition"] == "control" else None)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(f"{angle}: posterior mean − truth (± 2 sd)")
        ax.set_ylabel("degrees")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="results folder (results.csv, summary.md, png)")
    parser.add_argument("--fits", type=Path, default=Path("out/observation_mismatch"), help="the fits' folders")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated names of CONDITIONS")
    parser.add_argument("--fit-args", default="", help="more flags for every `abc-inverse fit`, to measure a "
                        "candidate, e.g. \"--checkpoint runs/x.pt --background image\" (give it its own --fits folder)")
    args = parser.parse_args()
    chosen = args.conditions.split(",")
    unknown = sorted(set(chosen) - set(CONDITIONS))
    if unknown:
        parser.error(f"--conditions: expected names among {sorted(CONDITIONS)}, got {unknown}")
    exe, extra = str(Path(sys.executable).with_name("abc-inverse")), shlex.split(args.fit_args)
    simulator = simulator_for(load_statistic("dcign"))
    args.out.mkdir(parents=True, exist_ok=True)
    rows, grid = [], []
    for name in chosen:
        for i, (seed, az_deg, el_deg, light_deg) in enumerate(SCENES):
            scene = simulator.prior.at_angles(az_deg, el_deg, light_deg, seed=seed)
            folder = args.fits / name / f"scene{i}"
            folder.mkdir(parents=True, exist_ok=True)
            image = folder / "observed.png"
            grid.append(observed_render(simulator, scene, CONDITIONS[name], seed))
            save_png(image, grid[-1])
            row = {"condition": name, "scene": i, "identity_seed": seed}
            figures = fit_row(exe, image, folder / "fit", seed=i, extra=extra)
            for n, true in zip(ANGLES, (az_deg, el_deg, light_deg), strict=True):
                row.update({f"{n}_true": true, f"{n}_error": figures[f"{n}_mean"] - true})
            rows.append({**row, **figures})
            print(name, i, {k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
            write_csv(args.out / "results.csv", list(rows[0]), [list(r.values()) for r in rows])
    lines = summarise(rows)
    write_text(args.out / "summary.md", "\n".join(lines) + "\n")
    plot(rows, args.out / "errors.png")
    size = simulator.settings.image_size
    save_png(args.out / "observed.png", np.block([[im.reshape(size, size) for im in grid[k:k + len(SCENES)]]
                                                  for k in range(0, len(grid), len(SCENES))]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
