"""Known-angle recovery: render faces at known angles with `abc-inverse render`, fit them with
`abc-inverse fit --crop none`, and report the posterior-mean errors in degrees and the wall time of each fit.

Five scenes: azimuth within ±40°, elevation within ±20°, a side light (|light azimuth| 45-70°). With
``--identities mean`` every face is the mean face (``abc-inverse render`` without --seed); with ``random`` the
identities are drawn from the prior with seeds 1-5. Writes docs/results/known_angle_recovery_<identities>.csv
and .md (``_<name>`` appended with ``--name``). Usage: python experiments/known_angle_recovery.py
[--identities mean|random] [--checkpoint CKPT --name NAME] [--draws D] [--tune T] [--chains C] [--out DIR]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import arviz as az

SCENES = [  # (identity seed, azimuth, elevation, light azimuth), degrees
    (1, 30.0, 10.0, 60.0),
    (2, -35.0, -15.0, -50.0),
    (3, 10.0, 20.0, 70.0),
    (4, -20.0, 5.0, 45.0),
    (5, 40.0, -20.0, -65.0),
]
ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identities", choices=["mean", "random"], default="mean")
    parser.add_argument("--draws", type=int, default=None, help="default: the fit command's default")
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--checkpoint", default=None, help="DC-IGN checkpoint (default: the shipped network)")
    parser.add_argument("--name", default=None, help="suffix of the result files (required with --checkpoint)")
    parser.add_argument("--out", type=Path, default=Path("out/known_angles"))
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    if args.checkpoint and not args.name:
        parser.error("--name: required with --checkpoint")
    exe = str(Path(sys.executable).with_name("abc-inverse"))
    extra = [f"--{k}={v}" for k, v in (("draws", args.draws), ("tune", args.tune), ("chains", args.chains),
                                        ("checkpoint", args.checkpoint)) if v]
    rows = []
    stem = f"known_angle_recovery_{args.identities}" + (f"_{args.name}" if args.name else "")
    out = args.out / stem
    for i, (seed, az_deg, el_deg, light_deg) in enumerate(SCENES):
        seed = seed if args.identities == "random" else None
        img = out / f"scene{i}.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        render = [exe, "render", f"--azimuth={az_deg}", f"--elevation={el_deg}", f"--light-azimuth={light_deg}",
                  "--out", str(img)] + ([f"--seed={seed}"] if seed is not None else [])
        subprocess.run(render, check=True, capture_output=True)
        fit_cmd = [exe, "fit", str(img), "--crop", "none", "--out", str(out / f"fit{i}"), "--seed", str(i),
                   "--no-progress", *extra]
        start = time.perf_counter()
        subprocess.run(fit_cmd, check=True, capture_output=True, env={**os.environ})
        wall = time.perf_counter() - start
        idata = az.from_netcdf(str(out / f"fit{i}" / "posterior.nc"))
        post = idata.posterior
        truth = {"azimuth": az_deg, "elevation": el_deg, "light_azimuth": light_deg}
        row = {"scene": i, "identity_seed": seed if seed is not None else "mean face"}
        for name, true in truth.items():
            mean = float(post[name].mean())
            row.update({f"{name}_true": true, f"{name}_mean": round(mean, 1),
                        f"{name}_sd": round(float(post[name].std()), 1), f"{name}_error": round(mean - true, 1)})
        rhat = az.rhat(idata, var_names=list(truth))
        row["max_r_hat"] = round(max(float(rhat[n]) for n in truth), 2)
        row["acceptance_rate"] = round(float(idata.sample_stats["is_accepted"].mean()), 3)
        row["wall_time_s"] = round(wall, 1)
        row["command"] = " ".join(["abc-inverse", *fit_cmd[1:]])
        rows.append(row)
        print(json.dumps(row))
    args.results.mkdir(parents=True, exist_ok=True)
    with open(args.results / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| scene | identity | azimuth true / mean / err | elevation true / mean / err | "
             "light true / mean / err | max R-hat | acc. | wall (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[n + '_true']:.0f} / {r[n + '_mean']:.1f} / {r[n + '_error']:+.1f}"
                 for n in ("azimuth", "elevation", "light_azimuth")]
        lines.append(f"| {r['scene']} | {r['identity_seed']} | " + " | ".join(cells)
                     + f" | {r['max_r_hat']} | {r['acceptance_rate']} | {r['wall_time_s']} |")
    errors = [abs(r[n + "_error"]) for r in rows for n in ("azimuth", "elevation", "light_azimuth")]
    worst, mean_abs = max(errors), sum(errors) / len(errors)
    lines += ["", f"Largest absolute error: {worst:.1f}°; mean absolute error {mean_abs:.1f}°; longest fit: "
              f"{max(r['wall_time_s'] for r in rows):.0f} s.", "",
              f"Reproduce: `python experiments/known_angle_recovery.py --identities {args.identities}"
              + (f" --name {args.name}" if args.name else "") + "".join(" " + e for e in extra) + "`"]
    (args.results / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
