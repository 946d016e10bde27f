"""``abc-inverse`` command line: fit, plot, render, train, evaluate-encoder, bench-stats."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")


TRAIN_FLAGS = ("steps", "batch_size", "lr", "seed", "checkpoint_every", "n_shape", "n_albedo", "image_size",
               "latent_dim", "channels", "decoder_hidden", "mode", "clamp", "invariance", "shape_bias", "kl_weight",
               "curriculum", "mirror", "slowness", "intrinsic_camera",
               "camera_invariance")


class UserError(Exception):
    """An error in the user's input, printed without a traceback."""


def _int_at_least(name, low=1):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer ≥ {low}, got {value}")
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


def _load_statistic(checkpoint):
    import torch

    from encoders.dcign import DCIGNStatistic

    torch.set_num_threads(2)
    return DCIGNStatistic.from_checkpoint(checkpoint)


def cmd_fit(args) -> None:
    """``abc-inverse fit``: frame the photo, sample the posterior, write posterior.nc, summary.csv and figures."""
    import numpy as np

    from abc_inverse.fit import ANGLES, FitConfig, fit, simulator_for
    from abc_inverse.io import parse_crop, prepare_observation, read_image, save_png
    from abc_inverse.plots import write_plots
    from samplers.diagnostics import save_netcdf, summary

    crop = parse_crop(args.crop)
    config = FitConfig(chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed, epsilon=args.epsilon,
                       kernel=args.kernel, distance=args.distance, target_acceptance=args.target_acceptance,
                       pilot=args.pilot, min_alpha_scale=args.min_alpha_scale, resample_every=args.resample_every,
                       explore_chains=args.explore_chains)
    if args.image is None:
        from skimage import data

        photo, source = data.astronaut().astype(np.float32) / 255.0, "skimage.data.astronaut() (public domain, NASA)"
    else:
        photo, source = read_image(args.image), str(args.image)
    statistic = _load_statistic(args.checkpoint)
    simulator = simulator_for(statistic)
    observed, framing = prepare_observation(photo, crop, statistic.image_size)
    args.out.mkdir(parents=True, exist_ok=True)
    save_png(args.out / "observed.png", observed)
    idata = fit(observed, statistic, config, simulator, progress=not args.no_progress,
                attrs={"image": source, "framing": framing, "command": shlex.join(["abc-inverse", *args.argv])})
    save_netcdf(idata, args.out / "posterior.nc")
    write_plots(idata, simulator, args.out)
    table = summary(idata, [*ANGLES, "shape", "albedo", "camera"], args.out / "summary.csv")
    print(f"image: {source}; framing: {framing}")
    print(f"{'variable':<16}{'mean (deg)':>11}{'sd':>8}{'r_hat':>8}{'ess_bulk':>10}")
    for name in ANGLES:
        row = table.loc[name]
        print(f"{name:<16}{row['mean']:>11.1f}{row['sd']:>8.1f}{row['r_hat']:>8.2f}{row['ess_bulk']:>10.0f}")
    acc = float(idata.sample_stats["is_accepted"].mean())
    print(f"acceptance rate {acc:.3f}, epsilon {idata.posterior.attrs['final_epsilon']:.4g}, "
          f"best pixel MSE {float(idata.sample_stats['pixel_mse'].min()):.4f}")
    print(f"wrote {args.out / 'posterior.nc'}, summary.csv, trace.png, pixel_error.png, fit.png, observed.png")


def cmd_plot(args) -> None:
    """``abc-inverse plot``: redraw trace.png, pixel_error.png and fit.png from a posterior.nc."""
    import json

    import arviz as az

    from abc_inverse.plots import write_plots
    from abc_inverse.simulator import simulator_from_config

    if not args.posterior.is_file():
        raise FileNotFoundError(f"posterior: no such file {str(args.posterior)!r}")
    try:
        idata = az.from_netcdf(str(args.posterior))
        simulator = simulator_from_config(json.loads(idata.posterior.attrs["simulator"]))
    except (OSError, KeyError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"posterior: {str(args.posterior)!r} is not an abc-inverse posterior ({exc})") from None
    out = args.out if args.out is not None else args.posterior.parent
    out.mkdir(parents=True, exist_ok=True)
    paths = write_plots(idata, simulator, out)
    print("wrote " + ", ".join(str(p) for p in paths))


