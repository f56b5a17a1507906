"""Q10-family fits recover the parameters of synthetic data with a known generating law."""

import numpy as np
import pytest

from soilco2.models.q10 import Q10, LloydTaylor, Q10Logistic, Q10Moisture

rng = np.random.default_rng(0)
T = rng.uniform(-5, 35, 2000)
SWC = rng.uniform(0.03, 0.4, 2000)


def noisy(y, sd=0.02):
    return y * (1 + sd * rng.standard_normal(y.size))


def test_q10_recovers_parameters():
    y = noisy(2.0 * 2.3 ** ((T - 10) / 10))
    fit = Q10().fit(T, y)
    assert fit.params_["r10"] == pytest.approx(2.0, rel=0.02)
    assert fit.params_["q10"] == pytest.approx(2.3, rel=0.02)
    assert fit.converged_


def test_q10_moisture_power_recovers_parameters():
    X = np.c_[T, SWC]
    y = noisy(3.0 * 1.8 ** ((T - 10) / 10) * SWC**0.5)
    fit = Q10Moisture().fit(X, y)
    assert fit.params_["q10"] == pytest.approx(1.8, rel=0.03)
    assert fit.params_["c"] == pytest.approx(0.5, abs=0.03)


def test_q10_logistic_recovers_parameters():
    X = np.c_[T, SWC]
    y = noisy(4.0 * 2.0 ** ((T - 10) / 10) / (1 + np.exp(3.0 - 25.0 * SWC)))
    fit = Q10Logistic().fit(X, y)
    assert fit.params_["r10"] == pytest.approx(4.0, rel=0.05)
    assert fit.params_["q10"] == pytest.approx(2.0, rel=0.03)
    assert fit.params_["b"] == pytest.approx(25.0, rel=0.1)


def test_lloyd_taylor_recovers_parameters():
    y = noisy(1.5 * np.exp(308.56 * (1 / (283.15 - 227.13) - 1 / (T + 273.15 - 227.13))))
    fit = LloydTaylor().fit(T, y)
    assert fit.params_["e0"] == pytest.approx(308.56, rel=0.03)
    assert fit.params_["r10"] == pytest.approx(1.5, rel=0.02)


def test_nan_rows_are_ignored_and_too_few_rows_raise():
    y = 2.0 * 2.0 ** ((T - 10) / 10)
    y[:100] = np.nan
    assert Q10().fit(T, y).n_samples_ == T.size - 100
    with pytest.raises(ValueError):
        Q10().fit([1.0, 2.0], [1.0, 2.0])
