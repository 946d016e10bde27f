"""Real photographs: fit every photo of an evaluation set with ``abc-inverse fit`` (default settings) and compare
its pose with an independent estimate, MediaPipe Face Mesh landmarks fitted to our own mean face
(:func:`abc_inverse.model.landmarks.head_pose`).

Steps, each reused when its output exists (so an interrupted run resumes):

1. landmarks of every photo, by ``experiments/mediapipe_landmarks.py`` in the optional MediaPipe environment
   (``make mediapipe-env``);
2. the reference's own error: the same landmarks-to-pose estimate on renders of known pose (azimuth ±40°,
   elevation ±20°, identities from the prior), so that a difference between fit and reference can be read
   against it;
3. the fits (:func:`abc_inverse.photos.fit_photos`: one folder per photo under ``--fits``, resumable);
4. per photo: reference and posterior-mean azimuth and elevation, |Δ| (where the reference's landmarks lie on the
   face the fit framed, :func:`on_fitted_face`), the posterior sd, the best pixel MSE over
   the whole image and inside the best render's face mask, R-hat; the medians; whether the fits follow the
   reference across photos (Pearson r and slope per angle, :func:`agreement`) and how far a pose-blind constant
   would be; a fit grid (photo as the encoder
   sees it | best render | posterior-mean render | best render composited over the photo) and the pixel error
   against iteration, warm-up and the search before it included (Fig. 6a: the pilot's draws, the emulator's
   ensemble warm-up, then the chains; :func:`trajectory`), median over chains per photo; and the reference's elevation
   against MediaPipe's own canonical model, whose difference from ours must be the same constant on renders and
   photos, else the reference would be an artefact of our mesh.

Writes into ``--out``: per_photo.csv, summary.md, fit_grid.png, pixel_error.png, reference_on_renders.csv.

Usage: python experiments/real_photos.py --photos data/real_photos --out docs/results/real_photos/baseline
[--fits out/real_photos/baseline] [--workers 1] [--name "main at <hash>"] [--checkpoint CKPT]
[--background auto|plain|image] [--proposal none] [--chains N] [--draws N] [--tune N] [--pilot N]
[--resample-every N] (as abc-inverse fit's; e.g. ``--proposal none --pilot 16 --chains 16``: chains started from
16 prior draws, the paper's Fig. 6a setting, where dlib finds no landmarks; with them the scene they fit best joins
those draws, :func:`abc_inverse.fit.with_landmark_scene`)
"""

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import arviz as az  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abc_inverse.fit import FitConfig, simulated_group  # noqa: E402
from abc_inverse.io import save_png  # noqa: E402
from abc_inverse.model.landmarks import head_pose  # noqa: E402
from abc_inverse.model.scene import ANGLES, SCENE_VARIABLES, Scene  # noqa: E402
from abc_inverse.photos import FitCommand, fit_photos, folder_names, photo_list  # noqa: E402
from abc_inverse.plots import draw_search, iteration_axis, search_pixel_mse  # noqa: E402
from abc_inverse.render.simulator import Simulator, simulator_from_config  # noqa: E402
from samplers.diagnostics import stat_with_warmup  # noqa: E402

BACKGROUND_CHOICES = next(f.metadata["choices"] for f in fields(FitConfig) if f.name == "background")  # fit's

ROOT = Path(__file__).resolve().parents[1]
MEDIAPIPE_PYTHON = ROOT / ".venv-mediapipe" / "bin" / "python"
RENDER_POSES = [(az, el) for az in (-40.0, -20.0, 0.0, 20.0, 40.0) for el in (-20.0, 0.0, 20.0)]


def landmarks(photos: list[Path], path: Path) -> np.ndarray:
    """(N, 468, 3) MediaPipe landmarks in pixels (NaN where no face), computed once into ``path``."""
    if not path.is_file():
        if not MEDIAPIPE_PYTHON.is_file():
            sys.exit(f"real_photos: no MediaPipe environment at {MEDIAPIPE_PYTHON}; run make mediapipe-env")
        subprocess.run([str(MEDIAPIPE_PYTHON), str(ROOT / "experiments" / "mediapipe_landmarks.py"), "--out",
                        str(path), *map(str, photos)], check=True, stderr=subprocess.DEVNULL)
    with np.load(path) as z:
        if list(z["photos"]) != [str(p) for p in photos]:
            sys.exit(f"real_photos: {path} holds the landmarks of other photos; remove it")
        return z["landmarks"]


def pose_or_none(points: np.ndarray) -> dict | None:
    """The reference pose (:func:`head_pose` against our mean face) and, as 'canonical_elevation', the elevation
    against MediaPipe's own canonical model (a cross-check that does not go through our mesh); None without a face."""
    if not np.all(np.isfinite(points)):
        return None
    return {**head_pose(points), "canonical_elevation": head_pose(points, against="canonical")["elevation"]}


