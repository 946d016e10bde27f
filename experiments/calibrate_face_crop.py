"""Calibrate the face-crop constants of abc_inverse.io (FACE_BOX_TO_FRAME, FACE_BOX_SHIFT).

Runs OpenCV's Haar cascade on the model's own renders (random identities, near-frontal pose, frontal light,
default camera) and prints the detector box size relative to the image side and its centre offset relative
to the image centre, in box heights. Usage: python experiments/calibrate_face_crop.py
"""

import numpy as np

from abc_inverse.io import detect_face
from abc_inverse.model.scene import Scene
from abc_inverse.render.simulator import RenderSettings, Simulator

size, n = 256, 24
sim = Simulator(settings=RenderSettings(image_size=size))
rng = np.random.default_rng(0)
scenes = Scene(rng.standard_normal((n, 20)), rng.standard_normal((n, 10)), rng.uniform(-0.15, 0.15, n),
               rng.uniform(-0.1, 0.1, n), rng.uniform(-0.3, 0.3, n), np.full((n, 3), 0.5))
ratios, shifts = [], []
for img in sim(scenes):
    box = detect_face(img)
    if box is None:
        continue
    x, y, w, h = box
    ratios.append(max(w, h) / size)
    shifts.append((size / 2 - (y + h / 2)) / h)
print(f"detected {len(ratios)}/{n}; box/side = {np.mean(ratios):.3f} ± {np.std(ratios):.3f}; "
      f"centre shift = {np.mean(shifts):.3f} ± {np.std(shifts):.3f} box heights")
