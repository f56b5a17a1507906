"""The LSTM's predictive distribution (soilco2.daily.uncertainty): synthetic data with a known noise
law recover their quantiles, every quantile is positive whatever the members say, a site's own
residuals shape its distribution only as far as its days weigh, a level's uncertainty widens it,
and the scores are the scoring rules' known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soilco2.daily.uncertainty.distribution import LEVELS, Calibration, distribution_scores, predictive_outputs


def _members(rng, truth, m=4, spread=0.05):
    return truth[None, :] * np.exp(rng.normal(0.0, spread, size=(m, truth.size)))


def _table(sites, obs, members) -> pd.DataFrame:
    return pd.DataFrame({"site": sites, "obs": obs, **{f"member_{k}": v for k, v in enumerate(members)}})


@pytest.mark.parametrize("sigma", [0.2, 0.5])
def test_a_known_log_normal_noise_law_is_recovered(sigma):
    """y = truth * exp(N(0, sigma)): each predicted quantile holds its share of fresh draws (±0.03)."""
    rng = np.random.default_rng(1)
    truth = rng.gamma(3.0, 1.0, size=5000)
    cal = Calibration.fit(_table("a", truth * np.exp(rng.normal(0, sigma, truth.size)), _members(rng, truth)))
    fresh = rng.gamma(3.0, 1.0, size=5000)
    obs = fresh * np.exp(rng.normal(0, sigma, fresh.size))
    q = cal.quantiles(_members(rng, fresh), LEVELS, group="a")
    for level, row in zip(LEVELS, q, strict=True):
        assert abs(np.mean(obs <= row) - level) < 0.03, level


def test_every_quantile_is_positive_even_where_the_members_predict_uptake():
    rng = np.random.default_rng(2)
    truth = rng.gamma(2.0, 1.0, size=500)
    cal = Calibration.fit(_table("a", truth * np.exp(rng.normal(0, 0.3, 500)), _members(rng, truth)))
    negative = np.full((4, 50), -1.5)
    negative[1] = np.linspace(-3, 0.2, 50)
    q = cal.quantiles(negative, LEVELS, group="a")
    assert np.all(q > 0) and np.all(np.diff(q, axis=0) >= 0)


def test_a_site_with_few_days_leans_on_the_pooled_residuals():
    """Site b's residuals are 4x as wide as a's; with prior_days k its own weigh n / (n + k)."""
    rng = np.random.default_rng(3)
    n_a, n_b = 4000, 40
    truth = rng.gamma(3.0, 1.0, size=n_a + n_b)
    noise = np.r_[rng.normal(0, 0.1, n_a), rng.normal(0, 0.4, n_b)]
    table = _table(np.r_[["a"] * n_a, ["b"] * n_b], truth * np.exp(noise), _members(rng, truth, m=1, spread=0.0))
    shrunk = Calibration.fit(table, prior_days=40.0)
    own = Calibration.fit(table, prior_days=0.0)
    pooled = Calibration.fit(table, grouping="pooled")
    assert shrunk.group_weight("b") == pytest.approx(0.5)
    one = np.ones((1, 1))
    width = {name: float(np.diff(c.quantiles(one, (0.05, 0.95), group="b"), axis=0)[0, 0])
             for name, c in (("shrunk", shrunk), ("own", own), ("pooled", pooled))}  # fmt: skip
    assert width["pooled"] < width["shrunk"] < width["own"]
    assert shrunk.group_weight("never seen") == 0.0  # a new site: the pooled residuals alone


def test_a_level_known_to_a_log_sd_widens_the_interval_as_the_convolution_says():
    rng = np.random.default_rng(4)
    truth = rng.gamma(3.0, 1.0, size=20000)
    cal = Calibration.fit(_table("a", truth * np.exp(rng.normal(0, 0.3, truth.size)), _members(rng, truth, 1, 0.0)))
    q = cal.quantiles(np.ones((1, 1)), (0.05, 0.95), group="a", log_shift=np.log(2.0), log_sd=0.4)
    half_width = 0.5 * np.log(q[1, 0] / q[0, 0])
    assert half_width == pytest.approx(1.6449 * np.hypot(0.3, 0.4), rel=0.05)
    assert np.sqrt(q[0, 0] * q[1, 0]) == pytest.approx(2.0, rel=0.05)  # centred on the level factor


def test_distribution_scores_are_the_known_answers():
    obs = np.array([1.0, 2.0, 10.0])
    samples = np.tile(np.array([0.5, 1.0, 1.5]), (3, 1))
    lo, q25, q75, hi = (np.full(3, v) for v in (0.5, 0.75, 1.25, 1.5))
    s = distribution_scores(obs, samples, lo, q25, q75, hi)
    assert s["coverage_90"] == pytest.approx(1 / 3) and s["coverage_50"] == pytest.approx(1 / 3)
    assert s["width_90"] == pytest.approx(1.0) and s["width_50"] == pytest.approx(0.5)
    # interval score: width + 2/alpha * miss; misses 0.5 and 8.5 above the upper bound
    assert s["interval_score_90"] == pytest.approx(np.mean([1.0, 1.0 + 20 * 0.5, 1.0 + 20 * 8.5]))
    # CRPS of an ensemble: E|X - y| - E|X - X'| / 2 (X' an independent draw from the same ensemble)
    pair = np.mean(np.abs(samples[0][:, None] - samples[0][None, :])) / 2
    expected = np.mean([np.mean(np.abs(samples[0] - y)) - pair for y in obs])
    assert s["crps"] == pytest.approx(expected)


def test_predictive_outputs_cover_every_site_and_pool_the_days():
    rng = np.random.default_rng(5)
    truth = rng.gamma(3.0, 1.0, size=(2, 300))
    members = np.stack([truth * np.exp(rng.normal(0, 0.05, truth.shape)) for _ in range(3)])
    obs = truth * np.exp(rng.normal(0, 0.3, truth.shape))
    members[:, 1, :20] = np.nan  # outside site 1's span
    split = np.zeros((2, 300), np.int8)
    split[:, 240:] = 2
    table = _table(np.repeat(["s0", "s1"], 240), obs[:, :240].ravel(), members[:, :, :240].reshape(3, -1))
    cal = Calibration.fit(table)
    quant, scores, pooled = predictive_outputs(cal, members, ["s0", "s1"], obs, split, {"test": (2,)})
    assert set(quant) == {"lstm_q05", "lstm_q25", "lstm_q50", "lstm_q75", "lstm_q95", "lstm_pit"}
    assert np.isnan(quant["lstm_q50"][1, :20]).all() and np.isfinite(quant["lstm_q50"][:, 20:]).all()
    assert list(scores["site"]) == ["s0", "s1"] and pooled["test"]["days"] == 120
    assert 0.8 < pooled["test"]["coverage_90"] <= 1.0
