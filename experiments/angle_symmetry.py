"""How much of the image change under each extrinsic angle is even (the same for ±angle) and how much is odd.

For ``--faces`` held-out faces (identities and camera from the prior, the other angles frontal), the render at
+a and -a is split into the even part (I(a) + I(-a))/2 - I(0) and the odd part (I(a) - I(-a))/2; the table gives
their RMS over pixels and faces (intensities in [0, 1]). A one-dimensional latent that captures only the even
part is folded (the same code for +a and -a): the failure seen in the specific-transformation networks' z2, z3.
Writes docs/results/angle_symmetry.md. Usage: python experiments/angle_symmetry.py [--faces 20]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402

from abc_inverse.render.simulator import RenderSettings, Simulator  # noqa: E402
from encoders.evaluate import sweep_scenes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ANGLES = {"azimuth": [20, 40, 60, 80], "elevation": [20, 40, 60, 80], "light_azimuth": [20, 40, 60, 80]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    sim = Simulator(settings=RenderSettings(image_size=64))
    lines = [f"Even and odd parts of the image change (RMS, intensities in [0, 1]) on {args.faces} held-out faces, "
             "the other angles frontal, 64×64 renders.", "",
             "| variable | angle (°) | even RMS | odd RMS | odd / even |", "|---|---|---|---|---|"]
    for name, degrees in ANGLES.items():
        a = np.radians(degrees)
        values = np.concatenate([-a[::-1], [0.0], a])
        images = sim(sweep_scenes(sim, args.faces, name, values)).reshape(args.faces, len(values), -1)
        mid = len(a)
        for j, deg in enumerate(degrees, start=1):
            plus, minus, zero = images[:, mid + j], images[:, mid - j], images[:, mid]
            even = np.sqrt(np.mean(((plus + minus) / 2 - zero) ** 2))
            odd = np.sqrt(np.mean(((plus - minus) / 2) ** 2))
            lines.append(f"| {name} | {deg} | {even:.3f} | {odd:.3f} | {odd / even:.2f} |")
    lines += ["", f"Reproduce: `python experiments/angle_symmetry.py --faces {args.faces}`"]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "angle_symmetry.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
