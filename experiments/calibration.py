"""Simulation-based calibration (Talts et al. 2018) of `abc-inverse fit` for azimuth, elevation and light azimuth.

For each of ``--scenes`` scenes drawn from the prior (seeded, apart from every training stream) the face is
rendered and fitted with the shipped DC-IGN statistic and the sampler settings given (``--sampler q``: no fit,
the draws are those of the proposal q(θ | summary) alone); the rank of the true angle
among ``--ranks`` posterior draws (thinned at random) is recorded, and whether it lies in the central 50 % and
90 % posterior intervals. A calibrated posterior gives uniform ranks and coverages of 0.5 and 0.9; an ABC posterior
with ε > 0 should be conservative (coverage above nominal, ranks piled in the middle).

Writes into ``--out``: ranks.csv (one row per scene), coverage.md / coverage.csv (coverage with binomial 95 %
intervals per angle), rank_histograms.png. Usage:
python experiments/calibration.py --out docs/results/calibration/NAME [--scenes 100] [--sampler smc|mcmc|q]
[--proposal auto|none|Q.pt] [--chains C] [--draws D] [--tune T] [--particles P] [--moves M] [--pilot N]
"""

import argparse
import os
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402
from tqdm import tqdm  # noqa: E402

from abc_inverse.fit import FitConfig, fit  # noqa: E402
from abc_inverse.io import atomic_path, write_csv, write_text  # noqa: E402
from abc_inverse.model.scene import ANGLES  # noqa: E402
from encoders.proposal import proposal_for  # noqa: E402
from encoders.statistics import make_statistic, simulator_for  # noqa: E402

SBC_STREAM = 20_181_004  # seeds the calibration scenes
LEVELS = (0.5, 0.9)


def binomial_interval(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95 % interval of a proportion k / n."""
    lo = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    hi = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return float(lo), float(hi)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--ranks", type=int, default=99, help="posterior draws each rank is taken among")
    parser.add_argument("--sampler", choices=["mcmc", "smc", "q"], default="smc",
                        help="q: the proposal's own draws, no fit")
    parser.add_argument("--proposal", default="auto", help="as abc-inverse fit --proposal (auto: the shipped one)")
    for name in ("chains", "draws", "tune", "particles", "moves", "pilot", "explore_chains"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    statistic = make_statistic("dcign")
    simulator = simulator_for(statistic)
    given = {k: v for k, v in vars(args).items() if k in FitConfig.__dataclass_fields__ and v is not None}
    config = replace(FitConfig(), **{k: v for k, v in given.items() if k != "sampler"},
                     sampler="mcmc" if args.sampler == "q" else args.sampler)
    proposal, says = proposal_for(args.proposal, None)
    print(says)
    used = ("no proposal" if proposal is None else f"proposal `{args.proposal}`"
            + (" (its draws alone, no fit)" if args.sampler == "q" else ""))
    if args.sampler == "q" and proposal is None:
        parser.error("--sampler q: needs a proposal (--proposal auto or a file)")
    rows = []
    start = time.perf_counter()
    for k in tqdm(range(args.scenes), desc="calibration"):
        rng = np.random.default_rng([SBC_STREAM, k])
        scene = simulator.prior.sample(rng, 1)
        truth = {name: float(np.degrees(getattr(scene, name)[0])) for name in ANGLES}
        observed = simulator(scene)[0]
        if args.sampler == "q":
            budget = config.with_budget(hamiltonian=False)
            u = proposal.sample(statistic(observed[None])[0], budget.chains * budget.draws, rng)
            posterior = simulator.prior.from_normal(u).variables()
        else:
            idata = fit(observed, statistic, replace(config, seed=k), simulator, progress=False, proposal=proposal)
            posterior = {name: idata.posterior[name].values for name in ANGLES}
        row = {"scene": k}
        for name in ANGLES:
            draws = posterior[name].ravel()
            thinned = rng.choice(draws, size=args.ranks, replace=False)
            row[f"rank_{name}"] = int(np.sum(thinned < truth[name]))
            for level in LEVELS:
                lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
                row[f"in{int(level * 100)}_{name}"] = bool(lo <= truth[name] <= hi)
            row[f"truth_{name}"] = truth[name]
        rows.append(row)
    wall = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "ranks.csv", list(rows[0]), [list(r.values()) for r in rows])
    n = len(rows)
    table = []
    for name in ANGLES:
        for level in LEVELS:
            k = sum(r[f"in{int(level * 100)}_{name}"] for r in rows)
            table.append((name, level, k / n, *binomial_interval(k, n)))
    write_csv(args.out / "coverage.csv", ["variable", "nominal", "coverage", "ci95_low", "ci95_high"], table)
    fig, axes = plt.subplots(1, len(ANGLES), figsize=(12, 3.2))
    bins = 10
    expected = n / bins
    band = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    for ax, name in zip(axes, ANGLES, strict=True):
        ax.hist([r[f"rank_{name}"] for r in rows], bins=bins, range=(0, args.ranks + 1), color="C0")
        ax.axhspan(*band, color="grey", alpha=0.3, label="99 % band if uniform")
        ax.axhline(expected, color="k", lw=0.8)
        ax.set(title=name, xlabel=f"rank of the truth among {args.ranks} draws")
    axes[0].set_ylabel("scenes")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"SBC rank histograms, {n} prior scenes, sampler {args.sampler}, {used.replace('`', '')}")
    fig.tight_layout()
    with atomic_path(args.out / "rank_histograms.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    command = shlex.join(["python", "experiments/calibration.py", *sys.argv[1:]])
    lines = [f"Simulation-based calibration, {n} scenes from the prior, sampler `{args.sampler}`, {wall:.0f} s in "
             f"all on this machine; {used}.", "", "| variable | nominal | coverage | binomial 95 % interval |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {level:.2f} | {c:.2f} | [{lo:.2f}, {hi:.2f}] |" for name, level, c, lo, hi in table]
    lines += ["", f"Reproduce: `{command}`"]
    write_text(args.out / "coverage.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
