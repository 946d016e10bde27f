"""Fit a face image: posterior over scenes by ABC-MCMC with a DC-IGN summary statistic.

Pipeline (Kulkarni et al. 2015 §4.1, Fig. 5): u (standard-normal scene coordinates) -> scene -> simulator ->
image I_R -> summary ν(I_R) -> distance ρ(ν(I_D), ν(I_R)) -> ABC kernel.

Tuning (nothing of it is recorded as posterior draws): a pilot of prior draws; an exploration phase in which
``explore_chains`` chains start from the best pilot draws and the closest ``chains`` of them go on; then the
tuning proper, with the paper's α ~ U(-1, 1) moves, ε adapted towards a target acceptance rate (unless given)
and resampling by kernel weight. Then ε is fixed and the draws are recorded with the multi-scale elliptical
proposal.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import arviz as az
import numpy as np

import abc_inverse
from abc_inverse.distances import NAMES as DISTANCE_NAMES
from abc_inverse.distances import distance_batch
from abc_inverse.scene import Scene, ScenePrior
from abc_inverse.simulator import RenderSettings, Simulator, simulator_from_config
from samplers.abc_mcmc import ABCState, build_abc_mcmc, run_chains
from samplers.diagnostics import trace_to_inference_data
from samplers.kernels import KERNELS, make_kernel
from samplers.proposals import blockwise_elliptical

ANGLES = ("azimuth", "elevation", "light_azimuth")


@dataclass(frozen=True)
class FitConfig:
    """Sampler settings (each is an ``abc-inverse fit`` flag of the same name).

    chains : int ≥ 1. draws : int ≥ 1, recorded draws per chain. tune : int ≥ 0, tuning steps per chain.
    seed : int. epsilon : float > 0 or None (adapt during tuning). kernel : 'gaussian' or 'indicator'.
    distance : 'l1', 'l2', 'cosine' or 'correlation'. target_acceptance : float in (0, 1), for ε adaptation.
    pilot : int ≥ chains, prior draws from which the chains start (the best ones).
    min_alpha_scale : float in (0, 1]; 1 is the paper's α ~ U(-1, 1), smaller values the multi-scale elliptical
    proposal of :func:`samplers.proposals.blockwise_elliptical` used for the recorded draws.
    resample_every : int ≥ 1 or 0 (off). During tuning, chains are resampled by their kernel weights this often,
    so a chain stuck in a local mode of negligible weight moves to a better one.
    explore_chains : int ≥ 0. If larger than ``chains``, tuning starts with an exploration phase: that many
    chains from the best pilot draws run ``tune // 2`` steps of the paper's proposal (ε adapted), and the
    ``chains`` closest ones continue. 0 turns it off.
    """

    chains: int = 8
    draws: int = 3000
    tune: int = 3000
    seed: int = 0
    epsilon: float | None = None
    kernel: str = "gaussian"
    distance: str = "cosine"
    target_acceptance: float = 0.1
    pilot: int = 2000
    min_alpha_scale: float = 0.01
    resample_every: int = 100
    explore_chains: int = 32

    def __post_init__(self):
        for name, lo in (("chains", 1), ("draws", 1), ("tune", 0)):
            if getattr(self, name) < lo:
                raise ValueError(f"{name}: expected an integer ≥ {lo}, got {getattr(self, name)}")
        if self.explore_chains < 0:
            raise ValueError(f"explore_chains: expected an integer ≥ 0, got {self.explore_chains}")
        if self.pilot < max(self.chains, self.explore_chains):
            raise ValueError(f"pilot: expected ≥ chains and explore_chains "
                             f"({max(self.chains, self.explore_chains)}), got {self.pilot}")
        if self.epsilon is not None and not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon: expected a finite number > 0, got {self.epsilon}")
        if self.epsilon is None and self.tune == 0:
            raise ValueError("epsilon: with tune = 0 there is nothing to adapt ε on; give --epsilon or --tune > 0")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {tuple(KERNELS)}, got {self.kernel!r}")
        if self.distance not in DISTANCE_NAMES:
            raise ValueError(f"distance: expected one of {DISTANCE_NAMES}, got {self.distance!r}")
        if self.resample_every < 0:
            raise ValueError(f"resample_every: expected an integer ≥ 0 (0 = off), got {self.resample_every}")
        if not 0 < self.min_alpha_scale <= 1:
            raise ValueError(f"min_alpha_scale: expected a number in (0, 1], got {self.min_alpha_scale}")
        if not 0 < self.target_acceptance < 1:
            raise ValueError(f"target_acceptance: expected a number in (0, 1), got {self.target_acceptance}")


def simulator_for(statistic) -> Simulator:
    """The simulator whose renders the statistic was trained on (from a DC-IGN checkpoint's record); for a
    statistic without one (pixels, ImageNet layers), the default simulator at the statistic's image size."""
    record = getattr(getattr(statistic, "meta", None), "simulator", None)
    if record:
        return simulator_from_config(record)
    return Simulator(settings=RenderSettings(image_size=statistic.image_size))


def make_forward(observed: np.ndarray, statistic, simulator: Simulator, distance: str,
                 nu_obs: np.ndarray | None = None):
    """Closure u (C, D) -> (distance (C,), pixel_mse (C,)): render, encode and compare all C scenes at once.

    observed : (H, W) float32 grey in [0, 1], H = W = the statistic's image size. nu_obs : (S,) its summary,
    computed here when not given.
    """
    if nu_obs is None:
        nu_obs = statistic(observed[None])[0]

    def forward(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = simulator(simulator.prior.from_normal(u))
        d = distance_batch(distance, nu_obs, statistic(images))
        mse = np.mean((images - observed[None]) ** 2, axis=(1, 2), dtype=np.float64)
        return d, mse

    return forward


def scene_variables(prior: ScenePrior, position: np.ndarray) -> dict:
    """Posterior variables from positions (C, T, D): angles in degrees (C, T), shape (C, T, n_shape), albedo
    (C, T, n_albedo), camera (C, T, 3) in [0, 1]."""
    c, t, d = position.shape
    scene = prior.from_normal(position.reshape(-1, d))
    out = {name: np.degrees(getattr(scene, name)).reshape(c, t) for name in ANGLES}
    out.update(shape=scene.shape.reshape(c, t, -1), albedo=scene.albedo.reshape(c, t, -1),
               camera=scene.camera.reshape(c, t, 3))
    return out


def _git_hash() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def fit(observed: np.ndarray, statistic, config: FitConfig, simulator: Simulator | None = None,
        progress: bool = True, attrs: dict | None = None) -> az.InferenceData:
    """Sample the ABC posterior of scenes given an observed image.

    observed : (H, W) float32 grey in [0, 1], H = W = ``statistic.image_size``.
    statistic : summary statistic, images (N, H, W) -> (N, S) (e.g. :class:`encoders.dcign.DCIGNStatistic`).
    Returns InferenceData: posterior azimuth, elevation, light_azimuth (degrees), shape, albedo, camera;
    sample_stats distance, is_accepted, acceptance_rate, pixel_mse, epsilon, nonfinite; warm-up groups;
    observed_data image and summary; attrs with seed, config and provenance.
    Raises ValueError on a wrongly sized or invalid image.
    """
    simulator = simulator if simulator is not None else simulator_for(statistic)
    s = statistic.image_size
    observed = np.asarray(observed, dtype=np.float32)
    if observed.shape != (s, s):
        raise ValueError(f"observed: expected a ({s}, {s}) grey image, got shape {observed.shape}")
    if not np.all(np.isfinite(observed)) or observed.min() < 0 or observed.max() > 1:
        raise ValueError("observed: expected finite intensities in [0, 1]")
    prior = simulator.prior
    rng = np.random.default_rng(config.seed)
    nu_obs = statistic(observed[None])[0]
    forward = make_forward(observed, statistic, simulator, config.distance, nu_obs)

    pilot_u = prior.sample_normal(rng, config.pilot)
    pilot_d = np.concatenate([forward(pilot_u[i:i + 64])[0] for i in range(0, config.pilot, 64)])
    if not np.isfinite(pilot_d).any():
        raise ValueError(f"distance: no pilot simulation gave a finite {config.distance} distance to the observed "
                         "summary (is the observed image blank?); try --distance l2")
    pilot_d = np.where(np.isfinite(pilot_d), pilot_d, np.inf)
    init, step = build_abc_mcmc(forward, blockwise_elliptical(prior.blocks, prior.dim, config.min_alpha_scale))
    _, paper_step = build_abc_mcmc(forward, blockwise_elliptical(prior.blocks, prior.dim, 1.0))
    n_start = max(config.chains, config.explore_chains)
    state = init(pilot_u[np.argsort(pilot_d)[:n_start]])
    eps0 = config.epsilon if config.epsilon is not None else float(np.median(state.distance))
    kernel = make_kernel(config.kernel, eps0)
    if n_start > config.chains and config.tune >= 2:
        explore = run_chains(rng, state, paper_step, kernel, config.tune // 2, 0,
                             target_acceptance=None if config.epsilon is not None else config.target_acceptance,
                             progress=progress, desc="explore")
        best = np.argsort(explore.distance[:, -1])[:config.chains]
        state = ABCState(explore.position[best, -1], explore.distance[best, -1], explore.pixel_mse[best, -1])
        kernel = kernel.with_epsilon(float(explore.epsilon[0, -1]))
    trace = run_chains(rng, state, step, kernel, config.tune, config.draws,
                       target_acceptance=None if config.epsilon is not None else config.target_acceptance,
                       tune_step=paper_step, resample_every=config.resample_every or None, progress=progress)

    posterior = scene_variables(prior, trace.position)
    dims = {"shape": ["shape_dim"], "albedo": ["albedo_dim"], "camera": ["camera_axis"],
            "image": ["row", "col"], "summary": ["summary_dim"]}
    coords = {"camera_axis": ["x", "y", "z"]}
    provenance = {"seed": config.seed, "fit_config": asdict(config), "prior": prior.get_config(),
                  "simulator": simulator.get_config(), "statistic": statistic.get_config(),
                  "abc_inverse_version": abc_inverse.__version__, "git_hash": _git_hash(),
                  "angle_units": "degrees", "final_epsilon": float(trace.epsilon[0, -1]),
                  "pilot_distance_quantiles": np.quantile(pilot_d, [0.01, 0.5]).tolist(),
                  **(attrs or {})}
    return trace_to_inference_data(
        trace, posterior, dims=dims, coords=coords,
        observed_data={"image": observed, "summary": nu_obs},
        constant_data={"epsilon": np.float64(trace.epsilon[0, -1])}, attrs=provenance)


def posterior_scenes(idata: az.InferenceData, prior: ScenePrior, index: list[tuple[int, int]]) -> Scene:
    """Scenes of posterior draws ``[(chain, draw), ...]`` (angles converted back to radians)."""
    post = idata.posterior
    pick = lambda name: np.array([post[name].values[c, d] for c, d in index])  # noqa: E731
    return Scene(shape=pick("shape"), albedo=pick("albedo"), azimuth=np.radians(pick("azimuth")),
                 elevation=np.radians(pick("elevation")), light_azimuth=np.radians(pick("light_azimuth")),
                 camera=pick("camera"))
