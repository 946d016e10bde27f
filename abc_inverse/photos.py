"""``abc-inverse fit`` on photos: one photo fitted into its own folder (:func:`fit_photo`), or many at once
(:func:`fit_photos`): one folder per photo and a ``summary.csv`` with one row per photo, resumable, the fits run in
local processes or on a Dask cluster (:func:`abc_inverse.tasks.completed`).

Per photo: read it (:func:`abc_inverse.io.read_image`), frame the face (:func:`abc_inverse.io.prepare_observation`:
with ``--crop auto`` a photo with no detectable face is an error), sample the posterior
(:func:`abc_inverse.fit.fit`) and write posterior.nc (NetCDF), summary.csv (ArviZ summary), trace.png,
pixel_error.png, fit.png, observed.png and config.json. In a batch a photo that fails (unreadable, no face, wrong
size) gets its error in its row of the summary, and the others still finish; a photo whose folder holds a
finished fit (``result.json``, written last) is not fitted again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from abc_inverse.face_landmarks import detect_landmarks, head_roll, landmark_frame, level, to_frame
from abc_inverse.fit import FitConfig, check_proposal, chosen_background, fit
from abc_inverse.io import (
    crop_resize,
    parse_crop,
    prepare_observation,
    read_image,
    save_netcdf,
    save_png,
    sha256_of,
    to_grey,
    write_csv,
    write_table,
    write_text,
)
from abc_inverse.model.landmarks import dlib_landmark_vertices
from abc_inverse.model.scene import ANGLES, LIGHTING_VARIABLES
from abc_inverse.options import RUN, check_options, option, to_dict, write_config
from abc_inverse.plots import write_plots
from abc_inverse.tasks import completed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")  # read from folders
DEFAULT_PHOTO = "skimage.data.astronaut() (public domain, NASA)"
VARIABLES = [*ANGLES, "camera", "shape", "albedo", *(name for name, _, _ in LIGHTING_VARIABLES)]  # in summaries
RESULT = "result.json"  # written last into a photo's folder: marks its fit finished


@dataclass(frozen=True)
class FitCommand:
    """``abc-inverse fit``: frame a photo, sample the posterior of its scene, write posterior.nc, summary.csv,
    figures and config.json into ``out``; several photos or a folder: one folder per photo in ``out`` and a
    summary.csv with one row per photo (finished photos are skipped when run again)."""

    images: tuple[Path, ...] = option((), "PNG/JPEG files or folders of them, colour or grey, any size (default: "
                                      "scikit-image's astronaut photo); give the options before or after all of "
                                      "them", positional=True, group=RUN)
    out: Path = option(Path("abc-inverse-fit"), "output directory", group=RUN)
    crop: str = option("auto", "'auto' (the largest detected face; an error when there is none), 'none' (image "
                       "already framed like the renders; central square), or x,y,w,h in pixels", group=RUN)
    checkpoint: Path | None = option(None, "DC-IGN checkpoint (default: the shipped network)", group=RUN)
    proposal: str = option("auto", "data-driven proposal q(θ | summary): 'auto' (the one shipped with the default "
                           "network; none with --checkpoint), 'none', or a file made by abc-inverse train-proposal "
                           "for this checkpoint", group=RUN)
    scheduler: str | None = option(None, "several photos: the Dask scheduler address (tcp://host:port) to fit them "
                                   "on; default: local processes", metavar="ADDRESS", group=RUN)
    workers: int = option(1, "several photos: local processes when no --scheduler is given (1 = in this process "
                          "with 2 torch threads; more = one thread each)", ge=1, group=RUN)
    progress: bool = option(True, "progress bar", group=RUN)
    sampler: FitConfig = option(FitConfig())

    LEGACY: ClassVar[dict] = {"image": lambda path: {"images": [] if path is None else [path]}}  # before 2026-11-25

    def __post_init__(self):
        check_options(self)
        parse_crop(self.crop)  # raises ValueError naming --crop


def photo_list(images: tuple[Path, ...]) -> list[Path]:
    """The photos of ``images``: files as given, and the image files (:data:`IMAGE_SUFFIXES`) directly inside a
    folder, sorted by name; a file named twice is fitted once. Raises FileNotFoundError for a path that does not
    exist, ValueError for a folder without images."""
    photos = []
    for path in images:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ValueError(f"images: the folder {str(path)!r} holds no {'/'.join(IMAGE_SUFFIXES)} files")
            photos += inside
        elif path.is_file():
            photos.append(path)
        else:
            raise FileNotFoundError(f"image: no such file or folder {str(path)!r}")
    first: dict[Path, Path] = {}
    for photo in photos:
        first.setdefault(photo.resolve(), photo)
    return list(first.values())


def is_batch(images: tuple[Path, ...]) -> bool:
    """Whether ``images`` asks for a batch (several paths, or a folder) rather than one fit into ``out``."""
    return len(images) > 1 or any(path.is_dir() for path in images)


def folder_names(photos: list[Path]) -> list[str]:
    """Each photo's output folder: its file name without the suffix, or, where two photos share that name, the
    name followed by '-' and 8 hex digits of the hash of its resolved path (stable across runs)."""
    stems = [p.stem for p in photos]
    return [s if stems.count(s) == 1 else f"{s}-{hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:8]}"
            for s, p in zip(stems, photos, strict=True)]


def load_photo(image: Path | None) -> tuple[np.ndarray, str]:
    """(pixels (H, W) or (H, W, 3) float32 in [0, 1], where they came from) of ``image``, or of scikit-image's
    astronaut photo when None. Raises FileNotFoundError or ValueError as :func:`abc_inverse.io.read_image`."""
    if image is None:
        from skimage import data

        return data.astronaut().astype(np.float32) / 255.0, DEFAULT_PHOTO
    return read_image(image), str(image)


def fit_photo(image: Path | None, opts: FitCommand, command: str, threads: int = 2, announce: bool = False) -> dict:
    """Fit one photo into ``opts.out`` (see the module docstring) with ``threads`` torch threads; with ``announce``,
    print which proposal it uses and any warning about the framing before sampling.

    Returns its result: photo, folder, status 'ok', the framing, ``warnings`` (a list: no face detected with
    --crop other than auto; the misfit warning), ``misfit_warning`` (the sentence of
    :func:`abc_inverse.fit.with_model_error` when ε was raised, else :func:`abc_inverse.fit.misfit_warning`'s; "" if
    none), ``convergence_warnings`` (:func:`samplers.diagnostics.convergence_warnings`), best
    pixel MSE, acceptance rate, ε, wall time (s), the proposal's, surrogate's and regression adjustment's
    sentences, and the ArviZ summary
    as ``{variable: {statistic: value}}``. Raises ValueError or FileNotFoundError for a bad photo, checkpoint or
    proposal, before anything is written (:func:`fit_setup`)."""
    import numba
    import torch

    from encoders.proposal import proposal_for
    from samplers.diagnostics import summary

    start = time.perf_counter()
    photo, source = load_photo(image)
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    statistic, simulator, proposal, proposal_says = fit_setup(opts)
    observed, framing, landmarks = observe(photo, parse_crop(opts.crop), statistic.image_size,
                                           opts.sampler.landmark_sd, reference_landmarks(simulator))
    if chosen_background(opts.sampler.background, landmarks) == "image" and opts.proposal == "auto":
        proposal, proposal_says = proposal_for(opts.proposal, opts.checkpoint, "image")  # q learnt plain renders
    cautions = [] if framing["face_box"] is not None else [
        f"no face detected in the image: with --crop {opts.crop} the scene is fitted to it as framed, and the "
        "posterior may describe a face the image does not show"]
    if landmarks is None and framing["face_box"] is not None and opts.sampler.landmark_sd > 0:
        cautions.append("dlib's detector found no face where the face was framed, so there are no landmarks: the "
                        "scene is fitted to the network's summary alone")
    if announce:
        print(proposal_says)
        for caution in cautions:
            print(f"warning: {caution}", file=sys.stderr)
    opts.out.mkdir(parents=True, exist_ok=True)
    write_config(replace(opts, images=() if image is None else (image,)), opts.out / "config.json")
    save_png(opts.out / "observed.png", observed)
    idata = fit(observed, statistic, opts.sampler, simulator, progress=opts.progress,
                attrs={"image": source, "framing": framing, "command": command, "warnings": cautions},
                proposal=proposal, landmarks=landmarks)
    save_netcdf(idata, opts.out / "posterior.nc")
    write_plots(idata, simulator, opts.out)
    table = summary(idata, [name for name in VARIABLES if name in idata.posterior])
    write_table(table, opts.out / "summary.csv")
    post = idata.posterior
    return {"photo": source, "photo_sha256": None if image is None else sha256_of(image), "folder": opts.out.name,
            "status": "ok", "framing": framing,
            "warnings": cautions + [w for w in [post.attrs["misfit_warning"]] if w],
            "misfit_warning": post.attrs["misfit_warning"],
            "convergence_warnings": json.loads(post.attrs["convergence_warnings"]),
            "best_pixel_mse": float(idata.sample_stats["pixel_mse"].min()),
            "acceptance_rate": float(idata.sample_stats["is_accepted"].mean()),
            "epsilon": float(post.attrs["final_epsilon"]), "wall_s": time.perf_counter() - start,
            "proposal": proposal_says, "surrogate": post.attrs["surrogate"],
            "regression_adjustment": post.attrs["regression_adjustment"],
            "summary": {name: {k: float(v) for k, v in row.items()} for name, row in table.iterrows()}}


def observe(photo: np.ndarray, crop, size: int, sd: float,
            reference: np.ndarray) -> tuple[np.ndarray, dict, np.ndarray | None]:
    """(the observation (size, size) float32 grey, its framing record, dlib's 68 landmarks (68, 2) float64 in its
    pixels or None) of a photo: :func:`abc_inverse.io.prepare_observation`, then, when ``sd`` (``--landmark-sd``)
    is positive and a face box was detected, the landmarks of that face
    (:func:`abc_inverse.face_landmarks.detect_landmarks`). With landmarks and ``crop`` 'auto' the photo is aligned
    as face analysis aligns a face: turned about the frame's centre by the head's roll
    (:func:`~abc_inverse.face_landmarks.head_roll`, :func:`~abc_inverse.face_landmarks.level`; the scene has no roll,
    and on 25 photos the reference's roll reached 28°), then framed so that its points lie where ``reference`` (the
    used landmarks' (K, 2) pixels in a render of the default scene, :func:`reference_landmarks`) puts the renders' do
    (:func:`~abc_inverse.face_landmarks.landmark_frame`); the record gains ``roll_deg``, ``frame`` becomes the frame
    used and ``box_frame`` keeps the Haar box's. A frame the user gave (``crop`` a box or None) is kept as it is.
    photo : (H, W) or (H, W, 3) float in [0, 1]; crop : as :func:`~abc_inverse.io.prepare_observation`'s. Raises
    ValueError as it."""
    observed, framing = prepare_observation(photo, crop, size)
    points = None if sd == 0 or framing["face_box"] is None else detect_landmarks(photo, tuple(framing["face_box"]))
    if points is None or crop != "auto":
        return observed, framing, None if points is None else to_frame(points, tuple(framing["frame"]), size)
    x, y, side, _ = framing["frame"]
    roll = head_roll(points)
    grey, points = level(to_grey(photo), points, -roll, (x + side / 2, y + side / 2))
    frame = landmark_frame(points[dlib_landmark_vertices()[0]], reference, size)
    record = {**framing, "roll_deg": round(roll, 2), "box_frame": framing["frame"], "frame": list(frame)}
    return crop_resize(grey, frame, size), record, to_frame(points, frame, size)


def reference_landmarks(simulator) -> np.ndarray:
    """Where the landmarks the fit uses (:func:`abc_inverse.model.landmarks.dlib_landmark_vertices`) lie in a render
    of the mean face seen from the front, the camera centred: (K, 2) float64 pixels, the target of
    :func:`abc_inverse.face_landmarks.landmark_frame`."""
    return simulator.project(simulator.prior.at_angles(0.0, 0.0, 0.0, None), dlib_landmark_vertices()[1])[0]


def fit_setup(opts: FitCommand) -> tuple:
    """(statistic, simulator, proposal or None, the sentence saying which proposal) of a fit's options, the
    proposal checked against the network. Raises ValueError or FileNotFoundError for a bad checkpoint or a
    proposal made for another network or renderer."""
    from encoders.dcign import DCIGNStatistic
    from encoders.proposal import proposal_for
    from encoders.statistics import simulator_for

    statistic = DCIGNStatistic.from_checkpoint(opts.checkpoint)
    simulator = simulator_for(statistic)
    proposal, says = proposal_for(opts.proposal, opts.checkpoint, opts.sampler.background)
    check_proposal(proposal, statistic, simulator)
    return statistic, simulator, proposal, says


def fit_one_of_many(image: Path, opts: FitCommand, command: str, threads: int) -> dict:
    """A batch's task: :func:`fit_photo` into ``opts.out`` (the photo's folder), its result written to
    ``result.json`` last; a bad photo (ValueError, FileNotFoundError, OSError) gives a result with status 'error'
    and the message instead, and no ``result.json``, so that it is tried again on the next run."""
    try:
        result = fit_photo(image, replace(opts, progress=False), command, threads)
    except (ValueError, FileNotFoundError, OSError) as exc:
        return {"photo": str(image), "folder": opts.out.name, "status": "error", "error": str(exc)}
    write_text(opts.out / RESULT, json.dumps(result, indent=2))
    return result


def _batch_settings(opts: FitCommand) -> dict:
    """What must match for finished fits in ``out`` to be reused: the framing, network, proposal and sampler."""
    return {k: v for k, v in to_dict(opts).items() if k in ("crop", "checkpoint", "proposal", "sampler")}


def _same_settings(stored: dict, opts: FitCommand) -> bool:
    """Whether a batch.json's settings are ``opts``'s (sampler settings added since it was written count as their
    defaults)."""
    sampler = {**to_dict(FitConfig()), **stored.get("sampler", {})}
    return {**stored, "sampler": sampler} == _batch_settings(opts)


def _finished(photo: Path, folder: Path) -> dict | None:
    """The finished fit of ``photo`` in ``folder`` (its result.json), or None when there is none or it was made
    from another file (another path or other bytes under the same name)."""
    path = folder / RESULT
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    same = result.get("photo") == str(photo) and result.get("photo_sha256") == sha256_of(photo)
    return {**result, "reused": True} if same else None


def fit_photos(opts: FitCommand, command: str) -> list[dict]:
    """Fit every photo of ``opts.images`` (:func:`photo_list`) into its own folder of ``opts.out``
    (:func:`folder_names`) and write ``opts.out/summary.csv`` (:func:`summary_rows`) after each. Photos whose
    folder holds a finished fit of the same file (path and sha256) and settings are skipped. Returns the results
    in photo order. Raises ValueError when ``opts.out`` holds fits made with other settings, or as
    :func:`photo_list` and :func:`fit_setup`."""
    from tqdm import tqdm

    photos = photo_list(opts.images)
    folders = [opts.out / name for name in folder_names(photos)]
    record = opts.out / "batch.json"
    if record.is_file() and not _same_settings(json.loads(record.read_text()), opts):
        raise ValueError(f"out: {str(opts.out)!r} holds fits made with other settings ({record}); choose another "
                         "--out")
    fit_setup(opts)  # a bad network or proposal stops the batch before anything is written
    opts.out.mkdir(parents=True, exist_ok=True)
    write_text(record, json.dumps(_batch_settings(opts), indent=2))
    results: dict[Path, dict] = {}
    for photo, folder in zip(photos, folders, strict=True):
        if (done := _finished(photo, folder)) is not None:
            results[photo] = done
    todo = [p for p in photos if p not in results]
    threads = 2 if opts.workers == 1 and not opts.scheduler else 1
    tasks = [(p, replace(opts, out=f), command, threads) for p, f in zip(photos, folders, strict=True)
             if p in todo]
    bar = tqdm(total=len(photos), initial=len(results), desc="fit photos", disable=not opts.progress)
    write_summary(opts.out / "summary.csv", [results[p] for p in photos if p in results])
    for result in completed(fit_one_of_many, tasks, opts.scheduler, opts.workers):
        results[Path(result["photo"])] = result
        write_summary(opts.out / "summary.csv", [results[p] for p in photos if p in results])
        bar.update()
    bar.close()
    return [results[p] for p in photos]


STATISTICS = ("mean", "sd", "hdi_3%", "hdi_97%", "r_hat", "ess_bulk", "ess_tail")  # per variable in summary.csv
HEAD = ["photo", "folder", "status", "error", "warnings", "best_pixel_mse", "acceptance_rate", "epsilon", "wall_s"]


def summary_rows(results: list[dict]) -> tuple[list[str], list[list]]:
    """(header, rows) of a batch's summary.csv: one row per photo with :data:`HEAD`, then for every scalar
    variable (angles in degrees, camera, shape, albedo) its posterior mean, sd, 94 % HDI, split R-hat and bulk and
    tail ESS as ``{variable}_{statistic}`` columns; a failed photo's row has its error and empty numbers."""
    variables = next((list(r["summary"]) for r in results if r["status"] == "ok"), [])
    header = HEAD + [f"{v}_{s}" for v in variables for s in STATISTICS]
    rows = []
    for r in results:
        row = [r["photo"], r["folder"], r["status"], r.get("error", ""),
               "; ".join(r.get("warnings", []) + r.get("convergence_warnings", [])),
               *(r.get(k, "") for k in HEAD[5:])]
        numbers = r.get("summary", {})
        rows.append(row + [numbers[v][s] if v in numbers else "" for v in variables for s in STATISTICS])
    return header, rows


def write_summary(path: Path, results: list[dict]) -> None:
    """Write :func:`summary_rows` of ``results`` as CSV, atomically."""
    write_csv(path, *summary_rows(results))
