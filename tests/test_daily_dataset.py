"""The S1 daily dataset builder on synthetic tables with known answers (no files read)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cf_checker import cf_errors
from soilco2.daily.dataset import gaps
from soilco2.daily.dataset.build import IGBP_CODES, DailyDataConfig, assemble_daily_dataset
from soilco2.daily.dataset.drivers import AstronomyProvider, extraterrestrial_radiation, monthly_to_daily
from soilco2.daily.dataset.form import daily_dataset_table, write_dataset
from soilco2.errors import UserError
from synth_daily_inputs import monthly_at, site_attributes, synthetic


def build(cfg=None, **kw):
    table, meta = synthetic()
    return assemble_daily_dataset(
        cfg or DailyDataConfig(**kw), table, meta, monthly_at=monthly_at, site_attributes=site_attributes
    )


def test_shapes_spans_and_attrs():
    ds = build(warmup_days=30)
    assert list(ds["site"].values) == ["A", "B"]
    assert json.loads(ds.attrs["skipped_sites"]) == {"C": "10 observed days, fewer than min_obs_days=30"}
    assert ds["time"].values[0] == np.datetime64("2014-12-02")  # 30 warm-up days before A's first day
    span = ds["in_span"].values.astype(bool)
    assert span.sum(axis=1).tolist() == [430, 380]
    for name in ds.attrs["dynamic_features"]:
        v = ds[name].values
        assert np.isfinite(v[span]).all(), name
        assert np.isnan(v[~span]).all(), name
    for name in list(ds.data_vars) + ["lat", "lon"]:
        attrs = ds[name].attrs
        assert ("units" in attrs or "flag_meanings" in attrs) and "long_name" in attrs or "standard_name" in attrs, name
    assert set(ds.attrs["static_features"]) >= {"lat_deg", "elevation_m", "mat_c", "map_mm", "soc_mg_ha", "whc_mm"}
    onehot = np.stack([ds[f"igbp_{c}"].values for c in IGBP_CODES], axis=1)
    assert onehot.sum(axis=1).tolist() == [1, 1]
    assert ds["igbp_GRA"].values.tolist() == [1, 0] and ds["igbp_DBF"].values.tolist() == [0, 1]
    assert ds["elevation_m"].values[1] == 100.0  # filled with the median of the others, and said so
    assert "elevation_m" in json.loads(ds.attrs["static_filled"])
    assert ds.attrs["skewed_features"] == ["par_umol_m2_s", "precip_mm", "clim_precip_mm_day"]
    # the feature list follows the config, not the sensors present (air temperature is in no table)
    assert {"air_temp_c", "air_temp_c_min", "avail_air_temp_c", "rh_pct"} <= set(ds.attrs["dynamic_features"])
    assert (ds["avail_air_temp_c"].values[span] == 0).all()
    only = build(insitu_drivers=["soil_temp_c"], providers={"climatology": False})
    assert only.attrs["dynamic_features"] == [
        "soil_temp_c",
        "avail_soil_temp_c",
        "soil_temp_c_min",
        "soil_temp_c_max",
        "day_length_h",
        "toa_sw_w_m2",
        "doy_sin",
        "doy_cos",
    ]
    # target untouched, NaN in warm-up
    assert np.isnan(ds["flux_umol_m2_s"].values[0, :30]).all()
    assert int(np.isfinite(ds["flux_umol_m2_s"].values).sum()) == 400 + 350


def test_gap_handling_and_availability():
    ds = build(warmup_days=0, max_gap_days=7)
    a = ds.sel(site="A")
    temp, avail = a["soil_temp_c"].values, a["avail_soil_temp_c"].values
    d = pd.date_range("2015-01-01", periods=400)
    truth = 10 + 8 * np.sin(2 * np.pi * d.day_of_year / 365)
    # short gap: linear between the neighbours, available
    line = np.interp([100, 101, 102], [99, 103], truth[[99, 103]])
    np.testing.assert_allclose(temp[100:103], line, rtol=1e-5)
    assert avail[100:103].tolist() == [1, 1, 1]
    # long gap: climatology + site offset, not available
    assert (avail[200:250] == 0).all() and np.isfinite(temp[200:250]).all()
    clim = a["clim_temp_c"].values
    offsets = temp[200:250] - clim[200:250]
    np.testing.assert_allclose(offsets, offsets[0], atol=1e-4)  # one constant offset
    counts = json.loads(ds.attrs["fill_counts"])["soil_temp_c"]
    assert counts == {"observed": 347 + 0, "interpolated": 3, "filled": 50 + 350}
    # site B never had soil sensors: climatology temperature, moisture constant 0.25, avail 0
    b = ds.sel(site="B")
    span = b["in_span"].values.astype(bool)
    np.testing.assert_allclose(b["soil_temp_c"].values[span], b["clim_temp_c"].values[span], rtol=1e-6)
    assert np.allclose(b["swc_m3_m3"].values[span], 0.25) and (b["avail_swc_m3_m3"].values[span] == 0).all()
    # min/max of B exist while the mean never did: the mean fill + the observed (min - mean) difference
    assert np.isfinite(b["soil_temp_c_min"].values[span]).all()


def test_interpolate_short_gaps_known_answer():
    x = np.array([[1.0, np.nan, np.nan, 4.0, np.nan, np.nan, np.nan, np.nan, 9.0, np.nan]])
    filled, avail = gaps.interpolate_short_gaps(x, max_gap=3)
    np.testing.assert_allclose(filled[0, :4], [1, 2, 3, 4])
    assert np.isnan(filled[0, 4:8]).all() and np.isnan(filled[0, 9])  # 4-day gap and trailing edge kept
    assert avail[0].tolist() == [True] * 4 + [False] * 4 + [True, False]


def test_astronomy_matches_fao56_examples():
    # FAO-56 example 8/9: 20 deg S, 3 September (J = 246): Ra = 32.2 MJ m-2 d-1, N = 11.7 h
    ra, n = extraterrestrial_radiation(np.array([[-20.0]]), np.array([246.0]))
    assert ra[0, 0] == pytest.approx(32.2, abs=0.1)
    assert n[0, 0] == pytest.approx(11.7, abs=0.05)
    sites = pd.DataFrame({"lat": [0.0, 80.0]}, index=["eq", "polar"])
    out = AstronomyProvider().provide(sites, pd.date_range("2019-01-01", "2019-12-31"))
    assert np.allclose(out["day_length_h"][0], 12.0)
    assert out["day_length_h"][1].min() == 0 and out["day_length_h"][1].max() == 24  # polar night/day


def test_monthly_to_daily_is_cyclic_and_exact_for_constants():
    time = pd.date_range("2019-01-01", "2020-12-31")
    flat = monthly_to_daily(np.full((1, 12), 5.0), time)
    np.testing.assert_allclose(flat, 5.0)
    m = np.arange(12)
    wave = monthly_to_daily(np.cos(2 * np.pi * (m - 6) / 12)[None], time)[0]
    assert abs(wave[-1] - wave[0]) < 0.02  # Dec 31 joins Jan 1 smoothly
    assert time[np.argmax(wave[:365])].month == 7  # peak at mid-July


def test_config_and_bad_input():
    with pytest.raises(UserError, match="empty site list"):
        build(sites_include=[])
    with pytest.raises(UserError, match="fewer than min_obs_days"):
        build(sites_include=["C"])
    with pytest.raises(UserError, match="unknown site"):
        build(sites_include=["nope"])
    with pytest.raises(UserError, match="provider"):
        build(providers={"insitu": False, "climatology": False, "astronomy": False})
    # only in-situ on and a site without any sensor: skipped with a reason, or an error alone
    table, meta = synthetic()
    table = table.assign(precip_mm=np.nan)
    table.loc[table.dataset == "B", ["soil_temp_c_min", "soil_temp_c_max"]] = np.nan
    cfg = DailyDataConfig(providers={"climatology": False, "astronomy": False})
    ds = assemble_daily_dataset(cfg, table, meta, monthly_at=monthly_at, site_attributes=site_attributes)
    assert list(ds.site.values) == ["A"] and "no driver" in json.loads(ds.attrs["skipped_sites"])["B"]
    with pytest.raises(UserError, match="no driver"):
        assemble_daily_dataset(
            cfg.model_copy(update={"sites_include": ["B"]}),
            table,
            meta,
            monthly_at=monthly_at,
            site_attributes=site_attributes,
        )
    from soilco2.config import validate

    with pytest.raises(UserError, match="max_gap_days"):
        validate({"max_gap_days": -1}, DailyDataConfig)
    with pytest.raises(UserError, match="unknown key"):
        validate({"era6": True}, DailyDataConfig)


def test_table_and_netcdf_round_trip(tmp_path):
    import xarray as xr

    ds = build()
    table = daily_dataset_table(ds)
    assert len(table) == int(ds["in_span"].sum())
    assert {"site", "date", "flux_umol_m2_s", "soil_temp_c", "mat_c"} <= set(table.columns)
    path = write_dataset(ds, tmp_path / "daily.nc")
    assert cf_errors(path) == []
    back = xr.open_dataset(path)
    assert back["soil_temp_c"].attrs["units"] == "degC"
    assert json.loads(back.attrs["dynamic_features"]) == ds.attrs["dynamic_features"]
    back.close()


def test_site_without_climatology_cell_is_skipped():
    table, meta = synthetic()

    def sea_for_b(lat, lon):
        out = monthly_at(lat, lon)
        out.loc[out["point"] == 1, "temp_c"] = np.nan  # site B: no land cell in range
        return out

    ds = assemble_daily_dataset(DailyDataConfig(), table, meta, monthly_at=sea_for_b, site_attributes=site_attributes)
    assert list(ds.site.values) == ["A"] and "climatology" in json.loads(ds.attrs["skipped_sites"])["B"]
