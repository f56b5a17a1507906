"""S3 inputs: the global 0.5° covariate grid and the SRDB training tables built on it.

Every covariate comes from the same 0.5° grid for the map and for the training records (a
record takes the values of the grid cell that holds it, or of the nearest complete land cell
within ``max_distance_km``), so the forest never sees a covariate the map lacks.

Covariates (``COVARIATES``): ``mat_c`` (mean annual air temperature), ``map_mm`` (annual
precipitation), ``sun_pct_mean`` (annual mean % of possible sunshine), ``tmin_c`` (absolute
minimum temperature), ``prec_cv`` (coefficient of variation of the 12 monthly precipitation
totals: precipitation seasonality, 0 = even), ``whc_mm`` (BIOME4 water-holding capacity, both
layers; where BIOME4 has none, mostly north of 50° N, it is set to ``WHC_MISSING`` = -1 so
the trees can split on "missing"), ``soc_mg_ha`` (SOC 0-30 cm, mean of the 1/12° cells in each
0.5° cell), ``abs_lat_deg``.

Further candidates for the predictor selection (``CANDIDATES``), all from the same climatology,
in place of the inputs Lu et al. 2021 took from MERRA-2, GLASS and Shangguan et al.:
``gs_precip_mm`` (precipitation of the months with mean temperature above 0 °C: the growing
season), ``gs_length_months`` (their number), ``sw_mj_m2_day`` (annual mean surface shortwave from
sunshine and extraterrestrial radiation, Angström–Prescott; PAR is about half of it),
``aridity_index`` (annual precipitation / Hargreaves PET, in place of relative humidity), and
with the MODIS land cover the area fractions of the cell in forest (``lc_forest``: ENF, EBF,
DNF, DBF, MF), shrubland (``lc_shrub``: CSH, OSH), savanna (``lc_savanna``: WSA, SAV), grassland
(``lc_grass``) and cropland (``lc_crop``: CRO, CVM), and the annual maximum NDVI (``ndvi_max``,
in place of GLASS LAI; ``soilco2.sources.vegetation_index``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.sources.grids import cell_area_m2

COVARIATES = ("mat_c", "map_mm", "sun_pct_mean", "tmin_c", "prec_cv", "whc_mm", "soc_mg_ha", "abs_lat_deg")
CLIMATE_CANDIDATES = ("gs_precip_mm", "gs_length_months", "sw_mj_m2_day", "aridity_index")
LANDCOVER_GROUPS = {
    "lc_forest": ("ENF", "EBF", "DNF", "DBF", "MF"),
    "lc_shrub": ("CSH", "OSH"),
    "lc_savanna": ("WSA", "SAV"),
    "lc_grass": ("GRA",),
    "lc_crop": ("CRO", "CVM"),
}
CANDIDATES = COVARIATES + CLIMATE_CANDIDATES + tuple(LANDCOVER_GROUPS) + ("ndvi_max",)
WHC_MISSING = -1.0
FLUX_COLUMNS = {"rs": "rs_annual_gc_m2_yr", "rh": "rh_annual_gc_m2_yr"}
# Flags (from load_srdb) that remove a record from training, in the order they are counted.
DEFAULT_DROP_FLAGS = ("flag_mat_mismatch", "qc_problem", "flag_duplicate")
TABLE_DROP_REASONS = ("no_coords", "in_sea", "off_land_grid", "missing_covariate")


CLIMATE_COVARIATES = ("mat_c", "map_mm", "sun_pct_mean", "tmin_c", "prec_cv") + CLIMATE_CANDIDATES


def climate_fields(temp_c, prec_mm_month, sun_pct, tmin_c, lat) -> dict[str, np.ndarray]:
    """The covariates that come from the monthly climate, on a (lat, lon) grid: ``temp_c``,
    ``prec_mm_month``, ``sun_pct`` are (12, lat, lon), ``tmin_c`` (lat, lon), ``lat`` the
    grid's latitudes. The same function serves the BIOME4 climatology and each year of a user's
    monthly climate file."""
    from soilco2.climate import pet_hargreaves_monthly_mm, shortwave_mj_m2_day

    prec = np.asarray(prec_mm_month, "f8")
    temp = np.moveaxis(np.asarray(temp_c, "f8"), 0, -1)  # (lat, lon, month)
    prec_m = np.moveaxis(prec, 0, -1)
    sun = np.moveaxis(np.asarray(sun_pct, "f8"), 0, -1)
    mat, annual_p = temp.mean(-1), prec_m.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = prec.mean(axis=0)
        prec_cv = np.where(mean_p > 0, prec.std(axis=0) / mean_p, 0.0)
    prec_cv[~np.isfinite(mean_p)] = np.nan
    lat2 = np.broadcast_to(np.asarray(lat, "f8")[:, None], mat.shape)
    growing, full = temp > 0, np.isfinite(temp).all(-1)
    with np.errstate(invalid="ignore"):
        pet = pet_hargreaves_monthly_mm(temp, sun, lat2).sum(-1)
        return {
            "mat_c": mat,
            "map_mm": annual_p,
            "sun_pct_mean": sun.mean(-1),
            "tmin_c": np.asarray(tmin_c, "f8"),
            "prec_cv": prec_cv,
            "gs_precip_mm": np.where(full, np.where(growing, prec_m, 0.0).sum(-1), np.nan),
            "gs_length_months": np.where(full, growing.sum(-1).astype("f8"), np.nan),
            "sw_mj_m2_day": shortwave_mj_m2_day(sun, lat2).mean(-1),
            "aridity_index": annual_p / np.maximum(pet, 1.0),
        }


def covariate_grid(
    root: str | Path | None = None, landcover: np.ndarray | None = None, ndvi: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per 0.5° cell with land fraction > 0: ``i, j, lat, lon, land_fraction,
    cell_area_m2``, the ``COVARIATES``, the climate candidates and ``complete`` (all
    ``COVARIATES`` finite). With ``landcover`` (IGBP class fractions, class × lat × lon from
    north, :func:`soilco2.sources.landcover.igbp_fractions`): every class's fraction ``lc_<CLASS>``,
    the groups of ``LANDCOVER_GROUPS``, the dominant vegetated class ``igbp`` and
    ``vegetated_fraction``. With ``ndvi`` (lat × lon from north,
    :func:`soilco2.sources.vegetation_index.ndvi_max`): ``ndvi_max``, 0 where a cell with climate
    has no valid NDVI pixel (ice; counted as ``ndvi_filled_cells`` in ``out.attrs``)."""
    from soilco2.sources import grids

    ds = grids.biome4_climatology(root)
    lf = grids.land_fraction(root)
    lat, lon = ds["lat"].values, ds["lon"].values
    if not (np.allclose(lat, lf["lat"].values) and np.allclose(lon, lf["lon"].values)):
        raise UserError("BIOME4 and land-fraction grids are not the same 0.5° grid", file=grids.grids_dir(root))
    soc = grids.soc_grid(root)
    factor = soc.shape[0] // lat.size
    if soc.shape != (lat.size * factor, lon.size * factor):
        raise UserError("SOC raster does not nest in the 0.5° grid", file=grids.grids_dir(root), field="soc_mg_ha")
    whc = ds["whc_mm"].values.astype("f8")
    clim_ok = np.isfinite(ds["mat_c"].values) & np.isfinite(ds["map_mm"].values)
    fields = climate_fields(
        ds["temp_c"].values, ds["prec_mm_month"].values, ds["sun_pct"].values, ds["tmin_c"].values, lat
    )
    fields |= {
        "whc_mm": np.where(clim_ok & ~np.isfinite(whc), WHC_MISSING, whc),
        "soc_mg_ha": grids.block_mean(soc.values, factor),
        "abs_lat_deg": np.broadcast_to(np.abs(lat)[:, None], whc.shape),
    }
    i, j = np.nonzero(lf.values > 0)
    out = pd.DataFrame(
        {
            "i": i,
            "j": j,
            "lat": lat[i],
            "lon": lon[j],
            "land_fraction": lf.values[i, j].astype("f8"),
            "cell_area_m2": cell_area_m2(lat)[i],
        }
    )
    for name in COVARIATES + CLIMATE_CANDIDATES:
        out[name] = np.asarray(fields[name], dtype="f8")[i, j]
    if landcover is not None:
        from soilco2.sources.landcover import IGBP, cell_landcover

        if landcover.shape != (len(IGBP), lat.size, lon.size):
            raise UserError(
                f"land-cover fractions {landcover.shape} do not fit the {lat.size} x {lon.size} grid",
                field="landcover_file",
            )
        north_row = (lat.size - 1 - i) if lat[0] < lat[-1] else i  # the fractions run from the north
        lc = landcover[:, north_row, j]
        for k, name in enumerate(IGBP):
            out[f"lc_{name}"] = lc[k].astype("f4")
        for group, classes in LANDCOVER_GROUPS.items():
            out[group] = sum(lc[IGBP.index(c)] for c in classes).astype("f8")
        dom = cell_landcover(out["lat"].to_numpy(), out["lon"].to_numpy(), landcover)
        out["igbp"] = dom["igbp"]
        out["vegetated_fraction"] = dom["vegetated_fraction"]
    out["complete"] = out[list(COVARIATES)].notna().all(axis=1)
    if ndvi is not None:
        if ndvi.shape != (lat.size, lon.size):
            raise UserError(f"NDVI {ndvi.shape} does not fit the {lat.size} x {lon.size} grid", field="ndvi_file")
        v = ndvi[(lat.size - 1 - i) if lat[0] < lat[-1] else i, j]
        filled = out["complete"].to_numpy() & ~np.isfinite(v)
        out["ndvi_max"] = np.where(filled, 0.0, v)
        out.attrs["ndvi_filled_cells"] = int(filled.sum())
    out.attrs["shape"] = (lat.size, lon.size)
    out.attrs["lat"], out.attrs["lon"] = lat, lon
    return out


