"""``abc-inverse`` command line: fit, plot, render, train, evaluate-encoder, bench-stats.

Each verb's options are one frozen dataclass below (or, for the sampler and training settings, in
:mod:`abc_inverse.fit` and :mod:`encoders.train`); :mod:`abc_inverse.options` turns it into flags, ``--help``,
``--config FILE`` and the ``config.json`` a run writes. A ``cmd_*`` function only runs the verb.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

from abc_inverse.bench_stats import BenchConfig  # noqa: E402
from abc_inverse.model.scene import ANGLES, LIGHT_ELEVATION_LIMIT, LIGHTINGS, angle_limit_degrees  # noqa: E402
from abc_inverse.options import RUN, add_options, option, resolve, write_config  # noqa: E402
from abc_inverse.options import given as given_options  # noqa: E402
from abc_inverse.photos import FitCommand  # noqa: E402
from encoders.proposal import ProposalConfig  # noqa: E402
from encoders.train import PRESETS, TrainConfig  # noqa: E402


@dataclass(frozen=True)
class PlotCommand:
    """``abc-inverse plot``: redraw trace.png, pixel_error.png and fit.png from a posterior.nc."""

    posterior: Path = option(help="posterior.nc written by abc-inverse fit", positional=True)
    out: Path | None = option(None, "directory (default: beside the posterior)")


@dataclass(frozen=True)
class RenderCommand:
    """``abc-inverse render``: one face at given angles as a PNG."""

    azimuth: float = option(help="degrees; positive turns the face to the viewer's right", unit="degrees",
                            ge=-angle_limit_degrees("azimuth"), le=angle_limit_degrees("azimuth"))
    elevation: float = option(help="degrees; positive tilts the face up", unit="degrees",
                              ge=-angle_limit_degrees("elevation"), le=angle_limit_degrees("elevation"))
    light_azimuth: float = option(help="degrees; positive lights from the viewer's right", unit="degrees",
                                  ge=-angle_limit_degrees("light_azimuth"), le=angle_limit_degrees("light_azimuth"))
    out: Path = option(help="PNG path")
    seed: int | None = option(None, "identity drawn from the prior with this seed (default: the mean face)")
    size: int = option(64, "image side, pixels", ge=1)
    color: bool = option(False, "RGB instead of grey")
    n_shape: int = option(20, "shape coefficients", ge=1)
    n_albedo: int = option(10, "albedo coefficients", ge=1)
    supersample: int = option(1, "samples per pixel side (anti-aliasing), as the shipped network's renders", ge=1,
                              le=4)
    features: bool = option(False, "eyes, brows and lips in the albedo, as the shipped network's renders")
    lighting: str = option("directional", "'directional' (fixed) or 'rich' (the light elevation below; ambient 0.3, "
                           "diffuse 0.7, no spherical harmonics, as 'directional')", choices=LIGHTINGS)
    light_elevation: float = option(0.0, "degrees, positive lights from above; needs --lighting rich",
                                    unit="degrees", ge=-math.degrees(LIGHT_ELEVATION_LIMIT),
                                    le=math.degrees(LIGHT_ELEVATION_LIMIT))

    def __post_init__(self):
        if self.light_elevation != 0 and self.lighting != "rich":
            raise ValueError(f"--light-elevation: needs --lighting rich, got --lighting {self.lighting}")


@dataclass(frozen=True)
class TrainCommand:
    """``abc-inverse train``: train a DC-IGN (random or specific transformations), or resume a run."""

    out: Path | None = option(None, "checkpoint path; a .json record and a .config.json are written beside "
                              "(default with --resume: that file)", group=RUN)
    resume: Path | None = option(None, "continue an interrupted run exactly; unset flags take the checkpoint's "
                                 "values and only --steps, --checkpoint-every may change", metavar="CKPT", group=RUN)
    init: Path | None = option(None, "start from this network's weights (e.g. random mode before specific mode)",
                               metavar="CKPT", group=RUN)
    preset: str | None = option(None, "a named recipe: 'paper' (the paper's specific-transformation procedure) or "
                                "'default' (the two stages of the shipped network; the first is written to "
                                "OUT's name + .stage1.pt); flags given override it in every stage",
                                choices=(None, *PRESETS), group=RUN)
    threads: int = option(2, "torch threads", ge=1, group=RUN)
    device: str = option("cpu", "torch device the network trains on (cpu, cuda, cuda:1, …); renders stay on the "
                         "CPU", group=RUN)
    progress: bool = option(True, "progress bar", group=RUN)
    run: TrainConfig = option(TrainConfig())


@dataclass(frozen=True)
class TrainProposalCommand:
    """``abc-inverse train-proposal``: train a data-driven proposal q(θ | summary), a conditional normalizing flow,
    on scenes simulated from the prior (for ``fit --proposal``)."""

    out: Path = option(help="proposal path; a .json record and a .config.json are written beside", group=RUN)
    threads: int = option(2, "torch threads", ge=1, group=RUN)
    progress: bool = option(True, "progress bar", group=RUN)
    proposal: ProposalConfig = option(ProposalConfig())


@dataclass(frozen=True)
class EvaluateCommand:
    """``abc-inverse evaluate-encoder``: equivariance, invariance, decoder sweeps and held-out ELBO of a DC-IGN
    (Kulkarni et al. 2015 §4.3, Fig. 8-10), written into ``out``."""

    checkpoint: Path = option(help="DC-IGN checkpoint", positional=True)
    out: Path = option(help="output directory")
    faces: int = option(100, "held-out faces per sweep", ge=2)
    threads: int = option(2, "torch threads", ge=1)


@dataclass(frozen=True)
class BenchCommand:
    """``abc-inverse bench-stats``: fit the same held-out synthetic faces with every statistic, the same sampler
    budget and the same seeds (Kulkarni et al. 2015 Fig. 6). Statistics: pixels, dcign[:CHECKPOINT], vitae:CKPT[:PART],
    squeezenet[:LAYER], efficientnet[:LAYER], each optionally LABEL=SPEC. Finished fits in --out are reused, so an
    interrupted run resumes."""

    out: Path = option(help="output directory (reused fits live in OUT/fits)", group=RUN)
    statistics: str = option("dcign,squeezenet:fire5,efficientnet:block10,pixels", "comma-separated specs",
                             group=RUN)
    scheduler: str | None = option(None, "Dask scheduler address (tcp://host:port) to run the fits on; default: "
                                   "local processes", metavar="ADDRESS", group=RUN)
    workers: int = option(2, "local processes (one thread each) when no --scheduler is given", ge=1, group=RUN)
    progress: bool = option(True, "progress bar", group=RUN)
    bench: BenchConfig = option(BenchConfig())


class UserError(Exception):
    """An error in the user's input, printed without a traceback."""


