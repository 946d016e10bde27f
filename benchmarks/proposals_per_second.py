"""ABC-MCMC proposals per second: 4 chains, 64×64, default DC-IGN encoder; Numba simulator vs pyrender.

Each step proposes for all chains, renders and encodes them as one batch, computes distances and accepts or
rejects: the same code path as ``abc-inverse fit``. Both backends are measured in this one run. The last line
printed is JSON: {"proposals_per_s": ..., "pyrender_proposals_per_s": ..., "ratio": ...}.

Usage: python benchmarks/proposals_per_second.py [--steps 1000] [--pyrender-steps 100] [--chains 4]
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from abc_inverse.fit import make_forward  # noqa: E402
from abc_inverse.render.simulator import RenderSettings, Simulator  # noqa: E402
from encoders.dcign import DCIGNStatistic  # noqa: E402
from encoders.statistics import simulator_for  # noqa: E402
from samplers.abc_mcmc import build_abc_mcmc  # noqa: E402
from samplers.kernels import GaussianKernel  # noqa: E402
from samplers.proposals import blockwise_elliptical  # noqa: E402


def proposals_per_second(simulator, statistic, observed, chains, steps, seed=0):
    rng = np.random.default_rng(seed)
    forward = make_forward(observed, statistic, simulator, "l2", statistic(observed[None])[0])
    init, step = build_abc_mcmc(forward, blockwise_elliptical(simulator.prior.blocks, simulator.prior.dim, 0.01))
    state = init(simulator.prior.sample_normal(rng, chains))
    kernel = GaussianKernel(0.1)
    for _ in range(10):  # warm-up: JIT compilation, GL context, allocator
        state, _ = step(rng, state, kernel)
    start = time.perf_counter()
    for _ in range(steps):
        state, _ = step(rng, state, kernel)
    return chains * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--pyrender-steps", type=int, default=100)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(2)
    statistic = DCIGNStatistic.from_checkpoint()
    numba_sim = simulator_for(statistic)
    settings = numba_sim.settings
    pyrender_sim = Simulator(numba_sim.model, RenderSettings(**{**settings.__dict__, "backend": "pyrender"}))
    observed = numba_sim(numba_sim.prior.sample(np.random.default_rng(1), 1))[0]
    fast = proposals_per_second(numba_sim, statistic, observed, args.chains, args.steps)
    slow = proposals_per_second(pyrender_sim, statistic, observed, args.chains, args.pyrender_steps)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}, NUMBA_THREADING_LAYER={os.environ['NUMBA_THREADING_LAYER']}")
    print(f"{args.chains} chains, {settings.image_size}×{settings.image_size}, encoder latent "
          f"{statistic.dim}, mesh {len(numba_sim.model.triangles)} triangles")
    print(f"numba simulator:    {fast:8.1f} proposals/s ({args.steps} steps)")
    print(f"pyrender simulator: {slow:8.1f} proposals/s ({args.pyrender_steps} steps)")
    print(f"ratio numba / pyrender: {fast / slow:.1f}×")
    print(json.dumps({"proposals_per_s": round(fast, 1), "pyrender_proposals_per_s": round(slow, 1),
                      "ratio": round(fast / slow, 2)}))


if __name__ == "__main__":
    main()