def grid_coverage(grid: pd.DataFrame) -> dict:
    """Land area (m² × land fraction) on the grid, and how much of it has every covariate."""
    land = grid["cell_area_m2"] * grid["land_fraction"]
    ok = grid["complete"]
    return {
        "land_cells": int(len(grid)),
        "complete_cells": int(ok.sum()),
        "land_area_m2": float(land.sum()),
        "covered_land_area_m2": float(land[ok].sum()),
        "uncovered_land_area_m2": float(land[~ok].sum()),
        "uncovered_land_area_south_of_60s_m2": float(land[~ok & (grid["lat"] < -60)].sum()),
    }


def attach_covariates(
    lat: np.ndarray, lon: np.ndarray, grid: pd.DataFrame, max_distance_km: float = 100.0
) -> pd.DataFrame:
    """Covariates at points from the complete cells of ``grid``: the cell holding each point,
    else the nearest complete cell within ``max_distance_km`` (``grid_distance_km``). Rows with
    no cell in range get NaN (``grid_row`` = -1)."""
    from soilco2.sources.grids import nearest_valid

    shape = grid.attrs["shape"]
    lat_c, lon_c = grid.attrs["lat"], grid.attrs["lon"]
    complete = grid[grid["complete"]]
    valid = np.zeros(shape, bool)
    valid[complete["i"], complete["j"]] = True
    row_of = np.full(shape, -1, dtype=np.int64)
    row_of[complete["i"], complete["j"]] = np.arange(len(complete))
    ii, jj, dist, _ = nearest_valid(valid, lat_c, lon_c, np.asarray(lat, "f8"), np.asarray(lon, "f8"), max_distance_km)
    rows = np.where(ii >= 0, row_of[np.maximum(ii, 0), np.maximum(jj, 0)], -1)
    cols = [c for c in CANDIDATES if c in grid.columns]
    vals = complete[cols].to_numpy("f8")[np.maximum(rows, 0)]
    vals[rows < 0] = np.nan
    out = pd.DataFrame(vals, columns=cols)
    if "igbp" in grid.columns:
        out["igbp"] = np.where(rows >= 0, complete["igbp"].to_numpy()[np.maximum(rows, 0)], None)
    out["cell_lat"] = np.where(rows >= 0, complete["lat"].to_numpy()[np.maximum(rows, 0)], np.nan)
    out["cell_lon"] = np.where(rows >= 0, complete["lon"].to_numpy()[np.maximum(rows, 0)], np.nan)
    out["grid_distance_km"] = dist
    out["grid_row"] = rows
    return out


