"""In-situ drivers from the AmeriFlux tower measured at a COSORE site (``data.tower_drivers``): the
daily aggregation on files the test writes, the fill rule, and the shared US-Bi1 tower on real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from soilco2.daily.dataset.drivers import tower_fill
from soilco2.sources.towers import MIN_HALFHOURS_PER_DAY, cosore_towers, tower_daily

BOULDINA = "d20200214_SZUTU_BOULDINA"


def write_us_bi1(root, start="2019-01-01", days=10):
    """US-Bi1 files with known half-hourly values: air temperature 0, 1, ..., 47 °C within each day,
    soil temperature 10 + day index, SWC 0.3, PPFD 100, 0.5 mm of rain in every half hour of the
    first day only; the third day's soil temperature has only MIN_HALFHOURS_PER_DAY − 1 values."""
    end = pd.date_range(start, periods=48 * days, freq="30min") + pd.Timedelta(minutes=30)  # TIMESTAMP_END
    step = np.arange(48 * days)
    soil = 10.0 + step // 48
    soil[96 : 96 + 48 - MIN_HALFHOURS_PER_DAY + 1] = -9999
    folder = root / "sites" / "us-bi1"
    folder.mkdir(parents=True)
    stamp = end.strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame(
        {"TIMESTAMP_END": stamp, "TA_F": step % 48, "SW_IN_F": 200.0, "TS_F_MDS_4": soil, "SWC_F_MDS_1": 0.3}
    ).to_csv(folder / "US-Bi1-forcings.csv", index=False)
    pd.DataFrame({"TIMESTAMP_END": stamp, "P_F": np.where(step < 48, 0.5, 0.0), "PPFD_IN": 100.0}).to_csv(
        folder / "US-Bi1-fluxes.csv", index=False
    )
    return root


def test_tower_daily_known_values(tmp_path):
    daily = tower_daily("us-bi1", write_us_bi1(tmp_path))
    assert len(daily) == 10 and daily.index[0] == pd.Timestamp("2019-01-01")
    assert (daily["air_temp_c"] == 23.5).all() and (daily["air_temp_c_min"] == 0).all()
    assert (daily["air_temp_c_max"] == 47).all()
    assert daily["precip_mm"].tolist() == [24.0] + [0.0] * 9  # a day total
    assert daily["soil_temp_c"].iloc[1] == 11.0 and np.isnan(daily["soil_temp_c"].iloc[2])  # too few half hours
    assert np.allclose(daily["swc_m3_m3"], 0.3) and np.allclose(daily["par_umol_m2_s"], 100.0)


def test_tower_fill_only_gaps_of_the_tower_site_and_only_with_enough_cover(tmp_path):
    root = write_us_bi1(tmp_path)
    time = pd.date_range("2018-12-30", periods=14)  # two days before the tower, two after it
    sites = pd.DataFrame(
        {"first_obs_day": pd.Timestamp("2019-01-01"), "last_obs_day": pd.Timestamp("2019-01-10")},
        index=[BOULDINA, "other"],
    )
    raw = {name: np.full((2, 14), np.nan) for name in ("soil_temp_c", "air_temp_c", "rh_pct")}
    raw["air_temp_c"][0, 5] = 3.0  # COSORE's own value stays
    in_span = np.ones((2, 14), bool)
    cells = tower_fill(raw, sites, time, in_span, root=root, min_cover=0.8)
    air = raw["air_temp_c"]
    assert air[0, 5] == 3.0 and (air[0, 2:5] == 23.5).all() and np.isnan(air[0, :2]).all()
    assert np.isnan(air[1]).all() and np.isnan(raw["rh_pct"]).all()  # other site; a driver the tower lacks
    assert cells["air_temp_c"][0].sum() == 9 and not cells["air_temp_c"][1].any()
    assert raw["soil_temp_c"][0, 3] == 11.0 and np.isnan(raw["soil_temp_c"][0, 4])  # 9 of 10 days: 90 %
    raw = {"soil_temp_c": np.full((2, 14), np.nan)}
    assert tower_fill(raw, sites, time, in_span, root=root, min_cover=0.95) == {}  # 90 % < 95 %: not used
    assert np.isnan(raw["soil_temp_c"]).all()


def test_real_us_bi1_fills_bouldina(data_root):
    """The shared US-Bi1 files cover the whole BOULDINA record; COSORE gives it no driver at all."""
    from soilco2.daily.dataset.build import DailyDataConfig, build_daily_dataset

    assert cosore_towers()[BOULDINA] == "us-bi1"
    daily = tower_daily("us-bi1", data_root)
    assert daily.index.min() <= pd.Timestamp("2018-07-01") and daily.index.max() >= pd.Timestamp("2020-06-29")
    assert np.isnan(daily["soil_temp_c"].iloc[0])  # 2018-06-30: the file's first half hour only
    daily = daily.iloc[1:]
    assert daily["soil_temp_c"].between(0, 40).all() and daily["swc_m3_m3"].between(0, 1).all()
    year = daily.loc["2019-01-01":"2019-12-31", "precip_mm"].sum()
    assert 150 < year < 1000  # Sacramento–San Joaquin delta, mm per year
    cfg = DailyDataConfig(tower_drivers=True, sites_include=[BOULDINA, "d20190409_ZOU"])
    ds = build_daily_dataset(cfg, root=data_root, progress=False)
    used = json.loads(ds.attrs["tower_drivers"])
    assert set(used) == {BOULDINA} and {"soil_temp_c", "swc_m3_m3", "precip_mm"} <= set(used[BOULDINA])
    site = ds.sel(site=BOULDINA)
    observed = np.isfinite(site["flux_umol_m2_s"].values)
    assert (site["avail_soil_temp_c"].values[observed] == 1).all()
    counts = json.loads(ds.attrs["fill_counts"])["soil_temp_c"]
    assert counts["tower"] >= observed.sum() and counts["tower"] <= counts["observed"]
    base = build_daily_dataset(
        DailyDataConfig(sites_include=[BOULDINA, "d20190409_ZOU"]), root=data_root, progress=False
    )
    assert "tower_drivers" not in base.attrs and np.nansum(base.sel(site=BOULDINA)["avail_soil_temp_c"]) == 0
    zou = ds.sel(site="d20190409_ZOU")
    for name in ds.attrs["dynamic_features"]:  # other sites are untouched
        np.testing.assert_array_equal(zou[name].values, base.sel(site="d20190409_ZOU")[name].values)


def test_missing_tower_file_is_one_clear_error(tmp_path):
    from soilco2.errors import UserError

    sites = pd.DataFrame(
        {"first_obs_day": pd.Timestamp("2019-01-01"), "last_obs_day": pd.Timestamp("2019-01-10")}, index=[BOULDINA]
    )
    time = pd.date_range("2019-01-01", periods=10)
    with pytest.raises(UserError, match="tower file not found") as err:
        tower_fill({"soil_temp_c": np.full((1, 10), np.nan)}, sites, time, np.ones((1, 10), bool), root=tmp_path)
    assert "US-Bi1" in str(err.value.file)
