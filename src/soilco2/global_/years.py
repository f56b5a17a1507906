"""Year-by-year S3 maps from a user's monthly climate (Lu et al. 2021 mapped 1982–2012).

For every year the covariates that come from the climate (``CLIMATE_COVARIATES``) are recomputed
from that year's 12 months with the same function as the climatology
(:func:`soilco2.global_.covariates.climate_fields`); SOC, water-holding capacity, land cover and
NDVI stay. The absolute minimum temperature ``tmin_c``, which monthly files lack, is BIOME4's
shifted by the year's change of the coldest month's mean. ``climate.runs`` of the runs (spread
over all of them) map every year with their forests; per year the totals over those runs, the
mean maps, and the interannual trend (least squares on the yearly means, with its 95 % interval,
beside the 2.5–97.5 % of the per-run trends).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.global_.config import GlobalConfig

# which climate variables each covariate needs
NEEDS = {
    "mat_c": ("temp_c",),
    "map_mm": ("prec_mm_month",),
    "sun_pct_mean": ("sun_pct",),
    "tmin_c": ("temp_c",),
    "prec_cv": ("prec_mm_month",),
    "gs_precip_mm": ("temp_c", "prec_mm_month"),
    "gs_length_months": ("temp_c",),
    "sw_mj_m2_day": ("sun_pct",),
    "aridity_index": ("temp_c", "prec_mm_month", "sun_pct"),
}


def year_inputs(
    cfg: GlobalConfig, root, cells: pd.DataFrame, data: dict, fitted: tuple[str, ...], progress: bool
) -> dict:
    """Per fitted table the covariates of the mapped cells in every year, (year, cell, covariate)
    float32 with NaN where the file has no value; the years and the share of cells covered."""
    from soilco2.global_.covariates import climate_fields
    from soilco2.progress import track
    from soilco2.sources import grids
    from soilco2.sources.netcdf.climate import MonthlyClimate

    c = cfg.climate
    base = grids.biome4_climatology(root)
    lat, lon = base["lat"].values, base["lon"].values
    clim = MonthlyClimate(c.path, c.variables, c.units, lat, lon)
    have = set(c.variables) | ({"sun_pct"} if "cloud_pct" in c.variables else set())
    used = sorted({cov for name in fitted for cov in data[name]["covariates"] if cov in NEEDS})
    for cov in used:
        for var in NEEDS[cov]:
            if var not in have:
                hint = " (or cloud_pct)" if var == "sun_pct" else ""
                raise UserError(
                    f"the climate file is not mapped to {var}{hint}, which {cov} needs",
                    file=clim.path,
                    field=f"climate.variables.{var}",
                )
    clim.check_years(*c.years)
    years = list(range(c.years[0], c.years[1] + 1))
    i, j = cells["i"].to_numpy(), cells["j"].to_numpy()
    base_temp = base["temp_c"].values.astype("f8")
    X = {name: np.empty((len(years), len(cells), len(data[name]["covariates"])), "f4") for name in fitted}
    coverage = []
    for k, y in enumerate(track(years, "climate years", progress)):
        f = clim.year(y)
        temp = f.get("temp_c", base_temp)
        tmin = base["tmin_c"].values + (np.min(temp, axis=0) - np.min(base_temp, axis=0))
        fields = climate_fields(
            temp,
            f.get("prec_mm_month", base["prec_mm_month"].values),
            f.get("sun_pct", base["sun_pct"].values),
            tmin,
            lat,
        )
        for name in fitted:
            cols = data[name]["covariates"]
            X[name][k] = np.stack([fields[cv][i, j] if cv in NEEDS else cells[cv].to_numpy() for cv in cols], axis=1)
        coverage.append(float(np.isfinite(X[fitted[0]][k]).all(1).mean()))
    return {"years": years, "Xc": X, "cell_share": coverage, "file": str(clim.path)}


def predict_years(models: dict, data: dict, cfg: GlobalConfig, fitted: tuple[str, ...]) -> np.ndarray:
    """(year, flux rs/rh/ra, cell) maps of one run's forests on every year's covariates."""
    yd = data["years"]
    n_years, n_cells = len(yd["years"]), yd["Xc"][fitted[0]].shape[1]
    out = np.full((n_years, 3, n_cells), np.nan, "f4")
    for k in range(n_years):
        pred = {}
        for name in fitted:
            X = yd["Xc"][name][k]
            ok = np.isfinite(X).all(1)
            p = np.full(n_cells, np.nan)
            if ok.any():
                p[ok] = models[name].predict(X[ok].astype("f8"))
            pred[name] = p
        rs = pred["rs"]
        rh = rs * pred["pairs"] if cfg.rh_model == "fraction" else pred["rh"]
        out[k] = np.stack([rs, rh, rs - rh])
    return out


def trend(years: np.ndarray, values: np.ndarray) -> dict:
    """Least-squares slope (per year) with its 95 % interval and p-value."""
    from scipy import stats

    if len(years) < 3:
        return {"slope_per_year": float("nan")}
    res = stats.linregress(years, values)
    t = stats.t.ppf(0.975, len(years) - 2)
    return {
        "slope_per_year": float(res.slope),
        "slope_ci95": [float(res.slope - t * res.stderr), float(res.slope + t * res.stderr)],
        "p_value": float(res.pvalue),
    }


def year_summary(year_totals: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per year the mean and SD over the year runs of each total; per flux the trend of the yearly
    means and the spread of the per-run trends."""
    per_year = year_totals.groupby("year")[["rs_pg_c_yr", "rh_pg_c_yr", "ra_pg_c_yr"]].agg(["mean", "std"])
    per_year.columns = [f"{a}_{b}" for a, b in per_year.columns]
    per_year = per_year.reset_index()
    out = {}
    for flux in ("rs", "rh", "ra"):
        col = f"{flux}_pg_c_yr"
        tr = trend(per_year["year"].to_numpy("f8"), per_year[f"{col}_mean"].to_numpy("f8"))
        slopes = [
            trend(g["year"].to_numpy("f8"), g[col].to_numpy("f8"))["slope_per_year"]
            for _, g in year_totals.groupby("run")
        ]
        tr["per_run_slope_p2.5_p97.5"] = [float(np.nanquantile(slopes, 0.025)), float(np.nanquantile(slopes, 0.975))]
        tr["mean_pg_c_yr"] = float(per_year[f"{col}_mean"].mean())
        tr["range_pg_c_yr"] = [float(per_year[f"{col}_mean"].min()), float(per_year[f"{col}_mean"].max())]
        out[flux] = tr
    return per_year, out


