"""How far do nuisances that photos have and our renders lack move a network's pose codes? A table of shifts in
degrees of azimuth and elevation, per network.

For ``SCENES`` prior scenes of each network's own simulator (azimuth and elevation drawn within
``POSE_RANGE_DEG``, the range of the real-photo references), each network encodes the clean renders and the renders
with one nuisance added; the shift of z1 (z2) is divided by the slope of z1 on azimuth (z2 on elevation) over the
clean renders, so that it reads in degrees of the pose the code would report. Nuisances:

- ``jaw D°``: the jaw dropped by D degrees (:func:`abc_inverse.model.expression.with_jaw`, coefficient 1): an open
  mouth's lengthened lower face;
- ``light from above / below``: the directional light raised or lowered by 30° (the ``rich`` lighting's light
  elevation, its other variables at their neutral values, :meth:`abc_inverse.model.scene.ScenePrior.neutral_lighting`);
- ``2 px lower``: the image moved down by 2 pixels (a face detector's framing error).

A network whose pose codes ignore a nuisance shows ≈ 0°. The paper (Kulkarni et al. 2015 §4.3) measures
invariance only to the variables its renderer has.

Usage: python experiments/nuisance_shift.py shipped runs/cpu/N.pt ... [--out FILE.csv]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402
from scipy.ndimage import shift as shift_image  # noqa: E402

from abc_inverse.io import report_table  # noqa: E402
from abc_inverse.model.expression import with_jaw  # noqa: E402
from abc_inverse.model.scene import lighting_variables  # noqa: E402
from abc_inverse.render.simulator import Simulator, simulator_from_config  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402

SCENES, SEED = 300, 5
POSE_RANGE_DEG = (30.0, 20.0)  # |azimuth|, |elevation|
JAW_DEG = (5.0, 10.0, 15.0)
LIGHT_ELEVATION_DEG = 30.0
SHIFT_PX = 2.0


def nuisances(simulator: Simulator, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """(clean renders (N, S, S) float32, the scenes' azimuth and elevation (N, 2) in radians, {nuisance: renders})
    for the module docstring's nuisances on ``SCENES`` scenes of ``simulator``'s prior."""
    scenes = simulator.prior.sample(rng, SCENES)
    limits = np.radians(POSE_RANGE_DEG)
    scenes = scenes._replace(azimuth=rng.uniform(-limits[0], limits[0], SCENES),
                             elevation=rng.uniform(-limits[1], limits[1], SCENES))
    clean = simulator(scenes)
    opened = scenes._replace(shape=np.concatenate([scenes.shape, np.ones((SCENES, 1))], 1))
    out = {f"jaw {d:g}°": Simulator(with_jaw(simulator.model, d), simulator.settings)(opened) for d in JAW_DEG}
    rich = simulator_from_config({**simulator.get_config(), "lighting": "rich"})
    neutral = rich.prior.neutral_lighting(SCENES)
    (elevation,) = [cols for name, cols, _ in lighting_variables(neutral.shape[1]) if name == "light_elevation"]
    for name, sign in (("light from above", 1), ("light from below", -1)):
        lighting = neutral.copy()
        lighting[:, elevation] = sign * np.radians(LIGHT_ELEVATION_DEG)
        out[name] = rich(scenes._replace(lighting=lighting))
    out[f"{SHIFT_PX:g} px lower"] = np.stack([shift_image(x, (SHIFT_PX, 0), order=1) for x in clean])
    return clean, np.c_[scenes.azimuth, scenes.elevation], out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", help="DC-IGN checkpoints, or 'shipped'")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    rows, header = [], None
    for network in args.networks:
        statistic = DCIGNStatistic.from_checkpoint(None if network == "shipped" else network)
        simulator = simulator_from_config(statistic.meta.simulator)
        clean, pose, renders = nuisances(simulator, np.random.default_rng(SEED))
        z = statistic(clean)[:, :2]
        slope = np.array([np.polyfit(pose[:, k], z[:, k], 1)[0] for k in range(2)])  # code units per radian
        shifts = {name: np.degrees(np.mean(statistic(np.asarray(x, np.float32))[:, :2] - z, 0) / slope)
                  for name, x in renders.items()}
        header = ["network"] + [f"{name}: {angle}" for name in shifts for angle in ("azimuth", "elevation")]
        rows.append([network, *(round(float(v), 1) for s in shifts.values() for v in s)])
    report_table(header, rows, args.out)


if __name__ == "__main__":
    main()
