"""Evaluation of a trained DC-IGN's graphics code (Kulkarni et al. 2015 §4.3, Fig. 8, 9, 10).

Held-out faces are drawn from the scene prior with their own seed (``HELDOUT_SEED``; training draws from
``default_rng(seed)`` and its held-out ELBO batch from ``10**6 + seed``). Every measure uses the encoder mean μ.

- :func:`equivariance` (Fig. 9a-c): each face is rendered with one of azimuth, elevation or light azimuth swept
  and the other two frontal (0); Pearson r of z1, z2, z3 against the swept variable. Also r on scenes with every
  variable drawn from the prior at once (``joint``), the harder case the ABC sampler meets. With it, a 95 %
  bootstrap interval of the sweep's |r| over the held-out faces (:func:`r_interval`), and the codes themselves
  (``sweep_codes.npz``), so that two networks evaluated on the same faces can be compared pairwise
  (``experiments/intervals.py encoders``).
- :func:`invariance` (Fig. 9d-f): per face, the cosine distance of z_identity = z4…zn between the frontal
  image and each transformed one, averaged over faces, as a function of the swept variable.
- :func:`decoder_sweeps` (Fig. 8, 10): a held-out face encoded, one of z1, z2, z3 swept over the range the
  encoder gives the variable's sweep, every other latent clamped, decoded; beside the true renders.
- :func:`heldout_metrics`: ELBO, its terms and the pixel MSE of the decoded mean on held-out prior scenes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy.stats import bootstrap

from abc_inverse.io import atomic_path, write_csv, write_text
from abc_inverse.model.scene import Scene
from abc_inverse.render.simulator import Simulator, simulator_from_config
from encoders.dcign import DCIGN, DCIGNStatistic, elbo_terms, load_checkpoint, weights_digest
from encoders.figures import decoder_sweep_plot, equivariance_plot, invariance_plot

HELDOUT_SEED = 10**6 + 7
# Swept values per variable, radians: the prior's range for azimuth and light; elevation kept to ±60° where
# the face stays in view (beyond it the camera looks at the top or bottom of the head).
SWEEPS = {"azimuth": np.linspace(-1.5, 1.5, 31), "elevation": np.radians(np.linspace(-60, 60, 25)),
          "light_azimuth": np.radians(np.linspace(-90, 90, 31))}
LATENT = {"azimuth": 0, "elevation": 1, "light_azimuth": 2}  # z1, z2, z3 (§3.2)
R_RESAMPLES, R_LEVEL = 2000, 0.95  # bootstrap of the sweep's |r| over held-out faces


def encode(model: DCIGN, images: np.ndarray) -> np.ndarray:
    """Encoder means μ (N, latent_dim) float64 of images (N, S, S) float32 in [0, 1] (the summary statistic)."""
    return DCIGNStatistic(model)(images)


def sweep_scenes(simulator: Simulator, faces: int, variable: str, values: np.ndarray, seed: int = HELDOUT_SEED
                 ) -> Scene:
    """faces·len(values) scenes, face-major: identities and camera from the prior (seed), ``variable`` swept over
    ``values`` (radians), the other angles 0. Raises ValueError for an unknown variable."""
    if variable not in LATENT:
        raise ValueError(f"variable: expected one of {tuple(LATENT)}, got {variable!r}")
    base = simulator.prior.sample(np.random.default_rng(seed), faces)
    zeros = np.zeros(faces)
    base = base._replace(azimuth=zeros, elevation=zeros, light_azimuth=zeros)
    scenes = base.take(np.repeat(np.arange(faces), len(values)))
    return scenes._replace(**{variable: np.tile(values, faces)})


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def sweep_codes(model: DCIGN, simulator: Simulator, faces: int, seed: int = HELDOUT_SEED) -> dict:
    """{variable: μ (faces, len(values), latent_dim)} for each variable of SWEEPS."""
    return {name: encode(model, simulator(sweep_scenes(simulator, faces, name, values, seed))
                         ).reshape(faces, len(values), -1) for name, values in SWEEPS.items()}


def equivariance(codes: dict, model: DCIGN, simulator: Simulator, joint_scenes: int = 1000,
                 seed: int = HELDOUT_SEED) -> dict:
    """Pearson r of z1, z2, z3 against their variables.

    codes : output of :func:`sweep_codes`. Returns {variable: {'latent': 'z1', 'r': float, 'abs_r_interval': (low,
    high) of |r| over faces (:func:`r_interval`), 'r_joint': float, 'truth_deg': (faces·V,), 'z': (faces·V,)}};
    ``r_joint`` is over ``joint_scenes`` prior scenes.
    """
    joint = simulator.prior.sample(np.random.default_rng(seed + 1), joint_scenes)
    joint_z = encode(model, simulator(joint))
    out = {}
    for name, z in codes.items():
        k = LATENT[name]
        truth = np.degrees(np.tile(SWEEPS[name], z.shape[0]))
        zk = z[:, :, k].ravel()
        out[name] = {"latent": f"z{k + 1}", "r": _pearson(truth, zk),
                     "abs_r_interval": r_interval(SWEEPS[name], z[:, :, k]),
                     "r_joint": _pearson(getattr(joint, name), joint_z[:, k]), "truth_deg": truth, "z": zk}
    return out


def sweep_abs_r(values: np.ndarray, z: np.ndarray) -> float:
    """|Pearson r| of one pose latent's codes z (F, V) against the swept ``values`` (V,) repeated for every face
    (the pooled sweep r of :func:`equivariance`, unsigned)."""
    z = np.asarray(z, dtype=float)
    return abs(_pearson(np.tile(np.asarray(values, dtype=float), len(z)), z.ravel()))


def r_interval(values: np.ndarray, z: np.ndarray, z_reference: np.ndarray | None = None,
               seed: int = HELDOUT_SEED) -> tuple[float, float]:
    """95 % percentile-bootstrap interval (low, high) over faces of a sweep's |Pearson r|, or with ``z_reference``
    of |r(z)| − |r(z_reference)|, the faces resampled together (paired: two networks on the same held-out faces).

    values : (V,) the swept variable (any unit; r does not depend on it). z, z_reference : (F, V) float, one pose
    latent of F ≥ 2 faces at each value (:func:`sweep_codes`' ``[:, :, k]``). The faces are the resampled unit,
    since a face's V codes are not independent draws; :data:`R_RESAMPLES` resamples (:func:`scipy.stats.bootstrap`,
    seeded by ``seed``). It measures how |r| would move on other faces from the prior, not between training runs.
    Raises ValueError naming the argument for mismatched shapes or fewer than 2 faces."""
    z = np.asarray(z, dtype=float)
    if z.ndim != 2 or z.shape[1] != len(values) or z.shape[0] < 2:
        raise ValueError(f"z: expected (faces ≥ 2, {len(values)}) codes, got shape {z.shape}")
    if z_reference is not None:
        z_reference = np.asarray(z_reference, dtype=float)
        if z_reference.shape != z.shape:
            raise ValueError(f"z_reference: expected the shape of z {z.shape}, got {z_reference.shape}")

    def statistic(faces: np.ndarray) -> float:
        faces = faces.astype(int)
        return sweep_abs_r(values, z[faces]) - (0.0 if z_reference is None else sweep_abs_r(values, z_reference[faces]))

    res = bootstrap((np.arange(len(z)),), statistic, n_resamples=R_RESAMPLES, confidence_level=R_LEVEL,
                    method="percentile", vectorized=False, random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def invariance(codes: dict) -> dict:
    """Mean cosine distance of z_identity (z4…zn) to the frontal image's, per swept value (§4.3, Fig. 9d-f).

    codes : output of :func:`sweep_codes` (every sweep contains the frontal value 0). Returns {variable:
    {'values_deg': (V,), 'mean': (V,), 'sem': (V,)}} — the mean over faces and its standard error.
    """
    out = {}
    for name, z in codes.items():
        ident = z[:, :, 3:]
        front = ident[:, np.argmin(np.abs(SWEEPS[name]))][:, None]
        cos = np.sum(ident * front, -1) / (np.linalg.norm(ident, axis=-1) * np.linalg.norm(front, axis=-1) + 1e-12)
        d = 1 - cos
        out[name] = {"values_deg": np.degrees(SWEEPS[name]), "mean": d.mean(0),
                     "sem": d.std(0, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.zeros(d.shape[1])}
    return out


def decoder_sweeps(model: DCIGN, simulator: Simulator, codes: dict, steps: int = 9, face: int = 0,
                   seed: int = HELDOUT_SEED) -> dict:
    """Re-renderings of one held-out face with z1, z2 or z3 swept and every other latent clamped (Fig. 8, 10).

    The face's frontal image is encoded; latent z_k is set to ``steps`` values spanning the 5th-95th percentile
    of what the encoder gives over the variable's sweep (``codes``), and decoded. Returns {variable:
    {'decoded': (steps, S, S), 'true': (steps, S, S) renders at the matching true angles, 'z': (steps,),
    'latent': 'z1'}}.
    """
    out = {}
    for name, values in SWEEPS.items():
        k = LATENT[name]
        zk = codes[name][:, :, k]
        mean_curve = zk.mean(0)
        lo, hi = np.percentile(zk, [5, 95])
        targets = np.linspace(lo, hi, steps)
        if mean_curve[-1] < mean_curve[0]:  # order the sweep by the true angle
            targets = targets[::-1]
        frontal = simulator(sweep_scenes(simulator, face + 1, name, np.zeros(1), seed).take([face]))
        mu = encode(model, frontal)
        z = np.repeat(mu, steps, 0)
        z[:, k] = targets
        with torch.inference_mode():
            decoded = model.decode(torch.from_numpy(z.astype(np.float32)))[:, 0].numpy()
        true = simulator(sweep_scenes(simulator, face + 1, name, np.linspace(values[0], values[-1], steps), seed)
                         .take(slice(face * steps, (face + 1) * steps)))
        out[name] = {"decoded": decoded, "true": true, "z": targets, "latent": f"z{k + 1}"}
    return out


def heldout_metrics(model: DCIGN, simulator: Simulator, n: int = 512, seed: int = HELDOUT_SEED) -> dict:
    """ELBO terms (nats per image, one reparameterisation sample, fixed noise) and pixel MSE of decode(μ) on
    n held-out prior scenes: {'elbo', 'reconstruction', 'kl', 'pixel_mse', 'n'}."""
    x = torch.from_numpy(simulator(simulator.prior.sample(np.random.default_rng(seed + 2), n)))[:, None]
    terms = elbo_terms(model, x, torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        mse = torch.mean((model.decode(model.encode(x)[0]) - x) ** 2).item()
    return {**terms, "pixel_mse": mse, "n": n}


def evaluate_encoder(checkpoint: Path, out: Path, faces: int = 100, command: str = "") -> dict:
    """Every measure of this module for one checkpoint, written into directory ``out``.

    Writes equivariance.png / .csv, invariance.png / .csv, decoder_sweeps.png, metrics.json and report.md.
    faces : held-out faces per sweep (≥ 2). Returns the metrics dict (also in metrics.json).
    Raises FileNotFoundError / ValueError for a missing or bad checkpoint, ValueError if faces < 2 or the network
    has fewer than 4 latents.
    """
    if faces < 2:
        raise ValueError(f"faces: expected ≥ 2 held-out faces, got {faces}")
    model, meta, _ = load_checkpoint(checkpoint)
    if model.config.latent_dim < 4:
        raise ValueError(f"checkpoint: {str(checkpoint)!r} has {model.config.latent_dim} latents; the evaluation "
                         f"reads z1-z3 as pose and light and z4… as identity, so it needs ≥ 4")
    if not meta.simulator:
        raise ValueError(f"checkpoint: {str(checkpoint)!r} records no simulator settings to render its inputs")
    simulator = simulator_from_config(meta.simulator)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codes = sweep_codes(model, simulator, faces)
    eq, inv = equivariance(codes, model, simulator), invariance(codes)
    sweeps = decoder_sweeps(model, simulator, codes)
    held = heldout_metrics(model, simulator)
    label = Path(checkpoint).name
    equivariance_plot(eq, out / "equivariance.png", title=label)
    invariance_plot({label: inv}, out / "invariance.png")
    decoder_sweep_plot(sweeps, out / "decoder_sweeps.png")
    write_csv(out / "equivariance.csv", ["variable", "latent", "r_sweep", "abs_r_sweep_low", "abs_r_sweep_high",
                                         "r_joint"],
              [(n, e["latent"], e["r"], *e["abs_r_interval"], e["r_joint"]) for n, e in eq.items()])
    with atomic_path(out / "sweep_codes.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, faces=faces, seed=HELDOUT_SEED, **{f"{n}_values": SWEEPS[n] for n in eq},
                            **{n: codes[n][:, :, LATENT[n]] for n in eq})
    write_csv(out / "invariance.csv", ["variable", "value_deg", "mean_cosine_distance", "sem"],
              [(n, float(v), float(m), float(s)) for n, c in inv.items()
               for v, m, s in zip(c["values_deg"], c["mean"], c["sem"], strict=True)])
    provenance = ("command", "resumed", "init", "steps_done", "wall_time_s", "config")
    metrics = {"checkpoint": str(checkpoint), "weights_sha256": weights_digest(model), "command": command,
               "faces": faces, "heldout": held, "train": {k: meta.train.get(k) for k in provenance},
               "equivariance": {n: {"latent": e["latent"], "r": e["r"], "abs_r_interval": list(e["abs_r_interval"]),
                                    "r_joint": e["r_joint"]} for n, e in eq.items()},
               "invariance_mean": {n: float(np.mean(c["mean"])) for n, c in inv.items()},
               "invariance": {n: {k: v.tolist() for k, v in c.items()} for n, c in inv.items()}}
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    lines = [f"# Evaluation of `{checkpoint}`", "", f"Trained by: `{meta.train.get('command', '?')}`", "",
             f"Held-out ({held['n']} prior scenes): ELBO {held['elbo']:.1f} nats/image (reconstruction "
             f"{held['reconstruction']:.1f}, KL {held['kl']:.1f}); pixel MSE of decode(μ) {held['pixel_mse']:.5f}.",
             "", f"Equivariance on {faces} held-out faces (one angle swept, the others frontal; joint: every "
             "variable from the prior; the interval: 95 % bootstrap of the sweep's |r| over the faces):", "",
             "| variable | latent | r (sweep) | \\|r\\| interval | r (joint) | mean invariance distance |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {e['latent']} | {e['r']:.3f} | {e['abs_r_interval'][0]:.3f}–{e['abs_r_interval'][1]:.3f} | "
              f"{e['r_joint']:.3f} | {metrics['invariance_mean'][n]:.4f} |" for n, e in eq.items()]
    lines += ["", "Figures: equivariance.png (Fig. 9a-c), invariance.png (Fig. 9d-f), decoder_sweeps.png "
              "(Fig. 8, 10). Codes of z1-z3 on the sweeps: sweep_codes.npz."]
    if command:
        lines += ["", f"Reproduce: `{command}`"]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return metrics
