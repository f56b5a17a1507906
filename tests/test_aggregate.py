"""Aggregation to intervals and QA helpers on synthetic records with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soilco2.prep import qa
from soilco2.prep.aggregate import aggregate, pick_standard_drivers


def _records():
    t = pd.to_datetime(
        ["2020-06-01 10:05", "2020-06-01 10:35", "2020-06-01 10:20", "2020-06-01 11:10", "2020-06-02 00:00"]
    )
    return pd.DataFrame(
        {
            "time": t,
            "port": [1, 1, 2, 1, 2],
            "flux_umol_m2_s": [1.0, 3.0, 5.0, 7.0, 2.0],
            "soil_temp_c": [10.0, 14.0, 12.0, 20.0, 8.0],
            "CSR_PRECIP": [1.0, 0.0, 3.0, 2.0, np.nan],
        }
    )


def test_hourly_mean_over_ports_then_interval():
    out = aggregate(_records(), "1h")
    h10 = out.loc[pd.Timestamp("2020-06-01 10:00")]
    # port 1: mean(1, 3) = 2; port 2: 5; interval = mean(2, 5)
    assert h10["flux_umol_m2_s"] == pytest.approx(3.5)
    assert h10["flux_n"] == 3 and h10["flux_ports"] == 2
    assert h10["soil_temp_c"] == pytest.approx((12 + 12) / 2)  # port means 12 and 12
    assert h10["CSR_PRECIP"] == pytest.approx(4.0)  # per-timestamp means 1, 0, 3 summed
    assert "soil_temp_c_min" not in out.columns  # min/max only at daily scale
    assert list(out.index) == list(pd.to_datetime(["2020-06-01 10:00", "2020-06-01 11:00", "2020-06-02 00:00"]))


def test_30min_bins():
    out = aggregate(_records(), "30min")
    assert out.loc[pd.Timestamp("2020-06-01 10:00"), "flux_umol_m2_s"] == pytest.approx(3.0)  # mean(1, 5)
    assert out.loc[pd.Timestamp("2020-06-01 10:30"), "flux_umol_m2_s"] == pytest.approx(3.0)
    assert int(out["flux_n"].sum()) == 5


def test_daily_with_min_max_and_counts():
    out = aggregate(_records(), "1D")
    d1 = out.loc[pd.Timestamp("2020-06-01")]
    # port 1: mean(1, 3, 7) = 11/3; port 2: 5
    assert d1["flux_umol_m2_s"] == pytest.approx((11 / 3 + 5) / 2)
    assert d1["flux_n"] == 4
    assert d1["soil_temp_c_min"] == 10 and d1["soil_temp_c_max"] == 20
    assert d1["CSR_PRECIP"] == pytest.approx(6.0)
    d2 = out.loc[pd.Timestamp("2020-06-02")]
    assert d2["flux_n"] == 1 and np.isnan(d2["CSR_PRECIP"])  # no precipitation data: NaN, not 0


def test_synthetic_law_recovered_at_daily_scale():
    """Flux = 2 * exp(0.07 T) sampled by 4 ports every 30 min: the daily mean matches the law's mean."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2021-01-01", periods=48 * 10, freq="30min")
    temp = 15 + 8 * np.sin(2 * np.pi * (t.hour + t.minute / 60 - 9) / 24)
    frames = [
        pd.DataFrame(
            {
                "time": t,
                "port": p,
                "soil_temp_c": temp,
                "flux_umol_m2_s": 2 * np.exp(0.07 * temp) * (1 + 0.01 * rng.standard_normal(len(t))),
            }
        )
        for p in range(1, 5)
    ]
    out = aggregate(pd.concat(frames), "1D")
    truth = pd.Series(2 * np.exp(0.07 * temp), index=t).resample("1D").mean()
    np.testing.assert_allclose(out["flux_umol_m2_s"], truth, rtol=0.005)
    assert (out["flux_n"] == 4 * 48).all() and (out["flux_ports"] == 4).all()


def test_empty_records():
    empty = pd.DataFrame(
        {
            "time": pd.Series(dtype="datetime64[ns]"),
            "port": pd.Series(dtype=int),
            "flux_umol_m2_s": pd.Series(dtype=float),
        }
    )
    assert aggregate(empty, "1D").empty


def test_standard_drivers_pick_shallowest_covered_sensor():
    n = 10
    rec = pd.DataFrame(
        {
            "time": pd.date_range("2020-01-01", periods=n, freq="h"),
            "port": 1,
            "flux_umol_m2_s": 1.0,
            "CSR_T0": 30.0,
            "CSR_T2": np.r_[1.0, [np.nan] * (n - 1)],
            "CSR_T5": 5.0,
            "CSR_T10": 10.0,
            "CSR_SM10": 0.3,
            "CSR_TAIR_AMB": 12.0,
        }
    )
    out, depths = pick_standard_drivers(rec)
    assert (out["soil_temp_c"] == 5.0).all()  # T0 is the surface, T2 too sparse
    assert depths == {"soil_temp_depth_cm": 5.0, "swc_depth_cm": 10.0}
    assert (out["swc_m3_m3"] == 0.3).all() and (out["air_temp_c"] == 12.0).all()


