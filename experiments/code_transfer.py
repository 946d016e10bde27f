"""Does a statistic transfer to photographs? The correlation of DC-IGN codes z1 and z2 with an independent pose.

For every photo of a real-photo evaluation (``experiments/real_photos.py``) with a MediaPipe reference pose, each
network encodes the photo as the fit saw it (``observed.png``: the 64-pixel grey crop) and this script reports
r(z1, reference azimuth) and r(z2, reference elevation) across the photos — the paper's Fig. 9 measure of a
disentangled code (Kulkarni et al. 2015 §4.3), taken on photos instead of renders — and, beside them, r(z1,
reference elevation) and r(z2, reference azimuth), which a disentangled code keeps near 0. On renders the shipped
network's r are 0.941 / 0.972 (``docs/results/encoders``).

Usage: python experiments/code_transfer.py --evaluation docs/results/real_photos/baseline
--fits out/real_photos/baseline shipped runs/distill/B.pt ... [--out FILE.csv]
"""

import argparse
import csv
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402

from abc_inverse.io import read_image, to_grey, write_csv  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402


def photos_with_reference(evaluation: Path, fits: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, crops (N, 64, 64) float32 in [0, 1], reference (N, 2) azimuth and elevation in degrees) of the
    fitted photos of ``evaluation``/per_photo.csv whose reference pose was found."""
    with open(evaluation / "per_photo.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok" and r["reference_found"] == "True"]
    names = [r["photo"] for r in rows]
    crops = np.stack([to_grey(read_image(fits / Path(n).stem / "observed.png")) for n in names]).astype(np.float32)
    reference = np.array([[float(r["reference_azimuth"]), float(r["reference_elevation"])] for r in rows])
    return names, crops, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", help="DC-IGN checkpoints, or 'shipped'")
    parser.add_argument("--evaluation", type=Path, required=True, help="a docs/results/real_photos/NAME folder")
    parser.add_argument("--fits", type=Path, required=True, help="its fits (out/real_photos/NAME)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    names, crops, reference = photos_with_reference(args.evaluation, args.fits)
    rows = []
    for network in args.networks:
        z = DCIGNStatistic.from_checkpoint(None if network == "shipped" else network)(crops)
        r = [round(float(np.corrcoef(z[:, code], reference[:, angle])[0, 1]), 3)
             for code, angle in ((0, 0), (1, 1), (0, 1), (1, 0))]
        rows.append([network, len(names), *r])
    header = ["network", "photos", "r_z1_azimuth", "r_z2_elevation", "r_z1_elevation", "r_z2_azimuth"]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(map(str, row)))
    if args.out is not None:
        write_csv(args.out, header, rows)


if __name__ == "__main__":
    main()
