"""Fig. 6 (Kulkarni et al. 2015 §4.1): DC-IGN codes against ImageNet CNN layers and raw pixels as summary
statistics for ABC-MCMC, on the same held-out synthetic faces with the same sampler budget and seeds.

Runs ``abc-inverse bench-stats`` (resumable; its fits are kept in ``--work``) and copies the reports —
summary.md / .csv (per statistic, mean ± standard error across faces), fits.csv (per fit), statistics.png
(Fig. 6b bars) and pixel_error.png (Fig. 6a traces) — into ``docs/results/statistics/``.

The DC-IGN and VITAE networks other than the shipped one are made by the project's training command (see
STATISTICS; VITAE's perspective code, appearance code and both are three statistics of one network);
the script refuses to start when one is missing.

Usage: python experiments/fig6_statistics.py [--faces 20] [--workers 2] [--work runs/bench_stats] [--only LABEL,…]
"""

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

from abc_inverse.cli import main as cli  # noqa: E402
from encoders.statistics import split_label  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# label=spec, and for DC-IGN networks not shipped, the command that trains them.
STATISTICS = {
    "dcign_random_z64=dcign:encoders/data/dcign_random.pt":
        "shipped (encoders/data/dcign_random.pt.json; the default network until 2026-11-21)",
    "dcign_specific_z64=dcign:runs/final/specific_sb10.pt":
        "abc-inverse train --out runs/final/specific_sb10.pt --init encoders/data/dcign_random.pt --steps 10000 "
        "--seed 0 --mode specific --clamp mean --shape-bias 10",
    "dcign_random_z16=dcign:runs/bench/dcign_latent16.pt":
        "abc-inverse train --out runs/bench/dcign_latent16.pt --steps 10000 --seed 0 --latent-dim 16",
    "dcign_random_z200=dcign:runs/bench/dcign_latent200.pt":
        "abc-inverse train --out runs/bench/dcign_latent200.pt --steps 10000 --seed 0 --latent-dim 200",
    **{f"c_vitae_{part}=vitae:runs/vitae/c_vitae_faces.pt:{part}":
       "abc-inverse train --model c-vitae --out runs/vitae/c_vitae_faces.pt --steps 5000 --seed 0 --latent-dim 58 "
       "--perspective-dim 6 --decoder-hidden 512" for part in ("perspective", "appearance", "both")},
    "squeezenet:conv1": "", "squeezenet:fire5": "", "squeezenet:conv10": "",
    "efficientnet:block10": "", "efficientnet:head": "",
    "pixels": "",
}


def missing_networks(statistics: list[str]) -> list[str]:
    """Training commands of the DC-IGN and VITAE checkpoints in ``statistics`` (entries of STATISTICS) that do not
    exist yet (each once)."""
    out = []
    for entry in statistics:
        command = STATISTICS[entry]
        kind, _, arg = split_label(entry)[1].partition(":")
        path = arg.split(":")[0] if kind in ("dcign", "vitae") else ""
        if path and not (ROOT / path).is_file() and command not in out:
            out.append(command)
    return out


def select(only: str | None) -> list[str]:
    """The entries of STATISTICS whose labels ``only`` lists (comma-separated; None = all). Exits with a message
    naming the known labels for an unknown one, and with the training commands of networks that are missing."""
    chosen = list(STATISTICS)
    if only is not None:
        labels = {split_label(s)[0]: s for s in STATISTICS}
        unknown = [x for x in only.split(",") if x not in labels]
        if unknown:
            sys.exit(f"--only: expected labels among {', '.join(labels)}, got {', '.join(unknown)}")
        chosen = [labels[x] for x in only.split(",")]
    missing = missing_networks(chosen)
    if missing:
        sys.exit("missing networks; train them first:\n  " + "\n  ".join(missing))
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_stats")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results" / "statistics")
    parser.add_argument("--only", default=None, help="comma-separated labels of STATISTICS to run (default: all)")
    args = parser.parse_args()
    chosen = select(args.only)
    os.chdir(ROOT)
    code = cli(["bench-stats", "--statistics", ",".join(chosen), "--faces", str(args.faces),
                "--workers", str(args.workers), "--out", os.path.relpath(args.work, ROOT)])
    args.results.mkdir(parents=True, exist_ok=True)
    for name in ("summary.md", "summary.csv", "fits.csv", "statistics.png", "pixel_error.png"):
        shutil.copyfile(args.work / name, args.results / name)
    with open(args.results / "summary.md", "a") as f:
        f.write(f"\nWhole figure: `{shlex.join(['python', 'experiments/fig6_statistics.py', *sys.argv[1:]])}`\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
