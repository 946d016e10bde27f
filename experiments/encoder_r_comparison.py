"""Is one network's r really above another's? The sweep |r| of z1, z2, z3 (Kulkarni et al. 2015 §4.3, Fig. 9a-c)
of networks evaluated on the same held-out faces, each with its 95 % bootstrap interval over the faces, and its
paired difference from one network's (the faces resampled together), by :func:`encoders.evaluate.r_interval`.

Reads ``sweep_codes.npz`` of each folder that ``abc-inverse evaluate-encoder CKPT --out FOLDER --faces F`` wrote;
all must have the same faces (same F and held-out seed), else the pairing is meaningless and the script stops with
an error naming the folder. Issue 13 asks that a retrained network's figures not drop below the shipped network's
(0.941 / 0.972 / 0.963 on 100 faces): a difference whose interval straddles 0 is not shown by these faces, and the
interval does not include the scatter between training runs (seeds), which only more runs measure.

Usage: python experiments/encoder_r_comparison.py docs/results/encoders/specific_slow_camera300
docs/results/encoders/distilled_angle_pose_decay ... [--against FOLDER] [--out FILE.csv]
(``--against`` defaults to the first folder.)
"""

import argparse
from pathlib import Path

import numpy as np

from abc_inverse.io import report_table
from encoders.evaluate import SWEEPS, r_interval, sweep_abs_r


def sweep_codes(folder: Path) -> dict[str, np.ndarray]:
    """The arrays of ``folder/sweep_codes.npz``. Raises FileNotFoundError naming the folder when it has none."""
    path = folder / "sweep_codes.npz"
    if not path.is_file():
        raise FileNotFoundError(f"folder: expected an evaluate-encoder output with sweep_codes.npz, got "
                                f"{str(folder)!r} (evaluate it again to write one)")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def rows(folders: list[Path], against: Path) -> list[list]:
    """One row per folder: name, faces, then per swept variable |r|, its interval, and the paired difference from
    ``against``'s with its interval (3 decimals). Raises ValueError when a folder's faces differ from ``against``'s."""
    base = sweep_codes(against)
    out = []
    for folder in folders:
        codes = sweep_codes(folder)
        if (int(codes["faces"]), int(codes["seed"])) != (int(base["faces"]), int(base["seed"])):
            raise ValueError(f"folders: {folder.name!r} was evaluated on {int(codes['faces'])} faces (seed "
                             f"{int(codes['seed'])}), {against.name!r} on {int(base['faces'])} (seed "
                             f"{int(base['seed'])}); evaluate both with the same --faces")
        row = [folder.name, int(codes["faces"])]
        for name in SWEEPS:
            values, z, z_ref = codes[f"{name}_values"], codes[name], base[name]
            r, r_ref = sweep_abs_r(values, z), sweep_abs_r(values, z_ref)
            lo, hi = r_interval(values, z)
            dlo, dhi = r_interval(values, z, z_ref)
            row += [f"{r:.3f}", f"[{lo:.3f}, {hi:.3f}]", f"{r - r_ref:+.3f}", f"[{dlo:+.3f}, {dhi:+.3f}]"]
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="evaluate-encoder output folders (sweep_codes.npz)")
    parser.add_argument("--against", type=Path, default=None, help="the folder the differences are from "
                        "(default: the first)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    against = args.against or args.folders[0]
    header = ["network", "faces"]
    for name in SWEEPS:
        header += [f"abs_r_{name}", f"{name}_interval_95", f"{name}_minus_{against.name}",
                   f"{name}_difference_interval_95"]
    report_table(header, rows(args.folders, against), args.out)


if __name__ == "__main__":
    main()
