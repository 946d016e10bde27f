"""Figures of a fit (abc_inverse.plots): posteriors that ArviZ's defaults cannot draw, and Fig. 6a's search."""

import json

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


def test_the_search_before_the_chains_is_drawn_at_negative_iterations(tmp_path):
    # Fig. 6a from the pilot on: the pilot's median with its 5–95 % range PILOT_GAP left of the ensemble's steps,
    # which end at iteration -1; the chains start at 0
    import matplotlib.pyplot as plt

    from abc_inverse.plots import PILOT_GAP, draw_search, pixel_error_plot

    search = {"pilot_from": "prior", "pilot_quantiles": [0.02, 0.03, 0.04, 0.06, 0.09], "ensemble": [0.01] * 30}
    fig, ax = plt.subplots()
    draw_search(ax, search)
    (line,) = [line for line in ax.get_lines() if len(line.get_xdata()) == 30]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(-30, 0))
    (point,) = [line for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert point.get_xdata()[0] == -30 - PILOT_GAP and point.get_ydata()[0] == 0.04
    (bar,) = ax.collections  # the 5–95 % range
    np.testing.assert_allclose(bar.get_segments()[0][:, 1], [0.02, 0.09])
    plt.close(fig)
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={name: rng.normal(size=(2, 20)) for name in ANGLES},
                         sample_stats={"pixel_mse": rng.uniform(0.01, 0.02, size=(2, 20))},
                         attrs={"search_pixel_mse": json.dumps(search)})
    pixel_error_plot(idata, tmp_path / "pixel_error.png")
    with Image.open(tmp_path / "pixel_error.png") as image:
        assert image.size[0] > 400
