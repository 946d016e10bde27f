"""ABC kernels: how the distance ρ between summary statistics weighs a simulation.

The ABC-MCMC target is π_ε(θ | x) ∝ π(θ) K_ε(ρ(ν(x), ν(g(θ)))). With a prior-reversible proposal the
acceptance probability is min(1, K_ε(ρ') / K_ε(ρ)).

References
----------
Wilkinson 2013, "Approximate Bayesian computation (ABC) gives exact results under the assumption of model
error"; Marjoram et al. 2003 (ABC-MCMC); Kulkarni et al. 2015 eq. 4-7 (indicator of ρ ≤ ε).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class _Kernel:
    """A kernel of bandwidth ``epsilon`` (float > 0, in units of the distance); subclasses give log K_ε(ρ)."""

    epsilon: float

    def __post_init__(self):
        if not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon: expected a finite number > 0, got {self.epsilon!r}")

    def with_epsilon(self, epsilon: float):
        """The same kernel at another epsilon."""
        return replace(self, epsilon=epsilon)


@dataclass(frozen=True)
class IndicatorKernel(_Kernel):
    """K_ε(ρ) = 1 if ρ ≤ ε else 0. epsilon : float > 0, in units of the distance."""

    def log_kernel(self, distance: np.ndarray) -> np.ndarray:
        """log K_ε(ρ) for ρ (N,): 0 or -inf; NaN distances give -inf."""
        d = np.asarray(distance, dtype=np.float64)
        return np.where(np.isfinite(d) & (d <= self.epsilon), 0.0, -np.inf)


@dataclass(frozen=True)
class GaussianKernel(_Kernel):
    """K_ε(ρ) = exp(-ρ² / (2 ε²)). epsilon : float > 0, in units of the distance."""

    def log_kernel(self, distance: np.ndarray) -> np.ndarray:
        """log K_ε(ρ) for ρ (N,); NaN or infinite distances give -inf."""
        d = np.asarray(distance, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(d), -0.5 * (d / self.epsilon) ** 2, -np.inf)


KERNELS = {"gaussian": GaussianKernel, "indicator": IndicatorKernel}


def make_kernel(name: str, epsilon: float):
    """Kernel by name ('gaussian' or 'indicator'). Raises ValueError for an unknown name or bad epsilon."""
    if name not in KERNELS:
        raise ValueError(f"kernel: expected one of {tuple(KERNELS)}, got {name!r}")
    return KERNELS[name](float(epsilon))
