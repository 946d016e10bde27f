"""How sure are the real-photo medians? 95 % bootstrap intervals over the photos for each evaluated version's median
|Δ azimuth| and |Δ elevation| against the MediaPipe reference, and for the paired difference of each version's
medians from one version's (the same photos resampled together).

Reads ``per_photo.csv`` of each folder that ``experiments/real_photos.py`` wrote (photos fitted with a reference
only); photos absent from either folder of a pair are left out of that pair's difference. Intervals are
:func:`scipy.stats.bootstrap`'s (percentile method, ``RESAMPLES`` resamples, seed ``SEED``): they measure how much
the medians would move on another set of photos like these, not the Monte Carlo error of the fits (posterior means
from thousands of effective draws, far smaller). The issue's targets (≤ 5° azimuth, ≤ 7° elevation) are medians of
25 photos; a difference between two versions that an interval straddles 0 for is not shown by this set.

Usage: python experiments/photo_intervals.py docs/results/real_photos/main_pose_code_adjustment
docs/results/real_photos/distilled_angle_pose_head ... [--against FOLDER] [--out FILE.csv]
(``--against`` defaults to the first folder.)
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from abc_inverse.io import report_table

RESAMPLES, SEED, LEVEL = 10_000, 0, 0.95
ANGLES = ("azimuth", "elevation")


def abs_deltas(folder: Path) -> dict[str, dict[str, float]]:
    """photo -> {angle: |fit − reference| in degrees} for the photos of ``folder/per_photo.csv`` fitted with a
    reference. Raises FileNotFoundError naming the folder when it has no per_photo.csv."""
    path = folder / "per_photo.csv"
    if not path.is_file():
        raise FileNotFoundError(f"folder: expected a real-photo evaluation with per_photo.csv, got {str(folder)!r}")
    with open(path, newline="") as f:
        return {r["photo"]: {a: abs(float(r[f"fit_{a}"]) - float(r[f"reference_{a}"])) for a in ANGLES}
                for r in csv.DictReader(f) if r["status"] == "ok" and r["reference_found"] == "True"}


def interval(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    """The bootstrap interval (low, high) of ``statistic`` over paired samples (each (n,) float)."""
    res = bootstrap(samples, statistic, n_resamples=RESAMPLES, confidence_level=LEVEL, method="percentile",
                    paired=True, vectorized=True, random_state=np.random.default_rng(SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def median_difference(x, y, axis=-1):
    """median(x) − median(y) along ``axis``."""
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def rows(folders: list[Path], against: Path) -> list[list]:
    """One row per folder: name, photos, then per angle the median |Δ| with its interval and the paired difference
    from ``against``'s with its interval (degrees, one decimal). Raises ValueError when a folder has fewer than 2
    photos with a reference, alone or in common with ``against``."""
    base = abs_deltas(against)
    out = []
    for folder in folders:
        deltas = abs_deltas(folder)
        row = [folder.name, len(deltas)]
        shared = sorted(set(deltas) & set(base))
        if min(len(deltas), len(shared)) < 2:
            raise ValueError(f"folders: a bootstrap needs ≥ 2 photos fitted with a reference, in {folder.name!r} and "
                             f"in common with {against.name!r}; got {len(deltas)} and {len(shared)}")
        for a in ANGLES:
            d = np.array([v[a] for v in deltas.values()])
            lo, hi = interval((d,), np.median)
            x, y = (np.array([src[p][a] for p in shared]) for src in (deltas, base))
            dlo, dhi = interval((x, y), median_difference)
            row += [f"{np.median(d):.1f}", f"[{lo:.1f}, {hi:.1f}]", f"{np.median(x) - np.median(y):+.1f}",
                    f"[{dlo:+.1f}, {dhi:+.1f}]"]
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="real-photo evaluation folders (per_photo.csv)")
    parser.add_argument("--against", type=Path, default=None, help="the folder the differences are from "
                        "(default: the first)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    against = args.against or args.folders[0]
    header = ["version", "photos"]
    for a in ANGLES:
        header += [f"median_abs_delta_{a}_deg", f"{a}_interval_95", f"{a}_minus_{against.name}_deg",
                   f"{a}_difference_interval_95"]
    report_table(header, rows(args.folders, against), args.out)


if __name__ == "__main__":
    main()
