"""Figures of a fit (abc_inverse.plots) on posteriors that ArviZ's defaults cannot draw."""

import arviz as az
import numpy as np
from PIL import Image

from abc_inverse.model.scene import ANGLES
from abc_inverse.plots import trace_plot


def test_trace_plot_draws_chains_that_never_moved(tmp_path):
    # every chain stuck at the prior's edge, as chains started from the prior ended on a photo: a kernel density
    # estimate of a constant has zero bandwidth (ArviZ raised OverflowError), so the marginal is a histogram
    rng = np.random.default_rng(0)
    posterior = {name: rng.normal(size=(4, 50)) for name in ANGLES}
    posterior["azimuth"] = np.full((4, 50), 85.9)
    posterior["light_azimuth"][3] = 90.0
    posterior["light_azimuth"][3, 0] += 7e-13  # rounding's spread, not a zero: the case that raised
    path = tmp_path / "trace.png"
    trace_plot(az.from_dict(posterior=posterior), path)
    with Image.open(path) as image:
        assert image.size[0] > 500 and image.size[1] > 400
