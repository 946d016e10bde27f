"""A standalone ABC library: elliptical proposals, ABC kernels, ABC-MCMC chains, warm-up and diagnostics.

It imports only NumPy, SciPy, Numba and ArviZ, never the rest of abc-inverse, and works with any simulator
callable and any summary function. The pieces: :mod:`samplers.proposals` (u' = √(1 − α²) u + α ν, reversible
with respect to a N(0, I) prior; independence, mixture and differential-evolution moves), :mod:`samplers.kernels`
(K_ε(ρ)), :mod:`samplers.abc_mcmc` (``init``/``step`` vectorised over chains, or over the two halves of an ensemble,
:func:`~samplers.abc_mcmc.sample`), :mod:`samplers.warmup` (exploration, ε adaptation,
resampling), :mod:`samplers.smc` (SMC-ABC with a median ε schedule), :mod:`samplers.adjustment` (linear
regression adjustment of the draws to the observed summary, Beaumont et al. 2002) and :mod:`samplers.diagnostics`
(ArviZ InferenceData, R-hat, ESS, convergence warnings).

A toy problem: θ ~ N(0, 1), x | θ ~ N(θ, 1), summary = x, ρ = |s − s_obs|, Gaussian kernel. With x_obs = 1 and
ε = 0.3 the exact ABC posterior is N(1 / (2 + ε²), (1 + ε²) / (2 + ε²)), mean 0.478; 8 chains of 4000 draws give
an ESS of about 1200, so the Monte Carlo standard error of the mean is about 0.02:

>>> import numpy as np
>>> from samplers.abc_mcmc import build_abc_mcmc, discrepancy, sample
>>> from samplers.kernels import GaussianKernel
>>> from samplers.proposals import blockwise_elliptical
>>> from samplers.warmup import run_warmup
>>> rng = np.random.default_rng(0)
>>> simulator = lambda theta: theta + rng.standard_normal(theta.shape)   # θ (C, 1) -> x (C, 1)
>>> summary = lambda x: x                                                # x (C, 1) -> s (C, 1)
>>> l1 = lambda s_obs, s: np.abs(s - s_obs).sum(axis=1)                  # ρ (C,)
>>> simulate = discrepancy(simulator, summary, np.array([1.0]), l1)
>>> init, step = build_abc_mcmc(simulate, blockwise_elliptical({"theta": slice(0, 1)}, dim=1))
>>> (state, kernel), info = run_warmup(rng, init(rng.standard_normal((8, 1))), step, GaussianKernel(0.3), 500)
>>> trace = sample(rng, state, step, kernel, 4000)
>>> trace.position.shape                                                 # (chains, draws, dim)
(8, 4000, 1)
>>> bool(abs(trace.position.mean() - 1 / 2.09) < 0.06)           # 3 standard errors
True
"""
