"""Summary statistics by name: one registry for DC-IGN codes, ImageNet CNN layers and raw pixels.

Specifications (``abc-inverse bench-stats --statistics``, :func:`make_statistic`), optionally prefixed by a label
``LABEL=``:

* ``pixels`` — the image itself, flattened (S = image_size²; :class:`encoders.base.PixelStatistic`);
* ``dcign`` (the shipped network) or ``dcign:PATH`` (a checkpoint made by ``abc-inverse train``);
* ``vitae:PATH[:PART]`` — the encoder mean of a U-VITAE or C-VITAE trained on faces (``abc-inverse train --model
  c-vitae``), PART ``perspective`` (z_P), ``appearance`` (z_A) or ``both`` (the default; Detlefsen & Hauberg);
* ``squeezenet[:LAYER]``, ``efficientnet[:LAYER]`` — :class:`encoders.imagenet.ImageNetStatistic`.

Every statistic follows :class:`encoders.base.SummaryStatistic`. DC-IGN statistics also carry ``meta``, the record
of the renders they were trained on, from which :func:`simulator_for` rebuilds their simulator.
"""

from __future__ import annotations

from abc_inverse.render.simulator import RenderSettings, Simulator, simulator_from_config
from encoders.base import PixelStatistic, SummaryStatistic
from encoders.dcign import DCIGNStatistic, read_checkpoint
from encoders.imagenet import DEFAULT_LAYER, NETWORKS, ImageNetStatistic
from encoders.vitae import CHECKPOINT_FORMATS as VITAE_FORMATS

VITAE_PARTS = ("perspective", "appearance", "both")

_LOADED: dict = {}  # per process: (spec, image_size) -> statistic, see load_statistic


def split_label(spec: str) -> tuple[str, str]:
    """'LABEL=SPEC' -> (LABEL, SPEC); a bare SPEC is its own label. Raises ValueError on an empty part."""
    label, _, body = spec.partition("=") if "=" in spec else (spec, "", spec)
    label, body = label.strip(), body.strip()
    if not label or not body:
        raise ValueError(f"statistic: expected SPEC or LABEL=SPEC, got {spec!r}")
    return label, body


def make_statistic(spec: str, image_size: int = 64) -> SummaryStatistic:
    """The statistic named by ``spec`` (without label; see the module docstring) for renders of ``image_size``.

    Raises ValueError for an unknown name, network or layer, or a DC-IGN checkpoint for another image size;
    FileNotFoundError for a missing checkpoint.
    """
    name, _, arg = spec.partition(":")
    if name == "pixels" and not arg:
        return PixelStatistic(image_size)
    if name == "dcign":
        statistic = DCIGNStatistic.from_checkpoint(arg or None)
        if statistic.image_size != image_size:
            raise ValueError(f"statistic {spec!r}: trained on {statistic.image_size}-pixel renders, "
                             f"expected {image_size}")
        return statistic
    if name == "vitae" and arg:
        statistic = vitae_statistic(arg)
        if statistic.image_size != image_size:
            raise ValueError(f"statistic {spec!r}: trained on {statistic.image_size}-pixel renders, "
                             f"expected {image_size}")
        return statistic
    if name in NETWORKS:
        return ImageNetStatistic(name, arg or DEFAULT_LAYER[name], image_size)
    raise ValueError(f"statistic: expected pixels, dcign[:CHECKPOINT], vitae:CHECKPOINT[:PART], squeezenet[:LAYER] "
                     f"or efficientnet[:LAYER], got {spec!r}")


def vitae_statistic(arg: str) -> DCIGNStatistic:
    """The statistic ``vitae:ARG``, ARG = PATH[:PART] (see the module docstring). Raises ValueError for an unknown
    PART, a checkpoint that is no VITAE, or one trained on dSprites; FileNotFoundError for a missing file."""
    path, part = arg, "both"
    head, _, tail = arg.rpartition(":")
    if head and tail in VITAE_PARTS:
        path, part = head, tail
    model, meta, _ = read_checkpoint(path, VITAE_FORMATS)
    if not meta.simulator:
        raise ValueError(f"statistic: {path!r} was trained on dSprites; a statistic for scenes needs a VITAE "
                         f"trained on rendered faces (--data faces)")
    p = model.config.perspective_dim
    codes = {"perspective": slice(0, p), "appearance": slice(p, None), "both": slice(None)}[part]
    return DCIGNStatistic(model, meta, name=f"vitae:{part}", codes=codes)


def load_statistic(spec: str, image_size: int = 64) -> SummaryStatistic:
    """:func:`make_statistic`, loaded once per process (networks are costly to load; workers reuse them)."""
    key = (spec, image_size)
    if key not in _LOADED:
        _LOADED[key] = make_statistic(spec, image_size)
    return _LOADED[key]


def simulator_for(statistic) -> Simulator:
    """The simulator whose renders the statistic was trained on (from a DC-IGN checkpoint's record); for a
    statistic without one (pixels, ImageNet layers), the default simulator at the statistic's image size."""
    record = getattr(getattr(statistic, "meta", None), "simulator", None)
    if record:
        return simulator_from_config(record)
    return Simulator(settings=RenderSettings(image_size=statistic.image_size))