def cmd_render(args) -> None:
    """``abc-inverse render``: one face at given angles (degrees) as a PNG."""
    import numpy as np

    from abc_inverse.io import save_png
    from abc_inverse.morphable import load_model
    from abc_inverse.scene import AZIMUTH_LIMIT, ELEVATION_LIMIT, LIGHT_AZIMUTH_LIMIT, Scene
    from abc_inverse.simulator import RenderSettings, Simulator

    for name, value, limit in (("--azimuth", args.azimuth, AZIMUTH_LIMIT), ("--elevation", args.elevation,
                               ELEVATION_LIMIT), ("--light-azimuth", args.light_azimuth, LIGHT_AZIMUTH_LIMIT)):
        if abs(value) > np.degrees(limit) + 1e-9:
            raise UserError(f"{name}: expected degrees in [{-np.degrees(limit):.1f}, {np.degrees(limit):.1f}] "
                            f"(the prior's support), got {value}")
    simulator = Simulator(load_model(args.n_shape, args.n_albedo),
                          RenderSettings(image_size=args.size, color=args.color))
    if args.seed is None:
        shape, albedo = np.zeros((1, args.n_shape)), np.zeros((1, args.n_albedo))
    else:
        identity = simulator.prior.sample(np.random.default_rng(args.seed), 1)
        shape, albedo = identity.shape, identity.albedo
    scene = Scene(shape, albedo, np.radians([args.azimuth]), np.radians([args.elevation]),
                  np.radians([args.light_azimuth]), np.full((1, 3), 0.5))
    save_png(args.out, simulator(scene)[0])
    print(f"wrote {args.out}")


def cmd_train(args) -> None:
    """``abc-inverse train``: train a DC-IGN (random or specific transformations), or resume a run."""
    import torch

    from encoders.train import TrainConfig, resume_config, train

    torch.set_num_threads(args.threads)
    given = {name: getattr(args, name) for name in TRAIN_FLAGS if hasattr(args, name)}
    if args.resume is not None:
        config = resume_config(args.resume, given)
        out = args.out if args.out is not None else args.resume
    elif args.out is None:
        raise UserError("--out: a checkpoint path is required (or --resume CKPT to continue a run)")
    else:
        config, out = TrainConfig(**given), args.out
    record = train(config, out, command=shlex.join(["abc-inverse", *args.argv]), resume=args.resume, init=args.init)
    print(f"wrote {out} ({record['steps_done']} steps, {record['wall_time_s']} s, "
          f"final train ELBO {record['final_train_elbo']:.1f}, held-out ELBO {record['heldout']['elbo']:.1f} "
          f"nats/image)")


def cmd_evaluate_encoder(args) -> None:
    """``abc-inverse evaluate-encoder``: equivariance, invariance, decoder sweeps and held-out ELBO of a DC-IGN."""
    import torch

    from encoders.evaluate import evaluate_encoder

    torch.set_num_threads(args.threads)
    metrics = evaluate_encoder(args.checkpoint, args.out, faces=args.faces,
                               command=shlex.join(["abc-inverse", *args.argv]))
    eq = ", ".join(f"r({e['latent']}, {n}) = {e['r']:.3f}" for n, e in metrics["equivariance"].items())
    print(f"held-out ELBO {metrics['heldout']['elbo']:.1f} nats/image; {eq}")
    print(f"wrote {args.out}/report.md, metrics.json, equivariance/invariance/decoder_sweeps .png")