def training_table(
    records: pd.DataFrame,
    grid: pd.DataFrame,
    flux: str,
    *,
    drop_flags: tuple[str, ...] = DEFAULT_DROP_FLAGS,
    max_distance_km: float = 100.0,
):
    """SRDB records with ``flux`` ('rs' or 'rh') plus covariates; returns ``(table, accounting)``.

    Records without the flux are not counted (``raw`` = records with a finite flux). Drops, in
    order, each record counted once: ``no_coords``, ``in_sea`` (load_srdb flags), then each flag in
    ``drop_flags``, ``off_land_grid`` (no complete grid cell within ``max_distance_km``),
    ``missing_covariate``. ``raw == kept + sum(dropped)``.
    """
    if flux not in FLUX_COLUMNS:
        raise UserError(f"unknown flux {flux!r}; use one of {sorted(FLUX_COLUMNS)}", field="flux")
    col = FLUX_COLUMNS[flux]
    for c in (col, "lat", "lon", "flag_no_coords", "flag_in_sea", *drop_flags):
        if c not in records.columns:
            raise UserError("SRDB records lack a column the global table needs", field=c)
    df = records[np.isfinite(records[col].to_numpy(dtype="f8"))].copy()
    acc = {"flux": flux, "raw": int(len(df))}
    keep = np.ones(len(df), bool)

    def drop(reason: str, mask) -> None:
        nonlocal keep
        mask = np.asarray(mask, bool) & keep
        acc[f"dropped_{reason}"] = int(mask.sum())
        keep &= ~mask

    drop("no_coords", df["flag_no_coords"].fillna(True))
    drop("in_sea", df["flag_in_sea"].fillna(False))
    for flag in drop_flags:
        drop(flag.removeprefix("flag_"), df[flag].fillna(False))
    ok_coords = keep.copy()
    cols = [c for c in CANDIDATES if c in grid.columns]
    extra = ["igbp"] if "igbp" in grid.columns else []
    cov = pd.DataFrame(
        np.nan, index=range(len(df)), columns=[*cols, *extra, "cell_lat", "cell_lon", "grid_distance_km"]
    )
    cov[extra] = cov[extra].astype(object)
    cov["grid_row"] = -1
    if ok_coords.any():
        got = attach_covariates(df["lat"].to_numpy()[ok_coords], df["lon"].to_numpy()[ok_coords], grid, max_distance_km)
        for c in got.columns:
            cov.loc[np.flatnonzero(ok_coords), c] = got[c].to_numpy()
    drop("off_land_grid", cov["grid_row"].to_numpy() < 0)
    drop("missing_covariate", cov[list(COVARIATES)].isna().any(axis=1).to_numpy())
    acc["kept"] = int(keep.sum())
    ids = [
        "record_number",
        "study_number",
        "site_name",
        "country",
        "lat",
        "lon",
        "biome",
        "ecosystem_type",
        "study_midyear",
        "years_of_data",
    ]
    ids = [c for c in ids if c in df.columns]
    table = pd.concat([df[ids].reset_index(drop=True), cov.drop(columns="grid_row")], axis=1)[keep]
    table.insert(len(ids), "flux_gc_m2_yr", df[col].to_numpy(dtype="f8")[keep])
    if flux == "rh" and FLUX_COLUMNS["rs"] in df.columns:  # the Rs of the same record, where reported
        table.insert(len(ids) + 1, "rs_same_record_gc_m2_yr", df[FLUX_COLUMNS["rs"]].to_numpy(dtype="f8")[keep])
    table.insert(0, "flux", flux)
    return table.reset_index(drop=True), acc


def location_groups(lat: np.ndarray, lon: np.ndarray, cell_deg: float = 0.5) -> np.ndarray:
    """Integer id of the ``cell_deg`` cell holding each point (records of one place share it)."""
    i = np.floor((np.asarray(lat, "f8") + 90.0) / cell_deg).astype(np.int64)
    j = np.floor((np.asarray(lon, "f8") + 180.0) / cell_deg).astype(np.int64)
    return i * 100_000 + j
