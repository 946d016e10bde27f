"""Fit a face image: the posterior over scenes by ABC-MCMC with a summary statistic.

One path (Kulkarni et al. 2015 §4.1, Fig. 5; ``docs/architecture.md``): u (standard-normal coordinates, prior
N(0, I)) -> θ (:meth:`abc_inverse.model.scene.ScenePrior.from_normal`) -> pixels (:class:`abc_inverse.render.simulator.
Simulator`) -> summary ν (a statistic of :mod:`encoders.statistics`) -> distance ρ (:mod:`abc_inverse.distances`)
-> kernel K_ε(ρ) and accept (:mod:`samplers`). :func:`fit` composes them. ε stands for pixel noise of sd
``image_noise`` (:func:`noise_epsilon`; raised to what the model can attain where no scene comes that close,
:func:`with_model_error`) unless it is fixed or adapted. With ``sampler='mcmc'`` (the default,
:func:`run_mcmc_chains`): a pilot of prior (or q's) draws, the warm-up (:func:`samplers.warmup.run_warmup`:
resampling, and optionally exploration and ε adaptation on the paper's α ~ U(-1, 1) moves), the recorded draws of an
ensemble of chains moved by differential-evolution and multi-scale elliptical moves (:func:`make_steps`). With
``sampler='smc'`` (:func:`run_smc_chains`): one SMC-ABC population per chain. Either way the result is
InferenceData; a data-driven proposal q, when given, supplies the first draws and independence moves, and its
emulator of the summary the gradient that steers Hamiltonian moves (:func:`surrogate_log_likelihood`); where q's
emulator does not apply (faces composited over the photo), a linear emulator fitted to scenes an ensemble
warm-up simulated does (:func:`local_emulator`), and a mixture fitted to its emulated posterior supplies
independence moves between its modes (:func:`emulated_mixture`). The recorded draws are then moved along their
linear regression on the summary to the observed one (:func:`adjust_draws`, Beaumont, Zhang & Balding 2002); where
ε was raised for the model's error, on the network's graphics codes z1–z3 alone, if the observed ones lie among the
draws'. On a photo, dlib's landmarks are a second
summary (:class:`LandmarkTerm`, ``landmark_sd``): their Gaussian kernel multiplies the statistic's, ε is raised to
the statistic's distance at the geometry they fit best (:func:`with_landmark_scene`), the draws are not adjusted, and
by default the faces are composited over the photo (:func:`chosen_background`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np
from tqdm import tqdm

import abc_inverse
from abc_inverse.distances import NAMES as DISTANCE_NAMES
from abc_inverse.distances import distance_batch
from abc_inverse.emulator import LinearEmulator
from abc_inverse.model.landmarks import dlib_landmark_vertices
from abc_inverse.model.scene import ANGLES, SCENE_VARIABLES, Scene, ScenePrior
from abc_inverse.options import check_options, option, to_dict
from abc_inverse.render.simulator import Simulator, simulator_from_config
from encoders.statistics import simulator_for
from samplers.abc_mcmc import Trace, build_abc_ensemble, build_abc_mcmc, run_steps, sample_until
from samplers.adjustment import regression_adjustment, within_draws
from samplers.diagnostics import ESS_MIN, convergence_warnings, trace_to_inference_data
from samplers.kernels import KERNELS, make_kernel
from samplers.proposals import (
    blockwise_elliptical,
    differential_evolution,
    hamiltonian,
    independence,
    mixture,
    mixture_proposal,
)
from samplers.smc import run_smc
from samplers.warmup import adapt_hamiltonian, run_warmup, surrogate_draws

PILOT_BATCH = 64  # pilot simulations rendered and encoded at once
SEARCH_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)  # of the pilot's pixel MSE, recorded in attrs search_pixel_mse
SMC_ESS_FRACTION = 0.5  # each SMC round picks the ε that halves the population's effective sample size
SMC_MIN_ACCEPTANCE = 0.05  # an SMC run stops when fewer of its moves are accepted
SMC_MAX_ROUNDS = 30
BACKGROUNDS = ("plain", "image")  # what a simulated face is seen against (backdrop)
HAMILTONIAN_BUDGET = (8, 2500)  # (chains, draws): R-hat ≤ 1.0093 on five scenes in ~50 s (docs/results/effective_draws)
ENSEMBLE_BUDGET = (16, 1600)  # the differential-evolution ensemble's: 8 chains gave R-hat 1.16–1.36 against 1.17–1.24


@dataclass(frozen=True)
class FitConfig:
    """Sampler settings of a fit; each is an ``abc-inverse fit`` flag of the same name. Raises ValueError naming
    the setting when one is out of range or the settings contradict each other."""

    chains: int | None = option(None, f"chains recorded (default: {HAMILTONIAN_BUDGET[0]} when Hamiltonian moves "
                                "steer the draws, each chain mixing alone, so that fewer, longer chains give a "
                                f"steadier R-hat; otherwise {ENSEMBLE_BUDGET[0]}, as the differential-evolution "
                                "ensemble needs many)", ge=1)
    draws: int | None = option(None, f"recorded draws per chain (default: {HAMILTONIAN_BUDGET[1]} with Hamiltonian "
                               f"moves, else {ENSEMBLE_BUDGET[1]})", ge=1)
    tune: int = option(100, "warm-up steps per chain (chains resampled; ε adapted with --image-noise 0), not "
                       "recorded", ge=0)
    seed: int = option(0, "seeds the pilot, the proposals and the acceptances; a seed gives the same draws for the "
                          "same torch thread count (fit's --workers 1 runs 2 threads, more run 1 each), as the "
                          "network's floating-point sums depend on it")
    epsilon: float | None = option(None, "fixed ABC tolerance ε, in units of the distance (default: from "
                                   "--image-noise)", gt=0)
    image_noise: float = option(0.02, "sd of the Gaussian pixel noise (intensities in [0, 1]) that ε stands for: "
                                "ε = the median distance between the observed summary and the summaries of noisy "
                                "copies of the observed image; 0 = adapt ε during warm-up to --target-acceptance",
                                ge=0, lt=1)
    kernel: str = option("gaussian", "ABC kernel K_ε(ρ)", choices=tuple(KERNELS))
    distance: str = option("cosine", "distance ρ between summary statistics (cosine recovered pose best in our "
                           "tests)", choices=DISTANCE_NAMES)
    background: str = option("auto", "what the simulated face is seen against: 'plain' (the renders' black "
                             "background, as the encoder was trained), 'image' (composited over the observed image "
                             "with the face region blacked out, so that its pixels outside the face need no "
                             "explaining) or 'auto': image where the fit has landmarks (--landmark-sd), which hold "
                             "the pose, plain otherwise (without them, image let the chains turn the face away until "
                             "the photo explained itself). On 88 real photos image with landmarks cut the median best "
                             "pixel MSE from 0.158 to 0.0088 and read the light (docs/results/real_photos)",
                             choices=("auto", *BACKGROUNDS))
    model_error: bool = option(True, "mcmc with a data-driven proposal, the gaussian kernel and ε from "
                               "--image-noise: when not one of "
                               "q's pilot draws comes within that ε of the observed summary (no scene the model "
                               "renders matches the image to within pixel noise: misspecification, as on photos), "
                               "raise ε to the closest pilot distance, so that the kernel stands for the model's error "
                               "as well as the noise (Wilkinson 2013) and the chains can mix; the posterior is then "
                               "wider, and fit says so. --no-model-error keeps the noise ε (on the astronaut photo: "
                               "ε 44× below the closest draw, R-hat 1.67)")
    target_acceptance: float = option(0.1, "with --image-noise 0: the acceptance rate of the paper's "
                                      "α ~ U(-1, 1) moves on which ε is calibrated during warm-up", gt=0, lt=1)
    pilot: int = option(2000, "prior draws (q's, with a proposal) from whose best the chains start; with a "
                        "proposal their closest also bounds ε from below (--model-error)", ge=1)
    min_alpha_scale: float = option(0.01, "1 = the paper's α ~ U(-1, 1) for the draws too; smaller = "
                                    "multi-scale elliptical moves α = s·U(-1, 1), log s ~ U(log min, 0)", gt=0, le=1)
    resample_every: int = option(50, "resample chains by kernel weight every N warm-up steps (0 = off)", ge=0)
    explore_chains: int = option(0, "chains run for the first half of warm-up, of which the closest --chains go "
                                 "on (0 = off)", ge=0)
    de_weight: float = option(0.8, "share of differential-evolution moves across the chains (ter Braak 2006; the "
                              "chains move as an ensemble in two halves), the rest blockwise elliptical, which are "
                              "needed: the chains' differences span at most chains/2 - 1 directions; 0 = "
                              "elliptical moves only, independent chains", ge=0, le=1)
    proposal_weight: float = option(0.1, "with a data-driven proposal q: the share of steps in which every chain "
                                    "proposes from q (MH-corrected); larger shares mixed worse in our tests, q being "
                                    "narrower than the ABC posterior", ge=0, le=1)
    extend_draws: int = option(4, "mcmc: rounds of --draws more draws per chain, continuing the chains, run while "
                               "any variable fails Stan's thresholds (split R-hat ≤ 1.01, bulk and tail ESS ≥ 400; "
                               "the fit's convergence_warnings) and chains × draws ≥ 400 (shorter fits are taken as "
                               "a quick look; with the twelfth session's defaults 13 of 90 real-photo fits failed "
                               "them). Where the --mixture-weight moves run, their mixture is refitted before each "
                               "round to the chains' draws so far and its own, and jumps of the light alone and "
                               "emulator-free elliptical moves join the Hamiltonian ones; 0 = off", ge=0)
    mixture_weight: float = option(0.1, "with the linear emulator (faces composited over the photo): the share of "
                                   "steps in which every chain proposes independently from a Student-t mixture "
                                   "fitted to draws of the emulated posterior (MH-corrected on the simulated "
                                   "distance), which reaches modes the Hamiltonian moves rarely cross (the light's "
                                   "second mode, from the side: on the 8 real photos with an R-hat above 1.01 it "
                                   "left 2, against 5 with 0.3, whose chains stuck longer); 0 = off", ge=0, lt=1)
    leapfrog_steps: int = option(5, "the draws' moves are Hamiltonian trajectories of this many leapfrog steps on "
                                 "the emulated ABC posterior, tuned on it before the warm-up, each end point accepted "
                                 "with the emulator's error corrected (Rasmussen 2003). The emulator is the "
                                 "proposal's, for renders on the plain background it learnt; for faces composited over "
                                 "the photo a linear one fitted to scenes simulated near the posterior "
                                 "(abc_inverse/emulator.py). Used with "
                                 "--sampler mcmc, a fixed ε (--image-noise or --epsilon), the gaussian kernel and the "
                                 "cosine distance; 0 = off (the differential-evolution ensemble)", ge=0)
    regression_adjustment: bool = option(True, "move the draws along their linear regression on the summary to "
                                         "the observed summary (Beaumont, Zhang & Balding 2002), which removes most "
                                         "of what the kernel's width ε adds to the posterior (on five known-angle "
                                         "renders the largest error of a mean fell from 16° to 3°). Where ε was "
                                         "raised for the model's error (--model-error) no scene reaches the "
                                         "observed summary and the regression would extrapolate: there only the "
                                         "network's pose and light codes z1–z3 are regressed on, if the observed "
                                         "ones lie among the draws' (on 25 real photos the median azimuth error "
                                         "fell from 10.5° to 4.2°; on renders with a lighting or head mismatch it "
                                         "did not help), else nothing is adjusted. The unadjusted draws stay in the "
                                         "unadjusted_posterior group")
    sampler: str = option("mcmc", "mcmc: ABC-MCMC after a warm-up (the paper's §4.1); smc: SMC-ABC, one independent "
                          "particle population per chain, --draws resampled from each", choices=("mcmc", "smc"))
    particles: int = option(400, "smc: particles per chain", ge=2)
    moves: int = option(5, "smc: elliptical moves of every particle per round", ge=1)
    landmark_sd: float = option(1.5, "a second summary of a photo beside the network's: the 46 inner-face "
                                "landmarks (brows, eyes, nose, lips) that dlib's shape predictor finds on it, against "
                                "where the scene's own vertices project; the sd in pixels of the observation of each "
                                "landmark coordinate's error, detector's and model's (independent Gaussian errors, "
                                "as in Schönborn et al. 2017's landmark likelihood; their kernel multiplies the one "
                                "of width ε on the network's summary, whose ε is then raised to its distance at the "
                                "geometry the landmarks fit best). With landmarks, fit also turns the photo upright by "
                                "the head's roll and frames it by them. On 88 real photos the network alone read "
                                "elevation with median error 9.6° (docs/results/real_photos). 0 = off (the network's "
                                "summary alone, as for images where dlib finds no face)", ge=0)

    def __post_init__(self):
        check_options(self)
        if self.sampler == "smc":
            return
        if self.de_weight > 0 and self.chains is not None and self.chains < 4:
            raise ValueError(f"chains: the differential-evolution ensemble (de_weight > 0) needs ≥ 4 chains, got "
                             f"{self.chains}; give --chains ≥ 4 or --de-weight 0")
        if self.pilot < max(self.chains or 0, self.explore_chains):
            raise ValueError(f"pilot: expected ≥ chains and explore_chains "
                             f"({max(self.chains or 0, self.explore_chains)}), got {self.pilot}")
        if self.epsilon is None and self.image_noise == 0 and self.tune == 0:
            raise ValueError("epsilon: with tune = 0 and image_noise = 0 there is nothing to set ε by; give --epsilon, "
                             "--image-noise or --tune > 0")

    def with_budget(self, hamiltonian: bool) -> FitConfig:
        """This config with ``chains`` and ``draws`` that were left None set to their defaults for the draws' moves
        (``HAMILTONIAN_BUDGET`` when Hamiltonian moves steer them, else ``ENSEMBLE_BUDGET``). Raises ValueError, as
        the constructor does, when the result contradicts other settings (e.g. a --pilot below 16)."""
        chains, draws = HAMILTONIAN_BUDGET if hamiltonian else ENSEMBLE_BUDGET
        return replace(self, chains=self.chains or chains, draws=self.draws or draws)


def check_proposal(proposal, statistic, simulator: Simulator) -> None:
    """Raise ValueError unless ``proposal`` (or None) was trained on this statistic's summaries of this simulator's
    renders."""
    if proposal is None:
        return
    made_for = proposal.meta.get("statistic", {})
    if made_for != json.loads(json.dumps(statistic.get_config())):
        raise ValueError(f"proposal: made for the statistic {made_for.get('name')!r} with other weights or "
                         f"settings; this fit uses {statistic.name!r}")
    made_on = proposal.meta.get("simulator")
    if not made_on or simulator_from_config(made_on).get_config() != simulator.get_config():
        raise ValueError("proposal: made for renders of another simulator than this fit's")


def chosen_background(background: str, landmarks: np.ndarray | None) -> str:
    """The background a fit composites its faces over, 'plain' or 'image' (:func:`backdrop`): ``background`` itself,
    or for 'auto' image where the fit has ``landmarks`` (they hold the pose; without them, on 25 real photos, the
    composite let the chains turn the face away: median |Δ| 33° / 30°, docs/results/real_photos) and plain
    otherwise."""
    if background != "auto":
        return background
    return "plain" if landmarks is None else "image"


def backdrop(simulator: Simulator, observed: np.ndarray, background: str) -> np.ndarray | None:
    """What a fit's simulated faces are composited over (:meth:`abc_inverse.render.simulator.Simulator.render_over`):
    None for the 'plain' background (the renders' own black one); for 'image', the observed image (H, W) float32
    with the face region (:meth:`~abc_inverse.render.simulator.Simulator.face_region`, where a framed face is
    whatever its pose) set to the renders' black. The region is blacked out because with the whole observed image
    behind it a scene explains the photo best by hiding its face: on the astronaut photo every chain went to
    elevation ≈ 85° (the face seen edge-on from below) and pixel MSE ≈ 0.001. Raises ValueError for another
    ``background`` or an image of another size than the renders."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background: expected one of {BACKGROUNDS}, got {background!r}")
    if background == "plain":
        return None
    region = simulator.face_region()
    if np.shape(observed) != region.shape:
        raise ValueError(f"observed: expected a {region.shape} image for the simulator's renders, got shape "
                         f"{np.shape(observed)}")
    return np.where(region, 0.0, observed).astype(np.float32)


