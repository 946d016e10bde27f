"""Does a statistic transfer to photographs? The correlation of DC-IGN codes z1 and z2 with an independent pose,
and the pose the codes alone read, on the whole crop and on the face's region only.

For every photo of a real-photo evaluation (``experiments/real_photos.py``) with a MediaPipe reference pose, each
network encodes the photo as the fit saw it (``observed.png``: the 64-pixel grey crop) and this script reports
r(z1, reference azimuth) and r(z2, reference elevation) across the photos — the paper's Fig. 9 measure of a
disentangled code (Kulkarni et al. 2015 §4.3), taken on photos instead of renders — and, beside them, r(z1,
reference elevation) and r(z2, reference azimuth), which a disentangled code keeps near 0. On renders the shipped
network's r are 0.941 / 0.972 (``docs/results/encoders``).

It also reads each photo's pose off the codes alone, without a fit: the least-squares linear map from (z1, z2, z3)
to (azimuth, elevation) on ``CALIBRATION_SCENES`` renders of the network's own simulator (prior faces, cameras and
light; azimuth and elevation uniform within ``CALIBRATION_RANGE_DEG``, which holds every reference of the evaluation
set), applied to the photos' codes; reported as the median signed and absolute difference from the reference. Two
views of each crop: ``whole`` (as the fit saw it) and ``face`` (every pixel outside the region that at least half of
the renders of turned faces cover, :meth:`abc_inverse.render.simulator.Simulator.face_region`, set to the renders'
black): how much of the reading comes from what surrounds the face — hair, neck, clothes, the scene — which our
renders do not have.

And how steady that reading is: the same photos cropped again from the source image with the fit's frame moved
by 2 pixels of the 64-pixel crop (up, down, right) or its side made 10 % smaller or larger (:data:`REFRAMINGS`,
about the size of a face detector's own framing errors), reported as the median over photos and reframings of the
read pose's change (``framing_*_median_abs_change_deg``). A statistic that reads the pose rather than the crop's
edges changes little.

Usage: python experiments/code_transfer.py --evaluation docs/results/real_photos/baseline
--fits out/real_photos/baseline shipped runs/distill/B.pt ... [--out FILE.csv]
(several photo sets at once: ``--evaluation A+B --fits FA+FB``, the folders in the same order)
"""

import argparse
import csv
import json
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402

from abc_inverse.io import crop_resize, read_image, report_table, to_grey  # noqa: E402
from abc_inverse.render.simulator import simulator_from_config  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402

CALIBRATION_SCENES, CALIBRATION_SEED = 400, 5
CALIBRATION_RANGE_DEG = (35.0, 30.0)  # |azimuth|, |elevation| of the calibration renders
FACE_COVERAGE = 0.5  # the 'face' view keeps the pixels that this share of turned renders cover
REFRAMINGS = ((1.0, 0.0, -2.0), (1.0, 0.0, 2.0), (1.0, 2.0, 0.0), (0.9, 0.0, 0.0), (1.1, 0.0, 0.0))  # (side ×, dx, dy)


