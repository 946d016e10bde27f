"""The scale of the ABC tolerance: what pixel noise does to the summary, against the distance's own roughness.

Two tables for the default DC-IGN statistic and cosine distance (issue 12; ``abc_inverse.fit.noise_epsilon``):

1. **Noise.** For ``--faces`` prior renders x: the distance ρ(ν(x), ν(x + n)), n ~ N(0, σ² I) clipped to [0, 1], for
   several σ (intensities): median and 10 % / 90 % quantiles. ``fit --image-noise σ`` sets ε to this median for
   the observed image.
2. **Roughness.** At the five known-angle scenes of ``experiments/known_angle_recovery.py``, ρ from the scene's own
   render along each coordinate of u in ``--steps`` steps across ±``--half-width`` (standard-normal units): the
   number of local minima and the RMS of what a quadratic fit leaves (the part of ρ no smooth target has). A kernel
   with ε at or below that RMS sees a target of isolated islands.

Writes ``docs/results/epsilon/noise_scale.csv``, ``roughness.csv`` and prints both. Usage:
python -m experiments.epsilon_scale [--faces 200] [--steps 41] [--half-width 0.02]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from abc_inverse.distances import distance_batch  # noqa: E402
from encoders.statistics import make_statistic, simulator_for  # noqa: E402
from experiments.known_angle_recovery import SCENES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOISE = (0.005, 0.01, 0.02, 0.05)
COORDINATES = {"azimuth": "pose", "elevation": "pose", "light_azimuth": "light", "camera_x": "camera",
               "shape_0": "shape", "albedo_0": "albedo"}


def noise_rows(statistic, simulator, faces: int, rng: np.random.Generator) -> list[dict]:
    """Table 1 (see the module docstring)."""
    images = simulator(simulator.prior.sample(rng, faces))
    clean = statistic(images)
    rows = []
    for sigma in NOISE:
        noisy = np.clip(images + sigma * rng.standard_normal(images.shape).astype(np.float32), 0.0, 1.0)
        d = np.array([distance_batch("cosine", c, n[None])[0] for c, n in zip(clean, statistic(noisy), strict=True)])
        rows.append({"noise_sd": sigma, "distance_median": np.median(d), "distance_q10": np.quantile(d, 0.1),
                     "distance_q90": np.quantile(d, 0.9)})
    return rows


def roughness_rows(statistic, simulator, steps: int, half_width: float) -> list[dict]:
    """Table 2 (see the module docstring)."""
    prior, rows = simulator.prior, []
    offsets = np.linspace(-half_width, half_width, steps)
    for seed, azimuth, elevation, light in SCENES:
        scene = prior.at_angles(azimuth, elevation, light, seed)
        nu = statistic(simulator(scene))[0]
        u0 = prior.to_normal(scene)[0]
        for name, block in COORDINATES.items():
            column = prior.blocks[block].start + (name == "elevation")
            u = np.repeat(u0[None], steps, axis=0)
            u[:, column] += offsets
            rho = distance_batch("cosine", nu, statistic(simulator(prior.from_normal(u))))
            residual = rho - np.polyval(np.polyfit(offsets, rho, 2), offsets)
            rows.append({"scene": seed, "coordinate": name, "local_minima": int(np.sum(
                (rho[1:-1] < rho[:-2]) & (rho[1:-1] < rho[2:]))), "rho_max": rho.max(),
                "residual_rms": np.sqrt(np.mean(residual**2))})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--steps", type=int, default=41)
    parser.add_argument("--half-width", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "epsilon")
    args = parser.parse_args()
    statistic = make_statistic("dcign")
    simulator = simulator_for(statistic)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("noise_scale", noise_rows(statistic, simulator, args.faces, np.random.default_rng(args.seed))),
                       ("roughness", roughness_rows(statistic, simulator, args.steps, args.half_width))):
        pd.DataFrame(rows).to_csv(args.out / f"{name}.csv", index=False, float_format="%.6g")
        print(name)
        for row in rows:
            print("  " + "  ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
