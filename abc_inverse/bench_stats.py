"""Benchmark of summary statistics: fit the same held-out synthetic faces with each statistic (Kulkarni et al.
2015 §4.1, Fig. 6).

Every statistic gets the same faces, the same sampler settings and the same seeds: face k is drawn from the
scene prior with ``numpy.random.default_rng([FACE_STREAM, seed, k])`` and fitted with seed
:func:`fit_seed` ``(seed, k)``, whatever the statistic, the order or the machine the fit runs on. A fit is one
task (:func:`run_fit`); tasks run in local processes or on a Dask distributed cluster and return their numbers
to the caller, which writes one JSON (+ one ``.npz`` with the pixel-error traces) per finished fit, so an
interrupted benchmark resumes without redoing them.

Per fit (:func:`fit_metrics`): pixel MSE between the observed image and the posterior renders (mean over
draws; and the trace against iteration, tuning included, per chain — Fig. 6a), absolute error of the posterior
mean azimuth, elevation and light azimuth against the truth (degrees), acceptance rate, the smallest bulk ESS
and the largest R-hat over the three angles, and wall time (s).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np

from abc_inverse.fit import FitConfig, fit
from abc_inverse.io import atomic_path, write_csv, write_text
from abc_inverse.model.scene import ANGLES, Scene
from abc_inverse.options import check_options, option, to_dict
from abc_inverse.render.simulator import Simulator, simulator_from_config
from abc_inverse.tasks import completed
from encoders.statistics import load_statistic, simulator_for, split_label
from samplers.diagnostics import stat_with_warmup

FACE_STREAM = 20_151_204  # seeds the held-out faces, apart from every training stream
FIT_STREAM = 6_061_971
METRICS = ("pixel_mse", "abs_error_azimuth", "abs_error_elevation", "abs_error_light_azimuth", "acceptance_rate",
           "ess_bulk_min", "r_hat_max", "wall_s")


@dataclass(frozen=True)
class BenchConfig:
    """Settings shared by every fit of a benchmark (``abc-inverse bench-stats`` flags of the same names).

    faces : int ≥ 1, held-out faces. seed : int, seeds faces and fits. sampler : the sampler settings of each fit
    (:class:`abc_inverse.fit.FitConfig`; its own seed is replaced by :func:`fit_seed`). By default a small budget
    and no exploration phase, so every statistic gets exactly ``pilot + chains · (tune + draws)`` simulations, and
    no regression adjustment (its draws-per-summary rule would adjust a 64-number code and not 4096 pixels, so the
    statistics would not be compared alike).
    """

    faces: int = option(20, "held-out faces", ge=1)
    seed: int = option(0, "seeds the held-out faces and every fit")
    sampler: FitConfig = option(FitConfig(chains=4, draws=200, tune=200, pilot=100, explore_chains=0,
                                          regression_adjustment=False),
                                skip=("seed",))

    def __post_init__(self):
        check_options(self)

    def fit_config(self, face: int) -> FitConfig:
        """The sampler settings of face ``face``'s fit."""
        return replace(self.sampler, seed=fit_seed(self.seed, face))

    def sampler_settings(self) -> dict:
        """Everything that must match for a finished fit to be reused (all but ``faces``)."""
        return {**to_dict(self.sampler), "seed": self.seed}  # the benchmark's seed, which sets every fit's


def fit_seed(seed: int, face: int) -> int:
    """The sampler seed of face ``face`` (independent of the statistic)."""
    return int(np.random.SeedSequence([FIT_STREAM, seed, face]).generate_state(1)[0])


def heldout_face(simulator: Simulator, seed: int, face: int) -> tuple[Scene, np.ndarray]:
    """Held-out face ``face``: its scene (one prior draw) and render (H, W) float32 in [0, 1]."""
    scene = simulator.prior.sample(np.random.default_rng([FACE_STREAM, seed, face]), 1)
    return scene, simulator(scene)[0]