def frame_offset(rows: list[dict]) -> str:
    """Median (sd) over ``rows`` of the reference's elevation minus the canonical model's: constant where our mesh
    and the canonical model agree on the face's shape, so that the reference is not an artefact of our mesh."""
    values = [r["reference_elevation"] - r["reference_elevation_canonical"] for r in rows
              if isinstance(r.get("reference_elevation_canonical"), float)]
    return f"{statistics.median(values):.2f} (sd {statistics.pstdev(values):.2f})" if values else "n/a"


def reference_on_renders(work: Path, out: Path) -> list[dict]:
    """The landmark estimate on renders of known pose (``RENDER_POSES``, identity seeds 1-3, light 30°): its
    error in degrees per render, written to reference_on_renders.csv."""
    simulator = Simulator()
    renders = work / "renders"
    renders.mkdir(parents=True, exist_ok=True)
    cases = [(azimuth, elevation, seed) for azimuth, elevation in RENDER_POSES for seed in (1, 2, 3)]
    paths = [renders / f"az{a:+.0f}_el{e:+.0f}_id{seed}.png" for a, e, seed in cases]
    for (a, e, seed), path in zip(cases, paths, strict=True):
        if not path.is_file():
            save_png(path, simulator(simulator.prior.at_angles(a, e, 30.0, seed))[0])
    rows = []
    for (a, e, seed), points in zip(cases, landmarks(paths, work / "render_landmarks.npz"), strict=True):
        pose = pose_or_none(points)
        rows.append({"azimuth": a, "elevation": e, "identity": seed, "found": pose is not None,
                     "reference_azimuth": pose["azimuth"] if pose else "",
                     "reference_elevation": pose["elevation"] if pose else "",
                     "reference_elevation_canonical": pose["canonical_elevation"] if pose else ""})
    write_rows(out / "reference_on_renders.csv", rows)
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    """``rows`` as CSV, the columns of all rows in first-seen order (a failed fit's row has fewer)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)


def best_and_mean(idata) -> tuple[Scene, Scene]:
    """The best draw's scene (smallest distance, a simulated draw: before any regression adjustment) and the
    posterior-mean scene (every variable averaged)."""
    post, dist = idata.posterior, idata.sample_stats["distance"].values
    simulated = idata[simulated_group(idata)]
    c, d = np.unravel_index(np.argmin(dist), dist.shape)
    names = [n for n in SCENE_VARIABLES if n in post]
    best = Scene.from_variables({n: simulated[n].values[c, d][None] for n in names})
    mean = Scene.from_variables({n: post[n].mean(("chain", "draw")).values[None] for n in names})
    return best, mean


def on_fitted_face(points: np.ndarray, result: dict) -> bool:
    """Whether the reference's landmarks (468, 3) in pixels describe the face the fit framed: their centroid inside
    the Haar face box of ``result['framing']`` (True when the fit recorded none). In a crop of a group photo the
    two detectors can pick different people; such a photo has no reference for its fit."""
    box = (result.get("framing") or {}).get("face_box")
    if box is None:
        return True
    x, y, w, h = box
    cx, cy = np.mean(points[:, 0]), np.mean(points[:, 1])
    return bool(x <= cx <= x + w and y <= cy <= y + h)


def compare(result: dict, points: np.ndarray, fits: Path) -> tuple[dict, list]:
    """One photo's row of per_photo.csv and its images for the fit grid (rendered by the fit's own simulator)."""
    pose = pose_or_none(points)
    row = {"photo": Path(result["photo"]).name, "status": result["status"], "error": result.get("error", ""),
           "reference_found": pose is not None,
           "reference_on_fitted_face": pose is not None and on_fitted_face(points, result)}
    if result["status"] != "ok":
        return row, []
    pose = pose if row["reference_on_fitted_face"] else None
    idata = az.from_netcdf(str(fits / result["folder"] / "posterior.nc"))
    simulator = simulator_from_config(json.loads(idata.posterior.attrs["simulator"]))
    observed = idata.observed_data["image"].values
    best, mean = best_and_mean(idata)
    images, depth = simulator.render_with_depth(Scene(*(np.concatenate(p) for p in zip(best, mean, strict=True))))
    face = depth[0] > 0
    summary = result["summary"]
    for name in ("azimuth", "elevation"):
        row[f"fit_{name}"], row[f"fit_{name}_sd"] = summary[name]["mean"], summary[name]["sd"]
        row[f"reference_{name}"] = pose[name] if pose else ""
        row[f"abs_delta_{name}"] = abs(summary[name]["mean"] - pose[name]) if pose else ""
    row["reference_elevation_canonical"] = pose["canonical_elevation"] if pose else ""
    row["best_pixel_mse"] = result["best_pixel_mse"]
    row["best_pixel_mse_in_face"] = float(np.mean((images[0] - observed)[face] ** 2)) if face.any() else ""
    row["r_hat_max"] = float(np.max([summary[n]["r_hat"] for n in ANGLES]))
    row.update(trajectory(idata))
    return row, [observed, images[0], images[1], simulator.render_over(best, observed)[0]]


TRAJECTORY = ("pilot", "search_first", "search_last", "chains_first", "warmup_end", "last")  # pixel_mse_<stage>


def trajectory(idata: az.InferenceData) -> dict:
    """The Fig. 6a trajectory's stages for per_photo.csv: pixel MSE of the pilot's draws (median), the emulator
    ensemble's first and last step (median over its chains; "" where it did not run), and the chains' first step,
    last warm-up step and last draw (median over chains)."""
    search = search_pixel_mse(idata)
    ensemble = search.get("ensemble") or ["", ""]
    mse, n_tune = stat_with_warmup(idata, "pixel_mse")
    chains = np.median(mse, axis=0)
    values = (search["pilot_quantiles"][2] if search else "", ensemble[0], ensemble[-1], float(chains[0]),
              float(chains[n_tune - 1]) if n_tune else "", float(chains[-1]))
    return {f"pixel_mse_{stage}": value for stage, value in zip(TRAJECTORY, values, strict=True)}


GRID_GROUPS = 3  # photos side by side in the fit grid


def fit_grid(rows: list[dict], grids: list[list], path: Path) -> None:
    """Per photo: the photo as the encoder saw it | best render | posterior-mean render | best render over the
    photo, with the reference's and the fit's angles; ``GRID_GROUPS`` photos per row."""
    shown = [(r, g) for r, g in zip(rows, grids, strict=True) if g]
    titles = ["photo (as fitted)", "best render", "posterior mean", "best over photo"]
    n_rows = -(-len(shown) // GRID_GROUPS)
    fig, axes = plt.subplots(n_rows, 4 * GRID_GROUPS, figsize=(2.0 * 4 * GRID_GROUPS / 1.6, 2.0 * n_rows / 1.4),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for k, (row, images) in enumerate(shown):
        i, j0 = k // GRID_GROUPS, 4 * (k % GRID_GROUPS)
        for j, image in enumerate(images):
            ax = axes[i, j0 + j]
            ax.set_axis_on()
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=7)
        ref = (f"ref az {row['reference_azimuth']:.0f}° el {row['reference_elevation']:.0f}°"
               if row["reference_on_fitted_face"] else "reference: another face" if row["reference_found"]
               else "no reference")
        axes[i, j0].set_ylabel(f"{Path(row['photo']).stem[:16]}\n{ref}", fontsize=6)
        axes[i, j0 + 2].set_xlabel(f"fit az {row['fit_azimuth']:.0f}° el {row['fit_elevation']:.0f}°", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pixel_error_figure(results: list[dict], fits: Path, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    n_tune = 0
    for k, r in enumerate(r for r in results if r["status"] == "ok"):
        idata = az.from_netcdf(str(fits / r["folder"] / "posterior.nc"))
        mse, n_tune = stat_with_warmup(idata, "pixel_mse")
        ax.plot(np.median(mse, axis=0), lw=0.8, color=f"C{k % 10}")
        draw_search(ax, search_pixel_mse(idata), color=f"C{k % 10}", label=False)
    if n_tune:
        ax.axvline(n_tune, color="k", ls="--", lw=0.8, label="end of warm-up")
    ax.axvline(0, color="0.5", lw=0.6, label="chains start (left: pilot's median with 5–95 %, ensemble's median)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    iteration_axis(ax, n_tune)
    ax.set(ylabel="pixel MSE, median over chains", yscale="log",
           title="Pixel error during inference, one line per photo (Fig. 6a)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def median_of(rows: list[dict], key: str) -> float:
    """The median of the rows' finite ``key`` (an R-hat is NaN where chains never moved: counted apart)."""
    values = [r[key] for r in rows if isinstance(r.get(key), float) and np.isfinite(r[key])]
    return statistics.median(values) if values else float("nan")


