"""ERA5 daily drivers from towers' FLUXNET ERA5 DD files (offline): the reader on files the tests
write, the nearest-tower rule, the dataset builder with them, and the shared towers on real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from soilco2.errors import UserError
from soilco2.sources import fluxnet_era5 as fe


def write_dd(path, start="2014-12-01", days=600):
    """A FLUXNET ERA5 DD file with known values: TA = 20 °C, VPD half the saturation pressure at
    20 °C (RH 50 %), P = day of month, SW = 100 + day index; one missing TA (−9999)."""
    d = pd.date_range(start, periods=days)
    es20 = 6.1078 * np.exp(17.27 * 20 / 257.3)
    frame = pd.DataFrame(
        {
            "TIMESTAMP": d.strftime("%Y%m%d"),
            "TA_ERA": 20.0,
            "SW_IN_ERA": 100.0 + np.arange(days),
            "VPD_ERA": es20 / 2,
            "P_ERA": d.day.astype(float),
            "WS_ERA": 2.0,
        }
    )
    frame.loc[40, "TA_ERA"] = -9999
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def test_read_dd_known_values(tmp_path):
    out = fe.read_dd(write_dd(tmp_path / "AMF_US-Xx1_FLUXNET_ERA5_DD_1981-2021_3-5.csv"))
    assert list(out.columns) == list(fe.VARIABLES) and out.index[0] == pd.Timestamp("2014-12-01")
    assert np.isnan(out["era5_air_temp_c"].iloc[40]) and out["era5_air_temp_c"].iloc[41] == 20.0
    assert out["era5_rh_pct"].iloc[0] == pytest.approx(50.0)
    assert out["era5_precip_mm"].loc["2015-01-31"] == 31.0 and out["era5_sw_w_m2"].iloc[3] == 103.0
    bad = tmp_path / "AMF_US-Xx2_FLUXNET_ERA5_DD_1981-2021_3-5.csv"
    bad.write_text("TIMESTAMP,P_ERA\n20150101,1\n")
    with pytest.raises(UserError, match="not a FLUXNET ERA5 daily file") as err:
        fe.read_dd(bad)
    assert err.value.field == "TA_ERA"


def test_files_coordinates_and_nearest_tower(tmp_path):
    write_dd(tmp_path / "a" / "AMF_US-Xx1_FLUXNET_ERA5_DD_1981-2021_3-5.csv")
    write_dd(tmp_path / "b" / "FLX_DE-Yy2_FLUXNET2015_ERA5_DD_1989-2014_1-4.csv")
    write_dd(tmp_path / "b" / "FLX_DE-Yy2_FLUXNET2015_FULLSET_DD_1989-2014_1-4.csv")  # not ERA5
    write_dd(tmp_path / "AMF_US-Zz3_FLUXNET_ERA5_DD_1981-2021_3-5.csv")
    files = fe.find_files(tmp_path)
    assert sorted(files) == ["DE-Yy2", "US-Xx1", "US-Zz3"]
    meta = pd.DataFrame(
        {
            "dataset": ["s1", "s2", "s3"],
            "site_id": ["US-XX1", "US-Xx1", ""],
            "lat": [40.0, 40.2, 0.0],
            "lon": [-100.0, -100.0, 0.0],
        }
    )
    coords, unlocated = fe.tower_coordinates(meta, files)
    assert coords == {"US-Xx1": (pytest.approx(40.1), -100.0)} and sorted(unlocated) == ["DE-Yy2", "US-Zz3"]
    client = fe.FluxnetERA5Files.from_folder(tmp_path, meta, max_km=100)
    tower, km = client.nearest(40.1 + 0.8, -100.0)  # 0.8° of latitude north: 89 km
    assert tower == "US-Xx1" and km == pytest.approx(89.0, abs=0.5)
    assert client.nearest(40.1 + 1.0, -100.0) == (None, pytest.approx(np.nan, nan_ok=True))  # 111 km
    assert client.describe(40.1, -100.0) == "US-Xx1 (0.0 km)"
    got = client.daily(40.1, -100.0, "2015-01-01", "2015-01-10")
    assert len(got) == 10 and (got["era5_precip_mm"].to_numpy() == np.arange(1, 11)).all()
    assert client.daily(0.0, 0.0, "2015-01-01", "2015-01-10").empty
    with pytest.raises(UserError, match="ERA5 daily files not found") as err:
        fe.find_files(tmp_path / "nowhere")
    assert err.value.field == "data.era5_fluxnet_dir"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no FLUXNET ERA5 daily file"):
        fe.find_files(tmp_path / "empty")


def test_dataset_with_tower_files(tmp_path):
    from soilco2.daily.dataset.build import DailyDataConfig, assemble_daily_dataset
    from synth_daily_inputs import monthly_at, site_attributes, synthetic

    table, meta = synthetic()
    meta["site_id"] = ["US-Xx1", "", ""]  # site A stands at the tower; B is 20° away
    write_dd(tmp_path / "AMF_US-Xx1_FLUXNET_ERA5_DD_1981-2021_3-5.csv")
    cfg = DailyDataConfig(
        providers={"era5": True, "astronomy": False},
        sites_include=["A", "B"],
        warmup_days=5,
        era5_source="fluxnet_dd",
        era5_fluxnet_dir=str(tmp_path),
    )
    ds = assemble_daily_dataset(cfg, table, meta, monthly_at=monthly_at, site_attributes=site_attributes)
    dyn = ds.attrs["dynamic_features"]
    assert [v for v in dyn if "era5" in v] == [*fe.VARIABLES, "avail_era5"]
    assert json.loads(ds.attrs["era5_sources"]) == {"A": "US-Xx1 (0.0 km)", "B": ""}
    span = ds["in_span"].values.astype(bool)
    a, b = span[0], span[1]
    assert np.isfinite(ds["era5_air_temp_c"].values[span]).all()  # gaps interpolated or filled
    assert (ds["avail_era5"].values[0, a] == 1).all() and (ds["avail_era5"].values[1, b] == 0).all()
    assert np.allclose(ds["era5_air_temp_c"].values[0, a], 20.0)  # the missing day interpolated
    ta_b = ds["era5_air_temp_c"].values[1, b]
    clim = ds["clim_temp_c"].values[1, b]
    assert np.allclose(ta_b, clim)  # no tower near: the climatology fill (offset 0)
    sw_b = ds["era5_sw_w_m2"].values[1, b]
    assert (sw_b > 0).all() and sw_b.std() > 1  # Angström estimate, not a constant
    fills = json.loads(ds.attrs["fill_counts"])["era5_precip_mm"]
    assert fills["observed"] == int(a.sum()) and fills["filled"] == int(b.sum())


def test_config_checks():
    from soilco2.daily.dataset.build import DailyDataConfig

    with pytest.raises(ValidationError):
        DailyDataConfig(era5_source="cds")
    with pytest.raises(ValidationError):
        DailyDataConfig(era5_fluxnet_max_km=-5)


def test_shared_towers_on_real_data(data_root):
    """The shared tower folder: US-Bi1 serves the Sacramento-delta and Sierra-foothill chamber
    sites, US-Wkg the Walnut Gulch ones; its air temperature follows the soil-temperature sensor of SCOTT_WKG."""
    from soilco2.daily.dataset.build import DailyDataConfig, build_daily_dataset

    sites = ["d20200214_SZUTU_TONZI", "d20190617_SCOTT_WKG", "d20200229_PHILLIPS"]
    cfg = DailyDataConfig(providers={"era5": True, "astronomy": False}, sites_include=sites, era5_source="fluxnet_dd")
    ds = build_daily_dataset(cfg, root=data_root, progress=False)
    src = json.loads(ds.attrs["era5_sources"])
    assert src["d20200214_SZUTU_TONZI"] == "US-Bi1 (59.4 km)" and src["d20190617_SCOTT_WKG"] == "US-Wkg (0.0 km)"
    assert src["d20200229_PHILLIPS"] == ""
    w = ds.sel(site="d20190617_SCOTT_WKG")
    measured = (w["avail_soil_temp_c"].values == 1) & (w["in_span"].values == 1)
    assert measured.sum() > 300 and (w["avail_era5"].values[w["in_span"].values == 1] == 1).all()
    r = np.corrcoef(w["soil_temp_c"].values[measured], w["era5_air_temp_c"].values[measured])[0, 1]
    assert r > 0.9  # 0.94


def test_era5_role_fill(tmp_path):
    """``era5_role: fill``: a site's ERA5 series replace the climatology in the fills of the
    drivers its sensors do not give; no ``era5_*`` inputs of their own."""
    from soilco2.daily.dataset.build import DailyDataConfig, assemble_daily_dataset
    from soilco2.daily.dataset.gaps import PAR_PER_SW
    from synth_daily_inputs import monthly_at, site_attributes, synthetic

    table, meta = synthetic()
    meta["site_id"] = ["", "US-Xx1", ""]  # B (no soil sensors, no RH, no PAR) stands at the tower
    write_dd(tmp_path / "AMF_US-Xx1_FLUXNET_ERA5_DD_1981-2021_3-5.csv")
    kw = dict(
        providers={"era5": True, "astronomy": False},
        sites_include=["A", "B"],
        warmup_days=5,
        era5_source="fluxnet_dd",
        era5_fluxnet_dir=str(tmp_path),
    )
    ds = assemble_daily_dataset(
        DailyDataConfig(**kw, era5_role="fill"), table, meta, monthly_at=monthly_at, site_attributes=site_attributes
    )
    plain = assemble_daily_dataset(
        DailyDataConfig(**kw | {"providers": {"astronomy": False}}),
        table,
        meta,
        monthly_at=monthly_at,
        site_attributes=site_attributes,
    )
    assert [v for v in ds.attrs["dynamic_features"] if "era5" in v] == ["avail_era5"]
    b = ds["in_span"].values[1].astype(bool)
    assert np.allclose(ds["soil_temp_c"].values[1, b], 20.0)  # ERA5 air temperature, offset 0
    assert (ds["avail_soil_temp_c"].values[1, b] == 0).all() and (ds["avail_era5"].values[1, b] == 1).all()
    assert np.allclose(ds["rh_pct"].values[1, b], 50.0)
    sw = 100.0 + (ds["time"].values[b] - np.datetime64("2014-12-01")) / np.timedelta64(1, "D")
    assert np.allclose(ds["par_umol_m2_s"].values[1, b], PAR_PER_SW * sw)
    measured = ds["avail_precip_mm"].values[1] == 1
    assert np.allclose(ds["precip_mm"].values[1, measured], 2.0)  # measured: kept
    warm = b & ~measured  # the warm-up days: ERA5 precipitation x the site's ratio measured / ERA5
    assert warm.sum() == 5 and not np.allclose(ds["precip_mm"].values[1, warm], 2.0)
    for v in ("soil_temp_c", "precip_mm", "rh_pct"):  # site A has no tower: the same as without ERA5
        assert np.array_equal(ds[v].values[0], plain[v].values[0], equal_nan=True)
    with pytest.raises(UserError, match="era5_role: fill") as err:
        assemble_daily_dataset(
            DailyDataConfig(**kw | {"providers": {"era5": True, "insitu": False}}, era5_role="fill"),
            table,
            meta,
            monthly_at=monthly_at,
        )
    assert err.value.field == "data.era5_role"
