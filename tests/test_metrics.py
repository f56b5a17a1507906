"""Metrics against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from soilco2 import metrics as m

OBS = np.array([1.0, 2.0, 3.0, 4.0])
SIM = np.array([1.5, 2.0, 2.5, 5.0])
# Hand computation: errors 0.5, 0, -0.5, 1 -> SSE 1.5; mean(obs)=2.5, SS_obs=5 -> NSE=0.7
# mean(sim)=2.75; population std obs = sqrt(1.25); sim deviations -1.25,-0.75,-0.25,2.25 ->
# var_sim = (1.5625+0.5625+0.0625+5.0625)/4 = 1.8125


def test_nse_hand_value():
    assert m.nse(OBS, SIM) == pytest.approx(0.7)


def test_rmse_mse_bias_hand_values():
    assert m.mse(OBS, SIM) == pytest.approx(1.5 / 4)
    assert m.rmse(OBS, SIM) == pytest.approx(math.sqrt(1.5 / 4))
    assert m.bias(OBS, SIM) == pytest.approx(0.25)


def test_pearson_r_hand_value():
    cov = np.mean((OBS - 2.5) * (SIM - 2.75))  # (1.875+0.375-0.125+3.375)/4 = 1.375
    r = cov / math.sqrt(1.25 * 1.8125)
    assert m.pearson_r(OBS, SIM) == pytest.approx(r)
    assert cov == pytest.approx(1.375)


def test_kge_both_forms_hand_values():
    r = 1.375 / math.sqrt(1.25 * 1.8125)
    alpha = math.sqrt(1.8125) / math.sqrt(1.25)
    beta = 2.75 / 2.5
    gamma = (math.sqrt(1.8125) / 2.75) / (math.sqrt(1.25) / 2.5)
    assert m.kge_2009(OBS, SIM) == pytest.approx(1 - math.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2))
    assert m.kge_2012(OBS, SIM) == pytest.approx(1 - math.sqrt((r - 1) ** 2 + (gamma - 1) ** 2 + (beta - 1) ** 2))
    assert m.kge is m.kge_2009
    assert m.kge_2009(OBS, SIM) != pytest.approx(m.kge_2012(OBS, SIM))


def test_perfect_and_mean_predictions():
    assert m.nse(OBS, OBS) == 1.0
    assert m.kge(OBS, OBS) == pytest.approx(1.0)
    assert m.nse(OBS, np.full(4, OBS.mean())) == pytest.approx(0.0)


def test_nan_pairs_are_masked():
    o = np.array([1.0, np.nan, 2.0, 3.0, 4.0, 7.0])
    s = np.array([1.5, 9.0, 2.0, 2.5, 5.0, np.nan])
    assert m.nse(o, s) == pytest.approx(0.7)
    assert m.score(o, s)["n"] == 4


def test_fewer_than_two_pairs_give_nan():
    assert math.isnan(m.nse([1.0], [1.0]))
    assert math.isnan(m.kge([np.nan, 1.0], [1.0, np.nan]))
    assert math.isnan(m.rmse([], []))


def test_constant_obs_gives_nan_not_error():
    assert math.isnan(m.nse([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    assert math.isnan(m.pearson_r([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))


def test_score_by_site():
    table = pd.DataFrame(
        {
            "site": ["a"] * 4 + ["b"] * 4,
            "obs": np.r_[OBS, OBS],
            "sim": np.r_[SIM, OBS],
        }
    )
    out = m.score_by(table, "site").set_index("site")
    assert out.loc["a", "nse"] == pytest.approx(0.7)
    assert out.loc["b", "nse"] == 1.0
    assert list(out["n"]) == [4, 4]


def test_bootstrap_ci_known_spread():
    bootstrap_ci = m.bootstrap_ci
    assert bootstrap_ci([2.0] * 10) == (2.0, 2.0)
    assert np.isnan(bootstrap_ci([1.0, np.nan, 2.0])).all()  # fewer than 3 finite values
    # median of 400 standard normal values: standard error ≈ 1.2533 / √400 = 0.063, 95 % width ≈ 0.25
    x = np.random.default_rng(1).normal(size=400)
    lo, hi = bootstrap_ci(np.append(x, np.nan))
    assert lo < np.median(x) < hi and 0.18 < hi - lo < 0.32
    assert bootstrap_ci(x) == (lo, hi)  # NaN dropped, same seed → same interval
    assert bootstrap_ci(x[::-1]) == (lo, hi)  # whatever the order of the values
    # a share: 30 % of 100, binomial standard error 0.046, 95 % width ≈ 0.18
    lo, hi = bootstrap_ci(np.arange(100) < 30, np.mean)
    assert lo < 0.3 < hi and 0.14 < hi - lo < 0.22
