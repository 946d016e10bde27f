"""MediaPipe Face Mesh landmarks of photos, for ``experiments/real_photos.py``: run with the optional environment's
Python (``make mediapipe-env``; mediapipe 0.10.21 needs numpy < 2), so it imports nothing of abc-inverse.

For each photo: the 468 landmarks of the most confident face as pixels (x·W, y·H, z·W: x right, y down, z the depth
in x's units, negative towards the camera; Kartynnik et al. 2019), or NaN where no face is found. Transparent
pixels are composited over white, as ``abc-inverse fit`` reads them.

Usage: .venv-mediapipe/bin/python experiments/mediapipe_landmarks.py --out landmarks.npz PHOTO [PHOTO ...]
Writes ``landmarks`` (N, 468, 3) float64 and ``photos`` (N,) str to the .npz.
"""

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

N_LANDMARKS = 468


def read_rgb(path: Path) -> np.ndarray:
    """The photo as (H, W, 3) uint8 RGB, transparency composited over white."""
    with Image.open(path) as im:
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, im).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import mediapipe as mp

    out = np.full((len(args.photos), N_LANDMARKS, 3), np.nan)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                         min_detection_confidence=0.5) as mesh:
        for i, path in enumerate(args.photos):
            rgb = read_rgb(path)
            found = mesh.process(rgb).multi_face_landmarks
            if found:
                h, w = rgb.shape[:2]
                out[i] = [[p.x * w, p.y * h, p.z * w] for p in found[0].landmark]
    tmp = args.out.with_name(f".{args.out.name}.tmp.npz")
    np.savez(tmp, landmarks=out, photos=np.array([str(p) for p in args.photos]))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: faces found in {int(np.isfinite(out[:, 0, 0]).sum())} of {len(args.photos)} photos")


if __name__ == "__main__":
    main()
