"""Gap-filling numerics (soilco2.daily.gapfill.kriging): known answers for the residual covariance fit and the
kriging, and the contract of a filled series."""

from __future__ import annotations

import numpy as np
import pytest

from soilco2.daily.gapfill.kriging import (
    FILLED,
    NO_VALUE,
    OBSERVED,
    ResidualCovariance,
    fill_series,
    fit_residual_covariance,
    krige_residuals,
    linear_interpolation,
)


def ar1_plus_noise(n: int, phi: float, sill: float, nugget: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.normal(0, np.sqrt(sill))
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal(0, np.sqrt(sill * (1 - phi**2)))
    return x + rng.normal(0, np.sqrt(nugget), n)


def test_covariance_fit_recovers_a_known_law():
    e = ar1_plus_noise(40_000, phi=0.8, sill=1.0, nugget=0.25)
    e[np.random.default_rng(1).random(e.size) < 0.3] = np.nan  # 30 % of days unobserved
    cov = fit_residual_covariance(e)
    assert cov.phi == pytest.approx(0.8, abs=0.02)
    assert cov.sill == pytest.approx(1.0, rel=0.06) and cov.nugget == pytest.approx(0.25, abs=0.05)
    assert cov.efolding_days == pytest.approx(-1 / np.log(cov.phi))


def test_covariance_needs_enough_consecutive_days():
    e = np.full(400, np.nan)
    e[::2] = np.random.default_rng(0).normal(size=200)  # every other day: no lag-1 pair
    assert fit_residual_covariance(e) is None
    assert fit_residual_covariance(np.full(50, np.nan)) is None


def test_kriging_between_two_days_is_the_ar1_bridge():
    """One neighbour on each side, no nugget: the AR(1) interpolation formula, by hand."""
    phi, sill, eL, eR = 0.7, 2.0, 1.5, -0.5
    cov = ResidualCovariance(sill=sill, nugget=0.0, phi=phi, n_pairs=100)
    left, right = 10, 15
    targets = np.array([11, 12, 13, 14])
    est, se = krige_residuals(np.array([left, right]), np.array([eL, eR]), targets, cov, neighbours=1)
    a, b = targets - left, right - targets
    denom = 1 - phi ** (2 * (a + b))
    expected = ((phi**a - phi ** (2 * b + a)) * eL + (phi**b - phi ** (2 * a + b)) * eR) / denom
    assert est == pytest.approx(expected, rel=1e-6)
    # conditional variance of the bridge: sill (1 - phi^2a)(1 - phi^2b) / (1 - phi^2(a+b))
    assert se**2 == pytest.approx(sill * (1 - phi ** (2 * a)) * (1 - phi ** (2 * b)) / denom, rel=1e-6)


def test_kriging_past_the_last_day_decays():
    cov = ResidualCovariance(sill=1.0, nugget=0.0, phi=0.9, n_pairs=100)
    est, se = krige_residuals(np.array([0, 5]), np.array([0.3, 2.0]), np.array([6, 10, 400]), cov)
    assert est == pytest.approx(2.0 * 0.9 ** np.array([1, 5, 395]), rel=1e-6)
    assert se[-1] == pytest.approx(1.0)  # far away: the residual's full spread


def test_nugget_shrinks_towards_the_model():
    days, resid = np.array([0, 2]), np.array([1.0, 1.0])
    clean = krige_residuals(days, resid, np.array([1]), ResidualCovariance(1.0, 0.0, 0.9, 100))[0]
    noisy = krige_residuals(days, resid, np.array([1]), ResidualCovariance(1.0, 1.0, 0.9, 100))[0]
    assert 0 < noisy[0] < clean[0] <= 1.0


def test_fill_series_contract():
    model = np.array([np.nan, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan])  # outside the span: no model
    obs = np.array([np.nan, 1.5, np.nan, np.nan, 1.5, np.nan, np.nan, np.nan])
    cov = ResidualCovariance(sill=0.5, nugget=0.0, phi=0.8, n_pairs=100)
    filled, corr, se, source = fill_series(obs, model, cov)
    assert list(source) == [NO_VALUE, OBSERVED, FILLED, FILLED, OBSERVED, FILLED, FILLED, NO_VALUE]
    assert filled[1] == filled[4] == 1.5 and np.isnan(filled[[0, 7]]).all()
    assert np.isnan(se[source != FILLED]).all() and (se[source == FILLED] > 0).all()
    assert (corr[[2, 3]] > 0).all() and corr[5] > corr[6] > 0  # decays after the last observation
    model_only, _, se0, _ = fill_series(obs, model, None)
    assert np.array_equal(model_only[[2, 3, 5, 6]], model[[2, 3, 5, 6]]) and np.isnan(se0).all()


def test_linear_interpolation():
    out = linear_interpolation(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    assert list(out) == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert np.isnan(linear_interpolation(np.full(3, np.nan))).all()