def _command(args) -> str:
    return shlex.join(["abc-inverse", *args.argv])


def cmd_fit(args) -> None:
    """Run ``abc-inverse fit``: one photo into ``--out``, or several (or a folder) each into its own folder there."""
    from abc_inverse.photos import fit_photo, fit_photos, is_batch
    from samplers.diagnostics import NEVER_MOVED

    opts = resolve(FitCommand, args)
    if is_batch(opts.images):
        results = fit_photos(opts, _command(args))
        for r in results:
            if r["status"] == "ok":
                angles = ", ".join(f"{n} {r['summary'][n]['mean']:.1f} ± {r['summary'][n]['sd']:.1f}°"
                                   for n in ANGLES)
                r_hats = [r["summary"][n]["r_hat"] for n in ANGLES]
                r_hat = math.nan if any(map(math.isnan, r_hats)) else max(r_hats)  # NaN: chains stuck
                print(f"{r['photo']}: {angles}; max R-hat {r_hat:.3f}; best pixel MSE {r['best_pixel_mse']:.4f}"
                      + (" (fitted before)" if r.get("reused") else ""))
            else:
                print(f"{r['photo']}: error: {r['error']}")
        failed = sum(r["status"] != "ok" for r in results)
        print(f"wrote {opts.out / 'summary.csv'}: {len(results) - failed} photos fitted, {failed} failed; one "
              "folder per photo")
        return
    result = fit_photo(opts.images[0] if opts.images else None, opts, _command(args), announce=True)
    print(f"image: {result['photo']}; framing: {result['framing']}")
    print(f"{'variable':<16}{'mean (deg)':>11}{'sd':>8}{'r_hat':>8}{'ess_bulk':>10}{'ess_tail':>10}")
    for name in ANGLES:
        row = result["summary"][name]
        print(f"{name:<16}{row['mean']:>11.1f}{row['sd']:>8.1f}{row['r_hat']:>8.4f}{row['ess_bulk']:>10.0f}"
              f"{row['ess_tail']:>10.0f}")
    if result["misfit_warning"]:
        print(f"warning: {result['misfit_warning']}", file=sys.stderr)
    unconverged = result["convergence_warnings"]
    if unconverged:
        advice = ("a variable that never moved is stuck at the prior's edge (its standard-normal coordinate so far "
                  "out that the angle no longer changes; on photos a face seen edge-on) or rejects every move, "
                  "which more draws do not change; start the chains from a data-driven proposal (--proposal) or "
                  "check the framing (--crop)"
                  if any(NEVER_MOVED in w for w in unconverged) else "more --draws or --chains may help")
        print("warning: the chains have not converged (Stan's thresholds: split R-hat ≤ 1.01, bulk and tail ESS ≥ "
              f"400), so this posterior cannot be trusted; {advice}:\n  " + "\n  ".join(unconverged), file=sys.stderr)
    print(result["surrogate"])
    print(f"regression adjustment: {result['regression_adjustment']}")
    print(f"acceptance rate {result['acceptance_rate']:.3f}, epsilon {result['epsilon']:.4g}, "
          f"best pixel MSE {result['best_pixel_mse']:.4f}")
    print(f"wrote {opts.out / 'posterior.nc'}, summary.csv, trace.png, pixel_error.png, fit.png, observed.png, "
          "config.json")