def simulate_images(simulator: Simulator, scenes: Scene, behind: np.ndarray | None) -> np.ndarray:
    """Images (N, H, W) float32 of ``scenes`` as a fit compares them with the observation: on the renders' plain
    background when ``behind`` is None, else composited over ``behind`` (H, W) (:func:`backdrop`)."""
    return simulator(scenes) if behind is None else simulator.render_over(scenes, behind)


GEOMETRY_BLOCKS = ("shape", "pose", "camera")  # the prior's blocks that move a face's points in the image


def geometry_dims(simulator: Simulator) -> np.ndarray:
    """The standard-normal coordinates (int64 indices) of :data:`GEOMETRY_BLOCKS` in the simulator's prior."""
    return np.concatenate([np.arange(simulator.prior.dim)[simulator.prior.blocks[name]] for name in GEOMETRY_BLOCKS])


@dataclass(frozen=True)
class LandmarkTerm:
    """The landmark summary of a fit (``FitConfig.landmark_sd``): where the observation's landmarks are and
    where a scene puts them. observed : (K, 2) float64 pixels of the observation; vertices : (K, 2) int64, the mesh
    vertices whose mean is each point (:func:`abc_inverse.model.landmarks.dlib_landmark_vertices`); tolerance : τ =
    σ / √K pixels, σ the sd of each coordinate's error, so that exp(−rms² / (2τ²)) = Π_k exp(−|Δ_k|² / (2σ²)), the
    landmarks' independent Gaussian errors (Schönborn et al. 2017, IJCV 123, §3.3); weight : ε / τ, so that
    ``hypot(ρ, weight · rms)`` is the distance of a Gaussian kernel of width ε on ρ times that landmark kernel (one
    kernel on the joint summary, Kulkarni et al. 2015 §4.1's ρ(ν(I_D), ν(I_R)) with the landmarks as a second
    summary)."""

    observed: np.ndarray
    vertices: np.ndarray
    tolerance: float
    weight: float

    def rms(self, simulator: Simulator, u: np.ndarray) -> np.ndarray:
        """(C,) float64: the root-mean-square distance in pixels between the observed landmarks and those of the
        scenes at standard-normal coordinates u (C, D) (:meth:`scene_rms`)."""
        return self.scene_rms(simulator, simulator.prior.from_normal(u))

    def scene_rms(self, simulator: Simulator, scenes: Scene) -> np.ndarray:
        """(C,) float64: :meth:`rms` of scenes already mapped from u (the simulation has them)."""
        return np.sqrt(np.sum(self.offsets(simulator, scenes) ** 2, axis=(1, 2)))

    def best_scene(self, simulator: Simulator, start: np.ndarray) -> np.ndarray:
        """The standard-normal coordinates (D,) float64 that maximise the landmark kernel times the prior over the
        blocks that move the points (the others kept at ``start`` (D,)): least squares (scipy) on the points'
        offsets over τ and the coordinates themselves."""
        from scipy.optimize import least_squares

        dims = geometry_dims(simulator)

        def residuals(x: np.ndarray) -> np.ndarray:
            u = start.copy()
            u[dims] = x
            offsets = self.offsets(simulator, simulator.prior.from_normal(u[None]))[0]
            return np.concatenate([offsets.ravel() / self.tolerance, x])

        best = start.copy()
        best[dims] = least_squares(residuals, start[dims]).x
        return best

    def offsets(self, simulator: Simulator, scenes: Scene) -> np.ndarray:
        """(C, K, 2) float64: each scene's points (:meth:`abc_inverse.render.simulator.Simulator.project`) minus the
        observed ones, pixels, over √K so that their squares sum to rms²."""
        projected = simulator.project(scenes, self.vertices)
        return (projected - self.observed) / np.sqrt(len(self.observed))

    def log_kernel_grad(self, simulator: Simulator, u: np.ndarray, step: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """(−rms(u)² / (2τ²) (C,), its gradient in u (C, D)): the landmark kernel's part of the emulated
        log-likelihood that steers the Hamiltonian moves. The gradient is a forward difference of ``step`` along
        each coordinate of the blocks that move the points (shape, pose, camera; 0 along the others): K points
        projected per difference, no rendering."""
        c, d = u.shape
        dims = geometry_dims(simulator)
        shifted = np.repeat(u[:, None, :], len(dims), axis=1)
        shifted[:, np.arange(len(dims)), dims] += step
        values = -0.5 * (self.rms(simulator, np.concatenate([u, shifted.reshape(-1, d)])) / self.tolerance) ** 2
        gradient = np.zeros_like(u)
        gradient[:, dims] = (values[c:].reshape(c, len(dims)) - values[:c, None]) / step
        return values[:c], gradient


LANDMARK_SCENE_LOOKS = 64  # looks tried on the landmarks' best geometry (with_landmark_scene)


def with_landmark_scene(pilot: tuple[np.ndarray, np.ndarray], forward, term: LandmarkTerm, simulator: Simulator,
                        config: FitConfig, raised: str, from_noise: bool) -> tuple[tuple, FitConfig, str]:
    """The pilot (positions (P, D), the statistic's distances (P,)) with ``LANDMARK_SCENE_LOOKS`` scenes added: the
    geometry the landmarks fit best (:meth:`LandmarkTerm.best_scene`, from the pilot draw whose points lie closest)
    with the albedo and light of each of the pilot's draws closest in the statistic; and ``config`` with ε raised to
    the smallest of their distances when it is larger and ``model_error`` applies (ε from pixel noise, the gaussian
    kernel), with the sentence saying so (else ``raised`` unchanged).

    Why: the statistic's ε, even raised to q's closest pilot draw (:func:`with_model_error`), says how close a
    scene can come to the photo's code; the network, trained on renders, reads a photo's pose wrongly (a median
    9.6° in elevation on 88 photos), so at that ε its kernel outweighed the landmarks: on 25 photos the posterior
    sat where the code pointed (median |Δ| 6.6° / 9.1° against the reference, where dlib's points alone give
    2.5° / 3.3°; docs/results/real_photos). Raised to the code's distance at the scene the landmarks fit best, the
    kernel stands for the code's error there too, and the code may refine but not overrule the points."""
    u, d = pilot
    best = term.best_scene(simulator, u[np.argmin(term.rms(simulator, u))])
    candidates = u[np.argsort(d)[:LANDMARK_SCENE_LOOKS]].copy()  # the looks (albedo, light) the statistic likes best
    dims = geometry_dims(simulator)
    candidates[:, dims] = best[dims]
    distances = forward(candidates)[0]
    distances = np.where(np.isfinite(distances), distances, np.inf)
    distance = float(distances.min())
    pilot = (np.vstack([u, candidates]), np.concatenate([d, distances]))
    if not (config.model_error and from_noise and config.kernel == "gaussian" and distance > config.epsilon):
        return pilot, config, raised
    return pilot, replace(config, epsilon=distance), (
        f"ε raised from {config.epsilon:.3g} to {distance:.3g}, the statistic's distance at the geometry the "
        f"landmarks fit best (its points {float(term.rms(simulator, best[None])[0]):.2f} pixels from the photo's, "
        f"root mean square), with the best of {LANDMARK_SCENE_LOOKS} looks: the network's summary does not match the "
        "photo there to within its ε, so the kernel stands for "
        "its error too and the landmarks set the pose" + (f" (before: {raised})" if raised else "")
        + "; --no-model-error keeps the noise ε")


def check_landmarks(landmarks: np.ndarray | None, config: FitConfig) -> np.ndarray | None:
    """The observed landmarks as (68, 2) float64, or None when there are none or ``config.landmark_sd`` is 0.
    landmarks : (68, 2) float, dlib's points in the observation's pixels (:mod:`abc_inverse.face_landmarks`), or
    None. Raises ValueError for another shape or non-finite points, or when ε will not be fixed (--epsilon or
    --image-noise > 0): an ε adapted during warm-up would leave the landmarks' weight undefined."""
    if landmarks is None or config.landmark_sd == 0:
        return None
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape != (68, 2) or not np.all(np.isfinite(landmarks)):
        raise ValueError(f"landmarks: expected dlib's 68 finite points (68, 2), got shape {landmarks.shape}")
    if config.epsilon is None and config.image_noise == 0:
        raise ValueError("landmark_sd: the landmark summary is weighed against a fixed ε; give --epsilon or "
                         "--image-noise > 0, or --landmark-sd 0")
    return landmarks


def landmark_term(landmarks: np.ndarray | None, config: FitConfig) -> LandmarkTerm | None:
    """The fit's :class:`LandmarkTerm` for landmarks checked by :func:`check_landmarks` (None: none) and
    ``config`` with its final ε."""
    if landmarks is None:
        return None
    points, vertices = dlib_landmark_vertices()
    tolerance = config.landmark_sd / np.sqrt(len(points))
    return LandmarkTerm(landmarks[points], vertices, tolerance, config.epsilon / tolerance)


def make_forward(observed: np.ndarray, statistic, simulator: Simulator, distance: str, nu_obs: np.ndarray,
                 background: str = "plain", with_summary: bool = True, landmarks: LandmarkTerm | None = None):
    """The ``simulate`` of :func:`samplers.abc_mcmc.build_abc_mcmc`: u (C, D) -> (ρ (C,), aux), all C scenes rendered
    (against ``background``, :func:`backdrop`), encoded and compared at once. aux is (C, 1 + S): each render's pixel
    MSE (column 0) and its summary (columns 1…S, for the regression adjustment; :func:`split_aux`), or, with
    ``with_summary`` False, the pixel MSE alone (C,) (the summaries of a long fit with a large statistic, raw pixels
    say, would not fit in memory). observed : (H, W) float32 grey in [0, 1]; nu_obs : (S,) its summary. With
    ``landmarks``, ρ is joined with their distance: hypot(ρ, weight · rms) (:class:`LandmarkTerm`)."""

    behind = backdrop(simulator, observed, background)

    def forward(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scenes = simulator.prior.from_normal(u)
        images = simulate_images(simulator, scenes, behind)
        summary = statistic(images)
        mse = np.mean((images - observed[None]) ** 2, axis=(1, 2), dtype=np.float64)
        rho = distance_batch(distance, nu_obs, summary)
        if landmarks is not None:
            rho = np.hypot(rho, landmarks.weight * landmarks.scene_rms(simulator, scenes))
        return rho, np.column_stack([mse, summary]).astype(np.float64) if with_summary else mse

    return forward


def split_aux(trace: Trace) -> tuple[Trace, np.ndarray | None]:
    """A trace recorded with :func:`make_forward`'s aux as (the trace with aux the pixel MSE (C, T), the summaries
    (C, T, S), or None when they were not recorded)."""
    if trace.aux.ndim == 2:
        return trace, None
    return trace._replace(aux=trace.aux[..., 0]), trace.aux[..., 1:]


ADJUSTMENT_DRAWS_PER_SUMMARY = 10  # fewer recorded draws than this × S: no regression adjustment (it would overfit)


def check_observation(observed: np.ndarray, size: int) -> np.ndarray:
    """``observed`` as (size, size) float32 after checking its shape and intensities. Raises ValueError."""
    observed = np.asarray(observed, dtype=np.float32)
    if observed.shape != (size, size):
        raise ValueError(f"observed: expected a ({size}, {size}) grey image, got shape {observed.shape}")
    if not np.all(np.isfinite(observed)) or observed.min() < 0 or observed.max() > 1:
        raise ValueError("observed: expected finite intensities in [0, 1]")
    return observed


NOISE_COPIES = 64  # noisy copies of the observed image from which ε is set


def noise_epsilon(observed: np.ndarray, statistic, distance: str, nu_obs: np.ndarray, noise: float,
                  rng: np.random.Generator) -> float:
    """The ABC tolerance that stands for pixel noise: the median distance ρ(ν(x_obs), ν(x_obs + n)) over
    ``NOISE_COPIES`` draws of n ~ N(0, noise² I), the noisy images clipped to [0, 1]. With a Gaussian kernel of this
    ε the ABC posterior treats the observed summary as known only up to what such noise does to it (the kernel as
    a model error, Wilkinson 2013); a smaller ε asks the summary to match more closely than a re-photographed
    image would, and the ABC target falls apart into islands at the scale of the renderer's and encoder's own
    roughness (``docs/results/epsilon/README.md``).

    observed : (H, W) float32 in [0, 1]; nu_obs : (S,) its summary; noise : sd, intensities. Returns ε > 0 in units
    of the distance. Raises ValueError when the distance is undefined or the noise leaves the summary unchanged (ε
    would be 0)."""
    noisy = observed[None] + noise * rng.standard_normal((NOISE_COPIES, *observed.shape)).astype(np.float32)
    eps = float(np.median(distance_batch(distance, nu_obs, statistic(np.clip(noisy, 0.0, 1.0)))))
    if not np.isfinite(eps):
        raise ValueError(f"distance: the {distance} distance from the observed summary to those of noisy copies of the "
                         "image is undefined (is the observed image blank?); try --distance l2")
    if not eps > 0:
        raise ValueError(f"image_noise: noise of sd {noise} leaves the {distance} distance of the observed summary at "
                         f"{eps}; give a larger --image-noise or --epsilon")
    return eps


def with_tolerance(config: FitConfig, observed: np.ndarray, statistic, nu_obs: np.ndarray) -> FitConfig:
    """``config`` with ε set by :func:`noise_epsilon` unless it fixes ε or asks for ε adapted during warm-up
    (``image_noise`` = 0). The noise has its own random stream, so the sampler's draws do not depend on it."""
    if config.epsilon is not None or config.image_noise == 0:
        return config
    return replace(config, epsilon=noise_epsilon(observed, statistic, config.distance, nu_obs, config.image_noise,
                                                 np.random.default_rng([config.seed, 1])))


def run_pilot(rng: np.random.Generator, forward, draw, config: FitConfig
              ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """``config.pilot`` draws of ``draw(rng, n) -> (n, D)`` (the prior's standard-normal draws, or a proposal's),
    their distances and their renders' pixel MSE: ((positions (P, D) float64, distances (P,) float64, non-finite ones
    as inf), pixel MSE (P,) float64; :func:`make_forward`'s aux column 0). Raises ValueError when no pilot distance
    is finite."""
    u = draw(rng, config.pilot)
    simulated = [forward(u[i:i + PILOT_BATCH]) for i in range(0, config.pilot, PILOT_BATCH)]
    d = np.concatenate([rho for rho, _ in simulated])
    mse = np.concatenate([np.asarray(aux).reshape(len(rho), -1)[:, 0] for rho, aux in simulated])
    if not np.isfinite(d).any():
        raise ValueError(f"distance: no pilot simulation gave a finite {config.distance} distance to the observed "
                         "summary (is the observed image blank?); try --distance l2")
    return (u, np.where(np.isfinite(d), d, np.inf)), mse


def pilot_starts(pilot: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, dict]:
    """The best ``n`` of the pilot's draws (:func:`run_pilot`: positions (P, D), distances (P,)) as positions
    (n, D), and ``{"pilot_distance_quantiles": [1 %, 50 %]}`` of its finite distances."""
    u, d = pilot
    return u[np.argsort(d)[:n]], {"pilot_distance_quantiles": np.quantile(d[np.isfinite(d)], [0.01, 0.5]).tolist()}


def with_model_error(config: FitConfig, closest: float) -> tuple[FitConfig, str]:
    """``config`` (whose ε, not None, stands for pixel noise: set by :func:`with_tolerance` from ``image_noise``)
    with ε raised to ``closest``, the smallest distance (in the units of ``config.distance``) of the pilot's draws
    from a data-driven proposal (:func:`run_pilot`), when ``model_error`` is on and no pilot draw came within that
    ε; and the sentence that says so ("" when ε stays). :func:`fit` applies it with the gaussian kernel only: with
    the indicator kernel at that ε only the closest pilot draw would lie inside the support.

    The raised ε is the smallest tolerance at which a simulated scene is known to reach the observed summary. A
    kernel narrower than what the model can attain magnifies the renderer's roughness by their ratio and the chains
    do not agree (Frazier, Robert & Rousseau 2020 on ABC under misspecification); with the kernel as model error
    (Wilkinson 2013, Statist. Appl. Genet. Mol. Biol. 12) its width must cover the model's error too. Only q's
    pilot says what the model can attain: on the five known-angle renders its closest draw is 0.21–0.71 ε (so ε
    stays), the prior's 6–19 ε; on the 25 real photos q's is 34–965 ε (``docs/results/real_photos``). A smaller ε,
    the closest of scenes an emulator search found beyond the pilot (median 1.6× smaller on the photos), brought
    their pose 1.5° closer to the reference but left the pose's split R-hat above 1.01 on 4 of 25, so the pilot's
    closest it is."""
    if not config.model_error or closest <= config.epsilon:
        return config, ""
    return replace(config, epsilon=closest), (
        f"ε raised from {config.epsilon:.3g} (pixel noise of sd {config.image_noise:g}) to {closest:.3g}, the closest "
        f"of the {config.pilot} pilot draws ({closest / config.epsilon:.3g} × the noise ε): no scene the model "
        "renders matches this image to within pixel noise (model misspecification), so the kernel stands for the "
        "model's error too and the posterior is wider than noise alone would make it; --no-model-error keeps the "
        "noise ε")


def progress_bar(total: int, enabled: bool, desc: str = "ABC-MCMC"):
    """A tqdm bar for the sampler's steps, showing the acceptance rate, ε and the mean pixel MSE; a callback for
    :func:`samplers.abc_mcmc.run_steps`."""
    bar = tqdm(total=total, desc=desc, disable=not enabled, mininterval=0.5)
    accepted: list[float] = []

    def callback(state, info, kernel) -> None:
        bar.update()
        accepted.append(float(info.is_accepted.mean()))
        if enabled and bar.n % 50 == 0:
            mse = state.aux if state.aux.ndim == 1 else state.aux[:, 0]
            bar.set_postfix(acc=f"{np.mean(accepted[-500:]):.3f}", eps=f"{kernel.epsilon:.3g}",
                            mse=f"{np.mean(mse):.4f}")

    return callback


def fit(observed: np.ndarray, statistic, config: FitConfig, simulator: Simulator | None = None,
        progress: bool = True, attrs: dict | None = None, proposal=None,
        landmarks: np.ndarray | None = None) -> az.InferenceData:
    """Sample the ABC posterior of scenes given an observed image.

    observed : (H, W) float32 grey in [0, 1], H = W = ``statistic.image_size``. statistic : images (N, H, W) ->
    (N, S), e.g. from :func:`encoders.statistics.make_statistic`. simulator : renders the scenes; default: the one
    the statistic was trained on (:func:`encoders.statistics.simulator_for`). Returns InferenceData: posterior
    azimuth, elevation, light_azimuth (degrees), shape, albedo, camera; sample_stats distance, is_accepted,
    acceptance_rate, pixel_mse, epsilon, nonfinite; warm-up groups; observed_data image and summary; attrs with
    the seed, settings, provenance, ``convergence_warnings`` (JSON list, Stan's thresholds: split R-hat ≤ 1.01,
    bulk and tail ESS ≥ 400; empty when every variable passes), ``epsilon_raised`` and ``misfit_warning`` (the
    sentence of :func:`with_model_error` when it raised ε, else :func:`misfit_warning`'s; "" when the closest draw
    is within a few ε), ``regression_adjustment`` (whether the posterior draws are the simulated ones moved by
    :func:`adjust_draws`, and why not where they are not; when they are, the simulated draws are kept in the group
    ``unadjusted_posterior``, and the sample_stats, distance and pixel MSE included, describe those),
    ``search_pixel_mse`` (sampler 'mcmc': the pixel MSE of the search before the warm-up, for the whole trajectory
    of Kulkarni et al. 2015 Fig. 6a: ``pilot_quantiles``, its ``SEARCH_QUANTILES`` over the pilot's draws, from the
    prior or q as ``pilot_from`` says, and, where :func:`local_emulator` ran its ensemble, ``ensemble``, the median
    over its chains at each of its steps). ε is
    ``config.epsilon``, else the one that stands for ``config.image_noise``
    (:func:`noise_epsilon`; with sampler 'mcmc', a proposal and the gaussian kernel, raised to the closest pilot
    distance where the model cannot reach it, :func:`with_model_error`), else adapted during warm-up. proposal : a
    data-driven proposal q(u | ν) (:class:`encoders.proposal.SceneProposal`) or None: when given, the pilot draws
    come from q given the observed summary, q's independence moves replace a share of steps, and, ε being fixed,
    every other move is a Hamiltonian trajectory on its emulated posterior (:func:`run_mcmc_chains`). landmarks :
    (68, 2) float, dlib's points of the observed face in its pixels (:func:`abc_inverse.face_landmarks.to_frame`),
    or None: with ``config.landmark_sd`` > 0 they are a second summary (:class:`LandmarkTerm`), joined with
    the statistic's in the distance once ε is final (raised by :func:`with_landmark_scene`), in the emulated
    posterior too, and the draws are not regression-adjusted; attrs ``landmarks`` then records them. Raises
    ValueError on a wrongly sized or invalid image or landmarks, a proposal made for another statistic, an undefined
    distance or no finite pilot distance.
    """
    simulator = simulator if simulator is not None else simulator_for(statistic)
    observed, prior = check_observation(observed, statistic.image_size), simulator.prior
    landmarks = check_landmarks(landmarks, config)
    config = replace(config, background=chosen_background(config.background, landmarks))
    rng = np.random.default_rng(config.seed)
    nu_obs = statistic(observed[None])[0]
    check_proposal(proposal, statistic, simulator)
    forward = make_forward(observed, statistic, simulator, config.distance, nu_obs, config.background,
                           with_summary=False)
    draw = prior.sample_normal if proposal is None else lambda r, n: proposal.sample(nu_obs, n, r)
    from_noise = config.epsilon is None and config.image_noise > 0
    config = with_tolerance(config, observed, statistic, nu_obs)
    pilot, raised, search = None, "", {}
    if config.sampler == "mcmc":
        pilot, pilot_mse = run_pilot(rng, forward, draw, config)
        search = {"pilot_from": "prior" if proposal is None else "q",
                  "pilot_quantiles": np.quantile(pilot_mse, SEARCH_QUANTILES).tolist()}
        if from_noise and proposal is not None and config.kernel == "gaussian":
            config, raised = with_model_error(config, float(pilot[1].min()))
    if landmarks is not None and pilot is not None:
        pilot, config, raised = with_landmark_scene(pilot, forward, landmark_term(landmarks, config), simulator,
                                                    config, raised, from_noise)
    term = landmark_term(landmarks, config)  # weighed against the final ε
    if term is not None and pilot is not None:
        pilot = (pilot[0], np.hypot(pilot[1], term.weight * term.rms(simulator, pilot[0])))
    emulator = proposal if config.background == "plain" else None  # q's emulator learnt plain renders' summaries
    if config.background != "plain" and hamiltonian_off(config) is None and pilot is not None:
        emulator, pilot, ensemble_mse = local_emulator(
            rng, make_forward(observed, statistic, simulator, config.distance, nu_obs, config.background,
                              landmarks=term), pilot, prior, config,
            lambda e: surrogate_log_likelihood(e, nu_obs, config, term, simulator)[0], progress)
        if ensemble_mse is not None:
            search["ensemble"] = np.median(ensemble_mse, axis=0).tolist()
    surrogate, surrogate_says = surrogate_log_likelihood(emulator, nu_obs, config, term, simulator)
    config = config.with_budget(surrogate is not None)
    codes = getattr(statistic, "graphics_codes", None) if raised else None  # None: regress on the whole summary
    adjust_off = adjustment_off(config, raised, nu_obs.size, codes, term is not None)
    if not adjust_off or term is not None:  # the pilot ran on the statistic alone and without recording summaries
        forward = make_forward(observed, statistic, simulator, config.distance, nu_obs, config.background,
                               with_summary=not adjust_off, landmarks=term)
    q = None if proposal is None else independence(*proposal.given(nu_obs))
    if config.sampler == "smc":
        draws, warmup, constant, extra = run_smc_chains(rng, forward, draw, make_steps(forward, prior, config, q),
                                                        config, progress)
    else:
        draws, warmup, constant, extra = run_mcmc_chains(rng, forward, pilot, prior, config, progress, q, surrogate,
                                                         with_mixture=isinstance(emulator, LinearEmulator))
    if "mixture" in extra:
        surrogate_says += (f"; in {config.mixture_weight:.0%} of steps independence moves from a "
                           f"{extra['mixture']['components']}-component Student-t mixture fitted to the emulated "
                           "posterior")
    rounds = extra.get("extended_draws", 0)
    surrogate_says += f"; {config.chains} chains × {draws.position.shape[1]} draws" + (
        f" ({rounds} more round{'s' * (rounds > 1)} of {config.draws}, run while the diagnostics failed"
        + (f", the mixture refitted to the draws before each and proposing in {REFIT_WEIGHT:.0%} of steps, "
           f"the light jumping alone in {REFIT_JUMP:.0%} of the others, elliptical moves in {REFIT_LOCAL:.0%} of "
           "the rest" if "mixture_refits" in extra else "") + ")"
        if rounds else "")
    draws, summaries = split_aux(draws)
    warmup = None if warmup is None else split_aux(warmup)[0]
    adjusted, adjustment_says = ((None, adjust_off) if adjust_off
                                 else adjust_draws(draws, summaries, nu_obs, prior, codes))
    provenance = {"seed": config.seed, "fit_config": to_dict(config), "prior": prior.get_config(),
                  "simulator": simulator.get_config(), "statistic": statistic.get_config(),
                  "proposal": None if proposal is None else proposal.meta,
                  "final_epsilon": float(draws.epsilon[:, -1].max()), "surrogate": surrogate_says, **extra,
                  **(attrs or {}), "epsilon_raised": raised, "regression_adjustment": adjustment_says,
                  "landmarks": landmark_record(term, simulator, draws.position),
                  **({"search_pixel_mse": search} if search else {})}
    idata = inference_data(draws if adjusted is None else draws._replace(position=adjusted), warmup, prior, observed,
                           nu_obs, constant, provenance)
    if adjusted is not None:
        unadjusted = az.from_dict(posterior=scene_variables(prior, draws.position), dims=DIMS, coords=COORDS)
        idata.add_groups({UNADJUSTED: unadjusted.posterior})
    return idata


def landmark_record(term: LandmarkTerm | None, simulator: Simulator, position: np.ndarray) -> dict:
    """What a fit records of its landmark summary: {} without one; else the observed points (K, 2) pixels, τ and
    the weight, and the 0, 50 and 100 % quantiles of the simulated draws' (positions (C, T, D)) landmark distance."""
    if term is None:
        return {}
    rms = term.rms(simulator, position.reshape(-1, position.shape[-1]))
    return {"observed_px": term.observed.round(2).tolist(), "tolerance_px": term.tolerance,
            "sd_px": term.tolerance * np.sqrt(len(term.observed)), "weight": term.weight,
            "draws_rms_px_quantiles": np.quantile(rms, [0.0, 0.5, 1.0]).tolist()}


def adjustment_off(config: FitConfig, raised: str, n_summary: int, codes: slice | None = None,
                   landmarks: bool = False) -> str:
    """Why a fit of ``config`` (its budget set) does not regression-adjust its draws (:func:`adjust_draws`), or ""
    when it may: turned off; ε raised for the model's error (``raised`` not empty: no scene reaches the observed
    summary, and the whole summary would extrapolate, Frazier, Robert & Rousseau 2020) without ``codes``, the
    statistic's graphics codes (``DCIGNStatistic.graphics_codes``) to regress on alone; or fewer recorded draws
    than ``ADJUSTMENT_DRAWS_PER_SUMMARY`` × the number of summaries regressed on (of ``n_summary``, or ``codes``
    where ε was raised; the regression would fit the draws' noise and shrink the posterior); or with the
    ``landmarks`` summary (the regression on the network's summary would pull the pose back to what the network
    reads, which the landmarks are there to correct)."""
    draws = config.chains * config.draws
    if not config.regression_adjustment:
        return "off (--no-regression-adjustment)"
    if landmarks:
        return ("off: with the landmark summary (a regression on the network's summary would pull the pose back to "
                "what the network reads)")
    if raised and codes is None:
        return ("off: ε was raised for the model's error, so no scene reaches the observed summary, and the "
                "statistic has no pose codes to regress on alone")
    n_summary = len(range(n_summary)[codes]) if raised else n_summary
    if draws < ADJUSTMENT_DRAWS_PER_SUMMARY * n_summary:
        return (f"off: {draws} draws are too few to regress on {n_summary} summaries (it needs "
                f"{ADJUSTMENT_DRAWS_PER_SUMMARY} per summary)")
    return ""


def adjust_draws(draws: Trace, summaries: np.ndarray, nu_obs: np.ndarray, prior: ScenePrior,
                 codes: slice | None = None) -> tuple[np.ndarray | None, str]:
    """(the draws' positions (C, T, D) moved by :func:`samplers.adjustment.regression_adjustment` in the prior's
    standard-normal coordinates, a sentence saying so), or (None, why not) when a summary is not finite, or when
    ``codes`` is given and the observed codes lie outside the draws' (:func:`samplers.adjustment.within_draws`, the
    99.9 % Gaussian region: the line would be extrapolated). codes : a slice of at least one summary column, to
    regress on these columns only, the network's graphics codes z1–z3 where ε was raised for the model's error:
    there the whole observed summary lies
    far outside every draw's (Mahalanobis distance 20–44 on 25 real photos, for a 99.9 % limit of 10.2), the
    codes of the pose and light among them (median 0.8, at most 3.8, for a limit of 4.0), and the regression on
    them put the posterior mean of the azimuth a median 4.2° from an independent reference (10.5° unadjusted,
    12.8° on the whole summary; docs/results/real_photos).
    On the whole summary the sentence also says whether the observed summary lies among the draws' (on the five
    known-angle renders: Mahalanobis distance 5.9–9.4, limit 10.2; with eyes, brows and lips painted on, which the
    model lacks and ε does not detect: 16–21 on three of five, whose adjusted posteriors excluded the true azimuth,
    docs/results/observation_mismatch): the adjustment is kept, with that warning.
    summaries : (C, T, S) float64, each draw's summary (raw: with the cosine distance the kernel sees only its
    direction, but regressing on the unit-normalised summary gave the same means to 0.4° on the five known-angle
    scenes, docs/results/effective_draws); nu_obs : (S,) the observed one. Whether to adjust at all is
    :func:`adjustment_off`'s."""
    c, t, d = draws.position.shape
    summaries = summaries.reshape(c * t, -1)
    if codes is not None:
        columns = range(summaries.shape[1])[codes]
        label = f"z{columns[0] + 1}–z{columns[-1] + 1}"
        summaries, nu_obs = summaries[:, codes], nu_obs[codes]
    if not (np.all(np.isfinite(summaries)) and np.all(np.isfinite(nu_obs))):
        return None, "off: some summaries are not finite"
    inside, distance, limit = within_draws(summaries, nu_obs)
    mahalanobis = f"Mahalanobis distance {distance:.1f} {'≤' if inside else '>'} {limit:.1f}"
    if codes is None:
        on, partial = "the summary", "" if inside else (
            f"; but the observed summary lies outside the draws' ({mahalanobis}): no simulated scene reaches it, so "
            "the adjusted posterior may be too narrow (on renders with eyes and lips the model lacks it excluded "
            "the truth; --no-regression-adjustment keeps the simulated draws)")
    elif not inside:
        return None, (f"off: ε was raised for the model's error, and even the observed codes {label} lie outside "
                      f"the draws' ({mahalanobis}), so the regression would extrapolate")
    else:
        on = f"the codes {label} alone (ε was raised for the model's error)"
        partial = f"; the observed codes lie among the draws' ({mahalanobis})"
    result = regression_adjustment(draws.position.reshape(-1, d), summaries, nu_obs)
    explained = ", ".join(f"{name} {result.r_squared[prior.blocks['pose'].start + i]:.2f}"
                          for i, name in enumerate(ANGLES))
    return result.position.reshape(c, t, d), (
        f"on: each draw moved along the linear regression of the standard-normal coordinates on {on} to the "
        f"observed value (Beaumont, Zhang & Balding 2002){partial}; share of each angle's variance explained: "
        f"{explained}")


def run_mcmc_chains(rng: np.random.Generator, forward, pilot, prior: ScenePrior, config: FitConfig, progress: bool,
                    q=None, surrogate=None, with_mixture: bool = False):
    """ABC-MCMC: the chains start at the best draws of the ``pilot`` (:func:`run_pilot`: positions (P, D) and distances
    (P,)), warm up (:func:`samplers.warmup.run_warmup`; with the paper's moves when ε is adapted, else with the draws'
    moves) and record ``config.draws`` draws, and up to ``config.extend_draws`` rounds more while the scene variables
    fail Stan's thresholds (:func:`samplers.abc_mcmc.sample_until`; provenance ``extended_draws``: the rounds added).
    With a ``surrogate`` (:func:`surrogate_log_likelihood`), the Hamiltonian moves are first tuned on the emulated
    posterior alone (:func:`samplers.warmup.adapt_hamiltonian`: ``HAMILTONIAN_ADAPT_STEPS`` steps of at least
    ``HAMILTONIAN_ADAPT_CHAINS`` chains from the best pilot draws, no simulation), and the chains start from a random
    choice of their end points. q : the independence moves of :func:`make_steps` or None. ``with_mixture`` (the linear
    emulator's surrogate, no q) and ``config.mixture_weight`` > 0: q becomes :func:`emulated_mixture`'s, in that share
    of steps, and before each added round it is refitted to its own draws of the emulated posterior and as many of the
    chains' draws so far (thinned, pooled over the chains; provenance ``mixture_refits``), proposing then in the share
    ``REFIT_WEIGHT`` of steps; of the other steps, ``REFIT_JUMP`` propose the light azimuth alone from a mixture fitted
    to the same draws' light coordinate (the others kept), and ``REFIT_LOCAL`` of the rest become the draws'
    emulator-free multi-scale blockwise elliptical moves. Where the emulator is several nats too pessimistic (obama3's
    light from the side) the emulated posterior gives too little mass, so the mixture fitted to it rarely proposes
    there, while the chains' draws do reach it (the emulated draws keep the modes the chains have not: fitted to the
    chains' draws alone, biden's mixture lost its second mode); and a chain that reached such a state is stuck for the
    Hamiltonian moves, whose acceptance carries the emulator's error there, but not for the elliptical ones. On obama3
    the light's R-hat fell from 1.034 to 1.007 (one fit each). The light's own jumps cross between its modes at the
    acceptance of one coordinate, where the whole mixture's proposals carry the mismatch of all D (solvay_face21, whose
    chains rarely crossed to a second light mode near +33°: light R-hat 1.024 after four added rounds without them,
    1.006 after two with them). Returns (draws Trace, warm-up Trace or None, constant data, provenance)."""
    adapt = config.epsilon is None  # ε adapted on the paper's moves; else the draws' own moves warm up
    n_starts = max(config.chains, config.explore_chains)
    starts, record = pilot_starts(pilot, n_starts if surrogate is None else max(n_starts, HAMILTONIAN_ADAPT_CHAINS))
    moves = None
    if surrogate is not None:
        tuning = adapt_hamiltonian(rng, surrogate, starts, HAMILTONIAN_ADAPT_STEPS, config.leapfrog_steps)
        moves = hamiltonian(surrogate, tuning.step_size, config.leapfrog_steps, tuning.cholesky)
        starts = tuning.position[rng.choice(len(starts), n_starts, replace=False)]
        record["hamiltonian"] = {"step_size": tuning.step_size, "surrogate_acceptance": tuning.acceptance,
                                 "posterior_sd": np.sqrt(np.sum(tuning.cholesky**2, axis=1)).tolist()}
        if with_mixture and q is None and config.mixture_weight > 0:
            q, record["mixture"], emulated = emulated_mixture(rng, surrogate, tuning, prior, config.leapfrog_steps)
    q_weight = config.mixture_weight if "mixture" in record else config.proposal_weight
    init, step, paper_step = make_steps(forward, prior, config, q, moves, q_weight)
    state = init(starts)
    kernel = make_kernel(config.kernel, config.epsilon or float(np.median(state.distance)))
    explore = config.tune // 2 if len(starts) > config.chains and config.tune >= 2 else 0
    callback = progress_bar(explore + config.tune + config.draws, progress)
    (state, kernel), warm = run_warmup(
        rng, state, paper_step if adapt else step, kernel, config.tune, keep=config.chains, explore_steps=explore,
        target_acceptance=config.target_acceptance if adapt else None,
        resample_every=config.resample_every or None, callback=callback)
    rounds = config.extend_draws if config.chains * config.draws >= ESS_MIN else 0
    restep = None
    if "mixture" in record:
        record["mixture_refits"] = []
        local = mixture([moves, blockwise_elliptical(prior.blocks, prior.dim, config.min_alpha_scale)],
                        [1 - REFIT_LOCAL, REFIT_LOCAL])

        def restep(trace: Trace):  # both mixtures (all of u; the light alone) refitted to the emulated + chain draws
            pooled = trace.position.reshape(-1, prior.dim)
            fitted_to = np.vstack([emulated, pooled[::max(1, len(pooled) // len(emulated))]])
            refitted, fitted = mixture_proposal(fitted_to, rng, MIXTURE_COMPONENTS, MIXTURE_DF)
            jump, jump_fitted = mixture_proposal(fitted_to, rng, MIXTURE_COMPONENTS, MIXTURE_DF, prior.blocks["light"])
            record["mixture_refits"].append({**fitted, "light": jump_fitted})
            return make_steps(forward, prior, config, refitted, mixture([local, jump], [1 - REFIT_JUMP, REFIT_JUMP]),
                              REFIT_WEIGHT)[1]
    draws, record["extended_draws"] = sample_until(
        rng, state, step, kernel, config.draws, lambda trace: not scene_warnings(prior, trace.position), rounds,
        lambda k: callback if k == 0 else progress_bar(config.draws, progress, f"ABC-MCMC, more draws ({k})"), restep)
    return draws, warm.trace if config.tune else None, {"epsilon": np.float64(warm.epsilon)}, record


def scene_warnings(prior: ScenePrior, position: np.ndarray) -> list[str]:
    """:func:`samplers.diagnostics.convergence_warnings` of the scene variables at positions (C, T, D)."""
    posterior = az.from_dict(posterior=scene_variables(prior, position), dims=DIMS, coords=COORDS)
    return convergence_warnings(posterior, prior.variable_names)


MIXTURE_CHAINS = 64  # chains of emulated_mixture's run on the emulated posterior
MIXTURE_STEPS = 200  # their steps; the second half's draws are fitted
MIXTURE_COMPONENTS = 3  # the most components of the mixture (chosen by BIC)
MIXTURE_DF = 5.0  # degrees of freedom of its Student-t components
MIXTURE_DROP = 20.0  # nats: chains whose median log target falls this far below the best chain's are left out
REFIT_WEIGHT = 0.3  # share of the added rounds' steps proposing from the refitted mixture (biden / obama3 light R-hat,
# one fit each: 0.1 1.007 / 1.016, 0.3 1.005 / 1.013, 0.5 1.009 / 1.051, its chains then stuck)
REFIT_JUMP = 0.2  # share of the added rounds' non-mixture steps proposing the light alone from its own mixture
# (solvay_face21 light R-hat 1.024 -> 1.006, obama3 1.009 -> 1.006, with at most four added rounds; one fit each)
REFIT_LOCAL = 0.2  # share of the rest that are emulator-free multi-scale elliptical moves in the added rounds
# (with 0.3 above: obama3 1.013 -> 1.007, solvay_face24 1.019 -> 1.008, biden 1.005 -> 1.010)


def emulated_mixture(rng: np.random.Generator, surrogate, tuning, prior: ScenePrior, n_leapfrog: int
                     ) -> tuple[object, dict, np.ndarray]:
    """(the independence moves of a Student-t mixture fitted to draws of the emulated posterior
    (:func:`samplers.proposals.mixture_proposal`), what was fitted, the draws it was fitted to (N, D) float64).
    ``MIXTURE_CHAINS`` chains start at the end points of ``tuning`` (:func:`samplers.warmup.adapt_hamiltonian` on
    ``surrogate``), each with one of the prior's blocks (in turn) redrawn from the prior, the paper's blockwise move
    at α = 1, so that modes the Hamiltonian moves rarely cross are tried (on biden a light from the side: 13 % of the
    emulated mass, and 0.16 crossings per chain in 200 steps from the main mode); they run ``MIXTURE_STEPS`` steps of
    the tuned Hamiltonian moves on the emulated posterior (:func:`samplers.warmup.surrogate_draws`, no simulation),
    and the second half's draws of the chains whose median log target is within ``MIXTURE_DROP`` nats of the best
    chain's are fitted (a pose or camera redrawn far from the landmarks stays there: its leapfrog steps diverge). The
    record has the components, their weights and the chains kept."""
    blocks = list(prior.blocks.values())
    starts = tuning.position[rng.integers(len(tuning.position), size=MIXTURE_CHAINS)]
    for i in range(MIXTURE_CHAINS):
        block = blocks[i % len(blocks)]
        starts[i, block] = rng.standard_normal(block.stop - block.start)
    positions, targets = surrogate_draws(rng, surrogate, tuning, starts, MIXTURE_STEPS, n_leapfrog)
    later = slice(MIXTURE_STEPS // 2, None)
    median = np.median(targets[later], axis=0)
    kept = median >= median.max() - MIXTURE_DROP
    draws = positions[later][:, kept].reshape(-1, prior.dim)
    q, fitted = mixture_proposal(draws, rng, MIXTURE_COMPONENTS, MIXTURE_DF)
    return q, {**fitted, "chains_kept": int(kept.sum()), "chains": MIXTURE_CHAINS}, draws


def run_smc_chains(rng: np.random.Generator, forward, draw, steps, config: FitConfig, progress: bool):
    """SMC-ABC (:func:`samplers.smc.run_smc`, ESS-based ε schedule down to ``config.epsilon`` if given) run
    independently once per chain on ``config.particles`` draws of the prior (or the proposal), each final
    population resampled by weight to ``config.draws`` draws, so that R-hat compares independent runs. Returns
    (draws Trace, None, constant data with ε and ESS per round (chain, round), NaN-padded, provenance)."""
    init, _, paper_step = steps
    callback = progress_bar(config.chains * SMC_MAX_ROUNDS * config.moves, progress)
    kernel, parts, rounds = make_kernel(config.kernel, 1.0), [], []
    for _ in range(config.chains):
        population, weights, info = run_smc(
            rng, init(draw(rng, config.particles)), paper_step, kernel, target_epsilon=config.epsilon,
            ess_fraction=SMC_ESS_FRACTION, moves=config.moves, min_acceptance=SMC_MIN_ACCEPTANCE,
            max_rounds=SMC_MAX_ROUNDS, callback=callback)
        pick = rng.choice(len(weights), size=config.draws, p=weights)
        acceptance, eps = (info.acceptance_rate[-1], info.epsilon[-1]) if len(info.epsilon) else (np.nan, np.inf)
        parts.append(Trace(population.position[pick], population.distance[pick], population.aux[pick],
                           np.full(config.draws, acceptance), np.zeros(config.draws, bool),
                           ~np.isfinite(population.distance[pick]), np.full(config.draws, eps)))
        rounds.append(info)
    draws = Trace(*(np.stack(field) for field in zip(*parts, strict=True)))
    width = max(len(info.epsilon) for info in rounds)
    pad = lambda values: np.pad(values.astype(float), (0, width - len(values)), constant_values=np.nan)  # noqa: E731
    constant = {"epsilon": np.float64(draws.epsilon[:, -1].max()),
                "smc_epsilon": np.stack([pad(info.epsilon) for info in rounds]),
                "smc_ess": np.stack([pad(info.ess) for info in rounds])}
    return draws, None, constant, {"smc_rounds": [len(info.epsilon) for info in rounds]}


HAMILTONIAN_ADAPT_STEPS = 150  # steps of adapt_hamiltonian on the emulated posterior before the warm-up
HAMILTONIAN_ADAPT_CHAINS = 32  # chains that estimate the mass matrix (more than the sampler's: a 36-D covariance)


def hamiltonian_off(config: FitConfig) -> str | None:
    """Why ``config`` rules out Hamiltonian moves whatever the emulator (a sentence), or None when it allows them:
    they need the mcmc sampler, ``leapfrog_steps`` > 0, a fixed ε, the gaussian kernel (the indicator has no
    gradient), the cosine distance (the emulators' error is measured in it) and a pilot of at least 2 draws
    (their tuning needs 2 chains)."""
    if config.leapfrog_steps == 0 or config.sampler != "mcmc" or config.epsilon is None \
            or config.kernel != "gaussian" or config.distance != "cosine":
        return ("Hamiltonian moves: off (they need --sampler mcmc, --leapfrog-steps > 0, a fixed ε, the "
                "gaussian kernel and the cosine distance)")
    if config.pilot < 2:
        return "Hamiltonian moves: off (tuning them needs a --pilot of at least 2 draws)"
    return None


def surrogate_log_likelihood(emulator, nu_obs: np.ndarray, config: FitConfig, landmarks: LandmarkTerm | None = None,
                             simulator: Simulator | None = None) -> tuple[object, str]:
    """(u (C, D) -> (ℓ̃(u) (C,), ∇ℓ̃(u) (C, D)), a sentence saying so): the Gaussian ABC log kernel of the emulated
    summaries, ℓ̃(u) = −ρ(ν_obs, ν̂(u))² / (2ε²), and its gradient, which steer :func:`samplers.proposals.hamiltonian`.
    emulator : anything with ``emulated_cosine(u, summary)`` -> (ρ (C,), ∂ρ/∂u (C, D)) and ``meta`` holding its
    held-out error ``emulator_validation_cosine_median``: the proposal's
    (:meth:`encoders.proposal.SceneProposal.emulated_cosine`, for renders on the plain background it was trained on)
    or a :class:`abc_inverse.emulator.LinearEmulator` (:func:`local_emulator`); or None. (None, why) when there is
    none, ``config`` rules the moves out (:func:`hamiltonian_off`) or ε is below the emulator's error (then the
    emulated target has little to do with the true one: on a real photo whose summary barely responds to noise,
    ε ≈ 2·10⁻⁴, emulated moves were almost never accepted; at ε = 1.8× the error, on a known-angle scene, 42 %
    were). With ``landmarks`` (and the ``simulator`` that projects them) their kernel is added exactly
    (:meth:`LandmarkTerm.log_kernel_grad`), as it is in the simulated distance."""
    if emulator is None:
        return None, "Hamiltonian moves: off (no emulator of the summary)"
    if (off := hamiltonian_off(config)) is not None:
        return None, off
    error = emulator.meta["emulator_validation_cosine_median"]
    if config.epsilon < error:
        return None, (f"Hamiltonian moves: off (ε = {config.epsilon:.3g} is below the emulator's held-out error "
                      f"{error:.3g})")
    eps = config.epsilon

    def log_likelihood_grad(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rho, grad = emulator.emulated_cosine(u, nu_obs)
        value, gradient = -0.5 * (rho / eps) ** 2, -(rho / eps**2)[:, None] * grad
        if landmarks is None:
            return value, gradient
        extra, extra_gradient = landmarks.log_kernel_grad(simulator, u)
        return value + extra, gradient + extra_gradient

    rows = emulator.meta.get("emulator_rows")
    which = ("q's emulator" if rows is None else f"a linear emulator fitted to {rows} scenes simulated near the "
             f"posterior, held-out error {error:.3g}")
    return log_likelihood_grad, (f"Hamiltonian moves: {config.leapfrog_steps} leapfrog steps on the emulated ABC "
                                 f"posterior ({which})"
                                 + (" and the landmarks' exact kernel" if landmarks is not None else "")
                                 + " behind each simulated proposal")


EMULATOR_CHAINS = ENSEMBLE_BUDGET[0]  # chains of local_emulator's ensemble warm-up
EMULATOR_STEPS = 100  # its steps; the second half's scenes are the emulator's first rows
EMULATOR_ROUNDS = 2  # rounds of scenes drawn from the emulated posterior and added to the emulator's rows
EMULATOR_DESIGN = 512  # scenes simulated per round


def local_emulator(rng: np.random.Generator, forward, pilot: tuple[np.ndarray, np.ndarray], prior: ScenePrior,
                   config: FitConfig, surrogate_for, progress: bool
                   ) -> tuple[LinearEmulator | None, tuple[np.ndarray, np.ndarray], np.ndarray | None]:
    """(a :class:`abc_inverse.emulator.LinearEmulator` of the summary, the pilot the chains start from, the ensemble
    warm-up's pixel MSE (chains, ``EMULATOR_STEPS``) float64 or None where it did not run) where no
    trained emulator applies (a background other than the plain one q's emulator learnt; plain fits without a
    proposal keep the differential-evolution ensemble, on which the statistics benchmark and calibration were
    measured).

    First an ensemble of ``EMULATOR_CHAINS`` chains (at most ``config.pilot``; :func:`make_steps`' draws' step,
    differential-evolution and elliptical moves, at the fit's fixed ε) runs ``EMULATOR_STEPS`` steps from the
    ``pilot``'s best (positions (P, D), distances (P,)), and the emulator is fitted to the summaries of its second
    half's scenes. That region is narrower than the posterior, so in each of ``EMULATOR_ROUNDS`` rounds the
    Hamiltonian moves are tuned on the emulated posterior (``surrogate_for(emulator)``,
    :func:`surrogate_log_likelihood`; :func:`samplers.warmup.adapt_hamiltonian`, no simulation), ``EMULATOR_DESIGN``
    scenes are drawn from the Gaussian with its chains' mean and covariance, simulated, and the emulator refitted to
    all rows. The simulated scenes become the pilot (positions (N, D), distances (N,)) whose best start the chains.
    forward : :func:`make_forward` with its summaries (and the landmarks, when the fit has them). (None, pilot
    unchanged, its pixel MSE or None) when the pilot has fewer than 4 draws (the ensemble's least) or the warm-up
    simulated too few distinct scenes to fit the emulator (:meth:`abc_inverse.emulator.LinearEmulator.least_rows`).
    Nothing of it is a draw of the posterior; it only tells the Hamiltonian moves where to go, and each of their
    proposals is accepted on the simulated distance."""
    chains = min(EMULATOR_CHAINS, len(pilot[1]), config.pilot)
    if chains < 4:
        return None, pilot, None
    starts, _ = pilot_starts(pilot, chains)
    init, step, _ = make_steps(forward, prior, replace(config, chains=chains))
    callback = progress_bar(EMULATOR_STEPS, progress, "emulator warm-up")
    trace = run_steps(rng, init(starts), step, make_kernel(config.kernel, config.epsilon), EMULATOR_STEPS,
                      callback=callback)[2]
    later = slice(EMULATOR_STEPS // 2, None)
    u, aux = trace.position[:, later].reshape(-1, prior.dim), trace.aux[:, later].reshape(-1, trace.aux.shape[-1])
    distance, pixel_mse = trace.distance[:, later].ravel(), trace.aux[:, :, 0]
    if len(np.unique(u, axis=0)) < LinearEmulator.least_rows(prior):
        return None, pilot, pixel_mse
    emulator = LinearEmulator.fit(prior, u, aux[:, 1:], rng)
    for _ in range(EMULATOR_ROUNDS):
        surrogate = surrogate_for(emulator)
        if surrogate is None:
            break
        tuning = adapt_hamiltonian(rng, surrogate, pilot_starts((u, distance), HAMILTONIAN_ADAPT_CHAINS)[0],
                                   HAMILTONIAN_ADAPT_STEPS, config.leapfrog_steps)
        design = tuning.position.mean(axis=0) + rng.standard_normal((EMULATOR_DESIGN, prior.dim)) @ tuning.cholesky.T
        simulated = [forward(design[i:i + PILOT_BATCH]) for i in range(0, EMULATOR_DESIGN, PILOT_BATCH)]
        u, distance = np.vstack([u, design]), np.concatenate([distance, *(d for d, _ in simulated)])
        aux = np.vstack([aux, *(a for _, a in simulated)])
        emulator = LinearEmulator.fit(prior, u, aux[:, 1:], rng)
    u, first = np.unique(u, axis=0, return_index=True)  # a rejected step repeats its chain's scene
    return emulator, (u, np.where(np.isfinite(distance[first]), distance[first], np.inf)), pixel_mse


def make_steps(forward, prior: ScenePrior, config: FitConfig, q=None, moves=None, q_weight: float | None = None):
    """(init, step for the draws, the paper's step) of :mod:`samplers.abc_mcmc`. The draws' step: with ``moves``
    (a proposal such as :func:`samplers.proposals.hamiltonian`), independent chains moved by it; otherwise an
    ensemble (:func:`samplers.abc_mcmc.build_abc_ensemble`) whose moves are differential-evolution moves across the
    chains in the share ``config.de_weight`` and multi-scale blockwise elliptical moves otherwise (independent
    chains when ``de_weight`` = 0). The paper's step: blockwise elliptical moves with α ~ U(-1, 1), on which ε is
    adapted when it is not fixed, and the SMC moves. When q is given, either is replaced in a share
    ``q_weight`` (default ``config.proposal_weight``) of steps by the Metropolis-Hastings-corrected independence
    moves ``q``
    (:func:`samplers.proposals.independence`), for all chains of the step at once (one call of the flow per step).
    Raises ValueError for ``de_weight`` = 1 with too few chains (and no ``moves``): half an ensemble's differences
    then span fewer than D directions, and DE moves alone cannot leave that subspace (an over-confident posterior,
    found by SBC)."""
    if moves is None and config.sampler == "mcmc" and config.de_weight == 1 and config.chains // 2 - 1 < prior.dim:
        raise ValueError(f"de_weight: with every move a differential-evolution move the chains must span all "
                         f"{prior.dim} directions (chains ≥ {2 * (prior.dim + 1)}), got {config.chains} chains; "
                         "give --de-weight < 1 to mix in elliptical moves")

    def with_q(propose):
        share = config.proposal_weight if q_weight is None else q_weight
        return propose if q is None else mixture([propose, q], [1 - share, share], shared=True)

    _, paper_step = build_abc_mcmc(forward, with_q(blockwise_elliptical(prior.blocks, prior.dim)))
    if moves is not None:
        return (*build_abc_mcmc(forward, with_q(moves)), paper_step)
    elliptical = blockwise_elliptical(prior.blocks, prior.dim, config.min_alpha_scale)
    share = config.de_weight
    if share == 0:
        return (*build_abc_mcmc(forward, with_q(elliptical)), paper_step)
    evolve = differential_evolution()
    return (*build_abc_ensemble(forward, lambda others: with_q(mixture([evolve(others), elliptical],
                                                                       [share, 1 - share]))), paper_step)


def inference_data(draws, warmup, prior: ScenePrior, observed: np.ndarray, nu_obs: np.ndarray, constant: dict,
                   attrs: dict) -> az.InferenceData:
    """The fit's InferenceData (see :func:`fit`) from its draws and warm-up trace (or None), with ``constant``
    data, provenance ``attrs``, the convergence warnings and the misfit warning."""
    attrs = {**attrs, "abc_inverse_version": abc_inverse.__version__, "git_hash": _git_hash(),
             "angle_units": "degrees"}
    idata = trace_to_inference_data(
        draws, lambda position: scene_variables(prior, position), warmup=warmup, aux_name="pixel_mse", dims=DIMS,
        coords=COORDS,
        observed_data={"image": observed, "summary": nu_obs},
        constant_data=constant, attrs=attrs)
    idata.posterior.attrs["convergence_warnings"] = json.dumps(convergence_warnings(idata, prior.variable_names))
    idata.posterior.attrs["misfit_warning"] = attrs.get("epsilon_raised") or misfit_warning(
        idata.sample_stats["distance"].values, float(idata.sample_stats["epsilon"].values.max()))
    return idata


MISFIT_RATIO = 3.0  # closest recorded distance / ε above which no scene explains the image (renders: ≈ 0.5)


def misfit_warning(distance: np.ndarray, epsilon: float) -> str:
    """A sentence when even the closest recorded draw is more than ``MISFIT_RATIO`` × ε from the observed summary,
    else "". With ε standing for pixel noise that means no scene the simulator can render matches the image to
    within that noise: the model is misspecified for it (Frazier, Robert & Rousseau 2020, JRSS B 82: the ABC
    posterior then concentrates on the scenes that come closest, and its shape at a tolerance far below the
    attainable distance is set by the renderer's roughness, so chains rarely agree). On the known-angle renders the
    ratio was 0.47 (scene 3); on the astronaut photo 44 at the pixel-noise ε (1.7·10⁻⁴, --no-model-error) and 5 at
    ε = 0.0036. Where :func:`with_model_error` raised ε, its sentence is the fit's misfit warning instead.

    distance : (C, T) float64, the draws' distances (non-finite ones ignored). epsilon : the final ε, > 0."""
    closest = float(np.min(distance, initial=np.inf, where=np.isfinite(distance)))
    if not closest > MISFIT_RATIO * epsilon:
        return ""
    return (f"the closest draw's summary is {closest / epsilon:.3g} × ε from the observed one: no scene the model "
            "can render matches this image to within the tolerance (model misspecification), so the posterior "
            "describes the scenes that come closest, not a noisy view of one, and its chains may not agree")


COORDS = {"camera_axis": ["x", "y", "z"], "channel": ["r", "g", "b"]}
UNADJUSTED = "unadjusted_posterior"  # the group of the simulated draws when the posterior is regression-adjusted
DIMS = {"shape": ["shape_dim"], "albedo": ["albedo_dim"], "camera": ["camera_axis"], "sh": ["sh_dim"],
        "light_colour": ["channel"], "image": ["row", "col"],
        "summary": ["summary_dim"], "smc_epsilon": ["smc_chain", "round"], "smc_ess": ["smc_chain", "round"]}


def scene_variables(prior: ScenePrior, position: np.ndarray) -> dict:
    """Posterior variables from positions (C, T, D): angles in degrees (C, T), shape (C, T, n_shape), albedo
    (C, T, n_albedo), camera (C, T, 3) in [0, 1]."""
    c, t, d = position.shape
    return {name: value.reshape(c, t, *value.shape[1:])
            for name, value in prior.from_normal(position.reshape(-1, d)).variables().items()}


def simulated_group(idata: az.InferenceData) -> str:
    """The group whose draws were simulated, those the sample_stats (distance, pixel MSE) describe:
    'unadjusted_posterior' when the posterior is regression-adjusted (:func:`adjust_draws`), else 'posterior'."""
    return UNADJUSTED if UNADJUSTED in idata.groups() else "posterior"


def posterior_scenes(idata: az.InferenceData, index: list[tuple[int, int]], group: str = "posterior") -> Scene:
    """Scenes of posterior draws ``[(chain, draw), ...]`` (angles converted back to radians) of ``group``
    ('posterior', or :func:`simulated_group`'s)."""
    post = idata[group]
    return Scene.from_variables({name: np.array([post[name].values[c, d] for c, d in index])
                                 for name in SCENE_VARIABLES if name in post})


def _git_hash() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
