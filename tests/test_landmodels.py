"""Process-model Rh readers and scoring: units checked by global totals, known-answer scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from soilco2 import model_benchmark as B
from soilco2.errors import UserError
from soilco2.sources import landmodels as L
from soilco2.sources.grids import cell_area_m2


def _coarse_models(values: np.ndarray) -> xr.Dataset:
    lat = np.arange(-85.0, 90.0, 10.0)
    lon = np.arange(-175.0, 180.0, 10.0)
    field = xr.DataArray(values.reshape(lat.size, lon.size), coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))
    return xr.Dataset({"a": field, "b": field * 1.1})


def test_compare_with_map_known_answer():
    rng = np.random.default_rng(0)
    models = _coarse_models(rng.uniform(100, 900, 18 * 36))
    lat, lon = np.arange(-89.75, 90, 0.5), np.arange(-179.75, 180, 0.5)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    ref = xr.DataArray(
        L.values_at(models["a"], la.ravel(), lo.ravel()).reshape(la.shape),
        coords={"lat": lat, "lon": lon},
        dims=("lat", "lon"),
    )
    area = xr.DataArray(np.repeat(cell_area_m2(lat, 0.5, 0.5)[:, None], lon.size, axis=1), coords=ref.coords)
    out = B.compare_with_map(models, ["a", "b"], ref, area).set_index("model")
    assert out.loc["a", "r_area_weighted"] == pytest.approx(1.0)
    assert out.loc["a", "bias_gc_m2_yr"] == pytest.approx(0.0, abs=1e-9)
    assert out.loc["b", "r_area_weighted"] == pytest.approx(1.0)
    assert out.loc["b", "model_total_pg_c_yr"] == pytest.approx(1.1 * out.loc["b", "map_total_pg_c_yr"])
    assert out.loc["b", "bias_gc_m2_yr"] == pytest.approx(
        0.1 * (out.loc["b", "map_total_pg_c_yr"] * 1e15 / area.values.sum())
    )


def test_score_at_points_known_answer():
    models = _coarse_models(np.linspace(200, 800, 18 * 36))
    pts = pd.DataFrame({"lat": [-80.0, 0.0, 42.0, 61.0], "lon": [-170.0, 5.0, -72.0, 120.0]})
    pts["rh_annual_gc_m2_yr"] = L.values_at(models["a"], pts.lat, pts.lon) / 2
    out = B.score_at_points(models, ["a"], pts).iloc[0]
    assert out["n"] == 4 and out["r"] == pytest.approx(1.0)
    assert out["median_ratio_model_over_obs"] == pytest.approx(2.0)


def test_missing_benchmark_folder_is_a_user_error(tmp_path):
    (tmp_path / "benchmarks" / "landmodels").mkdir(parents=True)
    with pytest.raises(UserError, match="not found"):
        L.soil_model_rh(tmp_path)


@pytest.mark.realdata
def test_soil_models_units_by_their_global_totals(data_root):
    ds = L.soil_model_rh(data_root)
    totals = L.soil_model_totals(data_root).set_index("model")["rh_pg_c_yr"]
    assert totals.between(40, 70).all(), totals  # global Rh is tens of Pg C per year
    assert ds["lon"].min() >= -180 and ds["lon"].max() < 180 and bool((ds["lat"].diff("lat") > 0).all())
    assert ds["casa_clm"].attrs["units"] == "g C m-2 yr-1"
    assert float(ds["land_area_m2"].sum()) == pytest.approx(1.226e14, rel=0.01)


@pytest.mark.realdata
def test_published_series_and_the_mislabelled_cmip6_file(data_root):
    p = L.published_global_rh(data_root)
    assert set(p["source"]) == {"CMIP6", "ISIMIP2a", "Hashimoto et al. 2015", "Tang et al. 2020"}
    assert p.groupby("source")["rh_pg_c_yr"].median().between(35, 65).all()
    assert L.cmip6_kg_file_ratio(data_root).between(11, 12.5).all()  # ~12x: monthly rates summed


@pytest.mark.realdata
def test_srdb_rh_points_accounting(data_root):
    pts, counts = B.srdb_rh_points(data_root)
    assert counts["kept"] == len(pts) > 800
    assert (
        counts["unmanipulated_records"]
        == counts["kept"] + counts["without_rh_annual"] + counts["flag_no_coords"] + counts["flag_in_sea"]
    )
