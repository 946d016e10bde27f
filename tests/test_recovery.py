"""End-to-end recovery of known angles with the shipped encoder (slow: about a minute; `make test-slow`)."""

import numpy as np
import pytest

from abc_inverse.fit import FitConfig, fit
from encoders.dcign import DCIGNStatistic
from encoders.statistics import simulator_for
from tests.conftest import make_scene


@pytest.mark.slow
def test_recovers_pose_and_light_of_a_rendered_face():
    statistic = DCIGNStatistic.from_checkpoint()
    simulator = simulator_for(statistic)
    truth = np.array([30.0, 10.0, 60.0])  # azimuth, elevation, light azimuth in degrees
    observed = simulator(make_scene(1, *np.radians(truth)))[0]
    idata = fit(observed, statistic, FitConfig(seed=0), simulator, progress=False)
    means = np.array([float(idata.posterior[n].mean()) for n in ("azimuth", "elevation", "light_azimuth")])
    assert np.all(np.abs(means - truth) < 10.0), means
    assert float(idata.sample_stats["pixel_mse"].mean()) < 0.01
