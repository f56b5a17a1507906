"""S3 benchmarking of process-model files: units, conservative regridding, ILAMB scores on known
answers, a model file on a 1°, 0–360°, north-first grid in kg C m-2 s-1 scored identically to the
same field on the run's grid, every bad input as one message, and the bundled soil models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cf_checker import cf_errors
from soilco2.errors import UserError
from soilco2.global_.benchmark.config import BenchmarkConfig
from soilco2.global_.benchmark.map_scores import compare_maps
from soilco2.sources.netcdf.fields import read_model_field
from soilco2.sources.netcdf.regrid import bounds_from_centres, cell_areas, regrid_conservative
from soilco2.sources.netcdf.units import to_gc_m2_yr

SECONDS_PER_YEAR = 365 * 86400


@pytest.mark.parametrize(
    "units, factor",
    [
        ("kg C m-2 s-1", 1e3 * SECONDS_PER_YEAR),
        ("kg m-2 s-1", 1e3 * SECONDS_PER_YEAR),
        ("gC/m2/day", 365.0),
        ("g C m-2 month-1", 12.0),
        ("g C m-2 yr-1", 1.0),
        ("Mg C ha-1 yr-1", 100.0),
        ("umol CO2 m-2 s-1", 12.011e-6 * SECONDS_PER_YEAR),
    ],
)
def test_units_to_g_c_per_m2_and_year(units, factor):
    assert to_gc_m2_yr(units) == pytest.approx(factor)


@pytest.mark.parametrize("units", ["K", "g C m-2", "kg m-3 s-1", "W m-2", "furlongs"])
def test_unknown_unit_names_it(units):
    with pytest.raises(UserError, match="unknown flux unit") as e:
        to_gc_m2_yr(units, file="m.nc", field="rh.units")
    assert units in str(e.value) and "m.nc" in str(e.value)


def test_regridding_conserves_the_global_total():
    rng = np.random.default_rng(1)
    lat, lon = np.arange(89.5, -90, -1.0), np.arange(0.5, 360, 1.0)  # north first, 0-360
    v = rng.uniform(0, 1500, (lat.size, lon.size))
    v[rng.random(v.shape) < 0.4] = np.nan
    land = rng.uniform(0, 1, v.shape)
    lat_b = bounds_from_centres(lat[::-1], -90, 90)[::-1]
    lon_b = bounds_from_centres(lon)
    before = np.nansum(v * land * cell_areas(lat_b, lon_b))
    dst_lat, dst_lon = np.arange(-89.75, 90, 0.5), np.arange(-179.75, 180, 0.5)
    mean, area = regrid_conservative(
        v, lat_b, lon_b, bounds_from_centres(dst_lat, -90, 90), bounds_from_centres(dst_lon), land
    )
    after = np.nansum(mean * area)
    assert abs(after / before - 1) < 1e-3  # the bound; exact by construction (~1e-15)
    assert abs(after / before - 1) < 1e-9


def test_ilamb_scores_known_answers():
    rng = np.random.default_rng(2)
    ref = rng.uniform(100, 900, 500)
    w = rng.uniform(1, 2, 500)
    same = compare_maps(ref, ref.copy(), w)
    assert same["bias_score"] == pytest.approx(1) and same["spatial_score"] == pytest.approx(1)
    scaled = compare_maps(ref, 1.1 * ref, w)
    assert scaled["bias_score"] == pytest.approx(np.exp(-0.1))  # |b| / ref = 0.1 everywhere
    assert scaled["spatial_score"] == pytest.approx(4 / (1.1 + 1 / 1.1) ** 2)  # R = 1, sigma = 1.1
    assert scaled["overall_score"] == pytest.approx((np.exp(-0.1) + 4 / (1.1 + 1 / 1.1) ** 2) / 2)
    anti = compare_maps(ref, 1000 - ref, w)
    assert anti["r"] == pytest.approx(-1) and anti["spatial_score"] == pytest.approx(0, abs=1e-12)


# ----------------------------------------------------------------------- a synthetic run folder
LAT05, LON05 = np.arange(-89.75, 90, 0.5), np.arange(-179.75, 180, 0.5)


def _field_1deg(seed=0) -> np.ndarray:
    """A smooth Rh field on the 1° grid (lat ascending, lon −180…180), NaN over 'ocean'."""
    lat, lon = np.arange(-89.5, 90, 1.0), np.arange(-179.5, 180, 1.0)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    f = 300 + 500 * np.cos(np.radians(la)) ** 2 + 50 * np.sin(np.radians(3 * lo))
    f[(np.abs(la) > 80) | ((lo > -40) & (lo < 0))] = np.nan
    return f


def _to_half_degree(f1: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(f1, 2, axis=0), 2, axis=1)


def _write_run(folder, rh05: np.ndarray) -> None:
    folder.mkdir()
    shape = (LAT05.size, LON05.size)
    area = np.broadcast_to(cell_areas(bounds_from_centres(LAT05, -90, 90), bounds_from_centres(LON05)), shape)
    data = {"cell_area": (("lat", "lon"), area.copy()), "land_fraction": (("lat", "lon"), np.ones(shape))}
    for flux, k in (("rs", 1.6), ("rh", 1.0), ("ra", 0.6)):
        data[f"{flux}_mean"] = (("lat", "lon"), k * rh05)
    xr.Dataset(data, coords={"lat": LAT05, "lon": LON05}).to_netcdf(folder / "maps.nc")
    tot = {f: {"mean": 50.0, "p2.5": 45.0, "p97.5": 55.0} for f in ("rs", "rh", "ra")}
    (folder / "summary.json").write_text(json.dumps({"totals_pg_c_yr": tot}))
    pd.DataFrame(
        {"flux": "rh", "lat": [42.5, -3.1, 61.2, 10.0], "lon": [-72.2, -60.0, 24.3, 100.0], "flux_gc_m2_yr": 500.0}
    ).to_parquet(folder / "training_table.parquet")
    from soilco2.files import RUN_MARKER, write_json, write_manifest

    write_json(folder / RUN_MARKER, {"kind": "global"})
    write_manifest(folder, ["maps.nc", "summary.json"], kind="global")


def _write_model_1deg(path, f1: np.ndarray, units="kg C m-2 s-1", factor=1e-3 / SECONDS_PER_YEAR, **extra) -> None:
    """``f1`` (g C m-2 yr-1, lat ascending, lon −180…180) written north first on 0–360° longitudes."""
    lat, lon = np.arange(-89.5, 90, 1.0), np.arange(-179.5, 180, 1.0)
    order = np.argsort(lon % 360)
    ds = xr.Dataset(
        {"rh": (("lat", "lon"), (f1 * factor)[::-1][:, order], {"units": units, **extra})},
        coords={"lat": ("lat", lat[::-1], {"units": "degrees_north"}), "lon": ("lon", (lon % 360)[order])},
    )
    ds.to_netcdf(path)


def _bench(run, models, tmp_path, **kw):
    from soilco2.global_.benchmark.run import run_benchmark

    cfg = BenchmarkConfig(models=models, figures=False, series=False, **kw)
    out = run_benchmark(run, cfg, tmp_path / "bench", progress=False)
    return pd.read_parquet(out / "scores.parquet").set_index("model"), out


def test_a_coarse_model_file_scores_like_the_same_field_on_our_grid(tmp_path):
    f1 = _field_1deg()
    rh05 = _to_half_degree(f1)
    run = tmp_path / "run"
    _write_run(run, rh05 * 1.05)
    _write_model_1deg(tmp_path / "coarse.nc", f1)
    ds = xr.Dataset({"rh": (("lat", "lon"), rh05, {"units": "g C m-2 yr-1"})}, coords={"lat": LAT05, "lon": LON05})
    ds.to_netcdf(tmp_path / "fine.nc")
    scores, out = _bench(
        run,
        [{"name": "coarse", "path": str(tmp_path / "coarse.nc")}, {"name": "fine", "path": str(tmp_path / "fine.nc")}],
        tmp_path,
    )
    cols = ["total_pg_c_yr", "srdb_n", "srdb_r", "map_r", "map_bias_gc_m2_yr", "bias_score", "spatial_score"]
    pd.testing.assert_series_equal(scores.loc["coarse", cols], scores.loc["fine", cols], check_names=False, rtol=1e-6)
    assert scores.loc["fine", "bias_score"] == pytest.approx(np.exp(-0.05 / 1.05))  # ours = 1.05 x model
    assert scores.loc["fine", "map_r"] == pytest.approx(1.0)
    data = json.loads((out / "scores.json").read_text())
    assert {"total_pg_c_yr", "srdb_r", "srdb_rmse", "map_r", "bias_score", "spatial_score", "overall_score"} <= set(
        data["models"]["coarse"]
    )
    assert {"gpp", "npp", "nep", "nbp", "aboveground_autotrophic_respiration"} <= set(data["budget"])
    assert cf_errors(out / "models_on_run_grid.nc") == []
    with xr.open_dataset(out / "models_on_run_grid.nc") as g:
        np.testing.assert_allclose(g["coarse_rh"].values, rh05, rtol=1e-5)


def test_monthly_axis_is_averaged_over_the_period_by_month_length(tmp_path):
    time = pd.date_range("1999-01-01", "2001-12-01", freq="MS")
    lat, lon = np.array([-45.0, 45.0]), np.array([90.0, 270.0])
    vals = np.ones((time.size, 2, 2)) * np.where(time.year == 2000, time.month, 999)[:, None, None]
    xr.Dataset(
        {"rh": (("time", "lat", "lon"), vals, {"units": "g C m-2 month-1"})},
        coords={"time": time, "lat": lat, "lon": lon},
    ).to_netcdf(tmp_path / "m.nc")
    f = read_model_field(tmp_path / "m.nc", "rh", period=(2000, 2000))
    days = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    assert f.values[0, 0] == pytest.approx(12 * np.sum(days * np.arange(1, 13)) / days.sum())
    assert f.period == "2000-2000" and list(f.lon) == [-90.0, 90.0]


def _nc(path, **vars_and_coords):
    xr.Dataset(**vars_and_coords).to_netcdf(path)
    return path


@pytest.mark.parametrize(
    "case, message, field",
    [
        ("no_latlon", "no latitude coordinate", "rh"),
        ("unit", "unknown flux unit 'K'", "rh.units"),
        ("period", "outside the chosen period 2000-2010", "time"),
        ("missing", "all values missing", "rh"),
        ("curvilinear", "irregular grid", "lat"),
        ("uneven", "irregular grid", "lat"),
        ("negative", "respiration is a release", "rh"),
        ("times_1000", "above any soil's respiration", "rh"),
        ("undeclared_fill", "a missing value the file does not declare", "rh"),
    ],
)
def test_bad_model_files_name_file_and_field(tmp_path, case, message, field):
    p = tmp_path / f"{case}.nc"
    grid = {"lat": np.array([-30.0, 0.0, 30.0]), "lon": np.array([0.0, 120.0, 240.0])}
    v = np.full((3, 3), 1e-8)
    if case == "no_latlon":
        _nc(p, data_vars={"rh": (("a", "b"), v, {"units": "kg m-2 s-1"})})
    elif case == "unit":
        _nc(p, data_vars={"rh": (("lat", "lon"), v, {"units": "K"})}, coords=grid)
    elif case == "period":
        t = pd.date_range("1980-01-01", periods=3, freq="YS")
        _nc(
            p,
            data_vars={"rh": (("time", "lat", "lon"), np.ones((3, 3, 3)), {"units": "kg m-2 s-1"})},
            coords=grid | {"time": t},
        )
    elif case == "missing":
        _nc(p, data_vars={"rh": (("lat", "lon"), v * np.nan, {"units": "kg m-2 s-1"})}, coords=grid)
    elif case == "curvilinear":
        la, lo = np.meshgrid(grid["lat"], grid["lon"], indexing="ij")
        _nc(
            p,
            data_vars={"rh": (("y", "x"), v, {"units": "kg m-2 s-1", "coordinates": "lat lon"})},
            coords={"lat": (("y", "x"), la, {"standard_name": "latitude"}), "lon": (("y", "x"), lo)},
        )
    elif case in ("negative", "times_1000", "undeclared_fill"):
        bad = {"negative": -v, "times_1000": v * 1000, "undeclared_fill": np.where(np.eye(3) > 0, 1e30, v)}[case]
        _nc(p, data_vars={"rh": (("lat", "lon"), bad, {"units": "kg m-2 s-1"})}, coords=grid)
    elif case == "uneven":
        _nc(p, data_vars={"rh": (("lat", "lon"), v, {"units": "kg m-2 s-1"})}, coords=grid | {"lat": [-60.0, 0.0, 5.0]})
    with pytest.raises(UserError) as e:
        read_model_field(p, "rh", period=(2000, 2010))
    assert message in str(e.value) and p.name in str(e.value) and f"'{field}'" in str(e.value)


def test_cli_bad_model_file_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    _write_run(tmp_path / "run", _to_half_degree(_field_1deg()))
    bad = _nc(
        tmp_path / "bad.nc",
        data_vars={"rh": (("lat", "lon"), np.ones((2, 2)), {"units": "furlongs"})},
        coords={"lat": [-45.0, 45.0], "lon": [0.0, 180.0]},
    )
    cmd = [sys.executable, "-m", "soilco2.cli", "global", "benchmark", str(tmp_path / "run"), str(bad), "--quiet"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "bad.nc" in res.stderr and "unknown flux unit" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_budget_by_interval_arithmetic():
    from soilco2.global_.benchmark.budget import budget_table

    tot = {"rs": (90, 80, 100), "rh": (50, 45, 55), "ra": (40, 35, 45)}
    summary = {"totals_pg_c_yr": {f: {"mean": v, "p2.5": lo, "p97.5": hi} for f, (v, lo, hi) in tot.items()}}
    b = budget_table(summary, BenchmarkConfig()).set_index("name")
    assert tuple(b.loc["total_autotrophic_respiration", ["value", "low", "high"]]) == pytest.approx(
        (64, 111 - 70.3, 126 - 41.7)
    )
    assert b.loc["nep", "value"] == pytest.approx(6.0) and b.loc["nep", "low"] == pytest.approx(41.7 - 55)
    assert b.loc["nbp", "value"] == pytest.approx(3.8)
    assert b.loc["aboveground_autotrophic_respiration", "value"] == pytest.approx(24.0)


# ------------------------------------------------------------------ year-by-year maps from a climate file
def _synthetic_climate(path, data_root, years=(2001, 2005), warming_per_year=1.5, drop=None):
    """BIOME4's climatology on a 2° grid, north first, temperature in K, warming each year."""
    from soilco2.sources import grids

    base = grids.biome4_climatology(data_root)

    def coarse(a):  # (12, 360, 720) -> (12, 90, 180), mean of the 4 x 4 cells with a value
        with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            return np.nanmean(a.reshape(12, 90, 4, 180, 4), axis=(2, 4))

    time = pd.date_range(f"{years[0]}-01-01", f"{years[1]}-12-01", freq="MS")
    n = len(time) // 12
    shift = np.repeat(warming_per_year * np.arange(n), 12)[:, None, None]
    temp = np.tile(coarse(base["temp_c"].values.astype("f8")), (n, 1, 1)) + shift + 273.15
    prec = np.tile(coarse(base["prec_mm_month"].values.astype("f8")), (n, 1, 1))
    cloud = 100 - np.tile(coarse(base["sun_pct"].values.astype("f8")), (n, 1, 1))
    lat = np.arange(-89.0, 90, 2.0)[::-1]
    lon = np.arange(-179.0, 180, 2.0)
    ds = xr.Dataset(
        {
            "tmp": (("time", "lat", "lon"), temp[:, ::-1].astype("f4"), {"units": "K"}),
            "pre": (("time", "lat", "lon"), prec[:, ::-1].astype("f4"), {"units": "mm/month"}),
            "cld": (("time", "lat", "lon"), cloud[:, ::-1].astype("f4"), {"units": "percent"}),
        },
        coords={"time": time, "lat": lat, "lon": lon % 360},
    ).sortby("lon")  # 0-360 longitudes
    ds.drop_vars(drop or []).to_netcdf(path)
    return path