def cmd_bench_stats(args) -> None:
    """``abc-inverse bench-stats``: fit the same held-out faces with several summary statistics (Fig. 6)."""
    from abc_inverse.bench_stats import BenchConfig, run_benchmark, write_reports

    config = BenchConfig(faces=args.faces, seed=args.seed, chains=args.chains, draws=args.draws, tune=args.tune,
                         pilot=args.pilot, distance=args.distance)
    statistics = [s for s in args.statistics.split(",") if s.strip()]
    if not statistics:
        raise UserError("--statistics: expected a comma-separated list such as dcign,squeezenet:fire5,pixels")
    results = run_benchmark(statistics, config, args.out, scheduler=args.scheduler, workers=args.workers,
                            progress=not args.no_progress)
    write_reports(results, args.out, command=shlex.join(["abc-inverse", *args.argv]))
    print((args.out / "summary.md").read_text(), end="")
    print(f"wrote {args.out}/summary.md, summary.csv, fits.csv, statistics.png, pixel_error.png, fits/")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``abc-inverse`` verb."""
    parser = argparse.ArgumentParser(prog="abc-inverse", description="Likelihood-free inverse graphics of faces.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="infer the scene of a face photo (posterior by ABC-MCMC)")
    p.add_argument("image", nargs="?", type=Path,
                   help="PNG/JPEG, colour or grey, any size (default: scikit-image's astronaut photo)")
    p.add_argument("--out", type=Path, default=Path("abc-inverse-fit"), help="output directory")
    p.add_argument("--chains", type=_int_at_least("--chains"), default=8)
    p.add_argument("--draws", type=_int_at_least("--draws"), default=3000, help="recorded draws per chain")
    p.add_argument("--tune", type=int, default=3000, help="tuning steps per chain (ε adapted), not recorded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epsilon", type=_finite_float("--epsilon", 1e-12), default=None,
                   help="fixed ABC tolerance (default: adapted during tuning)")
    p.add_argument("--kernel", choices=["gaussian", "indicator"], default="gaussian")
    p.add_argument("--distance", choices=["cosine", "l2", "l1", "correlation"], default="cosine",
                   help="distance between summary statistics (cosine recovered pose best in our tests)")
    p.add_argument("--target-acceptance", type=_finite_float("--target-acceptance", 1e-3, 0.999), default=0.1,
                   help="acceptance rate of the paper's α ~ U(-1, 1) moves on which ε is calibrated during tuning")
    p.add_argument("--min-alpha-scale", type=_finite_float("--min-alpha-scale", 1e-6, 1.0), default=0.01,
                   help="1 = the paper's α ~ U(-1, 1) for the draws too; smaller = multi-scale elliptical moves")
    p.add_argument("--resample-every", type=int, default=100,
                   help="resample chains by kernel weight every N tuning steps (0 = off)")
    p.add_argument("--explore-chains", type=int, default=32,
                   help="chains run for the first half of tuning, of which the closest --chains go on (0 = off)")
    p.add_argument("--pilot", type=_int_at_least("--pilot"), default=2000,
                   help="prior draws from whose best the chains start")
    p.add_argument("--crop", default="auto",
                   help="'auto' (largest detected face; central square if none), 'none' (image already framed "
                        "like the renders; central square), or x,y,w,h in pixels")
    p.add_argument("--checkpoint", type=Path, default=None, help="DC-IGN checkpoint (default: shipped network)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("plot", help="redraw trace.png, pixel_error.png and fit.png from a posterior.nc")
    p.add_argument("posterior", type=Path)
    p.add_argument("--out", type=Path, default=None, help="directory (default: beside the posterior)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("render", help="render a face at given angles")
    p.add_argument("--azimuth", type=_finite_float("--azimuth"), required=True, help="degrees, |·| ≤ 85.9")
    p.add_argument("--elevation", type=_finite_float("--elevation"), required=True, help="degrees, |·| ≤ 90")
    p.add_argument("--light-azimuth", type=_finite_float("--light-azimuth"), required=True,
                   help="degrees, |·| ≤ 90; positive lights from the viewer's right")
    p.add_argument("--seed", type=int, default=None, help="identity drawn from the prior (default: mean face)")
    p.add_argument("--size", type=_int_at_least("--size"), default=64, help="pixels")
    p.add_argument("--color", action="store_true", help="RGB instead of grey")
    p.add_argument("--n-shape", type=_int_at_least("--n-shape"), default=20)
    p.add_argument("--n-albedo", type=_int_at_least("--n-albedo"), default=10)
    p.add_argument("--out", type=Path, required=True, help="PNG path")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("train", help="train a DC-IGN on scenes rendered from the prior",
                       description="Train a DC-IGN. Unset flags take the defaults shown; with --resume they take "
                                   "the checkpoint's values, and only --steps and --checkpoint-every may change.")
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint path; a .json record is written beside (default with --resume: that file)")
    p.add_argument("--resume", type=Path, default=None, metavar="CKPT",
                   help="continue an interrupted run exactly (same result as an uninterrupted run)")
    p.add_argument("--init", type=Path, default=None, metavar="CKPT",
                   help="start from this network's weights (e.g. random mode before specific mode)")
    from encoders.train import TrainConfig

    d = TrainConfig()

    def flag(name, help="", **kw):
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS,
                       help=f"{help} (default: {getattr(d, name)})".strip(), **kw)

    flag("steps", type=_int_at_least("--steps"))
    flag("batch_size", type=_int_at_least("--batch-size"))
    flag("lr", type=_finite_float("--lr", 1e-8, 1.0), help="RMSprop learning rate")
    flag("seed", type=int)
    flag("checkpoint_every", type=_int_at_least("--checkpoint-every"))
    flag("n_shape", type=_int_at_least("--n-shape"))
    flag("n_albedo", type=_int_at_least("--n-albedo"))
    flag("image_size", type=_int_at_least("--image-size"), help="pixels")
    flag("latent_dim", type=_int_at_least("--latent-dim"))
    flag("channels", type=_channels, help="encoder feature maps")
    flag("decoder_hidden", type=_int_at_least("--decoder-hidden", 0),
         help="hidden ReLU units before the decoder's first layer (0 = the paper's linear layer)")
    flag("mode", choices=["random", "specific"], help="random (§3.1) or specific (§3.2) transformations")
    flag("clamp", choices=["first", "mean"],
         help="specific mode: clamp inactive latents to the first example or the batch mean")
    flag("invariance", type=_finite_float("--invariance", 0.0),
         help="specific mode: invariance-targeting factor (§3.2.1; the paper: 0.01)")
    flag("shape_bias", type=_finite_float("--shape-bias", 0.0),
         help="specific mode: odds of an intrinsic batch against each extrinsic type")
    flag("kl_weight", type=_finite_float("--kl-weight", 1e-6), help="β: weight of the KL term in the objective")
    flag("curriculum", type=int, help="specific mode: steps over which the varied angle's range widens from 10%% "
                                      "of the prior's to all of it (0 = off)")
    flag("mirror", type=_finite_float("--mirror", 0.0),
         help="specific mode: weight of the term asking z1, z3 to change sign and z2 to stay when the image is "
              "mirrored (0 = off)")
    flag("slowness", type=_finite_float("--slowness", 0.0),
         help="specific mode: weight of the term asking z1-z3 to change slowly along their batch's sorted angle "
              "(0 = off)")
    flag("camera_invariance", type=_finite_float("--camera-invariance", 0.0),
         help="specific mode: weight of the term asking z1, z3 to stay put when the camera moves (0 = off)")
    flag("intrinsic_camera", action="store_true",
         help="specific mode: intrinsic batches also vary the camera, leaving it to z4… (off = the paper's batches)")
    p.add_argument("--threads", type=_int_at_least("--threads"), default=2, help="torch threads")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate-encoder", help="equivariance, invariance, decoder sweeps, held-out ELBO of a DC-IGN",
                       description="Evaluate a DC-IGN checkpoint on held-out faces (Kulkarni et al. 2015 §4.3, "
                                   "Fig. 8-10); writes figures, CSVs, metrics.json and report.md into --out.")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--faces", type=_int_at_least("--faces"), default=100, help="held-out faces per sweep (≥ 2)")
    p.add_argument("--threads", type=_int_at_least("--threads"), default=2, help="torch threads")
    p.set_defaults(func=cmd_evaluate_encoder)

    p = sub.add_parser("bench-stats", help="compare summary statistics by fitting the same held-out faces",
                       description="Fit the same held-out synthetic faces with every statistic, the same sampler "
                                   "budget and the same seeds (Kulkarni et al. 2015 Fig. 6). Statistics: pixels, "
                                   "dcign[:CHECKPOINT], squeezenet[:LAYER], efficientnet[:LAYER], each optionally "
                                   "LABEL=SPEC. Finished fits in --out are reused, so an interrupted run resumes.")
    p.add_argument("--statistics", default="dcign,squeezenet:fire5,efficientnet:block10,pixels",
                   help="comma-separated specs (default: %(default)s)")
    p.add_argument("--faces", type=_int_at_least("--faces"), default=20, help="held-out faces")
    p.add_argument("--draws", type=_int_at_least("--draws"), default=200, help="recorded draws per chain")
    p.add_argument("--tune", type=int, default=200, help="tuning steps per chain")
    p.add_argument("--chains", type=_int_at_least("--chains"), default=4)
    p.add_argument("--pilot", type=_int_at_least("--pilot"), default=100, help="prior draws the chains start from")
    p.add_argument("--distance", choices=["cosine", "l2", "l1", "correlation"], default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="output directory (reused fits live in OUT/fits)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:port) to run the fits on; default: local processes")
    p.add_argument("--workers", type=_int_at_least("--workers"), default=2,
                   help="local processes (one thread each) when no --scheduler is given")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_bench_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``abc-inverse`` command."""
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        args.func(args)
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        parser.exit(2, f"abc-inverse {args.command}: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
