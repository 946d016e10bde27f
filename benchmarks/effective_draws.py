"""Effective draws per second of `abc-inverse fit` on faces rendered at known angles, with and without a
data-driven proposal (with ``--smc``, with SMC-ABC; with ``--adapted-epsilon``, with ε adapted during warm-up
instead of set by ``--image-noise``), measured in one run on the same scenes (issue 12).

For each scene (the five of ``experiments/known_angle_recovery.py``, identities drawn with seeds 1-5) the face is
rendered, then fitted with the default sampler settings (or those given), first without and then with
``--proposal``. Per fit: wall time (s), the largest split R-hat (rank-normalised, unrounded) and the smallest bulk
ESS over azimuth, elevation and light azimuth (and each angle's R-hat, bulk and tail ESS, error and posterior sd in
the JSON), effective draws per second (that ESS / wall time), the largest |posterior mean − truth| (°) and whether
every true angle lies in its central 95 % interval. The last line printed is JSON.

Usage: python benchmarks/effective_draws.py [--proposal Q.pt] [--smc] [--adapted-epsilon] [--scenes 5]
[--draws D] [--tune T] [--chains C]
"""

import argparse
import json
import os
import time
from dataclasses import replace

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import arviz as az  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from abc_inverse.fit import FitConfig, fit  # noqa: E402
from abc_inverse.model.scene import ANGLES  # noqa: E402
from encoders.proposal import load_proposal  # noqa: E402
from encoders.statistics import make_statistic, simulator_for  # noqa: E402

SCENES = [(1, 30.0, 10.0, 60.0), (2, -35.0, -15.0, -50.0), (3, 10.0, 20.0, 70.0), (4, -20.0, 5.0, 45.0),
          (5, 40.0, -20.0, -65.0)]  # (identity seed, azimuth, elevation, light azimuth), degrees


def measure(observed, truth: dict, statistic, simulator, config: FitConfig, proposal) -> dict:
    """One fit's figures (see the module docstring)."""
    start = time.perf_counter()
    idata = fit(observed, statistic, config, simulator, progress=False, proposal=proposal)
    wall = time.perf_counter() - start
    angles = list(ANGLES)
    r_hat, ess_bulk, ess_tail = (az.rhat(idata, var_names=angles), az.ess(idata, var_names=angles),
                                 az.ess(idata, var_names=angles, method="tail"))
    post = idata.posterior
    inside = all(float(np.quantile(post[n].values, 0.025)) <= truth[n] <= float(np.quantile(post[n].values, 0.975))
                 for n in ANGLES)
    ess = min(float(ess_bulk[n]) for n in angles)
    return {"wall_s": round(wall, 1), "r_hat_max": round(max(float(r_hat[n]) for n in angles), 4),
            "ess_bulk_min": round(ess), "effective_draws_per_s": round(ess / wall, 3),
            "abs_error_max_deg": round(max(abs(float(post[n].mean()) - truth[n]) for n in ANGLES), 2),
            "truth_in_95": inside,
            "per_angle": {n: {"r_hat": round(float(r_hat[n]), 4), "ess_bulk": round(float(ess_bulk[n])),
                              "ess_tail": round(float(ess_tail[n])),
                              "error_deg": round(float(post[n].mean()) - truth[n], 2),
                              "sd_deg": round(float(post[n].std()), 2)} for n in angles}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposal", default=None, help="proposal made by abc-inverse train-proposal")
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--smc", action="store_true", help="also fit each scene with --sampler smc")
    parser.add_argument("--adapted-epsilon", action="store_true",
                        help="also fit each scene with ε adapted during warm-up (--image-noise 0, the rule before "
                             "ε stood for image noise)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    statistic = make_statistic("dcign")
    simulator = simulator_for(statistic)
    config = replace(FitConfig(), **{k: v for k, v in (("draws", args.draws), ("tune", args.tune),
                                                       ("chains", args.chains)) if v is not None})
    variants = {"prior only": (config, None)}
    if args.adapted_epsilon:
        variants["adapted ε"] = (replace(config, image_noise=0.0), None)
    if args.proposal:
        variants["with proposal"] = (config, load_proposal(args.proposal))
    if args.smc:
        variants["smc"] = (replace(config, sampler="smc"), None)
    rows = []
    for seed, az_deg, el_deg, light_deg in SCENES[:args.scenes]:
        scene = simulator.prior.at_angles(az_deg, el_deg, light_deg, seed)
        truth = dict(zip(ANGLES, (az_deg, el_deg, light_deg), strict=True))
        observed = simulator(scene)[0]
        for name, (settings, proposal) in variants.items():
            row = {"scene": seed, "variant": name, **measure(observed, truth, statistic, simulator,
                                                               replace(settings, seed=seed), proposal)}
            rows.append(row)
            print(f"scene {seed} {name:<14} wall {row['wall_s']:6.1f} s  max R-hat {row['r_hat_max']:.4f}  "
                  f"min bulk ESS {row['ess_bulk_min']:7.0f}  {row['effective_draws_per_s']:7.3f} eff. draws/s  "
                  f"max error {row['abs_error_max_deg']:5.1f}°  truth in 95 %: {row['truth_in_95']}", flush=True)
    summary = {name: {"effective_draws_per_s_median": float(np.median([r["effective_draws_per_s"] for r in rows
                                                                       if r["variant"] == name])),
                      "r_hat_max": max(r["r_hat_max"] for r in rows if r["variant"] == name)}
               for name in variants}
    print(json.dumps({"rows": rows, "summary": summary}))


if __name__ == "__main__":
    main()
