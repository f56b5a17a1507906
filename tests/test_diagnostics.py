"""Diagnostics on synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from soilco2 import climate
from soilco2.daily import annual_totals
from soilco2.daily.report import diagnostics as dg
from soilco2.daily.report import error_parts


def test_autocorr_of_annual_sine_with_gaps():
    rng = np.random.default_rng(1)
    t = np.arange(6 * 365)
    x = np.sin(2 * np.pi * t / 365)
    x[rng.random(t.size) < 0.3] = np.nan  # 30 % missing days
    assert dg.lagged_autocorr(x, 365) == pytest.approx(1.0, abs=1e-9)  # exact period: identical pairs
    assert dg.lagged_autocorr(x, 182) < -0.999  # half a period: anti-correlated
    assert dg.lagged_autocorr(x, 1) > 0.999


def test_autocorr_of_ar1_recovers_phi():
    rng = np.random.default_rng(2)
    phi, n = 0.7, 20000
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal()
    x[rng.random(n) < 0.2] = np.nan
    assert dg.lagged_autocorr(x, 1) == pytest.approx(phi, abs=0.03)
    assert dg.lagged_autocorr(x, 2) == pytest.approx(phi**2, abs=0.03)


def test_autocorr_uses_calendar_pairs_not_compressed_series():
    x = np.arange(100, dtype=float)
    x[1::2] = np.nan  # only even days observed: no pair is one day apart
    assert np.isnan(dg.lagged_autocorr(x, 1))
    assert dg.lagged_autocorr(x, 2) == pytest.approx(1.0)
    assert np.isnan(dg.lagged_autocorr(np.arange(5.0), 10))  # lag longer than the series


def test_summer_minus_winter_is_hemisphere_aware():
    t = pd.date_range("2018-01-01", "2019-12-31", freq="D")
    x = np.where(t.month.isin([6, 7, 8]), 3.0, np.where(t.month.isin([12, 1, 2]), 1.0, 2.0))
    assert dg.summer_minus_winter(t, x, lat=45.0) == pytest.approx(2.0)
    assert dg.summer_minus_winter(t, x, lat=-30.0) == pytest.approx(-2.0)
    x_nowinter = np.where(t.month.isin([12, 1, 2]), np.nan, x)
    assert np.isnan(dg.summer_minus_winter(t, x_nowinter, lat=45.0))


def test_data_characteristics_counts_observed_days():
    t = pd.date_range("2018-01-01", periods=800, freq="D")
    obs = pd.DataFrame({"a": np.sin(2 * np.pi * np.arange(800) / 365) + 2, "b": np.nan}, index=t)
    obs.iloc[100:150, 0] = np.nan
    out = dg.data_characteristics(obs, pd.Series({"a": 40.0, "b": 40.0})).set_index("site")
    assert out.loc["a", "n_obs_days"] == 750 and out.loc["a", "span_days"] == 800
    assert out.loc["b", "n_obs_days"] == 0 and np.isnan(out.loc["b", "acf_1"])
    assert out.loc["a", "acf_365"] > 0.99


def test_spike_mask_exact_on_flat_series():
    x = np.zeros(200)
    x[[50, 120]] = 5.0  # z of a lone spike in a 30-point window = sqrt(29) > 3
    x[170] = np.nan
    mask = dg.spike_mask(x)
    assert np.flatnonzero(mask).tolist() == [50, 120]


def test_spike_mask_on_noisy_seasonal_series():
    rng = np.random.default_rng(3)
    t = np.arange(3 * 365)
    x = 2 + np.sin(2 * np.pi * t / 365) + rng.normal(0, 0.05, t.size)
    spikes = np.arange(20, t.size - 20, 60)
    x[spikes] += 1.5
    x[rng.random(t.size) < 0.1] = np.nan
    found = np.flatnonzero(dg.spike_mask(x))
    observed_spikes = spikes[np.isfinite(x[spikes])]
    assert set(found) == set(observed_spikes)


def test_correlation_table_known_case_and_iqr():
    t = pd.DataFrame({"nse": [2.0, 4, 5, 4, 5], "kge": [1.0, 2, 3, 4, 5], "x": [1.0, 2, 3, 4, 5]})
    c = dg.correlation_table(t, ["nse", "kge"], ["x"], iqr_metrics=["nse"]).set_index(["metric", "outliers"])
    assert c.loc[("nse", "kept"), "r"] == pytest.approx(0.7745967, abs=1e-6)  # textbook example
    assert c.loc[("nse", "kept"), "p"] == pytest.approx(0.1240271, abs=1e-6)
    assert c.loc[("kge", "kept"), "r"] == pytest.approx(1.0)
    assert ("kge", "iqr_removed") not in c.index

    rng = np.random.default_rng(0)
    x = np.arange(20.0)
    nse = 0.03 * x + rng.normal(0, 0.05, 20)
    nse[3] = -40.0  # one NSE outlier
    c = dg.correlation_table(pd.DataFrame({"nse": nse, "x": x}), ["nse"], ["x"]).set_index("outliers")
    keep = np.arange(20) != 3
    assert c.loc["iqr_removed", "n"] == 19
    assert c.loc["iqr_removed", "r"] == pytest.approx(stats.pearsonr(x[keep], nse[keep])[0])
    assert c.loc["kept", "r"] < c.loc["iqr_removed", "r"]


def test_iqr_keep_tukey_rule():
    v = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 100, np.nan])
    assert dg.iqr_keep(v).tolist() == [True] * 8 + [False, False]


def test_share_good_by_bins():
    t = pd.DataFrame(
        {
            "abs_lat": [35, 45, 10, 70],
            "mat_c": [8, 12, 25, -5],
            "map_mm": [600, 800, 2500, 300],
            "class": ["good", "poor", "good", "fair"],
        }
    )
    out = dg.share_good_by_bins(t).set_index(["grouping", "bin"])
    assert out.loc[("latitude band", "30–60° (inside)"), "share_good"] == 0.5
    assert out.loc[("latitude band", "outside 30–60°"), "n_sites"] == 2
    assert out.loc[("MAT bin (°C)", "≥ 20"), "n_good"] == 1
    t["n_obs_days"], t["test_nse"] = [50, 400, 420, 1000], [0.6, -0.2, 0.7, 0.1]
    out = dg.share_good_by_bins(t).set_index(["grouping", "bin"])
    assert out.loc[("observed days", "365–730"), "n_sites"] == 2
    assert out.loc[("observed days", "365–730"), "median_test_nse"] == pytest.approx(0.25)
    assert out.loc[("observed days", "≥ 730"), "share_good"] == 0.0
    assert "in-situ drivers (test days)" not in out.index.get_level_values(0)  # no insitu_* columns


def test_insitu_drivers_bin_labels_and_groupings():
    t = pd.DataFrame(
        {
            "abs_lat": [35, 45, 10, 70, 40],
            "mat_c": [8, 12, 25, -5, 9],
            "map_mm": [600, 800, 2500, 300, 900],
            "class": ["good", "poor", "good", "fair", "poor"],
            "test_nse": [0.6, -0.2, 0.7, 0.1, -1.0],
            "insitu_share_soil_temp_c_test": [1.0, 0.9, 0.2, 0.0, 0.0],
            "insitu_share_swc_m3_m3_test": [0.5, 0.1, 1.0, 0.0, np.nan],
            "insitu_share_air_temp_c_test": [0.0, 0.0, 0.0, 0.7, 0.4],
            "insitu_share_soil_temp_c_train": [0.0] * 5,
        }
    )  # another split: ignored
    labels = dg.insitu_drivers_bin(t).astype(str).tolist()
    assert labels == ["soil T + moisture", "soil T", "soil moisture", "other sensors only", "none (climatology only)"]
    assert dg.insitu_drivers_bin(t, split="train").astype(str).tolist() == ["none (climatology only)"] * 5
    assert dg.insitu_drivers_bin(t[["class"]]) is None
    out = dg.share_good_by_bins(t).set_index(["grouping", "bin"])
    g = out.loc["in-situ drivers (test days)"]
    assert g["n_sites"].sum() == 5 and g.loc["soil moisture", "n_good"] == 1
    assert g.loc["none (climatology only)", "median_test_nse"] == -1.0


def test_extremes_parts_and_perfect_model():
    o = np.arange(100.0)
    rows = {r["part"]: r for r in dg.extremes_metrics(o, o)}
    assert [rows[p]["n"] for p in ("bottom_5pct", "middle_90pct", "top_5pct")] == [5, 90, 5]
    assert all(r["nse"] == pytest.approx(1.0) for r in rows.values())


def test_skill_needs_min_days_and_pooled_parts():
    o = np.arange(40.0) + 1
    rows = {r["part"]: r for r in dg.extremes_metrics(o, o * 1.1)}
    assert rows["top_5pct"]["n"] == 2 and np.isnan(rows["top_5pct"]["nse"])  # 2 days: no skill score
    assert rows["top_5pct"]["bias_umol_m2_s"] == pytest.approx(0.1 * np.mean([39.0, 40.0]))
    table = pd.DataFrame(
        {
            "site": ["a"] * 40 + ["b"] * 2,
            "part": list(dg.extreme_parts(o)) + ["top_5pct"] * 2,
            "obs": np.r_[o, 10.0, 10.0],
            "sim": np.r_[o * 1.1, 20.0, 20.0],
        }
    )
    pooled = dg.pooled_parts(table).set_index("part")
    assert pooled.loc["top_5pct", "days"] == 4 and pooled.loc["top_5pct", "sites"] == 2
    assert pooled.loc["middle_90pct", "median_ratio_pred_over_obs"] == pytest.approx(1.1)


def test_spike_metrics_split():
    o = np.array([1.0, 2, 3, 10, 2, 1])
    s = np.array([1.0, 2, 3, 4, 2, 1])
    rows = {r["part"]: r for r in dg.spike_metrics(o, s, np.array([0, 0, 0, 1, 0, 0], bool))}
    assert rows["spikes"]["n"] == 1 and rows["spikes"]["bias_umol_m2_s"] == pytest.approx(-6.0)
    assert rows["non_spikes"]["nse"] == pytest.approx(1.0)


def test_extraterrestrial_radiation_known_answers():
    gsc_day = 24 * 60 / np.pi * 0.0820
    doy = 81  # delta = 0.409 sin(2 pi 81/365 - 1.39) ~ 0
    delta = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)
    expected = gsc_day * dr * (np.pi / 2 * 0 + np.cos(delta))  # equator: ws = pi/2
    assert climate.extraterrestrial_radiation_mj_m2_day(0.0, [doy])[0] == pytest.approx(expected, rel=1e-9)
    assert climate.extraterrestrial_radiation_mj_m2_day(89.9, [355])[0] == 0.0  # polar night
    pole = climate.extraterrestrial_radiation_mj_m2_day(89.999, [172])[0]  # polar day: ws = pi
    d172 = 0.409 * np.sin(2 * np.pi * 172 / 365 - 1.39)
    assert pole == pytest.approx(gsc_day * (1 + 0.033 * np.cos(2 * np.pi * 172 / 365)) * np.pi * np.sin(d172), rel=1e-3)


def test_hargreaves_pet_orders_climates():
    tropical = climate.pet_hargreaves_mm_yr(np.full(12, 27.0), np.full(12, 60.0), 5.0)
    boreal = climate.pet_hargreaves_mm_yr(
        np.array([-20, -18, -10, 0, 8, 14, 17, 15, 8, 0, -10, -18.0]), np.full(12, 40.0), 62.0
    )
    assert 1400 < tropical < 2200 and 200 < boreal < 600
    assert climate.pet_hargreaves_mm_yr(np.full(12, -30.0), np.full(12, 50.0), 80.0) == 0.0


def test_climate_attributes_from_monthly_table():
    sites = pd.DataFrame(
        {"site": ["a", "b"], "lat": [10.0, 50.0], "lon": [0.0, 0.0], "mat_c": [1.0, 2.0], "map_mm": [100.0, 200.0]}
    )
    monthly = pd.DataFrame(
        {"site": ["a"] * 12, "month": range(1, 13), "temp_c": 25.0, "prec_mm_month": 50.0, "sun_pct": 50.0}
    )
    out = dg.climate_attributes(sites, monthly).set_index("site")
    assert out.loc["a", "mat_c"] == 25.0 and out.loc["a", "map_mm"] == 600.0
    assert out.loc["a", "aridity_pet_p"] == pytest.approx(out.loc["a", "pet_mm_yr"] / 600.0)
    assert out.loc["b", "map_mm"] == 200.0 and np.isnan(out.loc["b", "pet_mm_yr"])


def test_annual_totals_units_and_partial_years():
    t = pd.date_range("2016-01-01", "2018-06-30", freq="D")
    x = np.ones(t.size)  # 1 µmol m-2 s-1 = 1.0377504 g C m-2 day-1
    x[(t.year == 2017) & (t.day_of_year <= 10)] = np.nan  # 2017: 355 of 365 days
    out = annual_totals.annual_totals(t, x).set_index("year")
    assert out.loc[2016, "total_gc_m2_yr"] == pytest.approx(366 * 12.011e-6 * 86400)
    assert not out.loc[2016, "scaled"]
    assert out.loc[2017, "scaled"] and out.loc[2017, "total_gc_m2_yr"] == pytest.approx(365 * 1.0377504)
    assert np.isnan(out.loc[2018, "total_gc_m2_yr"]) and out.loc[2018, "n_days"] == 181


def test_match_srdb_distance_and_year():
    sites = pd.DataFrame({"site": ["s"], "lat": [45.0], "lon": [10.0]})
    annual = pd.DataFrame({"site": ["s", "s"], "year": [2015, 2016], "total_gc_m2_yr": [800.0, 1000.0]})
    srdb = pd.DataFrame(
        {
            "record": [1, 2, 3],
            "lat": [45.01, 45.02, 46.0],
            "lon": [10.0, 10.0, 10.0],
            "year": [2016.5, 2005.0, 2016.0],
            "rs_annual_gc_m2_yr": [950.0, 700.0, 600.0],
        }
    )
    m = annual_totals.match_srdb(sites, annual, srdb, max_km=5).set_index("srdb_record")
    assert sorted(m.index) == [1, 2]  # record 3 is ~111 km away
    assert m.loc[1, "same_year"] and m.loc[1, "pred_rs_gc_m2_yr"] == 1000.0
    assert not m.loc[2, "same_year"] and m.loc[2, "pred_rs_gc_m2_yr"] == 900.0
    assert m.loc[1, "distance_km"] == pytest.approx(1.11, abs=0.01)
    a = annual_totals.agreement(m.reset_index())
    assert a["n_records"] == 2 and a["records_bias_gc_m2_yr"] == pytest.approx((50 + 200) / 2)
    assert a["same_year_n"] == 1 and a["same_year_bias_gc_m2_yr"] == pytest.approx(50.0)
    assert a["n_sites"] == 1 and a["sites_bias_gc_m2_yr"] == pytest.approx(950.0 - 825.0)  # mean pred - median srdb


def test_calibration_oracles_known_answers():
    """obs 1..4; sim = obs + 1 (level error only): NSE 1 − 4/5 = 0.2 as is, 1 after the level shift;
    sim = 0.5·obs (amplitude and level): only the test-day line makes it perfect."""
    obs = np.array([[1.0, 2, 3, 4, np.nan], [1.0, 2, 3, 4, 9]])
    split = np.array([[2, 2, 2, 2, 2], [2, 2, 2, 2, 0]])  # the 9 is a training day: ignored
    out = error_parts.calibration_oracles(obs, np.vstack([obs[0] + 1, obs[1] + 1]), split)
    assert out["sites"] == 2
    assert out["as_is_nse"] == pytest.approx(0.2) and out["level_nse"] == pytest.approx(1.0)
    half = error_parts.calibration_oracles(obs[:1], 0.5 * obs[:1], split[:1])
    # shifted 0.5·obs has errors ±0.75, ±0.25 around the mean: NSE 1 − 1.25 / 5 = 0.75
    assert half["level_nse"] == pytest.approx(0.75) and half["linear_nse"] == pytest.approx(1.0)
    assert half["linear_kge"] == pytest.approx(1.0)


def test_error_decomposition_known_answers():
    """obs 1..4, sim = 2·obs + 1: r = 1, so no timing term; level (6 − 2.5)² = 12.25, amplitude
    (2σ − σ)² = σ² = 1.25, MSE mean((obs + 1)²) = 13.5. sim = reversed obs: same mean and spread,
    r = −1, so all of the MSE (8/3 for 1, 2, 3) is timing: 2σ²·2."""
    obs = np.array([1.0, 2, 3, 4])
    d = error_parts.error_decomposition(obs, 2 * obs + 1, min_n=3)
    assert d["mse_umol2_m4_s2"] == pytest.approx(13.5) and d["level_umol2_m4_s2"] == pytest.approx(12.25)
    assert d["amplitude_umol2_m4_s2"] == pytest.approx(1.25) and d["timing_umol2_m4_s2"] == pytest.approx(
        0.0, abs=1e-12
    )
    assert d["alpha"] == pytest.approx(2.0) and d["beta"] == pytest.approx(6 / 2.5)
    assert d["level_share"] + d["amplitude_share"] + d["timing_share"] == pytest.approx(1.0)
    # without the level error the MSE is 1.25 against var 1.25: NSE 0 (as the level oracle's shift)
    assert d["nse_level_removed"] == pytest.approx(0.0, abs=1e-12)
    o = np.array([1.0, 2, 3])
    rev = error_parts.error_decomposition(o, o[::-1], min_n=3)
    assert rev["mse_umol2_m4_s2"] == pytest.approx(np.mean((o - o[::-1]) ** 2)) == pytest.approx(8 / 3)
    assert rev["timing_share"] == pytest.approx(1.0) and rev["level_umol2_m4_s2"] == pytest.approx(0.0)
    # the level-removed NSE equals the calibration oracle's shifted NSE on the same days
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, 40)
    y = 0.7 * x + 0.5 + rng.normal(0, 0.3, 40)
    oracle = error_parts.calibration_oracles(x[None], y[None], np.full((1, 40), 2))
    assert error_parts.error_decomposition(x, y)["nse_level_removed"] == pytest.approx(oracle["level_nse"])
    # NaN days are skipped; too few days or a constant observation give NaN terms
    assert error_parts.error_decomposition(np.r_[obs, np.nan], np.r_[2 * obs + 1, 5.0], min_n=3)[
        "mse_umol2_m4_s2"
    ] == pytest.approx(13.5)
    assert np.isnan(error_parts.error_decomposition(obs, obs)["mse_umol2_m4_s2"])  # 4 days < MIN_DAYS_FOR_SKILL
    assert np.isnan(error_parts.error_decomposition(np.ones(10), np.arange(10.0))["level_share"])


def test_partial_days_and_their_share_of_the_error():
    """Records per day 48 (median) and 20 / 30 on two days: 20 < 0.5 × 48 is partial, 30 is not;
    unobserved days never are. The error: 1 on the partial day, 0 elsewhere, so it carries all
    of the squared error, and the full days alone are perfect (NSE = KGE = 1)."""
    n = np.array([48, 48, 20, 48, 30, 48, 48, 0, 48])
    observed = n > 0
    partial = dg.partial_days(n, observed)
    assert partial.tolist() == [False, False, True, False, False, False, False, False, False]
    assert not dg.partial_days(n, np.zeros(n.size, bool)).any()
    obs = np.where(observed, np.arange(n.size, dtype=float), np.nan)
    sim = obs + np.where(partial, 1.0, 0.0)
    e = dg.partial_day_effect(obs, sim, partial, min_n=3)
    assert e["partial_day_share"] == pytest.approx(1 / 8) and e["partial_mse_share"] == pytest.approx(1.0)
    assert e["nse_full_days"] == pytest.approx(1.0) and e["kge_full_days"] == pytest.approx(1.0)
    assert np.isnan(dg.partial_day_effect(obs, sim, partial, min_n=10)["nse_full_days"])  # 7 full days < 10
