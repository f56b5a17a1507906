"""Property-based checks (hypothesis) of the metrics and the feature transforms: invariants that
hold for every series, not only the hand-picked ones."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from soilco2.daily.dataset.transforms import fit_var_scale
from soilco2.metrics import bias, kge_2009, kge_2012, nse, pearson_r, rmse

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
series = arrays(np.float64, st.integers(3, 60), elements=finite)


def _varied(x: np.ndarray) -> bool:
    return np.ptp(x) > 1e-3 * max(1.0, np.abs(x).max())


@settings(max_examples=200, deadline=None)
@given(series)
def test_perfect_prediction_scores_one(o):
    assume(_varied(o))
    assert np.isclose(nse(o, o), 1.0) and np.isclose(kge_2009(o, o), 1.0) and np.isclose(kge_2012(o, o), 1.0)
    assert rmse(o, o) == 0.0 and bias(o, o) == 0.0


@settings(max_examples=200, deadline=None)
@given(series, series)
def test_nse_and_kge_never_exceed_one(o, s):
    n = min(o.size, s.size)
    o, s = o[:n], s[:n]
    assume(_varied(o) and _varied(s))
    assert nse(o, s) <= 1.0 + 1e-9
    assert kge_2009(o, s) <= 1.0 + 1e-9
    assert -1.0 - 1e-9 <= pearson_r(o, s) <= 1.0 + 1e-9


@settings(max_examples=200, deadline=None)
@given(series, st.floats(0.1, 100), st.floats(-100, 100))
def test_r_is_invariant_to_a_positive_linear_map(o, a, b):
    assume(_varied(o))
    s = o + np.sin(np.arange(o.size))  # any prediction
    assume(_varied(s))
    assert np.isclose(pearson_r(o, s), pearson_r(o, a * s + b), atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(series)
def test_predicting_the_mean_gives_nse_zero(o):
    assume(_varied(o))
    assert np.isclose(nse(o, np.full_like(o, o.mean())), 0.0, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(series, st.integers(0, 2**31 - 1))
def test_missing_pairs_are_ignored(o, seed):
    assume(_varied(o))
    rng = np.random.default_rng(seed)
    s = o + rng.normal(0, 1, o.size)
    holes_o, holes_s = o.copy(), s.copy()
    extra = rng.random(o.size) < 0.3
    holes_o[extra] = np.nan
    holes_s[rng.random(o.size) < 0.1] = np.inf
    keep = np.isfinite(holes_o) & np.isfinite(holes_s)
    assume(keep.sum() >= 3 and _varied(o[keep]))
    assert np.isclose(nse(holes_o, holes_s), nse(o[keep], s[keep]), equal_nan=True)
    assert np.isclose(rmse(holes_o, holes_s), rmse(o[keep], s[keep]))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(2, 50), elements=st.floats(-50, 50)), st.booleans(), st.floats(0.05, 20))
def test_scaling_maps_training_values_into_unit_interval_and_back(x, arcsinh, scale):
    v = fit_var_scale(x, arcsinh, "dynamic", scale)
    y = np.arcsinh(x / scale) if arcsinh else x
    z = (y - v.min) / v.range
    assert z.min() >= -1e-9 and z.max() <= 1 + 1e-9
    back = z * v.range + v.min
    back = np.sinh(back) * scale if arcsinh else back
    assert np.allclose(back, x, rtol=1e-6, atol=1e-6)
