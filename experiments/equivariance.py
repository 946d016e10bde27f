"""Equivariance of a DC-IGN code (Kulkarni et al. 2015 Fig. 9a-c): z1, z2, z3 against the true azimuth,
elevation and light azimuth on held-out faces.

For each of the three variables, ``--faces`` held-out faces (identities, camera and the other angles drawn from
the prior with seed 10**6 + 7, never used in training) are rendered with that variable swept over its prior
range; the encoder mean of the matching latent is compared with the truth by Pearson r (sweep kept within the
range where faces are visible: azimuth ±1.5 rad, elevation ±60°, light ±90°). Writes
``docs/results/equivariance_<name>.png`` and ``.md``.

Usage: python experiments/equivariance.py [CHECKPOINT] [--faces 100] [--name NAME]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abc_inverse.fit import simulator_for  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402

SWEEPS = {"azimuth": (0, np.linspace(-1.5, 1.5, 13)), "elevation": (1, np.radians(np.linspace(-60, 60, 13))),
          "light_azimuth": (2, np.radians(np.linspace(-90, 90, 13)))}
ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--name", default="default")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    statistic = DCIGNStatistic.from_checkpoint(args.checkpoint)
    simulator = simulator_for(statistic)
    rng = np.random.default_rng(10**6 + 7)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    lines = [f"Equivariance of `{args.checkpoint or 'the shipped network'}` on {args.faces} held-out faces "
             "(Pearson r of latent z_k against the swept variable).", "", "| variable | latent | r |", "|---|---|---|"]
    for ax, (name, (k, values)) in zip(axes, SWEEPS.items(), strict=True):
        base = simulator.prior.sample(rng, args.faces)
        scenes = base.take(np.repeat(np.arange(args.faces), len(values)))
        scenes = scenes._replace(**{name: np.tile(values, args.faces)})
        z = np.concatenate([statistic(simulator(scenes.take(slice(i, i + 256))))[:, k]
                            for i in range(0, scenes.n, 256)])
        truth = np.degrees(getattr(scenes, name))
        r = float(np.corrcoef(truth, z)[0, 1])
        ax.scatter(truth, z, s=3, alpha=0.3)
        ax.set(xlabel=f"true {name} (degrees)", ylabel=f"z{k + 1}", title=f"{name}: r = {r:.3f}")
        lines.append(f"| {name} | z{k + 1} | {r:.3f} |")
    args.results.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.results / f"equivariance_{args.name}.png", dpi=100)
    cmd = "python experiments/equivariance.py" + (f" {args.checkpoint}" if args.checkpoint else "")
    lines += ["", f"Reproduce: `{cmd} --faces {args.faces} --name {args.name}`"]
    (args.results / f"equivariance_{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
