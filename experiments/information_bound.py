"""How much does the summary statistic know about the angles, and how much of it does the ABC posterior use? The
posterior sd that pixel noise would leave, by a Laplace (Fisher) approximation, beside the ABC posterior's sd.

Model: the observation is a render plus pixel noise n ~ N(0, σ² I), σ = ``--noise`` (0.02, what ``fit``'s ε stands
for). In the standard-normal coordinates u of the prior (u ~ N(0, I), :class:`abc_inverse.model.scene.ScenePrior`),
a Gaussian likelihood with Jacobian J = ∂(what is observed)/∂u and noise covariance Σ has the Laplace posterior
covariance (JᵀΣ⁻¹J + I)⁻¹ at the true scene; its diagonal, mapped to degrees by dθ/du, is the sd an ideal observer
would have. Three observers:

- ``pixels``: the 64×64 image itself, Σ = σ² I (the most any statistic of this image can know);
- ``summary``: the DC-IGN summary ν (the shipped network, ``fit``'s default), Σ the covariance of ν(x + n) − ν(x)
  over ``--copies`` noisy copies (shrunk by 10⁻³ of its mean variance towards the identity): the noisy-summary
  likelihood, a synthetic likelihood (Wood 2010) at the truth;
- ``summary_isotropic``: the same summary with Σ = (tr Σ / S) I, noise spread evenly over the S directions.

J is a central difference with step ``--step`` in u (0.01 ≈ 0.4° of azimuth). The renderer is rough at the scale of
a pixel flipping at a triangle edge (``docs/results/epsilon``), so the sds are printed for each step given; they
agree within a factor of about 2 over 0.01–0.05. A Laplace approximation holds where the posterior is narrow
enough for the render to be linear across it; it is a bound on what a kernel could reach, not a posterior to report.

For the five known-angle scenes (:data:`experiments.known_angle_recovery.SCENES`, identities drawn with seeds 1–5).
With ``--abc`` (the output of ``benchmarks/effective_draws.py``) the measured ABC posterior sd of each scene's
"with proposal" fit is written beside. Writes ``--out``/information_bound.csv (scene, angle, observer, step,
sd_deg) and information_bound.png (sd per angle and observer, log scale), and prints a table.

Usage: python -m experiments.information_bound --out docs/results/information_bound
[--abc docs/results/effective_draws/output_eight_chains.txt] [--noise 0.02] [--step 0.01 0.05] [--copies 512]
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

from abc_inverse.io import write_csv  # noqa: E402
from abc_inverse.model.scene import ANGLE_LIMITS, ANGLES  # noqa: E402
from encoders.statistics import make_statistic, simulator_for  # noqa: E402
from experiments.known_angle_recovery import SCENES  # noqa: E402

SHRINKAGE = 1e-3  # share of the mean noise variance added to Σ's diagonal (Σ from finitely many copies)
OBSERVERS = ("pixels", "summary", "summary_isotropic")


def jacobians(simulator, statistic, u0: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences at u0 (D,) float64 with ``step`` (u units): (render at u0 (H, W) float32, pixel Jacobian
    (H·W, D), summary Jacobian (S, D)), both float64 per unit of u."""
    d = len(u0)
    u = np.repeat(u0[None], 2 * d + 1, axis=0)
    u[np.arange(d) * 2, np.arange(d)] += step
    u[np.arange(d) * 2 + 1, np.arange(d)] -= step
    images = simulator(simulator.prior.from_normal(u))
    summaries = statistic(images).astype(np.float64)
    pixels = images.reshape(len(u), -1).astype(np.float64)
    return (images[-1], ((pixels[0:2 * d:2] - pixels[1:2 * d:2]) / (2 * step)).T,
            ((summaries[0:2 * d:2] - summaries[1:2 * d:2]) / (2 * step)).T)


def noise_covariance(statistic, image: np.ndarray, noise: float, copies: int, rng: np.random.Generator) -> np.ndarray:
    """(S, S) float64: the covariance of ν(clip(x + n)) − ν(x), n ~ N(0, noise² I), over ``copies`` draws, with
    :data:`SHRINKAGE` of its mean variance added to the diagonal."""
    noisy = np.clip(image[None] + noise * rng.standard_normal((copies, *image.shape)), 0.0, 1.0).astype(np.float32)
    cov = np.cov(statistic(noisy).astype(np.float64), rowvar=False)
    return cov + SHRINKAGE * np.trace(cov) / len(cov) * np.eye(len(cov))


