"""Lagged MI on synthetic series with a known lag, and the input-design helper."""

import numpy as np
import pandas as pd
import pytest

from soilco2.subdaily.mutual_info import lagged_mi, mi_table, mutual_information, peak_lags, propose_input_design


def _ar1(n, rng, phi=0.9):
    x = np.zeros(n)
    e = rng.normal(size=n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def test_mi_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20000)
    assert mutual_information(x, rng.normal(size=20000)) < 0.1  # independent: only the plug-in bias
    assert mutual_information(x, x) > 2.5  # identical: close to log(effective bins)
    assert np.isnan(mutual_information(np.ones(10), np.arange(10.0)))


def test_peak_at_known_past_and_future_lags():
    rng = np.random.default_rng(1)
    n = 8000
    x = _ar1(n + 20, rng, phi=0.5)
    y_past = x[10 - 5 : 10 - 5 + n] + 0.1 * rng.normal(size=n)  # y(t) = x(t - 5): driver leads
    y_future = x[10 + 3 : 10 + 3 + n] + 0.1 * rng.normal(size=n)  # y(t) = x(t + 3): flux leads
    xs = x[10 : 10 + n]
    lags = list(range(-8, 9))
    assert lags[int(np.nanargmax(lagged_mi(y_past, xs, lags)))] == 5
    assert lags[int(np.nanargmax(lagged_mi(y_future, xs, lags)))] == -3


def test_mi_table_hours_rain_nonzero_and_design():
    rng = np.random.default_rng(2)
    n = 6000
    t = pd.date_range("2020-01-01", periods=n, freq="30min")
    temp = _ar1(n + 10, rng, phi=0.6)
    rain = np.where(rng.random(n) < 0.05, rng.exponential(2.0, n), 0.0)
    flux = temp[6 : 6 + n]  # flux(t) = temp(t + 4 steps) = temp(t + 2 h)
    table = pd.DataFrame(
        {"flux_umol_m2_s": flux + 0.05 * rng.normal(size=n), "soil_temp_c": temp[2 : 2 + n], "precip_mm": rain}, index=t
    )
    table.loc[table.index[100:150], "flux_umol_m2_s"] = np.nan  # gaps stay gaps
    mi = mi_table(table, ["soil_temp_c", "precip_mm"], max_lag_hours=6)
    assert set(mi["lag_hours"]) == {h / 2 for h in range(-12, 13)}
    peaks = peak_lags(mi).set_index("driver")
    assert peaks.loc["soil_temp_c", "peak_lag_hours"] == -2.0  # temperature 2 h in the future
    assert mi.loc[mi.driver == "precip_mm", "nonzero_only"].all()
    design = propose_input_design(mi)
    assert "soil_temp_c" in design["future"] and "precip_mm" in design["past"]
    assert "precip_mm" not in design["future"]


def test_n_pairs_counts_finite_lagged_pairs():
    t = pd.date_range("2020-01-01", periods=100, freq="1h")
    table = pd.DataFrame({"flux_umol_m2_s": np.arange(100.0), "precip_mm": np.r_[np.ones(10), np.zeros(90)]}, index=t)
    mi = mi_table(table, ["precip_mm"], max_lag_hours=3).set_index("lag_steps")
    assert mi.loc[0, "n_pairs"] == 10 and mi.loc[2, "n_pairs"] == 10 and mi.loc[-3, "n_pairs"] == 7


@pytest.mark.realdata
def test_hn1_mi_against_chamber_temperature(data_root):
    """US-Hn1: the lagged MI runs on the real chamber + tower table; the peak lag is on the grid."""
    from soilco2.config import validate
    from soilco2.subdaily.config import SubdailyConfig
    from soilco2.subdaily.run import run_mi

    cfg = validate(
        {
            "site": {
                "name": "US-Hn1",
                "source": "hn1_chamber",
                "tower_site": "us-hn1",
                "tower_drivers": ["soil_temp_c"],
                "interval": "30min",
                "era5_precip_fill": False,
            },
            "data_root": str(data_root),
            "mi": {"drivers": ["chamber_temp_c", "soil_temp_c"]},
        },
        SubdailyConfig,
    )
    table, mi, peaks, design, acct = run_mi(cfg)
    assert acct["interval"] == "30min" and len(mi) == 2 * 97
    lag = peaks.set_index("driver").loc["chamber_temp_c", "peak_lag_hours"]
    assert -24 <= lag <= 24 and lag % 0.5 == 0
    assert (mi["n_pairs"] > 5000).all()
