"""``abc-inverse`` command line: fit, plot, render, train."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")


class UserError(Exception):
    """An error in the user's input, printed without a traceback."""


def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer ≥ 1, got {value}")
        return value
    return parse


def _finite_float(name, lo=-float("inf"), hi=float("inf")):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected a number, got {text!r}") from None
        if not lo <= value <= hi:  # also rejects NaN
            raise argparse.ArgumentTypeError(f"{name}: expected a number in [{lo:g}, {hi:g}], got {text}")
        return value
    return parse


def _channels(text):
    try:
        values = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--channels: expected integers like 16,32,32, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"--channels: expected positive integers, got {text!r}")
    return values


def cmd_train(args) -> None:
    import torch

    from encoders.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         checkpoint_every=args.checkpoint_every, n_shape=args.n_shape, n_albedo=args.n_albedo,
                         image_size=args.image_size, latent_dim=args.latent_dim, channels=args.channels)
    record = train(config, args.out, command=shlex.join(["abc-inverse", *sys.argv[1:]]))
    print(f"wrote {args.out} ({record['steps_done']} steps, {record['wall_time_s']} s, "
          f"final train ELBO {record['final_train_elbo']:.1f}, held-out ELBO {record['heldout']['elbo']:.1f} "
          f"nats/image)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abc-inverse", description="Likelihood-free inverse graphics of faces.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a DC-IGN on scenes rendered from the prior (random transformations)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint path (a .json record is written beside)")
    p.add_argument("--steps", type=_positive_int("--steps"), default=10000)
    p.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32)
    p.add_argument("--lr", type=_finite_float("--lr", 1e-8, 1.0), default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=_positive_int("--checkpoint-every"), default=1000)
    p.add_argument("--n-shape", type=_positive_int("--n-shape"), default=20)
    p.add_argument("--n-albedo", type=_positive_int("--n-albedo"), default=10)
    p.add_argument("--image-size", type=_positive_int("--image-size"), default=64)
    p.add_argument("--latent-dim", type=_positive_int("--latent-dim"), default=64)
    p.add_argument("--channels", type=_channels, default=(16, 32, 32))
    p.add_argument("--threads", type=_positive_int("--threads"), default=2, help="torch threads")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``abc-inverse`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        parser.exit(2, f"abc-inverse {args.command}: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
