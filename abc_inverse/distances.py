"""Distances ρ between summary statistics: L1, L2, cosine and correlation, in Numba with NumPy twins.

Each distance has a single form ``name(x, y)`` for two vectors (D,) -> float and a batched form
``name_batch(x, Y)`` for one vector (D,) against rows of Y (N, D) -> (N,) float64. Cosine distance is
1 - x·y / (|x| |y|); correlation distance is 1 - Pearson r. Where they are undefined (a zero vector, a constant
vector) they are NaN, which the sampler counts as a rejection. Their NumPy reference twins are in
``tests/reference.py``.

References
----------
Kulkarni et al. 2015 §4.1: ρ(ν(I_D), ν(I_R)), "a suitable distance metric such as L1".
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy")
def _row(x, y, kind):
    d = x.shape[0]
    if kind == 0:  # L1
        s = 0.0
        for i in range(d):
            s += abs(x[i] - y[i])
        return s
    if kind == 1:  # L2
        s = 0.0
        for i in range(d):
            s += (x[i] - y[i]) ** 2
        return np.sqrt(s)
    mx = my = 0.0
    if kind == 3:  # correlation: centre first
        for i in range(d):
            mx += x[i]
            my += y[i]
        mx /= d
        my /= d
    sxy = sxx = syy = 0.0
    for i in range(d):
        a, b = x[i] - mx, y[i] - my
        sxy += a * b
        sxx += a * a
        syy += b * b
    denom = np.sqrt(sxx) * np.sqrt(syy)
    if denom == 0.0:
        return np.nan
    return 1.0 - sxy / denom


@numba.njit(cache=True)
def _batch(x, ys, kind):
    out = np.empty(ys.shape[0])
    for n in range(ys.shape[0]):
        out[n] = _row(x, ys[n], kind)
    return out


_KINDS = {"l1": 0, "l2": 1, "cosine": 2, "correlation": 3}
NAMES = tuple(_KINDS)


def _vectors(x, ys, batched: bool):
    x = np.ascontiguousarray(x, dtype=np.float64)
    ys = np.ascontiguousarray(ys, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x: expected a vector (D,), got shape {x.shape}")
    want = 2 if batched else 1
    if ys.ndim != want or ys.shape[-1] != x.shape[0]:
        expected = f"(N, {x.shape[0]})" if batched else f"({x.shape[0]},)"
        raise ValueError(f"y: expected shape {expected}, got {ys.shape}")
    return x, ys


def distance_batch(name: str, x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Distance ``name`` ('l1', 'l2', 'cosine', 'correlation') from x (D,) to each row of ys (N, D): (N,) float64.

    Raises ValueError for an unknown name or mismatched shapes.
    """
    if name not in _KINDS:
        raise ValueError(f"distance: expected one of {NAMES}, got {name!r}")
    x, ys = _vectors(x, ys, batched=True)
    return _batch(x, ys, _KINDS[name])


def distance(name: str, x: np.ndarray, y: np.ndarray) -> float:
    """Distance ``name`` between two vectors (D,): float. Raises ValueError like :func:`distance_batch`."""
    if name not in _KINDS:
        raise ValueError(f"distance: expected one of {NAMES}, got {name!r}")
    x, y = _vectors(x, y, batched=False)
    return float(_row(x, y, _KINDS[name]))