def photos_with_reference(evaluation: str, fits: str) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """(names, crops (N, 64, 64) float32 in [0, 1], reference (N, 2) azimuth and elevation in degrees, sources) of
    the fitted photos of ``evaluation``/per_photo.csv whose reference pose was found on the face the fit framed;
    sources[i] is (the source photo (H, W) grey, the fit's frame (x, y, side, side) in its pixels). Several photo
    sets: folders joined by '+' in both arguments, in the same order. Raises ValueError when the counts differ."""
    evaluations, fit_folders = evaluation.split("+"), fits.split("+")
    if len(evaluations) != len(fit_folders):
        raise ValueError(f"--fits: expected {len(evaluations)} folders joined by '+', as --evaluation has, got "
                         f"{len(fit_folders)}")
    names, crops, reference, sources = [], [], [], []
    for folder, fitted in zip(map(Path, evaluations), map(Path, fit_folders), strict=True):
        with open(folder / "per_photo.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["status"] == "ok" and r["reference_azimuth"] != ""]
        for r in rows:
            fit = fitted / Path(r["photo"]).stem
            result = json.loads((fit / "result.json").read_text())
            names.append(r["photo"])
            crops.append(to_grey(read_image(fit / "observed.png")))
            reference.append([float(r["reference_azimuth"]), float(r["reference_elevation"])])
            sources.append((to_grey(read_image(result["photo"])), result["framing"]["frame"]))
    return names, np.stack(crops).astype(np.float32), np.array(reference), sources


def reframed(frame, scale: float, dx: float, dy: float, size: int = 64) -> tuple[int, int, int, int]:
    """The square frame (x, y, side, side) in source pixels of ``frame`` (x, y, side, side) with its side times
    ``scale`` about its centre, then moved by (dx, dy) pixels of the ``size``-pixel crop (y down)."""
    x, y, side, _ = frame
    unit = side / size
    new = side * scale
    cx, cy = x + side / 2 + dx * unit, y + side / 2 + dy * unit
    return int(round(cx - new / 2)), int(round(cy - new / 2)), int(round(new)), int(round(new))


def framing_change(read, sources: list, crops: np.ndarray, mask: np.ndarray | float = 1.0) -> np.ndarray:
    """(2,) median over photos and :data:`REFRAMINGS` of |pose read from the reframed crop − pose read from
    ``crops``| in degrees (azimuth, elevation); ``read`` as :func:`pose_reader`'s, ``mask`` applied to every crop."""
    size = crops.shape[-1]
    base = read(crops * mask)
    changes = [read(np.stack([crop_resize(grey, reframed(frame, *move, size), size) for grey, frame in sources])
                    * mask) - base for move in REFRAMINGS]
    return np.median(np.abs(np.concatenate(changes)), axis=0)


def pose_reader(statistic: DCIGNStatistic):
    """(read, face): read maps images (N, S, S) float32 to the (N, 2) azimuth and elevation in degrees that the
    codes z1–z3 say, by the linear map fitted on renders of the network's simulator (module docstring); face is the
    simulator's face region (S, S) bool at ``FACE_COVERAGE``."""
    simulator = simulator_from_config(statistic.meta.simulator)
    rng = np.random.default_rng(CALIBRATION_SEED)
    scenes = simulator.prior.sample(rng, CALIBRATION_SCENES)
    limits = np.radians(CALIBRATION_RANGE_DEG)
    scenes = scenes._replace(azimuth=rng.uniform(-limits[0], limits[0], CALIBRATION_SCENES),
                             elevation=rng.uniform(-limits[1], limits[1], CALIBRATION_SCENES))
    design = np.c_[statistic(simulator(scenes))[:, :3], np.ones(CALIBRATION_SCENES)]
    truth = np.degrees(np.c_[scenes.azimuth, scenes.elevation])
    coefficients = np.linalg.lstsq(design, truth, rcond=None)[0]

    def read(images: np.ndarray) -> np.ndarray:
        z = statistic(images)
        return np.c_[z[:, :3], np.ones(len(z))] @ coefficients

    return read, simulator.face_region(FACE_COVERAGE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", help="DC-IGN checkpoints, or 'shipped'")
    parser.add_argument("--evaluation", required=True, help="a docs/results/real_photos/NAME folder (A+B: several)")
    parser.add_argument("--fits", required=True, help="its fits (out/real_photos/NAME; A+B as --evaluation)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    try:
        names, crops, reference, sources = photos_with_reference(args.evaluation, args.fits)
    except (OSError, ValueError, KeyError) as error:
        parser.exit(2, f"code_transfer: {error}\n")
    rows = []
    for network in args.networks:
        statistic = DCIGNStatistic.from_checkpoint(None if network == "shipped" else network)
        read, face = pose_reader(statistic)
        for view, mask in (("whole", 1.0), ("face", face)):
            images = crops * mask
            z = statistic(images)
            r = [round(float(np.corrcoef(z[:, code], reference[:, angle])[0, 1]), 3)
                 for code, angle in ((0, 0), (1, 1), (0, 1), (1, 0))]
            delta = read(images) - reference
            rows.append([network, view, len(names), *r,
                         *(round(float(f(d)), 1) for d in delta.T for f in (np.median, lambda d: np.median(abs(d)))),
                         *np.round(framing_change(read, sources, crops, mask), 1).tolist()])
    header = ["network", "view", "photos", "r_z1_azimuth", "r_z2_elevation", "r_z1_elevation", "r_z2_azimuth",
              "azimuth_signed_median_deg", "azimuth_median_abs_deg", "elevation_signed_median_deg",
              "elevation_median_abs_deg", "framing_azimuth_median_abs_change_deg",
              "framing_elevation_median_abs_change_deg"]
    report_table(header, rows, args.out)


if __name__ == "__main__":
    main()