def agreement(rows: list[dict], angle: str) -> dict:
    """How the fits follow the reference across photos, for ``angle`` ('azimuth' or 'elevation'): Pearson r and the
    least-squares slope of the fitted angle on the reference's (both near 1 when the fit reads the pose, near 0 when
    it returns about the same pose whatever the photo), and the median |Δ| of a pose-blind guess, every photo given
    the references' median: a fit must read the pose to do better than that."""
    pairs = np.array([(r[f"reference_{angle}"], r[f"fit_{angle}"]) for r in rows if r["reference_on_fitted_face"]],
                     float)
    pairs = pairs[np.all(np.isfinite(pairs), axis=1)]
    if len(pairs) < 3:
        return {f"fit_vs_reference_{angle}": "fewer than 3 photos",
                f"median_abs_delta_{angle}_of_a_constant": float("nan")}
    slope = np.polyfit(pairs[:, 0], pairs[:, 1], 1)[0]
    return {f"fit_vs_reference_{angle}": f"r {np.corrcoef(pairs.T)[0, 1]:.2f}, slope {slope:.2f}",
            f"median_abs_delta_{angle}_of_a_constant": float(np.median(np.abs(pairs[:, 0] - np.median(pairs[:, 0]))))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT / "data" / "real_photos")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fits", type=Path, default=None, help="default: out/real_photos/<name of --out>")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--name", default=None, help="what was evaluated (default: main at the git hash)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="DC-IGN checkpoint (default: the shipped one)")
    parser.add_argument("--proposal", default="auto", help="as abc-inverse fit's --proposal (a q.pt made for "
                        "--checkpoint, say)")
    counts = ("draws", "tune", "chains", "pilot", "resample_every")
    for flag in counts:
        parser.add_argument("--" + flag.replace("_", "-"), type=int, default=None, help="default: abc-inverse fit's")
    parser.add_argument("--background", choices=BACKGROUND_CHOICES, default=None, help="default: abc-inverse fit's")
    args = parser.parse_args()
    fits = args.fits or ROOT / "out" / "real_photos" / args.out.name
    args.out.mkdir(parents=True, exist_ok=True)
    fits.mkdir(parents=True, exist_ok=True)
    photos = photo_list((args.photos,))
    points = landmarks(photos, fits / "landmarks.npz")
    on_renders = reference_on_renders(fits, args.out)
    sampler = replace(FitCommand().sampler, **{k: getattr(args, k) for k in (*counts, "background")
                                                if getattr(args, k) is not None})
    opts = replace(FitCommand(), images=(args.photos,), out=fits, workers=args.workers, sampler=sampler,
                   checkpoint=args.checkpoint, proposal=args.proposal)
    results = fit_photos(opts, command=shlex.join(["python", "experiments/real_photos.py", *sys.argv[1:]]))
    assert folder_names(photos) == [r["folder"] for r in results]
    rows, grids = zip(*(compare(r, p, fits) for r, p in zip(results, points, strict=True)), strict=True)
    write_rows(args.out / "per_photo.csv", list(rows))
    fit_grid(list(rows), list(grids), args.out / "fit_grid.png")
    pixel_error_figure(results, fits, args.out / "pixel_error.png")
    name = args.name or "main at " + subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                                    text=True, cwd=ROOT).stdout.strip()
    found = [r for r in on_renders if r["found"]]
    render_err = {k: statistics.median(abs(r[f"reference_{k}"] - r[k]) for r in found) if found else float("nan")
                  for k in ("azimuth", "elevation")}
    fitted = [r for r in rows if r["status"] == "ok"]
    summary = {
        "evaluated": name, "photos": len(rows), "fitted": len(fitted),
        "with_reference": sum(r["reference_on_fitted_face"] for r in fitted),
        "reference_on_another_face": sum(r["reference_found"] and not r["reference_on_fitted_face"] for r in fitted),
        "median_abs_delta_azimuth": median_of(fitted, "abs_delta_azimuth"),
        "median_abs_delta_elevation": median_of(fitted, "abs_delta_elevation"),
        **agreement(fitted, "azimuth"), **agreement(fitted, "elevation"),
        "median_best_pixel_mse": median_of(fitted, "best_pixel_mse"),
        "median_best_pixel_mse_in_face": median_of(fitted, "best_pixel_mse_in_face"),
        **{f"median_pixel_mse_{stage}": median_of(fitted, f"pixel_mse_{stage}") for stage in TRAJECTORY},
        "last_below_pilot": int(sum(isinstance(r["pixel_mse_pilot"], float)
                                    and r["pixel_mse_last"] < r["pixel_mse_pilot"] for r in fitted)),
        "median_r_hat_max": median_of(fitted, "r_hat_max"),
        "r_hat_max_undefined": sum(not np.isfinite(r["r_hat_max"]) for r in fitted),
        "reference_on_renders_found": f"{len(found)} of {len(on_renders)}",
        "reference_on_renders_median_abs_error_azimuth": render_err["azimuth"],
        "reference_on_renders_median_abs_error_elevation": render_err["elevation"],
        "reference_minus_canonical_elevation_on_renders": frame_offset(found),
        "reference_minus_canonical_elevation_on_photos": frame_offset(fitted),
    }
    lines = ["| figure | value |", "|---|---|"] + [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                                                    for k, v in summary.items()]
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
