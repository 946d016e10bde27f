"""A data-driven proposal q(u | ν(x)): a conditional normalizing flow over the sampler's standard-normal scene
coordinates u, given a summary statistic ν of the image, trained on (u, ν(render(u))) pairs simulated from the
prior (neural posterior estimation, Papamakarios & Murray 2016; the informed sampler, Jampani et al. 2015).

Beside q, the same simulations train an emulator ν̂(u) of the summary of a render (a multilayer perceptron; the
surrogate of Rasmussen 2003's Hamiltonian Monte Carlo and of delayed-acceptance MCMC, Christen & Fox 2005): it and
its gradient cost about a millisecond for a batch of 32 scenes, where a render and its encoding cost about one
millisecond per scene.

The sampler uses them (:func:`abc_inverse.fit.fit` with a proposal): chains start from q's draws given the observed
summary; in a share of steps every chain proposes from q, Metropolis-Hastings corrected
(:func:`samplers.proposals.independence`); and each other move is the end point of a Hamiltonian trajectory steered
by the gradient of the emulated ABC posterior, corrected by the emulator's error
(:func:`samplers.proposals.hamiltonian`). The target stays the ABC posterior however good or bad q and ν̂ are.

Why zuko (1.6): a small, well-kept, pure-PyTorch flow library whose conditional flows give both ``sample`` and
``log_prob`` (an MH proposal needs the density) and train with a plain torch loop we seed and checkpoint like the
DC-IGN's. sbi's NPE wraps the same kind of flows but brings its own training loop, prior objects and many more
dependencies, which we would only bypass. The flow is a neural spline flow (Durkan et al. 2019).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
import zuko
from tqdm import tqdm

from abc_inverse.io import atomic_path, write_text
from abc_inverse.model.scene import ScenePrior
from abc_inverse.options import check_options, option
from abc_inverse.render.simulator import Simulator
from encoders.base import SummaryStatistic

FORMAT = "abc-inverse/proposal/1"
DEFAULT_PROPOSAL = Path(str(files("encoders") / "data" / "dcign_default_q.pt"))  # q for the shipped DC-IGN
VALIDATION = 0.05  # share of the simulations held out to report the validation log-likelihood


@dataclass(frozen=True)
class ProposalConfig:
    """How a proposal is trained; each is an ``abc-inverse train-proposal`` flag of the same name."""

    statistic: str = option("dcign", "summary statistic q is conditioned on (pixels, dcign[:CKPT], vitae:CKPT[:PART], "
                            "squeezenet[:LAYER], efficientnet[:LAYER])")
    simulations: int = option(100_000, "(u, summary) pairs simulated from the prior", ge=100)
    epochs: int = option(20, "passes over the simulations", ge=1)
    batch_size: int = option(256, "pairs per update", ge=1)
    lr: float = option(1e-3, "Adam learning rate", gt=0, le=1)
    transforms: int = option(3, "spline transforms of the flow", ge=1)
    hidden: int = option(128, "hidden units of each transform's two layers", ge=1)
    emulator_hidden: int = option(512, "hidden units of each of the emulator's three layers", ge=1)
    emulator_epochs: int = option(40, "passes of the emulator over the simulations (one-cycle learning rate)", ge=1)
    image_noise: float = option(0.02, "sd of the Gaussian pixel noise (intensities in [0, 1]) added to each render "
                                "before its summary is taken, so that q's spread matches the ABC posterior of a fit "
                                "with the same --image-noise (0 = noise-free summaries: a narrower q)", ge=0, lt=1)
    seed: int = option(0, "seeds the simulations, the noise, the weights and the minibatches")

    def __post_init__(self):
        check_options(self)


class SceneProposal:
    """q(u | ν): draws and log densities of standard-normal scene coordinates given one observed summary, and the
    emulator ν̂(u).

    Parameters: flow (zuko conditional flow over D coordinates with S context features), summary_mean and
    summary_sd (S,) float32 (the summaries are standardised before the flow sees them, and the emulator predicts
    standardised summaries), meta (dict: the statistic's and simulator's configs, training record), emulator
    (torch module u (n, D) -> standardised summaries (n, S)).
    """

    def __init__(self, flow, summary_mean: np.ndarray, summary_sd: np.ndarray, meta: dict, emulator):
        self.flow = flow.eval()
        self.emulator = emulator.eval()
        self.summary_mean = np.asarray(summary_mean, np.float32)
        self.summary_sd = np.asarray(summary_sd, np.float32)
        self.meta = meta

    def _checked(self, summary: np.ndarray) -> np.ndarray:
        summary = np.asarray(summary, np.float32)
        if summary.shape != self.summary_mean.shape:
            raise ValueError(f"summary: expected shape {self.summary_mean.shape}, got {summary.shape}")
        return summary

    def _context(self, summary: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((self._checked(summary) - self.summary_mean) / self.summary_sd)

    def sample(self, summary: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws u ~ q(· | summary): (n, D) float64. The torch noise is seeded from ``rng``."""
        return self._sample_and_log_prob(summary, n, rng)[0]

    def _sample_and_log_prob(self, summary: np.ndarray, n: int, rng: np.random.Generator
                             ) -> tuple[np.ndarray, np.ndarray]:
        gen_seed = int(rng.integers(2**63 - 1))
        with torch.random.fork_rng(), torch.inference_mode():
            torch.manual_seed(gen_seed)
            u, log_q = self.flow(self._context(summary)).rsample_and_log_prob((n,))
        return u.double().numpy(), log_q.double().numpy()

    def log_prob(self, u: np.ndarray, summary: np.ndarray) -> np.ndarray:
        """log q(u | summary) for u (n, D): (n,) float64."""
        with torch.inference_mode():
            return self.flow(self._context(summary)).log_prob(torch.from_numpy(np.asarray(u, np.float32))).double() \
                .numpy()

    def emulate(self, u: np.ndarray) -> np.ndarray:
        """ν̂(u): the emulated summaries (n, S) float64 of the renders of scenes u (n, D) (standard-normal
        coordinates)."""
        with torch.inference_mode():
            z = self.emulator(torch.from_numpy(np.asarray(u, np.float32))).numpy()
        return (z * self.summary_sd + self.summary_mean).astype(np.float64)

    def emulated_cosine(self, u: np.ndarray, summary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cosine distance ρ(summary, ν̂(u)) (n,) float64 between an observed summary (S,) and the emulated
        summaries of scenes u (n, D), and its gradient ∂ρ/∂u (n, D) float64 by automatic differentiation: the
        surrogate that drives :func:`samplers.proposals.hamiltonian`. Raises ValueError for a summary of the wrong
        shape."""
        observed = torch.from_numpy(self._checked(summary))
        x = torch.from_numpy(np.asarray(u, np.float32)).requires_grad_(True)
        with torch.enable_grad():
            s = self.emulator(x) * torch.from_numpy(self.summary_sd) + torch.from_numpy(self.summary_mean)
            rho = 1.0 - (s @ observed) / (s.norm(dim=1) * observed.norm())
            (grad,) = torch.autograd.grad(rho.sum(), x)
        return rho.detach().double().numpy(), grad.double().numpy()

    def given(self, summary: np.ndarray, pool: int = 4096):
        """(sample, log_prob) of q(· | summary) for :func:`samplers.proposals.independence`: ``sample(rng, n)`` ->
        (draws (n, D), log q (n,)) float64 taken in order from a pool of ``pool`` draws, drawn afresh (seeded from
        that call's ``rng``) when it runs out, so that the flow runs once per pool rather than once per step;
        ``log_prob(u)`` -> (n,)."""
        pooled = [np.empty((0, 0)), np.empty(0)]  # draws not yet used, their log q

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            if len(pooled[1]) < n:
                u, log_q = self._sample_and_log_prob(summary, max(pool, n), rng)
                pooled[:] = [np.concatenate([pooled[0], u]) if len(pooled[1]) else u,
                             np.concatenate([pooled[1], log_q])]
            out = pooled[0][:n], pooled[1][:n]
            pooled[:] = [pooled[0][n:], pooled[1][n:]]
            return out

        return sample, lambda u: self.log_prob(u, summary)


def make_flow(dim: int, context: int, config: ProposalConfig):
    """The conditional neural spline flow of ``config`` over ``dim`` coordinates given ``context`` features, with
    coupling transforms (``passes=2``): sampling then takes one pass per transform, where a fully autoregressive flow
    would need ``dim`` (the sampler draws from q at every step)."""
    return zuko.flows.NSF(features=dim, context=context, transforms=config.transforms,
                          hidden_features=(config.hidden, config.hidden), passes=2)


def make_emulator(dim: int, summary_dim: int, hidden: int) -> torch.nn.Module:
    """The emulator's multilayer perceptron: u (n, dim) -> standardised summaries (n, summary_dim), three hidden
    layers of ``hidden`` SiLU units."""
    nn = torch.nn
    return nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, summary_dim))


def simulate_pairs(simulator: Simulator, statistic: SummaryStatistic, n: int, rng: np.random.Generator,
                   noise: float = 0.0, batch: int = 512, progress: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n prior draws u (n, D) float32, the summaries (n, S) float32 of their renders, and those of the renders with
    N(0, noise²) pixel noise added (clipped to [0, 1]; noise is an sd in intensities; the same array when noise is
    0)."""
    u = simulator.prior.sample_normal(rng, n)
    clean, noisy = [], []
    for i in tqdm(range(0, n, batch), desc="simulate", disable=not progress):
        images = simulator(simulator.prior.from_normal(u[i:i + batch]))
        clean.append(statistic(images))
        if noise > 0:
            noisy.append(statistic(np.clip(images + noise * rng.standard_normal(images.shape).astype(np.float32),
                                           0.0, 1.0)))
    clean = np.concatenate(clean).astype(np.float32)
    return u.astype(np.float32), clean, np.concatenate(noisy).astype(np.float32) if noise > 0 else clean


def train_proposal(config: ProposalConfig, statistic: SummaryStatistic, simulator: Simulator, out: Path,
                   command: str = "", progress: bool = True) -> dict:
    """Simulate, train q by maximum likelihood (Adam) and write ``out`` (weights) and ``out`` + ``.json`` (record:
    config, simulation budget, wall time, training and validation log q per pair). Returns the record."""
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    u, clean, s = simulate_pairs(simulator, statistic, config.simulations, rng, config.image_noise,
                                 progress=progress)
    mean, sd = s.mean(0), s.std(0) + 1e-6  # of the noisy summaries: a clean summary may be constant (pixels)
    s, clean = (s - mean) / sd, (clean - mean) / sd
    n_val = max(1, int(VALIDATION * len(u)))
    torch.manual_seed(config.seed)
    flow = make_flow(u.shape[1], s.shape[1], config)
    opt = torch.optim.Adam(flow.parameters(), lr=config.lr)
    u_t, s_t = torch.from_numpy(u), torch.from_numpy(s)
    gen = torch.Generator().manual_seed(config.seed)
    train_ll = []
    for _ in tqdm(range(config.epochs), desc="train proposal", disable=not progress):
        order = torch.randperm(len(u) - n_val, generator=gen) + n_val
        for i in range(0, len(order), config.batch_size):
            idx = order[i:i + config.batch_size]
            loss = -flow(s_t[idx]).log_prob(u_t[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            train_ll.append(-loss.item())
    with torch.inference_mode():
        val = flow(s_t[:n_val]).log_prob(u_t[:n_val]).mean().item()
    emulator, emulator_record = train_emulator(u, clean, n_val, config, progress, mean, sd)
    record = {"command": command, "config": asdict(config), "simulator": simulator.get_config(),
              "statistic": statistic.get_config(), "simulations": config.simulations,
              "wall_time_s": round(time.perf_counter() - start, 1),
              "train_log_q": float(np.mean(train_ll[-100:])), "validation_log_q": val, **emulator_record,
              "torch_version": torch.__version__}
    payload = {"format": FORMAT, "state_dict": flow.state_dict(), "emulator": emulator.state_dict(),
               "summary_mean": torch.from_numpy(mean),
               "summary_sd": torch.from_numpy(sd), "meta": json.dumps(record)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    record["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    write_text(out.with_name(out.name + ".json"), json.dumps(record, indent=2) + "\n")
    return record


def train_emulator(u: np.ndarray, summaries: np.ndarray, n_val: int, config: ProposalConfig, progress: bool,
                   mean: np.ndarray, sd: np.ndarray) -> tuple[torch.nn.Module, dict]:
    """The emulator ν̂ fitted by least squares to summaries (n, S) of the renders of u (n, D), standardised with
    ``mean`` and ``sd`` (S,) (Adam, one-cycle learning rate up to 2·``config.lr``), the first ``n_val`` pairs held
    out; and its record: the median held-out cosine distance between emulated and simulated summaries (the units of
    fit's ε with the default distance)."""
    torch.manual_seed(config.seed + 1)
    emulator = make_emulator(u.shape[1], summaries.shape[1], config.emulator_hidden)
    opt = torch.optim.Adam(emulator.parameters(), lr=config.lr)
    n = len(u) - n_val
    steps = config.emulator_epochs * -(-n // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 2 * config.lr, total_steps=steps)
    u_t, s_t = torch.from_numpy(u), torch.from_numpy(summaries)
    gen = torch.Generator().manual_seed(config.seed + 1)
    for _ in tqdm(range(config.emulator_epochs), desc="train emulator", disable=not progress):
        order = torch.randperm(n, generator=gen) + n_val
        for i in range(0, n, config.batch_size):
            idx = order[i:i + config.batch_size]
            loss = ((emulator(u_t[idx]) - s_t[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    with torch.inference_mode():
        pred = emulator(u_t[:n_val]).numpy() * sd + mean
    true = summaries[:n_val] * sd + mean
    cosine = 1 - np.sum(pred * true, 1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(true, axis=1))
    return emulator.eval(), {"emulator_validation_cosine_median": float(np.median(cosine))}


def load_proposal(path: Path | str) -> SceneProposal:
    """A proposal written by :func:`train_proposal` (weights only; no code is unpickled). Raises FileNotFoundError,
    or ValueError when the file is not a readable abc-inverse proposal or its weights do not fit its config."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"proposal: no such file {str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise ValueError(f"proposal: {str(path)!r} is not a readable torch file ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"proposal: {str(path)!r} is not an abc-inverse proposal (expected format {FORMAT!r})")
    try:
        meta = json.loads(payload["meta"])
        config = ProposalConfig(**meta["config"])
        mean, sd = payload["summary_mean"].numpy(), payload["summary_sd"].numpy()
        made_on = meta["simulator"]
        dim = ScenePrior(made_on["n_shape"], made_on["n_albedo"], made_on.get("lighting", "directional"),
                         made_on.get("color", False)).dim
        flow = make_flow(dim, len(mean), config)
        flow.load_state_dict(payload["state_dict"])
        emulator = make_emulator(dim, len(mean), config.emulator_hidden)
        emulator.load_state_dict(payload["emulator"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"proposal: {str(path)!r} does not match its config: {exc}") from None
    return SceneProposal(flow, mean, sd, meta, emulator)


def proposal_for(spec: str, checkpoint: Path | str | None, background: str = "plain"
                 ) -> tuple[SceneProposal | None, str]:
    """The proposal a fit uses and a sentence that says which. spec : 'auto' (the one shipped for the default
    network, :data:`DEFAULT_PROPOSAL`, when ``checkpoint`` is None, the fit's ``background`` is not 'image' (the
    shipped one was trained on plain backgrounds; 'auto' may resolve to either,
    :func:`abc_inverse.fit.chosen_background`) and it exists; else none), 'none', or a path
    (:func:`load_proposal`). Raises FileNotFoundError or ValueError as :func:`load_proposal` does."""
    shipped = checkpoint is None and background != "image" and DEFAULT_PROPOSAL.is_file()
    if spec == "none" or (spec == "auto" and not shipped):
        why = ("--proposal none" if spec == "none" else "none ships for --checkpoint" if checkpoint is not None
               else "the shipped one was trained on plain backgrounds" if background == "image" else "none shipped")
        return None, f"proposal: none ({why}); chains start from the best prior draws"
    path = DEFAULT_PROPOSAL if spec == "auto" else Path(spec)
    what = "shipped with the default network" if spec == "auto" else "given"
    return load_proposal(path), (f"proposal: q(θ | summary) {what} ({path}): chains start from the best of its "
                                 "draws, and some steps propose from it, Metropolis-Hastings corrected")