def cmd_plot(args) -> None:
    """Run ``abc-inverse plot``."""
    import json

    import arviz as az

    from abc_inverse.plots import write_plots
    from abc_inverse.render.simulator import simulator_from_config

    opts = resolve(PlotCommand, args)
    if not opts.posterior.is_file():
        raise FileNotFoundError(f"posterior: no such file {str(opts.posterior)!r}")
    try:
        idata = az.from_netcdf(str(opts.posterior))
        simulator = simulator_from_config(json.loads(idata.posterior.attrs["simulator"]))
    except (OSError, KeyError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"posterior: {str(opts.posterior)!r} is not an abc-inverse posterior ({exc})") from None
    out = opts.out if opts.out is not None else opts.posterior.parent
    out.mkdir(parents=True, exist_ok=True)
    paths = write_plots(idata, simulator, out)
    print("wrote " + ", ".join(str(p) for p in paths))


def cmd_render(args) -> None:
    """Run ``abc-inverse render``."""
    from abc_inverse.io import save_png
    from abc_inverse.model.morphable import load_model
    from abc_inverse.render.simulator import RenderSettings, Simulator

    opts = resolve(RenderCommand, args)
    simulator = Simulator(load_model(opts.n_shape, opts.n_albedo),
                          RenderSettings(image_size=opts.size, color=opts.color, supersample=opts.supersample,
                                         features=opts.features, lighting=opts.lighting))
    scene = simulator.prior.at_angles(opts.azimuth, opts.elevation, opts.light_azimuth, opts.seed)
    if opts.lighting == "rich":
        scene.lighting[:, 0] = math.radians(opts.light_elevation)
    save_png(opts.out, simulator(scene)[0])
    print(f"wrote {opts.out}")


def cmd_train(args) -> None:
    """Run ``abc-inverse train`` (every stage of a preset in turn)."""
    import torch

    from encoders.train import resume_config, train

    given = resolve(TrainCommand, args)
    torch.set_num_threads(given.threads)
    device = torch_device(given.device)
    if given.resume is not None:
        if given.preset is not None or args.config is not None:
            raise UserError("--resume: a resumed run keeps the settings in its checkpoint; give neither --preset nor "
                            "--config with it")
        run = resume_config(given.resume, given_options(TrainCommand, args).get("run", {}))
        stages = [replace(given, out=given.out or given.resume, run=run)]
    elif given.out is None:
        raise UserError("--out: a checkpoint path is required (or --resume CKPT to continue a run)")
    else:
        stages = preset_stages(args, given)
    for opts in stages:
        if opts.resume is None:  # a resumed run keeps the config.json of the run it continues
            opts.out.parent.mkdir(parents=True, exist_ok=True)
            write_config(replace(opts, preset=None), opts.out.with_name(opts.out.name + ".config.json"))
        record = train(opts.run, opts.out, command=_command(args), progress=opts.progress, resume=opts.resume,
                       init=opts.init, device=device)
        if "heldout_distillation" in record:
            errors = {k: v for k, v in record["heldout_distillation"].items() if k.startswith("mse") and v is not None}
            final = (f"final distillation loss {record['final_train_distillation_loss']:.4f}, held-out squared error "
                     f"per latent " + ", ".join(f"{v:.4f} ({k[4:]})" for k, v in errors.items()))
        else:
            final = f"final train ELBO {record['final_train_elbo']:.1f}"
        print(f"wrote {opts.out} ({record['steps_done']} steps, {record['wall_time_s']} s, {final}, held-out ELBO "
              f"{record['heldout']['elbo']:.1f} nats/image)")