@pytest.mark.realdata
def test_year_by_year_maps_follow_a_warming_climate(data_root, tmp_path):
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import run_global

    clim = _synthetic_climate(tmp_path / "clim.nc", data_root)
    cfg = GlobalConfig(
        data_root=str(data_root),
        out_dir=str(tmp_path / "run"),
        n_bootstrap=4,
        n_trees=10,
        cv_folds=3,
        explain_runs=0,
        crossing_runs=0,
        quantile_every=4,
        climate={
            "path": str(clim),
            "variables": {"temp_c": "tmp", "prec_mm_month": "pre", "cloud_pct": "cld"},
            "years": [2001, 2005],
            "runs": 3,
        },
    )
    out = run_global(cfg, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    inter = summary["interannual"]
    assert inter["years"] == [2001, 2005] and inter["runs"] == 3
    assert inter["rs"]["slope_per_year"] > 0 and inter["rs"]["slope_ci95"][0] > 0  # warming: more Rs
    per_year = pd.read_parquet(out / "years.parquet")
    assert list(per_year["year"]) == [2001, 2002, 2003, 2004, 2005] and (per_year["mapped_cell_share"] > 0.95).all()
    assert len(pd.read_parquet(out / "year_totals.parquet")) == 3 * 5
    assert cf_errors(out / "year_maps.nc") == []
    with xr.open_dataset(out / "year_maps.nc") as ds:
        assert ds["rs_mean"].shape == (5, 360, 720)
        ra = ds["ra_mean"].values
        assert np.nanmin(ra) >= 0  # Rh = Rs x fraction in every year too
    assert "Year by year" in (out / "index.html").read_text()


@pytest.mark.realdata
@pytest.mark.parametrize(
    "case, message, field",
    [
        ("no_variable", "not mapped to temp_c", "climate.variables.temp_c"),
        ("years", "lack 12 months in the file (it covers 2001-2002)", "climate.years"),
        ("unit", "unknown temperature unit 'F'", "climate.units.temp_c"),
        ("kelvin_as_celsius", "after conversion lies outside", "tmp"),
        ("metres_as_mm", "after conversion lies outside", "pre"),
        ("all_nan", "has no value", "tmp"),
        ("repeated_month", "appears twice", "time"),
    ],
)
def test_bad_climate_files_name_file_and_field(data_root, tmp_path, case, message, field):
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import run_global

    clim = _synthetic_climate(tmp_path / "clim.nc", data_root, years=(2001, 2002))
    variables = {"temp_c": "tmp", "prec_mm_month": "pre", "cloud_pct": "cld"}
    if case == "no_variable":
        variables.pop("temp_c")
    climate = {"path": str(clim), "variables": variables, "years": [2001, 2003 if case == "years" else 2002], "runs": 1}
    if case == "unit":
        climate["units"] = {"temp_c": "F"}
    if case == "kelvin_as_celsius":
        climate["units"] = {"temp_c": "degC"}
    if case in ("metres_as_mm", "all_nan", "repeated_month"):
        with xr.open_dataset(clim) as ds:
            ds = ds.load()
        if case == "metres_as_mm":
            ds["pre"] = ds["pre"] / 1000.0
        elif case == "all_nan":
            ds["tmp"] = ds["tmp"] * np.nan
        else:
            ds = xr.concat([ds, ds.isel(time=[0])], "time")
        clim.unlink()
        ds.to_netcdf(clim)
    cfg = GlobalConfig(
        data_root=str(data_root), out_dir=str(tmp_path / "run"), n_bootstrap=2, n_trees=4, cv_folds=3,
        explain_runs=0, crossing_runs=0, figures=False, climate=climate,
    )  # fmt: skip
    with pytest.raises(UserError) as e:
        run_global(cfg, progress=False)
    assert message in str(e.value) and "clim.nc" in str(e.value) and f"'{field}'" in str(e.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.realdata
def test_published_series_and_the_mislabelled_cmip6_file(data_root):
    from soilco2.sources.netcdf import landmodels as L

    p = L.published_global_rh(data_root)
    assert set(p["source"]) == {"CMIP6", "ISIMIP2a", "Hashimoto et al. 2015", "Tang et al. 2020"}
    assert p.groupby("source")["rh_pg_c_yr"].median().between(35, 65).all()
    assert L.cmip6_kg_file_ratio(data_root).between(11, 12.5).all()  # ~12x: monthly rates summed


def test_missing_benchmark_folder_is_a_user_error(tmp_path):
    from soilco2.sources.netcdf import landmodels as L

    (tmp_path / "benchmarks" / "landmodels").mkdir(parents=True)
    with pytest.raises(UserError, match="not found"):
        L.published_global_rh(tmp_path)


def test_a_constant_field_has_no_correlation_even_after_float32_round_off():
    from soilco2.global_.benchmark.map_scores import compare_maps
    from soilco2.metrics import pearson_r

    rng = np.random.default_rng(0)
    ref = rng.uniform(200, 2000, 500)
    flat = (np.full(500, 700.0) * (1 + rng.normal(0, 1e-7, 500))).astype("f4").astype(float)
    s = compare_maps(ref, flat, np.ones(500))
    assert np.isnan(s["r"]) and s["spatial_score"] == 0.0 and np.isfinite(s["bias_score"])
    assert np.isnan(pearson_r(ref, flat)) and pearson_r(ref, ref * 2 + 1) == pytest.approx(1.0)


def test_a_tampered_or_incomplete_s3_run_is_never_a_level_or_a_benchmark(tmp_path):
    from soilco2.daily.newsite.level import annual_map_level
    from soilco2.files import write_manifest
    from soilco2.global_.benchmark.scores import load_run

    run = tmp_path / "run"
    _write_run(run, _to_half_degree(_field_1deg()))
    with pytest.raises(UserError) as err:  # a map without its spread cannot give a level's SD
        annual_map_level(run, 42.5, -72.17)
    assert err.value.field == "rs_sd"
    with xr.open_dataset(run / "maps.nc") as ds:
        ds = ds.load()
    ds["rs_sd"] = 0.1 * ds["rs_mean"]
    (run / "maps.nc").unlink()
    ds.to_netcdf(run / "maps.nc")
    write_manifest(run, ["maps.nc", "summary.json"], kind="global")
    east, west = annual_map_level(run, 42.5, 287.83), annual_map_level(run, 42.5, -72.17)
    assert east == west and np.isfinite(east[0]).all()  # 0-360 degrees east is the same cell
    (run / "maps.nc").write_bytes(b"garbage")
    for read in (lambda: annual_map_level(run, 42.5, -72.17), lambda: load_run(run)):
        with pytest.raises(UserError) as err:
            read()
        assert "maps.nc" in str(err.value)
