"""How sure are issue 13's figures? 95 % bootstrap intervals for each version's figure and for its paired
difference from one version's (the same units resampled together), for the two kinds of figure the issue sets
targets on:

- ``photos``: the median |Δ azimuth| and |Δ elevation| against the MediaPipe reference over the real photos
  (target ≤ 5° / ≤ 7°), from ``per_photo.csv`` of each folder ``experiments/real_photos.py`` wrote (photos fitted
  with a reference only; a photo absent from either folder of a pair is left out of that pair's difference).
  Resampled unit: the photo (:func:`scipy.stats.bootstrap`, percentile method, ``RESAMPLES`` resamples, seed
  ``SEED``). It says how much the medians would move on another set of photos like these, not the Monte Carlo error
  of the fits (posterior means from thousands of effective draws, far smaller).
- ``encoders``: the sweep |r| of z1, z2, z3 with azimuth, elevation and light azimuth (Kulkarni et al. 2015 §4.3,
  Fig. 9a-c; the issue: a retrained network's must not drop below the shipped 0.941 / 0.972 / 0.963), from
  ``sweep_codes.npz`` of each folder ``abc-inverse evaluate-encoder CKPT --out FOLDER --faces F`` wrote, all on the
  same held-out faces (same F, same seed, else an error names the folder). Resampled unit: the held-out face
  (:func:`encoders.evaluate.r_interval`). It does not include the scatter between training runs (seeds), which only
  more runs measure.

A difference whose interval straddles 0 is not shown by these photos or faces.

Usage: python experiments/intervals.py photos docs/results/real_photos/main_pose_code_adjustment
docs/results/real_photos/distilled_angle_pose_head ... [--against FOLDER] [--out FILE.csv]
(a version evaluated on both photo sets: FOLDER+FOLDER, e.g. ``…/main_pose_code_adjustment+…/more_default``)
python experiments/intervals.py encoders docs/results/encoders/specific_slow_camera300 docs/results/encoders/...
(``--against`` defaults to the first folder.)
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from abc_inverse.io import report_table
from encoders.evaluate import SWEEPS, r_interval, sweep_abs_r

RESAMPLES, SEED, LEVEL = 10_000, 0, 0.95
ANGLES = ("azimuth", "elevation")


def abs_deltas(version: str) -> dict[str, dict[str, float]]:
    """photo -> {angle: |fit − reference| in degrees} for the photos of ``FOLDER/per_photo.csv`` fitted with a
    reference on the face the fit framed; ``version`` is one FOLDER or several joined by '+' (one version evaluated
    on several photo sets, e.g. ``…/main_pose_code_adjustment+…/more_default``). Raises FileNotFoundError naming a
    folder without per_photo.csv, ValueError when two folders of a version hold the same photo."""
    deltas = {}
    for folder in map(Path, version.split("+")):
        path = folder / "per_photo.csv"
        if not path.is_file():
            raise FileNotFoundError(f"folder: expected a real-photo evaluation with per_photo.csv, got {str(folder)!r}")
        with open(path, newline="") as f:
            rows = {r["photo"]: {a: abs(float(r[f"fit_{a}"]) - float(r[f"reference_{a}"])) for a in ANGLES}
                    for r in csv.DictReader(f) if r["status"] == "ok" and r["reference_azimuth"] != ""}
        if shared := sorted(set(rows) & set(deltas)):
            raise ValueError(f"folders: {version!r} joins evaluations that share photos ({', '.join(shared[:3])})")
        deltas |= rows
    return deltas


def interval(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    """The bootstrap interval (low, high) of ``statistic`` over paired samples (each (n,) float)."""
    res = bootstrap(samples, statistic, n_resamples=RESAMPLES, confidence_level=LEVEL, method="percentile",
                    paired=True, vectorized=True, random_state=np.random.default_rng(SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def median_difference(x, y, axis=-1):
    """median(x) − median(y) along ``axis``."""
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def photo_cells(name: str, deltas: dict, against: str, base: dict) -> tuple[int, list[str]]:
    """Photos with a reference in one evaluation (``deltas``, :func:`abs_deltas`; ``name`` for errors), and per
    angle: median |Δ| (degrees), its interval, the paired difference from ``base``'s (``against``'s), its interval.
    Raises ValueError for fewer than 2 photos, alone or shared."""
    shared = sorted(set(deltas) & set(base))
    if min(len(deltas), len(shared)) < 2:
        raise ValueError(f"folders: a bootstrap needs ≥ 2 photos fitted with a reference, in {name!r} and in "
                         f"common with {against!r}; got {len(deltas)} and {len(shared)}")
    cells = []
    for a in ANGLES:
        d = np.array([v[a] for v in deltas.values()])
        x, y = (np.array([src[p][a] for p in shared]) for src in (deltas, base))
        cells += [f"{np.median(d):.1f}", "[{:.1f}, {:.1f}]".format(*interval((d,), np.median)),
                  f"{np.median(x) - np.median(y):+.1f}",
                  "[{:+.1f}, {:+.1f}]".format(*interval((x, y), median_difference))]
    return len(deltas), cells


def sweep_codes(folder: str) -> dict[str, np.ndarray]:
    """The arrays of ``folder/sweep_codes.npz``. Raises FileNotFoundError naming the folder when it has none."""
    path = Path(folder) / "sweep_codes.npz"
    if not path.is_file():
        raise FileNotFoundError(f"folder: expected an evaluate-encoder output with sweep_codes.npz, got "
                                f"{str(folder)!r} (evaluate it again to write one)")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def encoder_cells(name: str, codes: dict, against: str, base: dict) -> tuple[int, list[str]]:
    """Held-out faces of one evaluation (``codes``, :func:`sweep_codes`; ``name`` for errors), and per swept
    variable: |r|, its interval, the paired difference from ``base``'s (``against``'s), its interval. Raises
    ValueError when the two were evaluated on different faces."""
    if (int(codes["faces"]), int(codes["seed"])) != (int(base["faces"]), int(base["seed"])):
        raise ValueError(f"folders: {name!r} was evaluated on {int(codes['faces'])} faces (seed "
                         f"{int(codes['seed'])}), {against!r} on {int(base['faces'])} (seed {int(base['seed'])});"
                         f" evaluate both with the same --faces")
    cells = []
    for variable in SWEEPS:
        values, z, z_ref = codes[f"{variable}_values"], codes[variable], base[variable]
        r = sweep_abs_r(values, z)
        cells += [f"{r:.3f}", "[{:.3f}, {:.3f}]".format(*r_interval(values, z)),
                  f"{r - sweep_abs_r(values, z_ref):+.3f}",
                  "[{:+.3f}, {:+.3f}]".format(*r_interval(values, z, z_ref))]
    return int(codes["faces"]), cells


def name_of(version: str) -> str:
    """A version's name in the table: its folders' names, joined by '+'."""
    return "+".join(Path(f).name for f in version.split("+"))


KINDS = {"photos": (abs_deltas, photo_cells, "photos", "median_abs_delta", ANGLES),
         "encoders": (sweep_codes, encoder_cells, "faces", "abs_r", tuple(SWEEPS))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=tuple(KINDS), help="photos: real-photo evaluations (per_photo.csv); "
                        "encoders: evaluate-encoder outputs (sweep_codes.npz)")
    parser.add_argument("folders", nargs="+", help="the versions' folders (photos: FOLDER+FOLDER for one version "
                        "evaluated on several photo sets)")
    parser.add_argument("--against", default=None, help="the version the differences are from (default: the first)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    load, cells, unit, figure, quantities = KINDS[args.kind]
    against = args.against or args.folders[0]
    header = ["version", unit]
    for q in quantities:
        header += [f"{figure}_{q}", f"{q}_interval_95", f"{q}_minus_{name_of(against)}", f"{q}_difference_interval_95"]
    try:
        base = load(against)
        rows = []
        for folder in args.folders:
            n, figures = cells(name_of(folder), base if folder == against else load(folder), name_of(against), base)
            rows.append([name_of(folder), n, *figures])
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"intervals: {exc}\n")
    report_table(header, rows, args.out)


if __name__ == "__main__":
    main()
