"""The VITAE table (Detlefsen & Hauberg, "Quantitative study"): ELBO, test log-likelihood and the disentanglement
score D_score of trained networks, on dSprites or on our rendered faces, beside the paper's dSprites row; and
latent traversals like their Figure 1.

Each network is a checkpoint of ``abc-inverse train`` (DC-IGN, VAE, β-VAE, U-VITAE, C-VITAE). On test images drawn
with a seed no training run uses:

- ELBO: the single-sample SGVB bound, nats per image, averaged over the test images;
- log p(x): the importance-weighted bound of Burda et al. 2016 with ``--iw-samples`` draws from the encoder
  (K = 100 by default; it rises towards log p(x) as K grows), nats per image;
- D_score: DCI disentanglement (:mod:`encoders.disentanglement`) of the encoder means against the known factors:
  dSprites' shape, scale, orientation, x, y (class values; colour is constant); for faces the scene's azimuth,
  elevation, light azimuth, camera (3) and the first three shape and albedo coefficients;
- for VITAE, where each factor's importance lands: the share in z_P of the perspective factors' importance (dSprites:
  scale, orientation, pos_x, pos_y; faces: azimuth, elevation, camera), and the share in z_A of the others' — 1 and
  1 when the split is the paper's by construction.

Writes ``table.md``, ``table.csv``, ``importance_<label>.csv`` (the DCI importance matrix: one row per latent, one
column per factor, each column summing to 1) and ``traversals_<label>.png`` (each row one latent, from −3 to 3 sd
around the first test image's code) into ``--out``.

Usage: python experiments/vitae_table.py LABEL=CHECKPOINT [...] --data dsprites --out docs/results/vitae/dsprites
"""

import argparse
import math
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from abc_inverse.io import write_csv, write_text  # noqa: E402
from abc_inverse.render.simulator import simulator_from_config  # noqa: E402
from encoders.dcign import read_checkpoint  # noqa: E402
from encoders.disentanglement import dci  # noqa: E402
from encoders.dsprites import FACTOR_NAMES, factor_values  # noqa: E402
from encoders.dsprites import sample as sample_sprites  # noqa: E402
from encoders.train import CHECKPOINTS  # noqa: E402

# Detlefsen & Hauberg's dSprites columns: ELBO, log p(x), D_score
PAPER = {"VAE": (-47.05, -49.32, 0.05), "β-VAE": (-79.45, -81.38, 0.18), "β-TCVAE": (-66.48, -68.12, 0.30),
         "DIP-VAE-II": (-46.32, -48.92, 0.12), "U-VITAE": (-55.25, -57.29, 0.22), "C-VITAE": (-68.26, -70.49, 0.38)}
TEST_SEED = 2**31 - 7  # the test set's seed: no training run draws from it