def write_year_outputs(
    out, grid: pd.DataFrame, cells: pd.DataFrame, boot: dict, years: dict, cfg: GlobalConfig
) -> dict:
    """``year_totals.parquet`` (run × year), ``years.parquet`` (per year mean and SD over the year
    runs), ``year_maps.nc`` (year, lat, lon: mean over the year runs); returns the summary's
    ``interannual`` entry."""
    import xarray as xr

    from soilco2 import cf
    from soilco2.files import write_parquet

    write_parquet(boot["year_totals"], out / "year_totals.parquet", index=False)
    per_year, trends = year_summary(boot["year_totals"])
    per_year["mapped_cell_share"] = years["cell_share"]
    write_parquet(per_year, out / "years.parquet", index=False)
    shape, i, j = grid.attrs["shape"], cells["i"].to_numpy(), cells["j"].to_numpy()
    data = {}
    for k, (flux, label) in enumerate((("rs", "soil"), ("rh", "heterotrophic"), ("ra", "root"))):
        a = np.full((len(years["years"]), *shape), np.nan, "f4")
        a[:, i, j] = boot["year_maps"][:, k]
        data[f"{flux}_mean"] = (
            ("time", "lat", "lon"),
            a,
            cf.carbon_flux_attrs(flux, f"{label} respiration, mean over the year runs")
            | {"cell_methods": "time: mean"},
        )
    first = np.array([f"{y}-01-01" for y in years["years"]], "datetime64[D]")
    bounds = np.stack([first, np.array([f"{y + 1}-01-01" for y in years["years"]], "datetime64[D]")], axis=1)
    data["time_bnds"] = (("time", "nv"), bounds, {})
    ds = xr.Dataset(
        data,
        coords={
            "time": ("time", first + (bounds[:, 1] - first) // 2, {"standard_name": "time", "axis": "T", "bounds": "time_bnds", "long_name": "middle of the calendar year of the climate"}),
            "year": ("time", np.asarray(years["years"], "i4"), {"long_name": "calendar year of the climate", "units": "1"}),
            "lat": ("lat", grid.attrs["lat"], {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", grid.attrs["lon"], {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        },
        attrs={"climate_file": years["file"], "runs": len(years["runs"])},
    )  # fmt: skip
    cf.write(ds, out / "year_maps.nc", title="Year-by-year Rs, Rh, Ra from a monthly climate file")
    return {
        "years": [years["years"][0], years["years"][-1]],
        "runs": len(years["runs"]),
        "file": years["file"],
    } | trends
