"""Same/different face recognition from a summary statistic (Kulkarni et al. 2015 §4.2, Fig. 7).

Pairs of held-out faces under independent pose, light and camera (or a chosen subset of them), half of them the
same identity (shape and albedo). Following §4.2 (after Yildirim et al.): each image's representation is scaled
to mean 0 and standard deviation 1, the Pearson correlation of the two representations of a pair is computed,
and the threshold on it that classifies the most pairs correctly ("same" when the correlation is ≥ the threshold)
gives the accuracy. That threshold is chosen on the pairs it is scored on, so the accuracy is optimistic; the
cross-validated accuracy (threshold chosen on the other fold) is reported beside it.
"""

from __future__ import annotations

import numpy as np

from abc_inverse.model.scene import Scene
from abc_inverse.render.simulator import Simulator

PAIR_STREAM = 19_710_407  # seeds the pairs, apart from every training and benchmark stream


VARIABLES = {"pose": ("azimuth", "elevation"), "light": ("light_azimuth",), "camera": ("camera",)}


def face_pairs(simulator: Simulator, n_pairs: int, seed: int = 0, vary: tuple[str, ...] = tuple(VARIABLES)
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rendered pairs: images_a, images_b (n_pairs, H, W) float32 in [0, 1] and same (n_pairs,) bool.

    The two images of a pair have independent prior draws of the variables in ``vary`` (any of 'pose',
    'light', 'camera'; the rest is shared); in half of the pairs (in a random order) they share shape and
    albedo, in the rest each has its own. Raises ValueError if n_pairs < 2 or odd, or for an unknown variable.
    """
    if n_pairs < 2 or n_pairs % 2:
        raise ValueError(f"pairs: expected an even number ≥ 2, got {n_pairs}")
    unknown = set(vary) - set(VARIABLES)
    if unknown:
        raise ValueError(f"vary: expected some of {tuple(VARIABLES)}, got {sorted(unknown)}")
    rng = np.random.default_rng([PAIR_STREAM, seed])
    a, b = simulator.prior.sample(rng, n_pairs), simulator.prior.sample(rng, n_pairs)
    same = rng.permutation(np.arange(n_pairs) < n_pairs // 2)
    fields = {name: getattr(a, name) for group, names in VARIABLES.items() if group not in vary for name in names}
    b = Scene(**{**b._asdict(), **fields, "shape": np.where(same[:, None], a.shape, b.shape),
                 "albedo": np.where(same[:, None], a.albedo, b.albedo)})
    return simulator(a), simulator(b), same


def pair_correlations(features_a: np.ndarray, features_b: np.ndarray) -> np.ndarray:
    """Pearson correlation (n,) of rows of (n, S) representations, each row first scaled to mean 0 and standard
    deviation 1 (§4.2). A constant representation correlates 0 with everything."""
    def scale(f):
        f = np.asarray(f, dtype=np.float64)
        f = f - f.mean(axis=1, keepdims=True)
        sd = f.std(axis=1, keepdims=True)
        return np.divide(f, sd, out=np.zeros_like(f), where=sd > 0)

    za, zb = scale(features_a), scale(features_b)
    return (za * zb).mean(axis=1)


def best_threshold(r: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(accuracy, threshold) of the threshold t in [-1, 1] maximising the share of pairs with (r ≥ t) == same.

    r : (n,) correlations; same : (n,) bool. Candidates are -1, 1 and the midpoints between consecutive distinct
    correlations (every distinct classification of the pairs); ties go to the lowest.
    """
    values = np.unique(r)
    candidates = np.concatenate([[-1.0], (values[1:] + values[:-1]) / 2, [1.0 + 1e-12]])
    accuracy = np.array([np.mean((r >= t) == same) for t in candidates])
    best = int(np.argmax(accuracy))
    return float(accuracy[best]), float(min(candidates[best], 1.0))


def cross_validated_accuracy(r: np.ndarray, same: np.ndarray, folds: int = 2, seed: int = 0) -> float:
    """Accuracy when the threshold is chosen on the other folds' pairs (mean over ``folds`` random folds)."""
    fold = np.random.default_rng(seed).permutation(len(r)) % folds
    scores = []
    for k in range(folds):
        _, t = best_threshold(r[fold != k], same[fold != k])
        scores.append(np.mean((r[fold == k] >= t) == same[fold == k]))
    return float(np.mean(scores))


def same_different(statistic, images_a: np.ndarray, images_b: np.ndarray, same: np.ndarray, chunk: int = 32
                   ) -> dict:
    """Fig. 7 numbers of one statistic on rendered pairs: {'accuracy', 'threshold', 'cv_accuracy',
    'mean_r_same', 'mean_r_different'}. Pairs are encoded ``chunk`` at a time (an ImageNet layer can hold
    800 000 numbers per image)."""
    r = np.concatenate([pair_correlations(statistic(images_a[i:i + chunk]), statistic(images_b[i:i + chunk]))
                        for i in range(0, len(same), chunk)])
    accuracy, threshold = best_threshold(r, same)
    return {"accuracy": accuracy, "threshold": threshold, "cv_accuracy": cross_validated_accuracy(r, same),
            "mean_r_same": float(r[same].mean()), "mean_r_different": float(r[~same].mean())}
