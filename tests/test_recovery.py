"""End-to-end recovery of known angles with the shipped encoder and proposal, as `abc-inverse fit` runs by default
(slow: about a minute; `make test-slow`)."""

import arviz as az
import numpy as np
import pytest

from abc_inverse.fit import FitConfig, fit
from encoders.dcign import DCIGNStatistic
from encoders.proposal import proposal_for
from encoders.statistics import simulator_for
from tests.conftest import make_scene


@pytest.mark.slow
def test_recovers_pose_and_light_of_a_rendered_face():
    statistic = DCIGNStatistic.from_checkpoint()
    simulator = simulator_for(statistic)
    truth = np.array([30.0, 10.0, 60.0])  # azimuth, elevation, light azimuth in degrees
    observed = simulator(make_scene(1, *np.radians(truth)))[0]
    idata = fit(observed, statistic, FitConfig(seed=0), simulator, progress=False,
                proposal=proposal_for("auto", None)[0])
    draws = [idata.posterior[n].values.ravel() for n in ("azimuth", "elevation", "light_azimuth")]
    means = np.array([d.mean() for d in draws])
    # every true angle inside its central 99 % posterior interval (a calibrated posterior misses it 1 % of the time;
    # after the regression adjustment the posterior sd is about 0.8° / 1.6° / 4.9°, docs/results/effective_draws),
    # and every mean within issue 12's 5° (0.6° / 2.1° / 2.2° off on this scene; up to 11.6° unadjusted)
    assert idata.posterior.attrs["regression_adjustment"].startswith("on: ")
    lo, hi = np.array([np.quantile(d, [0.005, 0.995]) for d in draws]).T
    assert np.all((lo <= truth) & (truth <= hi)), (lo, hi)
    assert np.all(np.abs(means - truth) < 5.0), means
    assert float(idata.sample_stats["pixel_mse"].mean()) < 0.01
    # the Hamiltonian moves on the emulator mix: bulk ESS ≥ 1850 and split R-hat ≤ 1.0064 on five such scenes
    # (docs/results/effective_draws)
    angles = ["azimuth", "elevation", "light_azimuth"]
    ess, r_hat = az.ess(idata, var_names=angles), az.rhat(idata, var_names=angles)
    assert min(float(ess[n]) for n in angles) > 1000, ess
    assert max(float(r_hat[n]) for n in angles) < 1.02, r_hat
