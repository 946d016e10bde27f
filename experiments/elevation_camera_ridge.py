"""Does the summary statistic tell elevation from camera height? The elevation that best matches a render, camera by
camera, and how much a wrong camera height costs.

For a target render (azimuth 0°, light 30°, elevation E in ``--elevations``, camera centred, identities 1–3), each
network's summary is compared (cosine distance, ``fit``'s default) with those of renders of the same face at
elevations −60…60° (2° apart) seen from cameras whose height y runs over the prior's 0…1 (x and distance centred).
For each camera height the elevation of the closest render is recorded, with its distance relative to that of a
render 10° off in elevation from the true camera (the ridge's *depth*: 0 = a wrong camera height costs nothing
once elevation compensates; above 1 = it costs more than a 10° error). A camera moved by at most ±20 mm at ≈ 500 mm
sees the face from at most ±2.3° higher or lower, yet the best elevation slides with the camera even for raw pixels
(``pixels``: a face lower in the frame is best matched by one tilted down), so the slide alone says little; the
depth, set beside the pixels', says how much more cheaply the code than the image lets a camera height stand in for
elevation.

Writes ``--out``/ridge.csv (network, identity, elevation, camera_y, best_elevation, depth) and ridge.png, and prints
per network the mean best elevation minus E at camera y 0 and 1 and the mean depth at camera y 0.4 and 0.6.

Usage: python experiments/elevation_camera_ridge.py --out docs/results/elevation_camera_ridge pixels shipped [CKPT ...]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abc_inverse.distances import distance_batch  # noqa: E402
from abc_inverse.io import write_csv  # noqa: E402
from abc_inverse.render.simulator import Simulator  # noqa: E402
from encoders.base import PixelStatistic  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402
from encoders.statistics import simulator_for  # noqa: E402

GRID_ELEVATIONS = np.arange(-60.0, 60.1, 2.0)
CAMERA_HEIGHTS = np.linspace(0.0, 1.0, 11)
IDENTITIES = (1, 2, 3)


def best_elevations(statistic, simulator, elevation: float, identity: int) -> tuple[np.ndarray, np.ndarray]:
    """Per camera height (len(CAMERA_HEIGHTS),): the grid elevation in degrees whose render's summary is closest to
    the target's (elevation ``elevation`` in degrees, camera centred), and that distance over the distance of the
    render ``elevation`` + 10° from the centred camera (the depth)."""
    target = simulator.prior.at_angles(0.0, elevation, 30.0, identity)
    observed = statistic(simulator(target))[0]
    grid = [(e, y) for e in GRID_ELEVATIONS for y in CAMERA_HEIGHTS]
    scenes = target.take(np.zeros(len(grid), int))
    scenes = scenes._replace(elevation=np.radians([e for e, _ in grid]),
                             camera=np.array([[0.5, y, 0.5] for _, y in grid]))
    distance = distance_batch("cosine", observed, statistic(simulator(scenes)))
    distance = distance.reshape(len(GRID_ELEVATIONS), len(CAMERA_HEIGHTS))
    ten_off = distance[np.argmin(np.abs(GRID_ELEVATIONS - elevation - 10)), np.argmin(np.abs(CAMERA_HEIGHTS - 0.5))]
    return GRID_ELEVATIONS[np.argmin(distance, axis=0)], distance.min(axis=0) / ten_off


def statistic_and_simulator(network: str) -> tuple:
    """(statistic, simulator) of 'pixels' (the default simulator's renders), 'shipped' or a DC-IGN checkpoint path.
    Raises FileNotFoundError / ValueError for a missing or corrupt checkpoint."""
    if network == "pixels":
        return PixelStatistic(64), Simulator()
    statistic = DCIGNStatistic.from_checkpoint(None if network == "shipped" else network)
    return statistic, simulator_for(statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", help="DC-IGN checkpoints, 'shipped' or 'pixels'")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--elevations", type=float, nargs="+", default=[-10.0, 0.0, 10.0], help="degrees")
    args = parser.parse_args()
    if not all(GRID_ELEVATIONS[0] <= e <= GRID_ELEVATIONS[-1] - 10 for e in args.elevations):
        parser.error(f"--elevations: expected degrees in [{GRID_ELEVATIONS[0]:g}, {GRID_ELEVATIONS[-1] - 10:g}] (the "
                     f"grid, with room for the 10° comparison), got {args.elevations}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    fig, axes = plt.subplots(1, len(args.networks), figsize=(4.5 * len(args.networks), 4), squeeze=False)
    for ax, network in zip(axes[0], args.networks, strict=True):
        statistic, simulator = statistic_and_simulator(network)
        shifts, depths = [], []
        for elevation in args.elevations:
            per_identity = [best_elevations(statistic, simulator, elevation, i) for i in IDENTITIES]
            for identity, (found, depth) in zip(IDENTITIES, per_identity, strict=True):
                rows += [[network, identity, elevation, y, b, d] for y, b, d in
                         zip(CAMERA_HEIGHTS, found, depth, strict=True)]
            best = np.mean([found for found, _ in per_identity], axis=0)
            depths.append(np.mean([depth for _, depth in per_identity], axis=0))
            ax.plot(CAMERA_HEIGHTS, best, marker="o", label=f"true elevation {elevation:+.0f}°")
            ax.axhline(elevation, color="grey", lw=0.5)
            shifts.append((best[0] - elevation, best[-1] - elevation))
        ax.set(title=network, xlabel="camera height y (prior 0…1, ±20 mm)", ylabel="best-matching elevation (°)")
        ax.legend(fontsize=7)
        low, high = np.mean(shifts, axis=0)
        depth = np.mean(depths, axis=0)
        near = [depth[np.argmin(np.abs(CAMERA_HEIGHTS - y))] for y in (0.4, 0.6)]
        print(f"{network}: best elevation − truth, mean over identities and elevations: {low:+.1f}° at camera y 0, "
              f"{high:+.1f}° at camera y 1; depth {near[0]:.2f} at camera y 0.4, {near[1]:.2f} at 0.6")
    fig.tight_layout()
    fig.savefig(args.out / "ridge.png", dpi=110)
    write_csv(args.out / "ridge.csv", ["network", "identity", "elevation", "camera_y", "best_elevation", "depth"],
              rows)
    print(f"wrote {args.out}/ridge.csv, ridge.png")


if __name__ == "__main__":
    main()