def torch_device(name: str):
    """``torch.device(name)``, checked: raises UserError for a name torch does not know or a device this machine
    lacks."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"--device: expected a torch device such as 'cpu' or 'cuda', got {name!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"--device: expected cpu or cuda[:N], got {name!r}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"--device: {name!r} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s) "
                        f"here")
    return device


def preset_stages(args, given: TrainCommand) -> list[TrainCommand]:
    """The training stages of ``--preset`` (one stage without it), each resolved as defaults < preset stage <
    ``--config`` < flags; stage k < last writes OUT + ``.stage{k}.pt`` and the next starts from its weights."""
    if given.preset is None:
        return [given]
    stages, init = [], given.init
    presets = PRESETS[given.preset]
    for k, stage in enumerate(presets, start=1):
        opts = resolve(TrainCommand, args, preset={"run": stage})
        out = opts.out if k == len(presets) else opts.out.with_name(f"{opts.out.name}.stage{k}.pt")
        stages.append(replace(opts, out=out, init=init))
        init = out
    return stages


def cmd_train_proposal(args) -> None:
    """Run ``abc-inverse train-proposal``."""
    import torch

    from encoders.proposal import train_proposal
    from encoders.statistics import make_statistic, simulator_for

    opts = resolve(TrainProposalCommand, args)
    torch.set_num_threads(opts.threads)
    statistic = make_statistic(opts.proposal.statistic)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    write_config(opts, opts.out.with_name(opts.out.name + ".config.json"))
    record = train_proposal(opts.proposal, statistic, simulator_for(statistic), opts.out, command=_command(args),
                            progress=opts.progress)
    print(f"wrote {opts.out} ({record['simulations']} simulations, {record['wall_time_s']} s, validation log q "
          f"{record['validation_log_q']:.2f} per scene)")


def cmd_evaluate_encoder(args) -> None:
    """Run ``abc-inverse evaluate-encoder``."""
    import torch

    from encoders.evaluate import evaluate_encoder

    opts = resolve(EvaluateCommand, args)
    torch.set_num_threads(opts.threads)
    opts.out.mkdir(parents=True, exist_ok=True)
    write_config(opts, opts.out / "config.json")
    metrics = evaluate_encoder(opts.checkpoint, opts.out, faces=opts.faces, command=_command(args))
    eq = ", ".join(f"r({e['latent']}, {n}) = {e['r']:.3f}" for n, e in metrics["equivariance"].items())
    print(f"held-out ELBO {metrics['heldout']['elbo']:.1f} nats/image; {eq}")
    print(f"wrote {opts.out}/report.md, metrics.json, config.json, equivariance/invariance/decoder_sweeps .png")


def cmd_bench_stats(args) -> None:
    """Run ``abc-inverse bench-stats``."""
    from abc_inverse.bench_stats import run_benchmark, write_reports

    opts = resolve(BenchCommand, args)
    statistics = [s for s in opts.statistics.split(",") if s.strip()]
    if not statistics:
        raise UserError("--statistics: expected a comma-separated list such as dcign,squeezenet:fire5,pixels")
    results = run_benchmark(statistics, opts.bench, opts.out, scheduler=opts.scheduler, workers=opts.workers,
                            progress=opts.progress)
    write_config(opts, opts.out / "config.json")  # after run_benchmark has checked OUT holds fits of these settings
    write_reports(results, opts.out, command=_command(args))
    print((opts.out / "summary.md").read_text(), end="")
    print(f"wrote {opts.out}/summary.md, summary.csv, fits.csv, statistics.png, pixel_error.png, config.json, fits/")


VERBS = {  # name: (options, runner, help, --help sections in order)
    "fit": (FitCommand, cmd_fit, "infer the scene of a face photo (posterior by ABC-MCMC)", (RUN,)),
    "plot": (PlotCommand, cmd_plot, "redraw trace.png, pixel_error.png and fit.png from a posterior.nc", ()),
    "render": (RenderCommand, cmd_render, "render a face at given angles", ()),
    "train": (TrainCommand, cmd_train, "train a DC-IGN on scenes rendered from the prior",
              ("paper (Kulkarni et al. 2015)", "beyond the paper", RUN)),
    "train-proposal": (TrainProposalCommand, cmd_train_proposal,
                       "train a data-driven proposal q(θ | summary) for fit --proposal", (RUN,)),
    "evaluate-encoder": (EvaluateCommand, cmd_evaluate_encoder,
                         "equivariance, invariance, decoder sweeps, held-out ELBO of a DC-IGN", ()),
    "bench-stats": (BenchCommand, cmd_bench_stats, "compare summary statistics by fitting the same held-out faces",
                    (RUN,)),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``abc-inverse`` verb, generated from the verbs' option dataclasses."""
    parser = argparse.ArgumentParser(prog="abc-inverse", description="Likelihood-free inverse graphics of faces.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (options, run, help_text, groups) in VERBS.items():
        p = sub.add_parser(name, help=help_text, description=options.__doc__.replace("``", ""))
        add_options(p, options, groups)
        p.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``abc-inverse`` command. Returns 0; exits with status 2 and a one-line error on bad
    input."""
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