def fit_metrics(idata: az.InferenceData, truth: Scene) -> dict:
    """The per-fit numbers of the module docstring from a fit's InferenceData and the true scene."""
    post = idata.posterior
    out = {"pixel_mse": float(idata.sample_stats["pixel_mse"].mean())}
    for name in ANGLES:
        true_deg = float(np.degrees(getattr(truth, name)[0]))
        out[f"abs_error_{name}"] = abs(float(post[name].mean()) - true_deg)
        out[f"true_{name}"] = true_deg
    out["acceptance_rate"] = float(idata.sample_stats["is_accepted"].mean())
    ess = az.ess(idata, var_names=list(ANGLES))
    rhat = az.rhat(idata, var_names=list(ANGLES))
    out["ess_bulk_min"] = float(min(ess[n].values for n in ANGLES))
    out["r_hat_max"] = float(max(rhat[n].values for n in ANGLES))
    return out


def run_fit(label: str, spec: str, face: int, config: BenchConfig, simulator_config: dict) -> dict:
    """One task: fit held-out face ``face`` with statistic ``spec``. Runs anywhere (a local process, a Dask
    worker) with one thread; returns {'label', 'spec', 'face', metrics…, 'trace': (chains, iterations)}."""
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    simulator = simulator_from_config(simulator_config)
    truth, observed = heldout_face(simulator, config.seed, face)
    statistic = load_statistic(spec, simulator.settings.image_size)
    start = time.perf_counter()
    idata = fit(observed, statistic, config.fit_config(face), simulator, progress=False)
    wall = time.perf_counter() - start
    return {"label": label, "spec": spec, "face": face, **fit_metrics(idata, truth), "wall_s": wall,
            "trace": stat_with_warmup(idata, "pixel_mse")[0].astype(np.float32)}


def benchmark_simulator(specs: dict[str, str], image_size: int = 64) -> dict:
    """The simulator settings every statistic is fitted with: those a DC-IGN statistic was trained on (all
    DC-IGN statistics must agree), else the default simulator. Raises ValueError when they disagree."""
    configs = {}
    for label, spec in specs.items():
        statistic = load_statistic(spec, image_size)
        if getattr(getattr(statistic, "meta", None), "simulator", None):
            configs[label] = simulator_for(statistic).get_config()
    reference = next(iter(configs.values()), None) or Simulator().get_config()
    for label, config in configs.items():
        if config != reference:
            raise ValueError(f"statistic {label!r}: trained on renders {config}, but the benchmark renders "
                             f"{reference}; benchmark statistics made for the same simulator")
    return reference


def _folder(label: str) -> str:
    """A statistic's folder name under fits/: its label with characters other than letters, digits, '.', '-'
    and '_' replaced by '_'."""
    return re.sub(r"[^\w.-]", "_", label)


def _fit_paths(out: Path, label: str, face: int) -> tuple[Path, Path]:
    stem = out / "fits" / _folder(label) / f"face_{face:03d}"
    return stem.with_suffix(".json"), stem.with_suffix(".npz")


def _check_resume(out: Path, record: dict) -> None:
    path = out / "bench.json"
    if path.is_file():
        old = json.loads(path.read_text())  # settings added since it was written count as their defaults
        old["sampler"] = {**to_dict(FitConfig()), **old.get("sampler", {})}
        old["simulator"] = simulator_from_config(old["simulator"]).get_config() if old.get("simulator") else None
        for key in ("sampler", "simulator"):
            if old.get(key) != record[key]:
                raise ValueError(f"out: {str(out)!r} holds fits made with other {key} settings "
                                 f"({old.get(key)} ≠ {record[key]}); choose another --out")
        for label, spec in record["statistics"].items():
            if old["statistics"].get(label, spec) != spec:
                raise ValueError(f"statistics: label {label!r} was {old['statistics'][label]!r} in {str(out)!r}, "
                                 f"now {spec!r}; choose another label or --out")
        record["statistics"] = {**old["statistics"], **record["statistics"]}


