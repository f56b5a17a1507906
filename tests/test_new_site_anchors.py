"""The field's anchor at a new site: Q10 and Lloyd-Taylor curves fitted to chamber readings, on
synthetic readings that follow a known law."""

from __future__ import annotations

import numpy as np
import pytest

from soilco2.daily.newsite.anchors import (
    feature,
    fit_fixed,
    fit_free,
    fit_hierarchical,
    population_prior,
    site_fit,
)


def _readings(n, q10=2.5, r10=3.0, sigma=0.15, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 25, n)
    return t, r10 * q10 ** ((t - 10) / 10) * np.exp(rng.normal(0, sigma, n))


def test_a_free_fit_recovers_a_known_q10_and_its_band_covers():
    t, y = _readings(400)
    fit = fit_free("q10", t, y, sigma=0.15)
    p = fit.params()
    assert fit.how == "free" and p["q10"] == pytest.approx(2.5, rel=0.05) and p["r10"] == pytest.approx(3.0, rel=0.03)
    t_new, y_new = _readings(2000, seed=1)
    band = fit.predict(t_new)
    assert np.mean((y_new >= band["lo"]) & (y_new <= band["hi"])) == pytest.approx(0.90, abs=0.02)


def test_lloyd_taylor_is_linear_in_its_feature_and_recovers_e0():
    rng = np.random.default_rng(2)
    t = rng.uniform(-2, 28, 300)
    y = 2.0 * np.exp(250.0 * feature("lloyd_taylor", t) + rng.normal(0, 0.1, t.size))
    fit = fit_free("lloyd_taylor", t, y, sigma=0.1)
    assert fit.params()["e0_k"] == pytest.approx(250, rel=0.05) and fit.params()["r10"] == pytest.approx(2.0, rel=0.03)
    assert feature("lloyd_taylor", np.array([10.0]))[0] == pytest.approx(0.0)  # R10 is the rate at 10 °C


def test_one_reading_or_no_spread_fixes_the_slope_and_the_bounds_hold():
    one = fit_free("q10", [12.0], [4.0], sigma=0.3)
    assert one.how == "fixed" and one.params()["q10"] == pytest.approx(2.0) and one.params()["log_q10_sd"] == 0
    assert one.predict(np.array([12.0]))["rate"][0] == pytest.approx(4.0)
    flat = fit_free("q10", [10.0, 10.4, 10.8], [1, 2, 3], sigma=0.3)
    assert flat.how == "fixed"
    falling = fit_free("q10", [0, 10, 20], [4.0, 2.0, 1.0], sigma=0.3)  # flux falls with warming
    assert falling.params()["q10"] == pytest.approx(1.0)  # bounded at Q10 = 1
    with pytest.raises(ValueError):
        fit_fixed("q10", [5.0], [-1.0], sigma=0.3)


def test_the_hierarchical_fit_moves_from_the_prior_to_the_readings():
    sites = [site_fit("q10", *_readings(200, q10=q, r10=r, seed=s)) for s, (q, r) in
             enumerate([(1.8, 2.0), (2.2, 3.5), (2.6, 1.5), (3.0, 4.0), (2.0, 2.5), (2.4, 3.0)])]  # fmt: skip
    mean, cov, sigma = population_prior(sites)
    assert sigma == pytest.approx(0.15, rel=0.15)
    none = fit_hierarchical("q10", [], [], sigma, mean, cov)
    assert none.intercept == pytest.approx(mean[0]) and none.slope == pytest.approx(mean[1])
    t, y = _readings(300, q10=4.0, r10=6.0, seed=9)  # far from the prior
    many = fit_hierarchical("q10", t, y, sigma, mean, cov)
    assert many.params()["q10"] == pytest.approx(4.0, rel=0.1) and many.params()["r10"] == pytest.approx(6.0, rel=0.1)
    few = fit_hierarchical("q10", t[:3], y[:3], sigma, mean, cov)
    assert np.sqrt(few.cov[1, 1]) < np.sqrt(cov[1, 1]) and np.sqrt(many.cov[1, 1]) < np.sqrt(few.cov[1, 1])
    assert site_fit("q10", t[:10], y[:10]) is None  # too few days for a site's own curve
