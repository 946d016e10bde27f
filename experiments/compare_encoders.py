"""Compare DC-IGN networks (Kulkarni et al. 2015 §4.3, Fig. 9d-f and the equivariance of Fig. 9a-c).

Runs ``abc-inverse evaluate-encoder`` on each network into ``docs/results/encoders/<label>/`` (equivariance
scatter, invariance curves, decoder sweeps, held-out ELBO), then writes the comparison: the invariance curves
of all networks in one figure, ``docs/results/invariance_<name>.png``, and a table, ``.md`` and ``.csv``, of
held-out ELBO, pixel MSE, Pearson r of z1-z3 and the mean invariance distance per variable.

Usage: python experiments/compare_encoders.py LABEL=CHECKPOINT [LABEL=CHECKPOINT ...] [--faces 100] [--name NAME]
"""

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402

from abc_inverse.io import write_csv  # noqa: E402
from encoders.evaluate import evaluate_encoder  # noqa: E402
from encoders.figures import invariance_plot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="+", help="LABEL=CHECKPOINT")
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--name", default="networks")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    nets = dict(n.split("=", 1) for n in args.networks)
    command = shlex.join(["python", "experiments/compare_encoders.py", *sys.argv[1:]])
    curves, rows = {}, []
    for label, path in nets.items():
        out = args.results / "encoders" / label
        m = evaluate_encoder(Path(path), out, faces=args.faces,
                             command=f"abc-inverse evaluate-encoder {path} --out {out.relative_to(ROOT)} "
                                     f"--faces {args.faces}")
        curves[label] = {v: {k: np.asarray(x) for k, x in c.items()} for v, c in m["invariance"].items()}
        eq, inv = m["equivariance"], m["invariance_mean"]
        train_cmd = "`; then `".join([m["train"]["command"]] + [r["command"] for r in m["train"].get("resumed") or []])
        rows.append([label, train_cmd, m["train"]["wall_time_s"], m["heldout"]["elbo"],
                     m["heldout"]["pixel_mse"], *(eq[v]["r"] for v in eq), *(eq[v]["r_joint"] for v in eq),
                     *(inv[v] for v in inv)])
        print(f"{label}: " + json.dumps({"elbo": m["heldout"]["elbo"], **{v: eq[v]["r"] for v in eq}}))
    variables = list(curves[next(iter(curves))])
    header = ["network", "train_command", "train_wall_s", "heldout_elbo", "pixel_mse",
              *(f"r_{v}" for v in variables), *(f"r_joint_{v}" for v in variables),
              *(f"invariance_{v}" for v in variables)]
    args.results.mkdir(parents=True, exist_ok=True)
    invariance_plot(curves, args.results / f"invariance_{args.name}.png")
    write_csv(args.results / f"invariance_{args.name}.csv", header, rows)
    lines = [f"# DC-IGN networks compared on {args.faces} held-out faces", "",
             "r: Pearson r of z1, z2, z3 against azimuth, elevation, light azimuth, one angle swept and the others "
             "frontal (joint: all scene variables from the prior). Invariance: mean cosine distance of z4…zn to "
             "the frontal image's over the sweep (lower = more invariant). ELBO in nats/image on 512 held-out "
             "prior scenes.", "",
             "| network | ELBO | pixel MSE | r az | r elev | r light | r az (joint) | r elev (joint) | r light (joint)"
             " | inv. az | inv. elev | inv. light | train s |", "|---" * 13 + "|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[3]:.1f} | {r[4]:.5f} | " + " | ".join(f"{v:.3f}" for v in r[5:11]) + " | "
                     + " | ".join(f"{v:.4f}" for v in r[11:14]) + f" | {r[2]} |")
    lines += ["", "Training commands (train s: wall time of that command alone, not of an --init network):", ""]
    lines += [f"- {r[0]}: `{r[1]}`" for r in rows]
    lines += ["", f"Figure: `invariance_{args.name}.png` (Fig. 9d-f); per network: `encoders/<network>/`.", "",
              f"Reproduce: `{command}`"]
    (args.results / f"invariance_{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
