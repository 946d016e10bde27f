"""Fig. 7 (Kulkarni et al. 2015 §4.2): same/different face recognition from each summary statistic.

Renders ``--pairs`` pairs of held-out faces under independent pose, light and camera, half of them the same
identity (:mod:`encoders.same_different`), and reports per statistic the §4.2 best-threshold accuracy, the
cross-validated accuracy and the mean correlations. Uses the statistics of ``fig6_statistics.py``. Writes
``docs/results/<name>.{md,csv,png}``.

Usage: python experiments/fig7_same_different.py [--pairs 96] [--seed 0] [--name same_different]
       [--vary pose,light,camera] [--only LABEL,LABEL]
"""

import argparse
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from fig6_statistics import ROOT, select  # noqa: E402
from tqdm import tqdm  # noqa: E402

from abc_inverse.bench_stats import benchmark_simulator  # noqa: E402
from abc_inverse.io import atomic_path, write_csv, write_text  # noqa: E402
from abc_inverse.render.simulator import simulator_from_config  # noqa: E402
from encoders.same_different import face_pairs, same_different  # noqa: E402
from encoders.statistics import load_statistic, split_label  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--name", default="same_different", help="file stem of the outputs")
    parser.add_argument("--vary", default="pose,light,camera",
                        help="what differs between the two images of a pair: some of pose, light, camera")
    parser.add_argument("--only", default=None,
                        help="comma-separated labels of fig6_statistics.STATISTICS to compare (default: all)")
    args = parser.parse_args()
    chosen = select(args.only)
    os.chdir(ROOT)
    torch.set_num_threads(2)
    specs = dict(split_label(s) for s in chosen)
    simulator = simulator_from_config(benchmark_simulator(specs))
    vary = tuple(v for v in args.vary.split(",") if v)
    images_a, images_b, same = face_pairs(simulator, args.pairs, args.seed, vary)
    rows = []
    for label, spec in tqdm(specs.items(), desc="statistics"):
        rows.append({"statistic": label, **same_different(load_statistic(spec, simulator.settings.image_size),
                                                          images_a, images_b, same)})
    command = shlex.join(["python", "experiments/fig7_same_different.py", *sys.argv[1:]])
    cols = ["statistic", "accuracy", "cv_accuracy", "threshold", "mean_r_same", "mean_r_different"]
    write_csv(args.results / f"{args.name}.csv", cols, [[r[c] for c in cols] for r in rows])
    lines = [f"Same/different faces (§4.2, Fig. 7): {args.pairs} held-out pairs, half the same identity; drawn "
             f"independently for each image of a pair: {', '.join(vary) or 'nothing'}; chance = 0.5.", "",
             "| statistic | accuracy (best threshold) | cross-validated accuracy | threshold | mean r, same | "
             "mean r, different |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['statistic']} | {r['accuracy']:.3f} | {r['cv_accuracy']:.3f} | {r['threshold']:.3f} | "
              f"{r['mean_r_same']:.3f} | {r['mean_r_different']:.3f} |" for r in rows]
    lines += ["", f"Reproduce: `{command}`"]
    write_text(args.results / f"{args.name}.md", "\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(max(7, 0.8 * len(rows)), 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["accuracy"] for r in rows], 0.4, label="best threshold (§4.2)")
    ax.bar([i + 0.2 for i in x], [r["cv_accuracy"] for r in rows], 0.4, label="cross-validated")
    ax.axhline(0.5, color="k", ls="--", lw=0.8, label="chance")
    ax.set_xticks(list(x), [r["statistic"] for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="accuracy", ylim=(0.4, 1.0),
           title=f"Same/different faces, {args.pairs} pairs, varying {', '.join(vary) or 'nothing'}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(args.results / f"{args.name}.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
