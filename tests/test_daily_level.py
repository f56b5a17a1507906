"""A new site's level from spot measurements (and an annual level as prior): the conjugate update
finds a known level, its band narrows with more spots, and every bad spots file is one message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soilco2.daily.newsite.level import Level, apply_level, combine, prior_from_level, read_spots, update
from soilco2.errors import UserError


def _site(seed=0, n_days=730, true_factor=2.0, day_sd=0.3):
    rng = np.random.default_rng(seed)
    t = np.arange(n_days)
    shape = 2.0 + 1.5 * np.sin(2 * np.pi * t / 365)  # the LSTM's shape, right up to a factor
    truth = true_factor * shape * np.exp(rng.normal(0, day_sd, n_days))
    return shape, truth, rng


@pytest.mark.parametrize("k", [1, 3, 6, 12, 48])
def test_spots_recover_a_known_level_and_the_band_narrows(k):
    shape, truth, rng = _site()
    prior = Level(0.0, 0.5, "none")
    estimates, sds = [], []
    for draw in range(200):  # many draws of k spot days
        idx = np.sort(rng.choice(shape.size, k, replace=False))
        post = update(prior, shape, idx, truth[idx], spot_sd=0.3)
        estimates.append(post.log_k)
        sds.append(post.sd)
    expected_sd = np.sqrt(1 / (1 / 0.5**2 + k / 0.3**2))
    assert np.allclose(sds, expected_sd)
    shrink = (k / 0.3**2) / (1 / 0.5**2 + k / 0.3**2)  # the prior at log k = 0 pulls the estimate down
    assert np.mean(estimates) == pytest.approx(shrink * np.log(2.0), abs=3 * 0.3 / np.sqrt(k * 200))
    if k >= 6:  # the 90 % posterior interval covers the true level (the prior's pull is small by then)
        assert np.mean(np.abs(np.array(estimates) - np.log(2.0)) <= 1.6449 * expected_sd) > 0.85


def test_annual_level_prior_scales_the_point_forecast():
    shape, truth, _ = _site()
    prior = prior_from_level(level_umol=2.0 * shape.mean(), level_sd_umol=0.2, series_mean=shape.mean(),
                             between_site_sd=0.1, source="annual_map")  # fmt: skip
    assert np.exp(prior.log_k) == pytest.approx(2.0)
    out = apply_level({"lstm": shape}, prior)
    np.testing.assert_allclose(out["lstm"], 2 * shape)


def test_two_levels_join_by_precision():
    joined = combine(Level(0.0, 0.4, "lstm"), Level(np.log(2.0), 0.2, "annual_map"))
    w = (1 / 0.2**2) / (1 / 0.4**2 + 1 / 0.2**2)  # the tighter estimate weighs 4x
    assert joined.log_k == pytest.approx(w * np.log(2.0)) and joined.sd == pytest.approx(
        (1 / 0.4**2 + 1 / 0.2**2) ** -0.5
    )


def test_a_spot_on_a_day_the_lstm_puts_at_zero_still_counts():
    series = np.r_[np.zeros(5), np.full(5, 2.0)]
    level = update(Level(0.0, 10.0, "none"), series, np.array([0, 1, 6]), np.array([1.0, 1.0, 2.0]), 0.3)
    assert level.n_spots == 3


def _write(tmp_path, text):
    p = tmp_path / "spots.csv"
    p.write_text(text)
    return p


def test_spots_reader_reads_a_hand_written_file(tmp_path):
    p = _write(tmp_path, "# survey\ndate,flux_umol_m2_s,soil_temp_c\n2015-05-01,3.2,12.5\n2015-06-03,4.1,\n")
    df = read_spots(p)
    assert list(df["flux_umol_m2_s"]) == [3.2, 4.1] and df["date"].iloc[1] == pd.Timestamp("2015-06-03")


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("date,flux,temp\n2015-05-01,3.2,1\n", "flux", "unknown column"),
        ("date,flux_umol_m2_s\n2015-13-45,3.2\n", "date", "unparsable date"),
        ("date,flux_umol_m2_s\n2015-05-01,950\n", "flux_umol_m2_s", "surely another unit"),
        ("date,flux_umol_m2_s\n2015-05-01,-1\n", "flux_umol_m2_s", "positive"),
        ("date,flux_umol_m2_s\n2015-05-01,abc\n", "flux_umol_m2_s", "not a number"),
        ("flux_umol_m2_s\n3.2\n", "date", "missing column"),
    ],
)
def test_bad_spots_files_name_file_and_field(tmp_path, text, field, message):
    with pytest.raises(UserError) as e:
        read_spots(_write(tmp_path, text))
    assert message in str(e.value) and "spots.csv" in str(e.value) and f"'{field}'" in str(e.value)


def test_spots_close_in_time_count_as_fewer_independent_ones():
    from soilco2.daily.newsite.level import effective_spots

    rho = np.exp(-1 / 8.0)
    acf = rho ** np.arange(200)  # AR(1), e-folding 8 days: a long run is worth n (1 - ρ) / (1 + ρ)
    assert effective_spots(np.arange(2000), acf) == pytest.approx(2000 * (1 - rho) / (1 + rho), rel=0.02)
    assert effective_spots(np.array([0, 365, 730]), acf) == pytest.approx(3.0)
    assert effective_spots(np.arange(50), None) == 50.0  # no correlation given: independent
    assert effective_spots(np.arange(5), np.ones(10)) == pytest.approx(1.0)  # one spell: one spot
    # 3 years of daily spots cannot pin the level to 0.5 % (what treating them as independent gave)
    series = np.ones(1096)
    many = update(Level(0.0, 0.65, "none"), series, np.arange(1096), np.full(1096, 2.0), 0.3, acf)
    naive = update(Level(0.0, 0.65, "none"), series, np.arange(1096), np.full(1096, 2.0), 0.3)
    assert naive.sd < 0.01 < 0.03 < many.sd and many.log_k == pytest.approx(np.log(2.0), rel=0.01)