def run_benchmark(statistics: list[str], config: BenchConfig, out: Path, scheduler: str | None = None,
                  workers: int = 2, progress: bool = True) -> list[dict]:
    """Fit ``config.faces`` held-out faces with every statistic; write per-fit results under ``out/fits`` and
    return the results of all the requested fits (finished earlier or now), without traces, sorted by label
    then face.

    statistics : specs 'LABEL=SPEC' or 'SPEC' (:mod:`encoders.statistics`). Raises ValueError for a bad spec,
    duplicate labels, statistics made for different renders, or an ``out`` holding other settings.
    """
    from tqdm import tqdm

    specs = dict(split_label(s) for s in statistics)
    if len(specs) != len(statistics) or len({_folder(label) for label in specs}) != len(specs):
        raise ValueError(f"statistics: labels must be unique, got {statistics}")
    simulator_config = benchmark_simulator(specs)
    record = {"sampler": config.sampler_settings(), "simulator": simulator_config, "statistics": dict(specs)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, record)
    write_text(out / "bench.json", json.dumps(record, indent=2))
    todo = [(label, spec, face, config, simulator_config) for label, spec in specs.items()
            for face in range(config.faces) if not _fit_paths(out, label, face)[0].is_file()]
    bar = tqdm(total=len(todo), desc="bench-stats fits", disable=not progress or not todo)
    for result in completed(run_fit, todo, scheduler, workers):
        json_path, npz_path = _fit_paths(out, result["label"], result["face"])
        json_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(npz_path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, pixel_mse=result.pop("trace"))
        write_text(json_path, json.dumps(result, indent=2))  # written last: marks the fit finished
        bar.update()
    bar.close()
    return [json.loads(_fit_paths(out, label, face)[0].read_text())
            for label in specs for face in range(config.faces)]


def summarize(results: list[dict]) -> list[dict]:
    """Per statistic (in first-seen order): n faces, and for each of :data:`METRICS` the mean and standard error
    (sd / √n, 0 for one face) across faces."""
    rows = []
    for label in dict.fromkeys(r["label"] for r in results):
        group = [r for r in results if r["label"] == label]
        row = {"statistic": label, "spec": group[0]["spec"], "faces": len(group)}
        for name in METRICS:
            values = np.array([r[name] for r in group], dtype=float)
            row[name] = float(values.mean())
            row[f"{name}_se"] = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def markdown_table(rows: list[dict], command: str = "") -> str:
    """The summary as a Markdown table (mean ± standard error across faces)."""
    head = ("| statistic | faces | pixel MSE | azimuth error (°) | elevation error (°) | light error (°) | "
            "acceptance | min ESS | max R-hat | wall (s) |")
    lines = [head, "|" + "---|" * 10]

    def cell(r: dict, n: str, f: str) -> str:
        return f"{r[n]:{f}} ± {r[n + '_se']:{f}}"

    for r in rows:
        lines.append(f"| {r['statistic']} | {r['faces']} | {cell(r, 'pixel_mse', '.4f')} | "
                     f"{cell(r, 'abs_error_azimuth', '.1f')} | {cell(r, 'abs_error_elevation', '.1f')} | "
                     f"{cell(r, 'abs_error_light_azimuth', '.1f')} | {r['acceptance_rate']:.3f} | "
                     f"{r['ess_bulk_min']:.0f} | {r['r_hat_max']:.2f} | {r['wall_s']:.0f} |")
    if command:
        lines += ["", f"Reproduce: `{command}`"]
    return "\n".join(lines) + "\n"


def write_reports(results: list[dict], out: Path, command: str = "") -> list[dict]:
    """Write fits.csv (one row per fit), summary.csv, summary.md, pixel_error.png (Fig. 6a) and
    statistics.png (Fig. 6b) into ``out``; return the summary rows."""
    from abc_inverse.plots import bench_bars_plot, bench_pixel_error_plot

    out = Path(out)
    rows = summarize(results)
    fit_cols = ["label", "spec", "face", *METRICS, *(f"true_{n}" for n in ANGLES)]
    write_csv(out / "fits.csv", fit_cols, [[r[c] for c in fit_cols] for r in results])
    cols = ["statistic", "spec", "faces", *(c for n in METRICS for c in (n, f"{n}_se"))]
    write_csv(out / "summary.csv", cols, [[r[c] for c in cols] for r in rows])
    write_text(out / "summary.md", markdown_table(rows, command))
    traces = {}
    for r in results:
        with np.load(_fit_paths(out, r["label"], r["face"])[1]) as data:
            traces.setdefault(r["label"], []).append(data["pixel_mse"])
    tune = json.loads((out / "bench.json").read_text())["sampler"]["tune"]
    bench_pixel_error_plot(traces, out / "pixel_error.png", tune=tune)
    bench_bars_plot(rows, out / "statistics.png")
    return rows
