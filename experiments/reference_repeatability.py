"""How repeatable is the real-photo pose reference on the photos themselves? The MediaPipe landmark pose
(:func:`abc_inverse.model.landmarks.head_pose`, as ``experiments/real_photos.py`` computes it) of each photo, of
its mirror image and of a copy scaled to 2/3 of its size; and, against it, the pose that another detector's
landmarks give: dlib's 46 inner points (:mod:`abc_inverse.face_landmarks`, which ``fit`` uses as a summary), fitted
by a weak-perspective camera to the same mean face (:func:`dlib_pose`). That last comparison says how far two
detectors trained on different data agree on these photos: a fit that uses one and is scored against the other
cannot be expected to do better.

A mirror turns the head the other way and leaves its tilt alone, so a repeatable reference gives the mirrored photo
the negated azimuth and the same elevation; a smaller copy has the same pose. The median |difference| over the
photos is a floor under the reference's error on real faces that renders of known pose
(``reference_on_renders.csv``) cannot give: it contains the landmarks' jitter and the fit's, not a bias the mirror
shares (a face shape unlike our mean face tilts both estimates alike). Written to ``--out`` (one row per photo and
comparison) and printed as medians per comparison and angle.

Usage: python -m experiments.reference_repeatability --photos data/real_photos data/real_photos_more
--out docs/results/real_photos/reference_repeatability.csv (needs ``make mediapipe-env``; ~1 min for 91 photos)
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from abc_inverse.face_landmarks import detect_landmarks, landmark_angles
from abc_inverse.io import detect_face, report_table, to_grey, write_csv
from abc_inverse.model.landmarks import head_pose
from abc_inverse.photos import photo_list
from experiments.mediapipe_landmarks import read_rgb
from experiments.real_photos import landmarks

SCALE = 2 / 3
COMPARISONS = {"mirrored": (-1.0, 1.0), "scaled 2/3": (1.0, 1.0)}  # sign of (azimuth, elevation) they should keep


def copies(photos: list[Path], folder: Path) -> dict[str, list[Path]]:
    """Write each photo's mirror image and its copy scaled by :data:`SCALE` (Lanczos) into ``folder`` as PNG
    (transparency over white, as ``abc-inverse fit`` reads it); {comparison: paths in the order of ``photos``}."""
    out = {name: [] for name in COMPARISONS}
    for i, photo in enumerate(photos):
        rgb = Image.fromarray(read_rgb(photo))
        small = (max(1, round(rgb.width * SCALE)), max(1, round(rgb.height * SCALE)))
        scaled = rgb.resize(small, Image.Resampling.LANCZOS)
        for name, image in (("mirrored", ImageOps.mirror(rgb)), ("scaled 2/3", scaled)):
            path = folder / f"{i:04d}_{name.split()[0]}.png"
            image.save(path)
            out[name].append(path)
    return out


def dlib_pose(photo: Path) -> dict | None:
    """{'azimuth', 'elevation', 'roll'} in degrees of dlib's inner landmarks on the photo (in the Haar face box, as
    ``fit`` frames it) against our mean face (:func:`abc_inverse.face_landmarks.landmark_angles`); None when either
    detector finds no face."""
    rgb = read_rgb(photo).astype(np.float32) / 255.0
    box = detect_face(to_grey(rgb))
    points = None if box is None else detect_landmarks(rgb, box)
    if points is None:
        return None
    return dict(zip(("azimuth", "elevation", "roll"), landmark_angles(points), strict=True))


def differences(original: dict, other: dict, signs: tuple[float, float]) -> tuple[float, float]:
    """(azimuth, elevation) of ``other`` times ``signs`` minus those of ``original`` (head_pose dicts), degrees."""
    return (signs[0] * other["azimuth"] - original["azimuth"], signs[1] * other["elevation"] - original["elevation"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, nargs="+", required=True, help="photos or folders of them")
    parser.add_argument("--out", type=Path, default=None, help="CSV, one row per photo and comparison")
    args = parser.parse_args()
    try:
        photos = photo_list(tuple(args.photos))
    except (OSError, ValueError) as error:
        parser.exit(2, f"reference_repeatability: {error}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        points = {"original": landmarks(photos, folder / "original.npz")}
        for name, paths in copies(photos, folder).items():
            points[name] = landmarks(paths, folder / f"{name.split()[0]}.npz")
    rows = []
    for i, photo in enumerate(photos):
        if not np.all(np.isfinite(points["original"][i])):
            continue
        original = head_pose(points["original"][i])
        for name, signs in COMPARISONS.items():
            if np.all(np.isfinite(points[name][i])):
                rows.append([photo.name, name, *np.round(differences(original, head_pose(points[name][i]), signs), 2)])
        other = dlib_pose(photo)
        if other is not None:
            rows.append([photo.name, "dlib", *np.round(differences(original, other, (1.0, 1.0)), 2)])
    header = ["photo", "comparison", "azimuth_difference_deg", "elevation_difference_deg"]
    if args.out is not None:
        write_csv(args.out, header, rows)
    summary = [[name, sum(r[1] == name for r in rows),
                *(round(float(np.median([abs(r[k]) for r in rows if r[1] == name])), 2) for k in (2, 3))]
               for name in [*COMPARISONS, "dlib"]]
    report_table(["comparison", "photos", "azimuth_median_abs_deg", "elevation_median_abs_deg"], summary)


if __name__ == "__main__":
    main()
