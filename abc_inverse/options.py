"""Options defined once: each verb's settings are one frozen dataclass whose fields carry their default, help,
bounds and choices (:func:`option`). From it come the command-line flags (:func:`add_options`), the validation of
values from Python, flags and files alike (:func:`check_options`), ``--config FILE`` (:func:`read_config`) and the
resolved ``config.json`` every run writes (:func:`write_config`).

A field whose type is itself such a dataclass (the sampler settings inside the ``fit`` verb's options, say) is a
nested group: its fields become flags of the same verb, under their own names.

Precedence when a verb's options are resolved (:func:`resolve`): the dataclass defaults, then a preset, then the
``--config`` file, then the flags given on the command line.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import types
import typing
from dataclasses import MISSING, asdict, field, fields, is_dataclass
from pathlib import Path

from abc_inverse.io import write_text

RUN = "run"  # the --help section of the settings that say how to run a verb rather than what it computes


def option(default=MISSING, help: str = "", *, ge=None, gt=None, le=None, lt=None, choices=None, group: str = "",
           positional: bool = False, skip: tuple[str, ...] = (), metavar: str | None = None, unit: str = ""):
    """A dataclass field with its command-line metadata.

    default : the default value (none: the option is required). help : one line for ``--help``.
    ge, gt, le, lt : numeric bounds (≥, >, ≤, <). choices : allowed values. group : ``--help`` section.
    positional : a positional argument instead of a ``--flag``. skip : for a nested dataclass, its fields that
    get no flag. unit : shown in errors and help ('degrees', 'pixels', ...).
    """
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "group": group,
            "positional": positional, "skip": skip, "metavar": metavar, "unit": unit}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


def _base_type(tp):
    """(type without Optional, whether None is allowed)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def _bounds_text(meta: dict) -> str:
    """The bounds of ``meta`` in words: 'in [0, 1)', '≥ 1', '> 0', or ''."""
    low = ("[", meta["ge"]) if meta["ge"] is not None else ("(", meta["gt"])
    high = ("]", meta["le"]) if meta["le"] is not None else (")", meta["lt"])
    if low[1] is not None and high[1] is not None:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low[1] is not None:
        return f"{'≥' if low[0] == '[' else '>'} {low[1]:g}"
    if high[1] is not None:
        return f"{'≤' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def check_value(value, tp, meta: dict) -> str | None:
    """Why ``value`` is not a valid value of a field of type ``tp`` with metadata ``meta``, or None if it is."""
    base, optional = _base_type(tp)
    if value is None:
        return None if optional else "expected a value, got None"
    bounds = _bounds_text(meta)
    if base is int or base is float:
        what = meta["unit"] or ("an integer" if base is int else "a number")
        expected = f"expected {what} {bounds}".rstrip()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if base is int else numbers.Real):
            return f"{expected}, got {value!r}"
        if not math.isfinite(value) or not _in_bounds(value, meta):
            return f"{expected}, got {value}"
    elif base in (bool, str, Path) or is_dataclass(base):
        if not isinstance(value, base):
            return f"expected {base.__name__}, got {value!r}"
    elif typing.get_origin(base) is tuple and _element_type(base) is Path:
        if not isinstance(value, tuple) or not all(isinstance(v, Path) for v in value):
            return f"expected paths, got {value!r}"
    elif typing.get_origin(base) is tuple and (not isinstance(value, tuple) or not value or any(
            not isinstance(v, numbers.Integral) or not _in_bounds(v, meta) for v in value)):
        return f"expected integers {bounds} like 16,32,32, got {value!r}"
    if meta["choices"] is not None and value not in meta["choices"]:
        return f"expected one of {tuple(meta['choices'])}, got {value!r}"
    return None


def _element_type(tp):
    """The element type of a ``tuple[X, ...]`` type: int (comma-separated integers) or Path (a positional list)."""
    return typing.get_args(tp)[0]


def _in_bounds(v, meta: dict) -> bool:
    return not ((meta["ge"] is not None and v < meta["ge"]) or (meta["gt"] is not None and v <= meta["gt"])
                or (meta["le"] is not None and v > meta["le"]) or (meta["lt"] is not None and v >= meta["lt"]))


def check_options(instance) -> None:
    """Validate every field of an options dataclass against its metadata (call from ``__post_init__``).

    Converts tuple fields given as lists to tuples. Raises ValueError '<field>: expected …, got …'.
    """
    hints = typing.get_type_hints(type(instance))
    for f in fields(instance):
        value = getattr(instance, f.name)
        if typing.get_origin(_base_type(hints[f.name])[0]) is tuple and isinstance(value, list):
            object.__setattr__(instance, f.name, value := tuple(value))
        problem = check_value(value, hints[f.name], f.metadata or option().metadata)
        if problem:
            raise ValueError(f"{f.name}: {problem}")


def _leaves(cls, skip: tuple[str, ...] = (), path: tuple[str, ...] = (), defaults=None):
    """(path, field, type, default) of every leaf field, nested dataclasses flattened, in definition order; a
    nested leaf's default is the one its enclosing field's default instance holds (MISSING: required)."""
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name in skip:
            continue
        default = getattr(defaults, f.name) if defaults is not None else f.default
        if is_dataclass(hints[f.name]):
            yield from _leaves(hints[f.name], f.metadata.get("skip", ()), (*path, f.name), default)
        else:
            yield (*path, f.name), f, hints[f.name], default