def test_accounting_and_driver_cleaning():
    acc = qa.Accounting("x", raw=6, kept=6)
    df = pd.DataFrame(
        {
            "port": [1, 1, 1, 2, 2, 2],
            "time": pd.to_datetime(["2020-01-01"] * 3 + ["2020-01-02"] * 3),
            "flux_umol_m2_s": [1.0, 3.0, 150.0, 2.0, 2.0, 4.0],
            "CSR_SM5": [20.0, 30.0, 25.0, 500.0, 10.0, 40.0],
            "CSR_TAIR": [10, 99, 5, 5, 5, 5],
        }
    )
    df = qa.apply_mask(df, qa.flux_range_mask(df["flux_umol_m2_s"]), "implausible_flux", acc)
    df = qa.merge_duplicates(df, ["port", "time"], acc)
    assert acc.dropped["implausible_flux"] == 1 and acc.dropped["duplicate_timestamp"] == 3
    assert acc.kept == 2 == len(df) and acc.closes
    assert sorted(df["flux_umol_m2_s"]) == [2.0, pytest.approx(8 / 3)]
    df = qa.clean_drivers(df, acc)
    assert df["CSR_SM5"].max() <= 1  # percent -> m3/m3, 500 % -> NaN
    assert df["CSR_TAIR"].max() < 60 and acc.driver_values_nan >= 1


def test_group_quantiles_matches_numpy():
    v = np.arange(101.0)
    b = qa.group_quantiles({"GRA": v, "ENF": v * 2})
    assert b.loc["GRA", "lo"] == pytest.approx(1.0) and b.loc["ENF", "hi"] == pytest.approx(198.0)


def _three_ports(missing_days):
    """Daily records of ports at 0.5, 1 and 1.5 × a daily level; port 3 absent on ``missing_days``."""
    days = pd.date_range("2021-05-01", periods=20, freq="D")
    level = 2.0 + np.sin(np.arange(20) / 3.0)
    rows = [
        (d + pd.Timedelta(hours=12), p, f * lv)
        for d, lv, i in zip(days, level, range(20))
        for p, f in ((1, 0.5), (2, 1.0), (3, 1.5))
        if not (p == 3 and i in missing_days)
    ]
    return pd.DataFrame(rows, columns=["time", "port", "flux_umol_m2_s"]), pd.Series(level, index=days)


def test_port_balance_recovers_the_all_port_mean_when_a_port_is_missing():
    rec, level = _three_ports(missing_days={3, 4, 5, 12})
    plain = aggregate(rec, "1D")["flux_umol_m2_s"]
    balanced = aggregate(rec, "1D", port_balance=True)["flux_umol_m2_s"]
    # without port 3 the plain mean is (0.5 + 1) / 2 = 0.75 × the level: a false drop of 25 %
    np.testing.assert_allclose(plain.iloc[[3, 4, 5, 12]], 0.75 * level.iloc[[3, 4, 5, 12]])
    np.testing.assert_allclose(balanced, level, rtol=1e-6)  # the mean of all ports (factors' mean 1)
    full = [i for i in range(20) if i not in {3, 4, 5, 12}]
    np.testing.assert_allclose(balanced.iloc[full], plain.iloc[full], rtol=1e-9)  # full days unchanged


def test_port_balance_leaves_one_port_and_full_days_alone():
    rec, _ = _three_ports(missing_days=set())
    rng = np.random.default_rng(0)
    rec["flux_umol_m2_s"] *= rng.lognormal(0, 0.2, len(rec))  # noisy, but every port every day
    pd.testing.assert_frame_equal(aggregate(rec, "1D", port_balance=True), aggregate(rec, "1D"))
    one = rec[rec.port == 2]
    pd.testing.assert_frame_equal(aggregate(one, "1D", port_balance=True), aggregate(one, "1D"))


def test_port_levels_known_factors_and_a_port_without_positive_flux():
    from soilco2.prep.aggregate import port_levels

    rec, _ = _three_ports(missing_days={2, 7})
    by_port = rec.assign(bin=rec.time.dt.floor("D")).set_index(["bin", "port"])["flux_umol_m2_s"]
    np.testing.assert_allclose(port_levels(by_port), [0.5, 1.0, 1.5], rtol=1e-6)
    by_port.loc[(slice(None), 3)] = -0.1  # an all-negative port: neutral, the others keep their ratio
    c = port_levels(by_port)
    assert c.mean() == pytest.approx(1.0) and c[3] == pytest.approx(1.0) and c[2] / c[1] == pytest.approx(2.0)
