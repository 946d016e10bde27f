"""Summary-statistic throughput on this machine: images per second each statistic encodes, in one run.

Encodes the same ``--images`` 64×64 renders in batches of ``--batch`` (4 is what a 4-chain ABC-MCMC step asks
for) with every statistic, one torch thread (as each ``bench-stats`` worker runs), and prints images/s and the
ratio to the DC-IGN's. The last line printed is JSON.

Usage: python benchmarks/statistic_throughput.py [--images 64] [--batch 4] [--threads 1]
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from abc_inverse.render.simulator import Simulator  # noqa: E402
from encoders.statistics import make_statistic  # noqa: E402

SPECS = ("dcign", "pixels", "squeezenet:conv1", "squeezenet:fire5", "squeezenet:conv10", "efficientnet:block10",
         "efficientnet:head")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    simulator = Simulator()
    images = simulator(simulator.prior.sample(np.random.default_rng(0), args.images))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} torch threads, {args.images} renders of 64×64 in batches of {args.batch}")
    rates = {}
    for spec in SPECS:
        statistic = make_statistic(spec)
        statistic(images[:args.batch])  # warm-up
        start = time.perf_counter()
        for i in range(0, args.images, args.batch):
            statistic(images[i:i + args.batch])
        rates[spec] = args.images / (time.perf_counter() - start)
    for spec, rate in rates.items():
        print(f"{spec:<24}{rate:>10.1f} images/s   {rate / rates['dcign']:>8.4f} × dcign")
    print(json.dumps({"images_per_s": {k: round(v, 1) for k, v in rates.items()}}))


if __name__ == "__main__":
    main()