def laplace_sd_degrees(fisher: np.ndarray, u0: np.ndarray, angle_index: dict) -> dict:
    """Per angle name: the sd in degrees of the Laplace posterior N(·, (fisher + I)⁻¹) in u, mapped by dθ/du =
    (b − a)·φ(u) of the angle's uniform prior U(a, b)."""
    cov = np.linalg.inv(fisher + np.eye(len(fisher)))
    return {name: float(np.degrees(np.sqrt(cov[k, k]) * 2 * ANGLE_LIMITS[name] * norm.pdf(u0[k])))
            for name, k in angle_index.items()}


def abc_sds(path: Path) -> dict:
    """{(scene seed, angle): posterior sd in degrees} of the "with proposal" rows of benchmarks/effective_draws.py's
    output (its last line is JSON). Raises ValueError when the file has no such rows."""
    rows = json.loads(path.read_text().strip().splitlines()[-1])["rows"]
    found = {(r["scene"], name): v["sd_deg"] for r in rows if r["variant"] == "with proposal"
             for name, v in r["per_angle"].items()}
    if not found:
        raise ValueError(f"--abc: expected 'with proposal' rows in the JSON line of {path}, found none")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--abc", type=Path, default=None, help="output of benchmarks/effective_draws.py")
    parser.add_argument("--noise", type=float, default=0.02, help="pixel noise sd, intensities in [0, 1]")
    parser.add_argument("--step", type=float, nargs="+", default=[0.01, 0.05], help="finite-difference steps, u units")
    parser.add_argument("--copies", type=int, default=512, help="noisy copies that estimate the summary's noise")
    args = parser.parse_args()
    if not 0 < args.noise < 1:
        parser.error(f"--noise: expected an sd in (0, 1), got {args.noise}")
    if not all(0 < s <= 0.5 for s in args.step):
        parser.error(f"--step: expected steps in (0, 0.5] (u units), got {args.step}")
    abc = abc_sds(args.abc) if args.abc else {}
    args.out.mkdir(parents=True, exist_ok=True)
    statistic = make_statistic("dcign")
    simulator = simulator_for(statistic)
    prior = simulator.prior
    first = prior.n_shape + prior.n_albedo
    angle_index = {name: first + i for i, name in enumerate(ANGLES)}
    rng = np.random.default_rng(0)
    rows = []
    for seed, azimuth, elevation, light in SCENES:
        u0 = prior.to_normal(prior.at_angles(azimuth, elevation, light, seed))[0]
        for step in args.step:
            image, j_pixels, j_summary = jacobians(simulator, statistic, u0, step)
            cov = noise_covariance(statistic, image, args.noise, args.copies, rng)
            fishers = {"pixels": j_pixels.T @ j_pixels / args.noise**2,
                       "summary": j_summary.T @ np.linalg.solve(cov, j_summary),
                       "summary_isotropic": j_summary.T @ j_summary * len(cov) / np.trace(cov)}
            for observer in OBSERVERS:
                sds = laplace_sd_degrees(fishers[observer], u0, angle_index)
                rows += [[seed, name, observer, step, sds[name]] for name in ANGLES]
        rows += [[seed, name, "abc", "", abc[(seed, name)]] for name in ANGLES if (seed, name) in abc]
    write_csv(args.out / "information_bound.csv", ["scene", "angle", "observer", "step", "sd_deg"], rows)
    observers = [*OBSERVERS, *(["abc"] if abc else [])]
    print("posterior sd (°), azimuth / elevation / light azimuth, at the smallest step")
    step = min(args.step)
    table = {(r[0], r[1], r[2]): r[4] for r in rows if r[3] in (step, "")}
    for seed, *_ in SCENES:
        print(f"scene {seed}: " + "   ".join(
            f"{o} " + " / ".join(f"{table[(seed, n, o)]:.2f}" for n in ANGLES) for o in observers))
    fig, axes = plt.subplots(1, len(ANGLES), figsize=(13, 3.8), sharey=True)
    for ax, name in zip(axes, ANGLES, strict=True):
        for i, observer in enumerate(observers):
            ax.scatter(np.arange(len(SCENES)) + 0.15 * (i - 1.5), [table[(s[0], name, observer)] for s in SCENES],
                       label=observer)
        ax.set(title=name, yscale="log", xlabel="scene", xticks=range(len(SCENES)),
               xticklabels=[str(s[0]) for s in SCENES])
    axes[0].set_ylabel(f"posterior sd (°), pixel noise {args.noise}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "information_bound.png", dpi=110)
    print(f"wrote {args.out}/information_bound.csv, information_bound.png")


if __name__ == "__main__":
    main()