def test_set(data: str, n: int, simulator_config: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images (n, S, S) float32 in [0, 1], factors (n, K) float64, factor names) for ``data``."""
    rng = np.random.default_rng(TEST_SEED)
    if data == "dsprites":
        images, classes = sample_sprites(rng, n)
        values = factor_values()
        factors = np.column_stack([values[name][classes[:, i]] for i, name in enumerate(FACTOR_NAMES)])
        return images.astype(np.float32), factors[:, 1:], list(FACTOR_NAMES[1:])
    simulator = simulator_from_config(simulator_config)
    scenes = simulator.prior.sample(rng, n)
    names = ["azimuth", "elevation", "light_azimuth", "camera_x", "camera_y", "camera_z",
             "shape_1", "shape_2", "shape_3", "albedo_1", "albedo_2", "albedo_3"]
    factors = np.column_stack([scenes.azimuth, scenes.elevation, scenes.light_azimuth, scenes.camera,
                               scenes.shape[:, :3], scenes.albedo[:, :3]])
    return simulator(scenes), factors, names


PERSPECTIVE = {"dsprites": ("scale", "orientation", "pos_x", "pos_y"),
               "faces": ("azimuth", "elevation", "camera_x", "camera_y", "camera_z")}


def group_shares(importance: np.ndarray, names: list[str], data: str, perspective_dim: int) -> tuple[float, float]:
    """(mean share in the first ``perspective_dim`` codes of the perspective factors' importance, mean share in the
    other codes of the remaining factors' importance); importance (L, K), each column summing to 1."""
    if not set(PERSPECTIVE[data]) <= set(names):
        raise ValueError(f"names: expected the perspective factors {PERSPECTIVE[data]} among them, got {names}")
    perspective = np.array([name in PERSPECTIVE[data] for name in names])
    in_p = importance[:perspective_dim].sum(axis=0)
    return float(in_p[perspective].mean()), float((1 - in_p[~perspective]).mean())


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Σ over the last axis of log N(z; mu, exp(logvar))."""
    return (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())).sum(-1)


def bounds(model, x: torch.Tensor, k: int, generator: torch.Generator) -> tuple[float, float]:
    """(mean single-sample ELBO of the first draw, mean importance-weighted bound with k draws), nats per image."""
    log_w = []
    with torch.inference_mode():
        for i in range(k):
            logits, mu, logvar, z = model(x, generator)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
            log_w.append(log_px_z + log_normal(z, torch.zeros_like(z), torch.zeros_like(z)) - log_normal(z, mu, logvar))
            if i == 0:
                elbo = float((log_px_z + 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean())
    return elbo, float((torch.logsumexp(torch.stack(log_w), 0) - math.log(k)).mean())


def traversal(model, x0: torch.Tensor, path: Path, label: str, steps: int = 9, rows: int = 12) -> None:
    """Decode the first image's code with one latent at a time set to −3 … 3: a (latents × steps) grid PNG."""
    with torch.inference_mode():
        mu, _ = model.encode(x0)
        dims = min(rows, mu.shape[1])
        values = torch.linspace(-3, 3, steps)
        z = mu.repeat(dims * steps, 1)
        for d in range(dims):
            z[d * steps:(d + 1) * steps, d] = values
        images = torch.sigmoid(model.decode_logits(z))[:, 0].numpy()
    fig, axes = plt.subplots(dims, steps, figsize=(steps * 0.8, dims * 0.8))
    for i, ax in enumerate(axes.flat):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if i % steps == 0:
            ax.set_ylabel(f"z{i // steps + 1}", rotation=0, labelpad=12, fontsize=7)
    fig.suptitle(f"{label}: latent traversals, −3 … 3", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="+", help="LABEL=CHECKPOINT")
    parser.add_argument("--data", choices=("dsprites", "faces"), default="dsprites")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--test", type=int, default=2000, help="test images")
    parser.add_argument("--iw-samples", type=int, default=100, help="K of the importance-weighted bound")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "experiments/vitae_table.py", *sys.argv[1:]])
    header = ["network", "checkpoint", "model", "steps", "wall_time_s", "elbo", "log_px_iw", "d_score",
              "completeness", "informativeness", "perspective_in_z_p", "appearance_in_z_a"]
    rows = []
    for label, path in (n.split("=", 1) for n in args.networks):
        model, meta, _ = read_checkpoint(Path(path), CHECKPOINTS)
        config = meta.train["config"]
        if config.get("data", "faces") != args.data:
            raise SystemExit(f"{label}: {path} was trained on {config.get('data', 'faces')}, not {args.data}")
        images, factors, names = test_set(args.data, args.test, meta.simulator or {})
        x = torch.from_numpy(images)[:, None]
        elbo, log_px = bounds(model, x, args.iw_samples, torch.Generator().manual_seed(0))
        with torch.inference_mode():
            codes = model.encode(x)[0].numpy()
        scores = dci(codes, factors, np.random.default_rng(0))
        write_csv(args.out / f"importance_{label}.csv", ["latent", *names],
                  [[f"z{i + 1}", *row.tolist()] for i, row in enumerate(scores.importance)])
        traversal(model, x[:1], args.out / f"traversals_{label}.png", label)
        shares = ["", ""]
        if config.get("model") in ("u-vitae", "c-vitae"):
            shares = [round(v, 3) for v in group_shares(scores.importance, names, args.data, config["perspective_dim"])]
        rows.append([label, path, config.get("model", "dcign"), meta.train["steps_done"], meta.train["wall_time_s"],
                     round(elbo, 2), round(log_px, 2), round(scores.disentanglement, 3),
                     round(scores.completeness, 3), round(scores.informativeness, 3), *shares])
        print(f"{label}: ELBO {elbo:.2f}, log p(x) ≥ {log_px:.2f}, D {scores.disentanglement:.3f} "
              f"(factors {', '.join(names)})")
    write_csv(args.out / "table.csv", header, rows)
    lines = [f"# VITAE table on {args.data}", "", f"Command: `{command}`", "",
             f"{args.test} test images (seed {TEST_SEED}); log p(x): importance-weighted bound, K = "
             f"{args.iw_samples}; D_score: DCI disentanglement against {', '.join(names)}.", "",
             f"VITAE: share of the perspective factors' ({', '.join(PERSPECTIVE[args.data])}) importance in z_P, "
             "and of the other factors' in z_A.", "",
             "| network | model | steps | train s | ELBO | log p(x) | D_score | completeness | NRMSE | perspective in "
             "z_P | appearance in z_A |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(v) if v != "" else "—" for v in [r[0], *r[2:]]) + " |" for r in rows]
    if args.data == "dsprites":
        lines += ["", "The paper's dSprites row (Detlefsen & Hauberg, Table):", "",
                  "| network | ELBO | log p(x) | D_score |", "|---|---|---|---|"]
        lines += [f"| {name} | {e} | {lp} | {d} |" for name, (e, lp, d) in PAPER.items()]
    write_text(args.out / "table.md", "\n".join(lines) + "\n")
    print(f"wrote {args.out / 'table.md'}")


if __name__ == "__main__":
    main()
