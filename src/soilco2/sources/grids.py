"""Global gridded drivers: BIOME4 0.5° climatology, SOC 0–30 cm (1/12°), 0.5° land fraction.

Every grid is exposed with cell-centre coordinates ``lat`` (ascending) and ``lon`` (-180..180)
and CF attributes. Point look-ups take the cell that contains the point; when that cell has no
data (ocean, coastal sites) they fall back to the nearest valid cell within ``max_distance_km``
and say so (``cell_lat``, ``cell_lon``, ``distance_km``, ``fallback``).

``root`` is the data root (holding ``grids/``) or the ``grids`` folder itself; ``None`` means
:func:`soilco2.paths.data_root`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.errors import UserError
from soilco2.paths import source_dir

BIOME4_FILE = "BIOME4_inputdata.nc"
SOC_FILE = "SOCS_0_30cm_year_2010AD_10km.tif"
SOC_LANDMASK_FILE = "whrc_landmask_10km.tif"
LAND_FRACTION_FILE = "fractional_land.0.5-deg.nc"
EARTH_RADIUS_KM = 6371.0
EARTH_AUTHALIC_RADIUS_M = 6371007.2  # sphere of the Earth's surface area, for cell areas
DEFAULT_MAX_DISTANCE_KM = 100.0
G_PER_PG = 1e15


def grids_dir(root: str | Path | None = None) -> Path:
    """The folder holding the grid files (``<data root>/grids`` or ``root`` itself)."""
    return source_dir("grids", root, label="grids")


def _grid_file(root, name: str) -> Path:
    path = grids_dir(root) / name
    if not path.is_file():
        raise UserError("grid file not found", file=path)
    return path


def open_nc(path: Path) -> xr.Dataset:
    """A NetCDF file, times not decoded; a file that is not one is a :class:`UserError` naming it."""
    try:
        with warnings.catch_warnings():  # the land-fraction file's time units are ambiguous
            warnings.simplefilter("ignore")
            return xr.open_dataset(path, decode_times=False, decode_timedelta=False, mask_and_scale=True)
    except Exception as err:  # corrupt or not NetCDF
        raise UserError(f"cannot read NetCDF ({err.__class__.__name__})", file=path) from None


def _need(ds: xr.Dataset, path: Path, names: list[str]) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise UserError("missing variable(s) " + ", ".join(missing), file=path, field=missing[0])


# --------------------------------------------------------------------------- BIOME4 climatology
@lru_cache(maxsize=4)
def _biome4_cached(path: str) -> xr.Dataset:
    path_ = Path(path)
    with open_nc(path_) as raw:
        _need(raw, path_, ["temp", "prec", "sun", "tmin", "whc", "perc", "lat", "lon"])
        raw = raw.load()
    # south-west corners -> centres; sort latitude ascending
    lat_c = (raw["lat"].values.astype("f8") + 0.25).round(3)
    lon_c = (raw["lon"].values.astype("f8") + 0.25).round(3)
    raw = raw.assign_coords(lat=lat_c, lon=lon_c).sortby("lat")
    raw = raw.rename({"time": "month"}).assign_coords(month=np.arange(1, 13))

    def layer(var: str, k: int) -> np.ndarray:
        a = raw[var].isel(soil_layer=k).values.astype("f8")
        return np.where((a >= 0) & (a < 999), a, np.nan)  # 999.9 / negatives are fill codes

    whc_top, whc_bot = layer("whc", 0), layer("whc", 1)
    perc_top, perc_bot = layer("perc", 0), layer("perc", 1)
    dims2 = ("lat", "lon")
    dims3 = ("month", "lat", "lon")
    ds = xr.Dataset(
        {
            "temp_c": (
                dims3,
                raw["temp"].values / 10.0,
                _cf("monthly mean air temperature", "degC", "air_temperature"),
            ),
            "prec_mm_month": (dims3, raw["prec"].values.astype("f4"), _cf("monthly total precipitation", "mm month-1")),
            "sun_pct": (dims3, raw["sun"].values / 10.0, _cf("mean monthly percent of possible sunshine", "percent")),
            "tmin_c": (dims2, raw["tmin"].values / 10.0, _cf("annual absolute minimum air temperature", "degC")),
            "whc_top_mm": (dims2, whc_top.astype("f4"), _cf("soil water holding capacity, 0-30 cm layer", "mm")),
            "whc_bottom_mm": (
                dims2,
                whc_bot.astype("f4"),
                _cf("soil water holding capacity, 30 cm-bottom layer", "mm"),
            ),
            "whc_mm": (dims2, (whc_top + whc_bot).astype("f4"), _cf("soil water holding capacity, both layers", "mm")),
            "perc_top_mm_h": (dims2, perc_top.astype("f4"), _cf("soil water percolation index, 0-30 cm", "mm h-1")),
            "perc_bottom_mm_h": (
                dims2,
                perc_bot.astype("f4"),
                _cf("soil water percolation index, 30 cm-bottom", "mm h-1"),
            ),
        },
        coords={
            "month": ("month", np.arange(1, 13), {"long_name": "month of year"}),
            "lat": ("lat", raw["lat"].values, _cf("latitude of cell centre", "degrees_north", "latitude")),
            "lon": ("lon", raw["lon"].values, _cf("longitude of cell centre", "degrees_east", "longitude")),
        },
        attrs={
            "title": "BIOME4 0.5 degree monthly climatology and soils (scaled, cell centres)",
            "source": f"{path_.name} (github.com/jedokaplan/BIOME4); temp, sun, tmin divided by 10; "
            "coordinates shifted +0.25 deg from south-west corners to centres",
            "Conventions": "CF-1.8",
        },
    )
    for v in ("temp_c", "sun_pct", "tmin_c"):
        ds[v] = ds[v].astype("f4")
    # annual summaries, handy for maps and attributes
    ds["mat_c"] = (dims2, ds["temp_c"].mean("month").values, _cf("mean annual air temperature", "degC"))
    ds["map_mm"] = (
        dims2,
        ds["prec_mm_month"].sum("month", skipna=False).values,
        _cf("mean annual precipitation", "mm yr-1"),
    )
    return ds


def _cf(long_name: str, units: str, standard_name: str | None = None) -> dict:
    attrs = {"long_name": long_name, "units": units}
    if standard_name:
        attrs["standard_name"] = standard_name
    return attrs


def biome4_climatology(root: str | Path | None = None) -> xr.Dataset:
    """The BIOME4 0.5° climatology, scaled to physical units, on cell centres (cached).

    Variables: ``temp_c``, ``prec_mm_month``, ``sun_pct`` (month, lat, lon); ``tmin_c``,
    ``whc_top_mm``, ``whc_bottom_mm``, ``whc_mm``, ``perc_*_mm_h``, ``mat_c``, ``map_mm``
    (lat, lon). Ocean cells are NaN.
    """
    return _biome4_cached(str(_grid_file(root, BIOME4_FILE).resolve())).copy()


# --------------------------------------------------------------------------- land fraction
@lru_cache(maxsize=4)
def _land_fraction_cached(path: str) -> xr.DataArray:
    path_ = Path(path)
    with open_nc(path_) as raw:
        _need(raw, path_, ["data", "lat", "lon"])
        da = raw["data"].load()
    if "time" in da.dims:
        da = da.isel(time=0, drop=True)
    da = da.drop_vars([c for c in da.coords if c not in ("lat", "lon")])
    lon = da["lon"].values.astype("f8")
    da = da.assign_coords(lon=((lon + 180.0) % 360.0) - 180.0, lat=da["lat"].values.astype("f8"))
    da = da.sortby("lon").sortby("lat").clip(0.0, 1.0).fillna(0.0).astype("f4")
    da.name = "land_fraction"
    da.attrs = {
        "long_name": "fraction of cell that is land",
        "units": "1",
        "source": f"{path_.name} (SRDB repository), from TBASE 5-minute data",
    }
    da["lat"].attrs = _cf("latitude of cell centre", "degrees_north", "latitude")
    da["lon"].attrs = _cf("longitude of cell centre", "degrees_east", "longitude")
    return da


def land_fraction(root: str | Path | None = None) -> xr.DataArray:
    """Land fraction 0–1 on the 0.5° grid (lat ascending, lon -180..180, cell centres)."""
    return _land_fraction_cached(str(_grid_file(root, LAND_FRACTION_FILE).resolve())).copy()


def land_fraction_at(lat, lon, root: str | Path | None = None) -> np.ndarray:
    """Land fraction of the 0.5° cell containing each point (no fallback)."""
    lat_a, lon_a = check_coords(lat, lon)
    da = land_fraction(root)
    i, j = _cell_index(da["lat"].values, da["lon"].values, lat_a, lon_a)
    return da.values[i, j].astype("f8")


# --------------------------------------------------------------------------- SOC (GeoTIFF)
@dataclass(frozen=True)
class Raster:
    """A north-up lat/lon raster: ``values`` (rows from north), cell-centre ``lat``/``lon``."""

    values: np.ndarray
    lat: np.ndarray  # ascending, matches values[::-1]
    lon: np.ndarray
    valid: np.ndarray


@lru_cache(maxsize=2)
def _soc_cached(path: str) -> Raster:
    import tifffile

    path_ = Path(path)
    try:
        with tifffile.TiffFile(path_) as tif:
            page = tif.pages[0]
            tags = {t.name: t.value for t in page.tags.values()}
            arr = page.asarray()
    except Exception as err:
        raise UserError(f"cannot read GeoTIFF ({err.__class__.__name__})", file=path_) from None
    for tag in ("ModelPixelScaleTag", "ModelTiepointTag"):
        if tag not in tags:
            raise UserError("GeoTIFF lacks its georeferencing tag", file=path_, field=tag)
    sx, sy = tags["ModelPixelScaleTag"][:2]
    _, _, _, x0, y0, _ = tags["ModelTiepointTag"][:6]  # raster (0,0) = upper-left corner
    nrow, ncol = arr.shape
    # the tags store 1/12 truncated (0.0833333): snap to the exact global spacing
    if abs(sx * ncol - 360.0) < 0.01:
        sx = 360.0 / ncol
    if abs(sy * nrow - 180.0) < 0.01:
        sy = 180.0 / nrow
    x0, y0 = round(x0, 6), round(y0, 6)
    nodata = float(tags.get("GDAL_NODATA", "-32767").strip("\x00 ") or -32767)
    lat_desc = y0 - sy * (np.arange(nrow) + 0.5)
    lon = x0 + sx * (np.arange(ncol) + 0.5)
    vals = arr[::-1].astype("f4")  # rows south -> north
    valid = vals != nodata
    vals[~valid] = np.nan
    return Raster(values=vals, lat=lat_desc[::-1].round(6), lon=lon.round(6), valid=valid)


def soc_grid(root: str | Path | None = None) -> xr.DataArray:
    """Soil organic carbon stock 0–30 cm (Mg C ha-1), 1/12°, Sanderman et al. 2017, year 2010."""
    r = _soc_cached(str(_grid_file(root, SOC_FILE).resolve()))
    return xr.DataArray(
        r.values,
        dims=("lat", "lon"),
        name="soc_mg_ha",
        coords={
            "lat": ("lat", r.lat, _cf("latitude of cell centre", "degrees_north", "latitude")),
            "lon": ("lon", r.lon, _cf("longitude of cell centre", "degrees_east", "longitude")),
        },
        attrs={
            "long_name": "soil organic carbon stock 0-30 cm, 2010",
            "units": "Mg C ha-1",
            "source": f"{SOC_FILE} (github.com/whrc/Soil-Carbon-Debt, Sanderman et al. 2017 PNAS)",
        },
    )


def soc_at(lat, lon, root: str | Path | None = None, *, max_distance_km: float = DEFAULT_MAX_DISTANCE_KM) -> np.ndarray:
    """SOC 0–30 cm (Mg C/ha) at points: containing 1/12° cell, else nearest valid cell."""
    return soc_lookup(lat, lon, root, max_distance_km=max_distance_km)["soc_mg_ha"].to_numpy()


def soc_lookup(
    lat, lon, root: str | Path | None = None, *, max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
) -> pd.DataFrame:
    """SOC with where it came from: ``soc_mg_ha, cell_lat, cell_lon, distance_km, fallback``."""
    lat_a, lon_a = check_coords(lat, lon)
    r = _soc_cached(str(_grid_file(root, SOC_FILE).resolve()))
    i, j, dist, fb = nearest_valid(r.valid, r.lat, r.lon, lat_a, lon_a, max_distance_km)
    ok = i >= 0
    out = pd.DataFrame({"soc_mg_ha": np.where(ok, r.values[np.maximum(i, 0), np.maximum(j, 0)], np.nan)})
    return out.assign(**_where_cols(r.lat, r.lon, i, j, dist, fb))


# --------------------------------------------------------------------------- point look-ups
def check_coords(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Validate coordinates (degrees): lat in [-90, 90], lon in [-180, 180]; else UserError."""
    lat_a = np.atleast_1d(np.asarray(lat, dtype="f8"))
    lon_a = np.atleast_1d(np.asarray(lon, dtype="f8"))
    if lat_a.shape != lon_a.shape:
        raise UserError(f"lat has {lat_a.size} values but lon has {lon_a.size}", field="lon")
    for name, a, lim in (("lat", lat_a, 90.0), ("lon", lon_a, 180.0)):
        bad = ~np.isfinite(a) | (np.abs(a) > lim)
        if bad.any():
            raise UserError(
                f"{bad.sum()} value(s) outside [-{lim:g}, {lim:g}] or missing, e.g. {a[bad][0]}", field=name
            )
    return lat_a, lon_a


