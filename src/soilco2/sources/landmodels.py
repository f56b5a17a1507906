"""Process-model heterotrophic respiration (Rh) for benchmarking (``<data root>/benchmarks``).

- Gridded soil models from PNNL-TES/landmodels (``landmodels/*_pool_flux_2000-2010_mean.nc``,
  2000–2010 mean, 96 × 144 cells of 1.89° × 2.5°): CASA-CLM ``cresp``, CORPSE ``Soil_CO2``
  (+ ``LitterLayer_CO2``, its litter-layer respiration, so that the total is comparable with the
  other two), MIMICS ``cHresp``; all g C m-2 day-1 (CORPSE says "g C m-2" for a per-day flux).
  Returned in **g C m-2 yr-1** (× 365), lat ascending, lon −180…180, with ``land_area_m2``
  (the files' ``landarea``, km², ice and water set to 0); cells without land area are NaN
  (the files hold zeros over ice sheets, and CORPSE's litter layer is NaN there).
- Published global annual Rh series (Pg C yr-1): CMIP6 ESMs (``rh_global_1980-2015.csv``, g yr-1),
  ISIMIP2a models (``rh_changes/all_annual_global_rh.csv``, g yr-1), Hashimoto et al. 2015 and
  Tang et al. 2020 (``*_rh.txt``, digitised, Pg C yr-1). ``CMIP6_global_RH.csv`` is left out: its
  "kg/yr" values are ~12× the same models' totals in ``rh_global_1980-2015.csv`` (apparently sums
  of monthly rates), see :func:`cmip6_kg_file_ratio`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.errors import UserError
from soilco2.paths import source_dir
from soilco2.sources.grids import G_PER_PG, total_pg_c_yr

SOIL_MODELS = {  # name -> (file, variables summed)
    "casa_clm": ("casaclm_pool_flux_2000-2010_mean.nc", ("cresp",)),
    "corpse": ("corpse_pool_flux_2000-2010_mean.nc", ("Soil_CO2", "LitterLayer_CO2")),
    "mimics": ("mimics_pool_flux_2000-2010_mean.nc", ("cHresp",)),
}
DAYS_PER_YEAR = 365.0


def benchmarks_dir(root: str | Path | None = None) -> Path:
    """``<data root>/benchmarks`` (or ``root`` itself when it is that folder)."""
    return source_dir("benchmarks", root, label="process-model benchmarks")


def _open(path: Path) -> xr.Dataset:
    if not path.is_file():
        raise UserError("process-model file not found", file=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return xr.open_dataset(path, decode_times=False)
    except Exception as err:
        raise UserError(f"cannot read NetCDF ({err.__class__.__name__})", file=path) from None


def soil_model_rh(root: str | Path | None = None) -> xr.Dataset:
    """Rh of the three soil models (g C m-2 yr-1) and ``land_area_m2`` on their common grid."""
    folder = benchmarks_dir(root) / "landmodels"
    out, area = {}, None
    for name, (fname, variables) in SOIL_MODELS.items():
        ds = _open(folder / fname)
        missing = [v for v in (*variables, "landarea") if v not in ds]
        if missing:
            raise UserError("missing variable(s) " + ", ".join(missing), file=folder / fname, field=missing[0])
        day = sum(ds[v].isel(time=0).astype("f8") for v in variables)
        out[name] = (day * DAYS_PER_YEAR).assign_attrs(
            units="g C m-2 yr-1",
            long_name=f"{name} heterotrophic respiration, 2000-2010 mean",
            source=f"{fname}: {' + '.join(variables)} (g C m-2 day-1) x 365",
        )
        if area is None:
            area = (ds["landarea"].astype("f8") * 1e6).assign_attrs(units="m2", long_name="land area (ice and water 0)")
    # ice and open-water cells (land area 0) carry zeros or NaN in the files: no land flux there
    out = {k: v.where(area > 0).assign_attrs(v.attrs) for k, v in out.items()}
    res = xr.Dataset(out | {"land_area_m2": area}).drop_vars("time", errors="ignore")
    res = res.assign_coords(lon=((res["lon"] + 180) % 360) - 180).sortby(["lat", "lon"])
    res["lat"].attrs.update(units="degrees_north", standard_name="latitude")
    res["lon"].attrs.update(units="degrees_east", standard_name="longitude")
    res.attrs.update(Conventions="CF-1.8", title="Soil-model heterotrophic respiration (PNNL-TES/landmodels)")
    return res


def soil_model_totals(root: str | Path | None = None) -> pd.DataFrame:
    """Global Rh of each soil model, Pg C yr-1."""
    ds = soil_model_rh(root)
    return pd.DataFrame(
        {
            "model": list(SOIL_MODELS),
            "rh_pg_c_yr": [float(total_pg_c_yr(ds[m], ds["land_area_m2"], axis=None)) for m in SOIL_MODELS],
        }
    )


def values_at(field: xr.DataArray, lat, lon, max_distance_km: float = 0.0) -> np.ndarray:
    """Value of the grid cell containing each point; where that cell has none (coasts), the
    nearest cell with a value within ``max_distance_km`` (0: no fallback); else NaN."""
    from soilco2.sources.grids import _cell_index, check_coords, nearest_valid

    lat_a, lon_a = check_coords(lat, lon)
    v = field.transpose("lat", "lon").values
    lat_c, lon_c = field["lat"].values, field["lon"].values
    if max_distance_km > 0:
        i, j, _, _ = nearest_valid(np.isfinite(v), lat_c, lon_c, lat_a, lon_a, max_distance_km)
        return np.where(i >= 0, v[np.maximum(i, 0), np.maximum(j, 0)], np.nan)
    i, j = _cell_index(lat_c, lon_c, lat_a, lon_a)
    return v[i, j]


def published_global_rh(root: str | Path | None = None) -> pd.DataFrame:
    """Tidy global annual Rh series: ``source``, ``model``, ``member`` (CMIP6 ensemble member, else
    empty), ``year``, ``rh_pg_c_yr``."""
    base = benchmarks_dir(root)
    parts = []
    f = base / "landmodels" / "rh_global_1980-2015.csv"
    cm = _read_csv(f, ["year", "model", "units", "value"])
    if set(cm["units"]) != {"g yr-1"}:
        raise UserError(f"unexpected units {sorted(set(cm['units']))}", file=f, field="units")
    parts.append(
        pd.DataFrame(
            {
                "source": "CMIP6",
                "model": cm["model"],
                "member": cm.get("ensemble", ""),
                "year": cm["year"],
                "rh_pg_c_yr": cm["value"] / G_PER_PG,
            }
        )
    )
    f = base / "rh_changes" / "all_annual_global_rh.csv"
    isi = _read_csv(f, ["year"]).melt(id_vars="year", var_name="model", value_name="g_yr")
    parts.append(
        pd.DataFrame(
            {"source": "ISIMIP2a", "model": isi["model"], "year": isi["year"], "rh_pg_c_yr": isi["g_yr"] / G_PER_PG}
        )
    )
    for name, label in (("hashimoto2015_rh.txt", "Hashimoto et al. 2015"), ("tang2020_rh.txt", "Tang et al. 2020")):
        f = base / "landmodels" / name
        if not f.is_file():
            raise UserError("published Rh series not found", file=f)
        t = pd.read_csv(f, comment="#", header=None, names=["year", "rh_pg_c_yr"])
        parts.append(
            pd.DataFrame(
                {"source": label, "model": label, "year": t["year"].round().astype(int), "rh_pg_c_yr": t["rh_pg_c_yr"]}
            )
        )
    return pd.concat(parts, ignore_index=True).fillna({"member": ""})


def cmip6_kg_file_ratio(root: str | Path | None = None) -> pd.Series:
    """Per model, median over common years of ``CMIP6_global_RH.csv`` (as kg yr-1) / the same
    model's total in ``rh_global_1980-2015.csv`` — the reason the first file is not used."""
    base = benchmarks_dir(root) / "landmodels"
    kg = _read_csv(base / "CMIP6_global_RH.csv", ["year", "model", "global_value"])
    g = _read_csv(base / "rh_global_1980-2015.csv", ["year", "model", "value"])
    kg = kg.groupby(["model", "year"])["global_value"].mean() * 1e3  # kg -> g
    g = g.groupby(["model", "year"])["value"].mean()
    both = pd.concat([kg.rename("kg_file_g"), g.rename("g_file")], axis=1).dropna()
    return (both["kg_file_g"] / both["g_file"]).groupby(level="model").median()


def _read_csv(path: Path, need: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise UserError("file not found", file=path)
    df = pd.read_csv(path)
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise UserError("missing column(s) " + ", ".join(missing), file=path, field=missing[0])
    return df
