"""DC-IGN training throughput on this machine: images per second with data generation included.

For each training mode (``abc-inverse train`` defaults: 64×64, batch 32, 64 latents) and for the two stages that
made the shipped network (``default-1``, ``default-2``: the stages of ``abc-inverse train --preset default``),
times ``--steps`` minibatches three ways in one run: rendering the batches alone
(:func:`encoders.train.draw_batch`), the SGVB updates alone on one pre-rendered batch
(:func:`encoders.train.train_step`), and both together as ``abc-inverse train`` runs them, then the estimated time
to train the shipped network. The last line printed is JSON.

Usage: python benchmarks/training_throughput.py [--steps 200] [--threads 2]
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from abc_inverse.model.morphable import load_model  # noqa: E402
from abc_inverse.render.simulator import RenderSettings, Simulator  # noqa: E402
from encoders.dcign import DCIGN, DCIGNConfig  # noqa: E402
from encoders.train import PRESETS, TrainConfig, draw_batch, make_optimizer, train_step  # noqa: E402


def measure(config: TrainConfig, steps: int) -> dict:
    """Images/s of rendering alone, updates alone, and the full training loop, over ``steps`` batches each."""
    simulator = Simulator(load_model(config.n_shape, config.n_albedo), RenderSettings(image_size=config.image_size))
    model = DCIGN(DCIGNConfig(image_size=config.image_size, latent_dim=config.latent_dim, channels=config.channels,
                              decoder_hidden=config.decoder_hidden))
    opt, gen, rng = make_optimizer(model, config), torch.Generator().manual_seed(0), np.random.default_rng(0)
    for _ in range(5):  # warm-up: Numba JIT, allocator
        train_step(model, opt, draw_batch(simulator, rng, config), gen, config)

    def rate(fn):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        return steps * config.batch_size / (time.perf_counter() - start)

    batch = draw_batch(simulator, rng, config)
    return {"render_images_per_s": rate(lambda: draw_batch(simulator, rng, config)),
            "update_images_per_s": rate(lambda: train_step(model, opt, batch, gen, config)),
            "train_images_per_s": rate(lambda: train_step(model, opt, draw_batch(simulator, rng, config), gen,
                                                          config))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} torch threads, {args.steps} batches per figure")
    configs = {"random": TrainConfig(mode="random"), "specific": TrainConfig(mode="specific"),
               # the shipped network: the stages of `abc-inverse train --preset default`
               **{f"default-{k}": TrainConfig(**stage) for k, stage in enumerate(PRESETS["default"], start=1)}}
    results = {}
    for mode, config in configs.items():
        r = measure(config, args.steps)
        results[mode] = {k: round(v, 1) for k, v in r.items()}
        steps_per_s = r["train_images_per_s"] / config.batch_size
        print(f"{mode:9s}: render {r['render_images_per_s']:7.0f} img/s | updates {r['update_images_per_s']:6.0f} "
              f"img/s | training with data {r['train_images_per_s']:6.0f} img/s = {steps_per_s:.2f} steps/s "
              f"(batch {config.batch_size}); {config.steps} steps ≈ {config.steps / steps_per_s / 60:.0f} min; "
              f"rendering is "
              f"{100 * r['train_images_per_s'] / r['render_images_per_s']:.0f}% of the loop")
    minutes = sum(configs[k].steps * configs[k].batch_size / results[k]["train_images_per_s"]
                  for k in ("default-1", "default-2")) / 60
    print(f"shipped network, both stages: ≈ {minutes:.0f} min")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