def _cell_index(lat_c: np.ndarray, lon_c: np.ndarray, lat: np.ndarray, lon: np.ndarray):
    """Row/column of the regular-grid cell containing each point (lat ascending)."""
    dlat = (lat_c[-1] - lat_c[0]) / (lat_c.size - 1)  # from the extent: robust to rounded coords
    dlon = (lon_c[-1] - lon_c[0]) / (lon_c.size - 1)
    i = np.clip(np.floor((lat - (lat_c[0] - dlat / 2)) / dlat).astype(int), 0, lat_c.size - 1)
    j = np.floor((lon - (lon_c[0] - dlon / 2)) / dlon).astype(int) % lon_c.size
    return i, j


def block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of valid (finite) sub-cells in factor×factor blocks; NaN where none is valid."""
    n, m = values.shape
    b = values.reshape(n // factor, factor, m // factor, factor)
    ok = np.isfinite(b)
    count = ok.sum(axis=(1, 3))
    total = np.where(ok, b, 0.0).sum(axis=(1, 3), dtype="f8")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def nearest_valid(
    valid: np.ndarray, lat_c: np.ndarray, lon_c: np.ndarray, lat: np.ndarray, lon: np.ndarray, max_distance_km: float
):
    """Index of the containing cell, or the nearest valid cell within ``max_distance_km``.

    Returns ``(i, j, distance_km, fallback)``; ``i = j = -1`` where nothing valid is in range.
    Searches a window of cells around the point (wrapping in longitude).
    """
    i0, j0 = _cell_index(lat_c, lon_c, lat, lon)
    dlat = abs(lat_c[-1] - lat_c[0]) / (lat_c.size - 1)
    dlon = abs(lon_c[-1] - lon_c[0]) / (lon_c.size - 1)
    ii, jj = i0.copy(), j0.copy()
    dist = haversine_km(lat, lon, lat_c[i0], lon_c[j0])
    fallback = ~valid[i0, j0]
    for k in np.flatnonzero(fallback):
        ri = int(np.ceil(max_distance_km / (111.2 * dlat))) + 1
        coslat = max(np.cos(np.radians(min(abs(lat[k]) + ri * dlat, 89.9))), 1e-3)
        rj = min(int(np.ceil(max_distance_km / (111.2 * dlon * coslat))) + 1, lon_c.size // 2)
        rows = np.arange(max(i0[k] - ri, 0), min(i0[k] + ri, lat_c.size - 1) + 1)
        cols = (np.arange(j0[k] - rj, j0[k] + rj + 1)) % lon_c.size
        win = valid[np.ix_(rows, cols)]
        if not win.any():
            ii[k] = jj[k] = -1
            dist[k] = np.nan
            continue
        r_idx, c_idx = np.nonzero(win)
        d = haversine_km(lat[k], lon[k], lat_c[rows[r_idx]], lon_c[cols[c_idx]])
        best = int(np.argmin(d))
        if d[best] > max_distance_km:
            ii[k] = jj[k] = -1
            dist[k] = np.nan
        else:
            ii[k], jj[k], dist[k] = rows[r_idx[best]], cols[c_idx[best]], d[best]
    return ii, jj, dist, fallback


def _where_cols(lat_c, lon_c, i, j, dist, fallback) -> dict:
    ok = i >= 0
    return {
        "cell_lat": np.where(ok, lat_c[np.maximum(i, 0)], np.nan),
        "cell_lon": np.where(ok, lon_c[np.maximum(j, 0)], np.nan),
        "distance_km": np.round(dist, 3),
        "fallback": fallback,
    }


def _biome4_points(lat, lon, root, max_distance_km):
    lat_a, lon_a = check_coords(lat, lon)
    ds = biome4_climatology(root)
    valid = np.isfinite(ds["temp_c"].isel(month=0).values) & np.isfinite(ds["prec_mm_month"].isel(month=0).values)
    i, j, dist, fb = nearest_valid(valid, ds["lat"].values, ds["lon"].values, lat_a, lon_a, max_distance_km)
    return ds, lat_a, lon_a, i, j, _where_cols(ds["lat"].values, ds["lon"].values, i, j, dist, fb)


def climatology_at(
    lat, lon, root: str | Path | None = None, *, max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
) -> pd.DataFrame:
    """Monthly BIOME4 climatology at points, long format (one row per point and month).

    Columns: ``point`` (0-based position in the input), ``lat``, ``lon``, ``month`` (1..12),
    ``temp_c``, ``prec_mm_month``, ``sun_pct``, ``cell_lat``, ``cell_lon``, ``distance_km``
    (point to the centre of the cell used) and ``fallback`` (True when the containing cell had
    no data and the nearest land cell within ``max_distance_km`` was used). Values are NaN when
    no land cell is in range.
    """
    ds, lat_a, lon_a, i, j, where = _biome4_points(lat, lon, root, max_distance_km)
    ok = i >= 0
    ii, jj = np.maximum(i, 0), np.maximum(j, 0)
    n = lat_a.size
    frames = {
        "point": np.repeat(np.arange(n), 12),
        "lat": np.repeat(lat_a, 12),
        "lon": np.repeat(lon_a, 12),
        "month": np.tile(np.arange(1, 13), n),
    }
    for v in ("temp_c", "prec_mm_month", "sun_pct"):
        vals = ds[v].values[:, ii, jj].T.astype("f8")  # (n, 12)
        vals[~ok] = np.nan
        frames[v] = vals.ravel()
    for k, v in where.items():
        frames[k] = np.repeat(v, 12)
    return pd.DataFrame(frames)


def site_attributes(
    lat, lon, root: str | Path | None = None, *, max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
) -> pd.DataFrame:
    """Static climate and soil attributes at points, one row per point.

    ``mat_c`` (mean annual temperature), ``map_mm`` (annual precipitation), ``sun_pct_mean``
    (annual mean % of possible sunshine), ``tmin_c`` (absolute minimum), ``whc_mm`` (BIOME4
    two-layer water-holding capacity), ``soc_mg_ha`` (0–30 cm), plus ``clim_distance_km``,
    ``clim_fallback``, ``soc_distance_km``, ``soc_fallback`` saying which cells were used.
    """
    ds, lat_a, lon_a, i, j, where = _biome4_points(lat, lon, root, max_distance_km)
    ok = i >= 0
    ii, jj = np.maximum(i, 0), np.maximum(j, 0)

    def pick(v: str) -> np.ndarray:
        a = ds[v].values
        vals = (a[:, ii, jj].mean(axis=0) if a.ndim == 3 else a[ii, jj]).astype("f8")
        return np.where(ok, vals, np.nan)

    # whc can be missing where climate exists: take the nearest cell that has it
    whc_valid = np.isfinite(ds["whc_mm"].values)
    wi, wj, _, _ = nearest_valid(whc_valid, ds["lat"].values, ds["lon"].values, lat_a, lon_a, max_distance_km)
    whc = np.where(wi >= 0, ds["whc_mm"].values[np.maximum(wi, 0), np.maximum(wj, 0)], np.nan)
    soc = soc_lookup(lat_a, lon_a, root, max_distance_km=max_distance_km)
    return pd.DataFrame(
        {
            "lat": lat_a,
            "lon": lon_a,
            "mat_c": pick("mat_c"),
            "map_mm": pick("map_mm"),
            "sun_pct_mean": pick("sun_pct"),
            "tmin_c": pick("tmin_c"),
            "whc_mm": whc.astype("f8"),
            "soc_mg_ha": soc["soc_mg_ha"].to_numpy(),
            "clim_distance_km": where["distance_km"],
            "clim_fallback": where["fallback"],
            "soc_distance_km": soc["distance_km"].to_numpy(),
            "soc_fallback": soc["fallback"].to_numpy(),
        }
    )


# --------------------------------------------------------------------------- areas and totals
def cell_area_m2(lat_centres, dlat_deg: float = 0.5, dlon_deg: float = 0.5) -> np.ndarray:
    """Area (m²) of a regular lat/lon cell on the authalic sphere, one value per latitude centre."""
    lat = np.asarray(lat_centres, dtype="f8")
    band = np.sin(np.radians(np.clip(lat + dlat_deg / 2, -90, 90))) - np.sin(
        np.radians(np.clip(lat - dlat_deg / 2, -90, 90))
    )
    return EARTH_AUTHALIC_RADIUS_M**2 * np.radians(dlon_deg) * band


def total_pg_c_yr(flux_gc_m2_yr, area_m2, axis=-1):
    """Σ flux [g C m-2 yr-1] × area [m²] / 1e15 → Pg C yr-1 along ``axis`` (None: all); NaN skipped."""
    return np.nansum(np.asarray(flux_gc_m2_yr, "f8") * np.asarray(area_m2, "f8"), axis=axis) / G_PER_PG
