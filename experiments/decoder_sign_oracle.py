"""Can the DC-IGN decoder use the sign of an angle? An oracle test of why z2 and z3 fold (issue 3).

Specific-transformation training left z2 (elevation) and z3 (light azimuth) even functions of their angle: the
code says how far from frontal, not which way. This script asks whether the training objective rewards the sign
at all. The encoder of a trained network is frozen; in batches where one angle varies (Kulkarni et al. 2015
§3.2: everything else fixed, the other latents clamped to the batch mean) its latent is replaced by an oracle code
of the true angle a:

- ``none``: 0 (the decoder gets no information about a),
- ``abs``:  |a| / 0.5 rad (a folded code, what training found),
- ``mono``: a / 0.5 rad (a monotone code, what the paper's Fig. 9 shows),

each plus N(0, 0.05²) noise, and only the decoder is trained (RMSprop, the training run's settings). The
reconstruction error (summed binary cross-entropy, nats per image) on fixed held-out batches then says what each
code is worth to the decoder: ``abs − mono`` is the reward for the sign. Two decoders: the paper's (linear first
layer; the trained one) and one with a hidden layer of ReLU units before it (``DCIGNConfig.decoder_hidden``;
fresh first layers, trained conv layers).

Run: ``python experiments/decoder_sign_oracle.py`` (≈ 25 min on one core) → docs/results/decoder_sign_oracle.{md,csv}
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from abc_inverse.io import write_csv, write_text
from abc_inverse.render.simulator import simulator_from_config
from encoders.batches import LATENT_OF, active_latents, transformation_scenes
from encoders.clamp import clamp_latents
from encoders.dcign import DCIGN, DCIGNConfig, load_checkpoint
from encoders.train import TrainConfig, make_optimizer

# scene variable -> (batch type that varies it, index of its latent)
VARIABLES = {name: (kind, LATENT_OF[kind]) for name, kind in
             (("elevation", "elevation"), ("light_azimuth", "light"), ("azimuth", "azimuth"))}
CODES = {"none": lambda a: torch.zeros_like(a), "abs": lambda a: a.abs() / 0.5, "mono": lambda a: a / 0.5}
ROOT = Path(__file__).resolve().parents[1]


def with_decoder_hidden(model: DCIGN, hidden: int, seed: int) -> DCIGN:
    """A copy of ``model`` whose decoder first layer is replaced (hidden > 0: fresh hidden + output layers)."""
    out = copy.deepcopy(model)
    if hidden:
        torch.manual_seed(seed)
        fresh = DCIGN(DCIGNConfig(**{**vars(model.config), "decoder_hidden": hidden}))
        out.config, out.expand = fresh.config, fresh.expand
    return out


def batches(simulator, variable: str, n: int, size: int, seed: int):
    """n batches (images (size, 1, S, S) float32, angles (size,) float32 radians) varying ``variable`` only."""
    kind, _ = VARIABLES[variable]
    rng = np.random.default_rng(seed)
    for _ in range(n):
        scenes = transformation_scenes(simulator.prior, rng, kind, size)
        yield torch.from_numpy(simulator(scenes))[:, None], torch.from_numpy(getattr(scenes, variable)).float()


def reconstruction(model: DCIGN, x: torch.Tensor, angle: torch.Tensor, variable: str, code: str,
                   gen: torch.Generator) -> torch.Tensor:
    """Summed BCE per image of decoding x's codes with latent k := CODES[code](angle) + noise, clamped (§3.2)."""
    kind, k = VARIABLES[variable]
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        z[:, k] = CODES[code](angle) + 0.05 * torch.randn(len(x), generator=gen)
    z = clamp_latents(z, torch.from_numpy(active_latents(kind, z.shape[1])), "mean")
    return F.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="sum") / len(x)


def run(base: DCIGN, simulator, variable: str, code: str, hidden: int, steps: int, heldout: list, seed: int
        ) -> float:
    """Train the decoder of a copy of ``base`` for ``steps`` batches; mean held-out reconstruction (nats/image)."""
    model = with_decoder_hidden(base, hidden, seed)
    for p in [*model.encoder.parameters(), *model.mu.parameters(), *model.logvar.parameters()]:
        p.requires_grad_(False)
    opt = make_optimizer(model, TrainConfig())
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for x, angle in batches(simulator, variable, steps, 32, seed):
        loss = reconstruction(model, x, angle, variable, code, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    eval_gen = torch.Generator().manual_seed(10**6)
    with torch.no_grad():
        return float(np.mean([reconstruction(model, x, a, variable, code, eval_gen).item() for x, a in heldout]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default=None, help="trained DC-IGN (default: the shipped network)")
    p.add_argument("--variables", default="elevation,light_azimuth", help=f"comma-separated, of {list(VARIABLES)}")
    p.add_argument("--steps", type=int, default=600, help="decoder updates per run")
    p.add_argument("--hidden", type=int, default=512, help="hidden units of the second decoder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    args = p.parse_args(argv)
    variables = args.variables.split(",")
    if unknown := [v for v in variables if v not in VARIABLES]:
        p.error(f"--variables: expected names from {list(VARIABLES)}, got {unknown}")
    torch.set_num_threads(args.threads)
    base, meta, _ = load_checkpoint(args.checkpoint)
    simulator = simulator_from_config(meta.simulator)
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(v, h, c) for v in variables for h in (0, args.hidden) for c in CODES]
    for variable, hidden, code in tqdm(jobs, desc="oracle runs"):
        heldout = list(batches(simulator, variable, 16, 32, 10**6 + args.seed))
        rec = run(base, simulator, variable, code, hidden, args.steps, heldout, args.seed)
        rows.append([variable, hidden, code, round(rec, 1)])
    write_csv(args.out / "decoder_sign_oracle.csv", ["variable", "decoder_hidden", "code", "heldout_rec_nats"], rows)
    rec = {(v, h, c): r for v, h, c, r in rows}
    lines = ["# Decoder sign oracle: what a folded vs a monotone code is worth to the decoder", "",
             f"Encoder frozen ({args.checkpoint or 'the shipped network'}); in batches varying one angle its latent "
             f"is replaced by an oracle code; only the decoder trains ({args.steps} batches of 32). Held-out "
             "reconstruction error, summed binary cross-entropy in nats per image (16 batches of 32; lower is "
             "better). `abs − mono` = reward for knowing the sign; `none − abs` = reward for knowing |angle|.", "",
             "| angle | decoder | none | abs (folded) | mono (monotone) | none − abs | abs − mono |",
             "|---|---|---|---|---|---|---|"]
    for v in variables:
        for h in (0, args.hidden):
            n, a, m = (rec[(v, h, c)] for c in CODES)
            name = "paper (linear first layer)" if h == 0 else f"hidden layer of {h}"
            lines.append(f"| {v} | {name} | {n:.1f} | {a:.1f} | {m:.1f} | {n - a:.1f} | {a - m:.1f} |")
    cmd = "python experiments/decoder_sign_oracle.py" + "".join(
        f" --{k} {getattr(args, k)}" for k in ("variables", "steps", "hidden", "seed")
        if getattr(args, k) != p.get_default(k))
    if args.out.resolve() != (ROOT / "docs" / "results").resolve():
        cmd += f" --out {args.out}"
    lines += ["", f"Reproduce: `{cmd}`", ""]
    write_text(args.out / "decoder_sign_oracle.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