def _parser_for(name: str, tp, meta: dict):
    base, optional = _base_type(tp)

    def parse(text: str):
        if optional and base is not Path and text.lower() == "none":
            return None
        if typing.get_origin(base) is tuple and _element_type(base) is Path:
            return Path(text)  # one item of a positional list (nargs='*'); the list is checked when built
        try:
            value = tuple(int(t) for t in text.split(",")) if typing.get_origin(base) is tuple else base(text)
        except ValueError:
            kind = {int: "an integer", float: "a number"}.get(base, "integers like 16,32,32")
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        problem = check_value(value, tp, meta)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = name
    return parse


def add_options(parser: argparse.ArgumentParser, cls, groups: tuple[str, ...] = ()) -> None:
    """Add a flag (or positional argument) for every leaf field of ``cls``, and ``--config FILE``.

    groups : ``--help`` sections in the order they are listed (fields with another group follow, in their order).
    Flags are named like their fields (``--target-acceptance``); unset flags stay absent from the namespace, so
    :func:`resolve` can tell given values from defaults. Raises ValueError if two leaves share a name.
    """
    sections = {title: parser.add_argument_group(title) for title in groups}
    seen = set()
    for path, f, tp, default in _leaves(cls):
        name, meta = path[-1], f.metadata or option().metadata
        if name in seen:
            raise ValueError(f"{cls.__name__}: two options are named {name!r}")
        seen.add(name)
        target = sections.setdefault(meta["group"], parser.add_argument_group(meta["group"])) if meta["group"] \
            else parser
        help_text = meta["help"]
        if meta["choices"] is not None:
            help_text += f"; one of {', '.join(str(c) for c in meta['choices'] if c is not None)}"
        if default is not MISSING and "default" not in help_text:
            help_text += f" (default: {_shown(default)})"
        kw = {"default": argparse.SUPPRESS, "help": help_text.strip().replace("%", "%%")}
        if _base_type(tp)[0] is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw.update(type=_parser_for(name, tp, meta), metavar=meta["metavar"] or name.upper())
        if meta["positional"]:
            many = typing.get_origin(_base_type(tp)[0]) is tuple
            target.add_argument("__".join(path), nargs="*" if many else "?" if default is not MISSING else None, **kw)
        else:
            target.add_argument("--" + name.replace("_", "-"), dest="__".join(path), **kw)
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="read the options from a JSON file written by an earlier run (config.json); "
                             "flags given here override it")


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def given(cls, namespace: argparse.Namespace) -> dict:
    """The options of ``cls`` given on the command line, as a nested dict {field: value or {field: ...}}."""
    out: dict = {}
    for path, *_ in _leaves(cls):
        value = getattr(namespace, "__".join(path), argparse.SUPPRESS)
        if str(value) != argparse.SUPPRESS:  # an absent positional holds its default parsed by its type
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    return out


def build(cls, values: dict):
    """An instance of ``cls`` from a nested dict of JSON-like values (lists for tuples, str for paths); fields not
    given take their defaults; a key of ``cls.LEGACY`` (old name -> value -> {new name: value}) is translated.
    Raises ValueError naming an unknown or missing option, or a bad value."""
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in fields(cls)}
    for old, convert in getattr(cls, "LEGACY", {}).items():  # options renamed since a config file was written
        if old in values:
            values = {**{k: v for k, v in values.items() if k != old}, **convert(values[old])}
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"options: unknown option(s) {sorted(unknown)} for {cls.__name__}")
    kwargs = {}
    for name, f in names.items():
        tp = hints[name]
        if is_dataclass(tp):
            if not isinstance(values.get(name, {}), dict):
                raise ValueError(f"{name}: expected a JSON object of settings, got {values[name]!r}")
            default = f.default if f.default is not MISSING else tp()
            kwargs[name] = build(tp, {**asdict(default), **values.get(name, {})})
        elif name in values:
            kwargs[name] = _from_json(values[name], tp)
        elif f.default is MISSING:
            raise ValueError(f"--{name.replace('_', '-')}: required")
    instance = cls(**kwargs)
    check_options(instance)  # also for dataclasses that do not check themselves in __post_init__
    return instance


def _from_json(value, tp):
    base, _ = _base_type(tp)
    if value is None:
        return None
    if base is Path:
        return Path(value) if isinstance(value, (str, Path)) else value  # anything else: check_options refuses it
    if typing.get_origin(base) is tuple and isinstance(value, list):
        element = _element_type(base)
        return tuple(Path(v) if element is Path and isinstance(v, str) else v for v in value)
    return value


def to_dict(instance) -> dict:
    """The options as a JSON-ready nested dict (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(asdict(instance), default=str))


def read_config(path: Path) -> dict:
    """The nested dict stored in a config file. Raises FileNotFoundError, or ValueError if it is not a JSON object."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config: no such file {str(path)!r}")
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"--config: {str(path)!r} is not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config: {str(path)!r} holds {type(values).__name__}, expected a JSON object")
    return values


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def resolve(cls, namespace: argparse.Namespace, preset: dict | None = None):
    """The verb's options: defaults < ``preset`` < ``--config`` file < flags given. Raises ValueError or
    FileNotFoundError naming the option at fault."""
    values = preset or {}
    if namespace.config is not None:
        values = _merge(values, read_config(namespace.config))
    return build(cls, _merge(values, given(cls, namespace)))


def write_config(instance, path: Path) -> None:
    """Write the resolved options as JSON (atomically), readable back with ``--config``."""
    write_text(path, json.dumps(to_dict(instance), indent=2) + "\n")
