"""One process model's Rs, Rh or Ra from any CF-NetCDF file on a regular latitude–longitude grid.

- The flux variable: named in the call (several are summed, e.g. CORPSE's soil and litter-layer
  CO2), else the variable called ``rs``/``rh``/``ra`` or with a matching CF standard name.
- Units from the variable's ``units`` attribute, or given (for files whose attribute is wrong or
  missing); converted to g C m-2 yr-1 by :mod:`soilco2.sources.netcdf.units`.
- Latitude and longitude found by standard name, units or name; either order; longitudes 0–360 or
  −180–180; cell bounds from the ``bounds`` attribute, else halfway between centres (then the
  spacing must be even). Two-dimensional (curvilinear) coordinates are refused.
- A time axis (annual or monthly) is averaged over the chosen years, months weighted by their
  length; a single undated time step is taken as the file's own period, and said so.
- The land share of each cell from a land-area or land-fraction variable when named (a flux per m²
  of land over coastal cells); cells with no land carry no value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from soilco2.errors import UserError
from soilco2.sources.netcdf.regrid import bounds_from_centres, cell_areas
from soilco2.sources.netcdf.units import to_gc_m2_yr

FLUXES = ("rs", "rh", "ra")
STANDARD_NAME_PARTS = {  # CF standard names that identify each flux (CMIP: "...due_to_heterotrophic_respiration")
    "rh": ("heterotrophic_respiration",),
    "ra": ("root_respiration", "belowground_autotrophic_respiration"),
    "rs": ("soil_respiration",),
}
LAT_NAMES, LON_NAMES = ("lat", "latitude", "nav_lat", "y"), ("lon", "longitude", "nav_lon", "x")


@dataclass
class ModelField:
    """A time-mean flux on its own grid: lat ascending, lon in −180…180 ascending."""

    values: np.ndarray  # (lat, lon) g C m-2 yr-1, NaN: no value
    lat: np.ndarray
    lon: np.ndarray
    lat_bounds: np.ndarray  # (n, 2)
    lon_bounds: np.ndarray
    land_weight: np.ndarray  # (lat, lon) share of the cell the value stands for, 0–1
    file: str
    variables: list[str]
    source_units: str
    period: str
    notes: list[str] = field(default_factory=list)

    def area_m2(self) -> np.ndarray:
        return cell_areas(self.lat_bounds, self.lon_bounds) * self.land_weight

    def total_pg_c_yr(self) -> float:
        return float(np.nansum(self.values * self.area_m2()) / 1e15)

    def data_array(self) -> xr.DataArray:
        return xr.DataArray(self.values, coords={"lat": self.lat, "lon": self.lon}, dims=("lat", "lon"))


def _open(path: Path) -> xr.Dataset:
    from soilco2.sources.grids import open_nc

    if not path.is_file():
        raise UserError("model file not found", file=path)
    return open_nc(path)


def dates_of(ds: xr.Dataset, tdim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, days in the month) of each step of the CF time axis ``tdim`` (any calendar);
    a ValueError when it cannot be dated."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coder = xr.coders.CFDatetimeCoder(use_cftime=True)
            t = xr.decode_cf(ds[[tdim]], decode_times=coder)[tdim].values
        return (np.array([d.year for d in t]), np.array([d.month for d in t]),
                np.array([d.daysinmonth for d in t], "f8"))  # fmt: skip
    except Exception as err:  # noqa: BLE001 - whatever the file holds, it is not a usable date
        raise ValueError(str(err)) from None


def _find_variables(ds: xr.Dataset, flux: str, given: list[str] | None, path: Path) -> list[str]:
    if given:
        missing = [v for v in given if v not in ds.data_vars]
        if missing:
            raise UserError(
                f"no variable {missing[0]!r} (the file has {', '.join(ds.data_vars)})", file=path, field=flux
            )
        return list(given)
    if flux in ds.data_vars:
        return [flux]
    for v, da in ds.data_vars.items():
        if any(p in str(da.attrs.get("standard_name", "")) for p in STANDARD_NAME_PARTS[flux]):
            return [str(v)]
    raise UserError(f"no {flux} variable (by name or CF standard name); name it in the config", file=path, field=flux)


def grid_dim(ds: xr.Dataset, da: xr.DataArray, axis: str, path: Path) -> str:
    """The dimension of ``da`` that is latitude (``axis='lat'``) or longitude."""
    names, std, units = (
        (LAT_NAMES, "latitude", "degrees_north") if axis == "lat" else (LON_NAMES, "longitude", "degrees_east")
    )
    for name in list(da.coords) + list(da.dims):
        c = ds[name] if name in ds.variables else None
        attrs = c.attrs if c is not None else {}
        if (
            attrs.get("standard_name") == std
            or str(attrs.get("units", "")).lower() in (units, units.replace("_", ""))
            or str(name).lower() in names
        ):
            if c is not None and c.ndim > 1:
                raise UserError(f"irregular grid: {std} is {c.ndim}-dimensional", file=path, field=str(name))
            if name not in da.dims:
                continue
            return str(name)
    raise UserError(f"no {std} coordinate", file=path, field=da.name)


def cell_bounds(ds: xr.Dataset, dim: str, path: Path, lo=None, hi=None) -> np.ndarray:
    c = ds[dim].values.astype("f8") if dim in ds.variables else None
    if c is None or c.size < 2 or not np.all(np.isfinite(c)):
        raise UserError("needs at least two finite coordinate values", file=path, field=dim)
    step = np.diff(c)
    if not (np.all(step > 0) or np.all(step < 0)):
        raise UserError("irregular grid: coordinate not monotonic", file=path, field=dim)
    bname = ds[dim].attrs.get("bounds")
    if bname and bname in ds.variables and ds[bname].shape == (c.size, 2):
        return np.sort(ds[bname].values.astype("f8"), axis=1)
    if np.abs(step).max() > 1.1 * np.abs(step).min():
        raise UserError(
            f"irregular grid: spacing {np.abs(step).min():.3g}-{np.abs(step).max():.3g} and no cell bounds",
            file=path,
            field=dim,
        )
    order = np.argsort(c)
    b = np.empty((c.size, 2))
    b[order] = bounds_from_centres(c[order], lo, hi)
    return b


def _time_weights(ds: xr.Dataset, tdim: str, period: tuple[int, int] | None, path: Path) -> tuple[np.ndarray, str]:
    """Weights over the time axis (zero outside ``period``) and the period they stand for."""
    n = ds.sizes[tdim]
    try:
        years, months, days = dates_of(ds, tdim)
    except ValueError:
        if n == 1:
            return np.ones(1), "the file's own (one time step, not dated)"
        raise UserError(
            f"time axis of {n} steps cannot be dated (units {ds[tdim].attrs.get('units', 'missing')!r})",
            file=path,
            field=tdim,
        ) from None
    monthly = n > 1 and np.median(np.diff(years * 12 + months)) == 1
    w = days if monthly else np.ones(n)
    if period is not None:
        inside = (years >= period[0]) & (years <= period[1])
        if not inside.any():
            raise UserError(
                f"time axis ({years.min()}-{years.max()}) outside the chosen period {period[0]}-{period[1]}",
                file=path,
                field=tdim,
            )
        w = np.where(inside, w, 0.0)
        years = years[inside]
    return w, f"{years.min()}-{years.max()}"


# annual soil respiration anywhere on Earth, g C m-2 yr-1 (tropical Rs reaches about 4,000)
MAX_PLAUSIBLE_GC_M2_YR = 10_000.0


def check_flux_values(values: np.ndarray, path, name: str) -> None:
    """A model's annual flux after unit conversion: no value the Earth does not have. Huge values
    are a missing value the file does not declare (no ``_FillValue``), large ones another unit,
    negative ones not respiration; each is one message naming the file and variable."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return  # the reader's own message says all values are missing
    if v.max() > 1e15:
        raise UserError(f"values of {v.max():.3g}: a missing value the file does not declare? Give the "
                        "variable a _FillValue or missing_value attribute", file=path, field=name)  # fmt: skip
    if v.max() > MAX_PLAUSIBLE_GC_M2_YR:
        raise UserError(f"{v.max():.4g} g C m-2 yr-1 after conversion: above any soil's respiration "
                        f"({MAX_PLAUSIBLE_GC_M2_YR:g}); check the units", file=path, field=name)  # fmt: skip
    if (v < -1.0).mean() > 0.001:
        raise UserError(f"{(v < 0).mean():.1%} of the cells negative (down to {v.min():.4g} g C m-2 yr-1): "
                        "respiration is a release; check the sign convention", file=path, field=name)  # fmt: skip


def read_model_field(
    path: str | Path,
    flux: str,
    *,
    variables: list[str] | None = None,
    units: str | None = None,
    land_area: str | None = None,
    land_fraction: str | None = None,
    period: tuple[int, int] | None = None,
) -> ModelField:
    """The file's ``flux`` (``rs``, ``rh`` or ``ra``) averaged over ``period`` in g C m-2 yr-1.
    Every problem with the file is a :class:`UserError` naming it and the field."""
    path = Path(path).expanduser()
    if flux not in FLUXES:
        raise UserError(f"flux must be one of {', '.join(FLUXES)}", field="flux")
    ds = _open(path)
    names = _find_variables(ds, flux, variables, path)
    first = ds[names[0]]
    lat_dim, lon_dim = grid_dim(ds, first, "lat", path), grid_dim(ds, first, "lon", path)
    lat_b, lon_b = cell_bounds(ds, lat_dim, path, -90, 90), cell_bounds(ds, lon_dim, path)
    total, source_units, notes, period_label = None, [], [], "no time axis"
    for name in names:
        da = ds[name]
        if {lat_dim, lon_dim} - set(da.dims):
            raise UserError(f"not on the {lat_dim} x {lon_dim} grid of {names[0]}", file=path, field=name)
        unit = units or da.attrs.get("units")
        if not unit:
            raise UserError("no units attribute; give the units in the config", file=path, field=name)
        factor = to_gc_m2_yr(unit, file=path, field=f"{name}.units")
        source_units.append(unit)
        extra = [d for d in da.dims if d not in (lat_dim, lon_dim)]
        tdims = [d for d in extra if "since" in str(ds[d].attrs.get("units", "")) or d.lower() in ("time", "t")]
        for d in extra:
            if d in tdims[:1]:
                continue
            if da.sizes[d] != 1:
                raise UserError(
                    f"extra dimension {d!r} of size {da.sizes[d]}: select or sum it first", file=path, field=name
                )
            da = da.isel({d: 0})
        if tdims:
            w, period_label = _time_weights(ds, tdims[0], period, path)
            vals = da.transpose(tdims[0], lat_dim, lon_dim).values.astype("f8")
            wt = w[:, None, None] * np.isfinite(vals)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(np.nan_to_num(vals) * wt, axis=0) / wt.sum(0)
        else:
            mean = da.transpose(lat_dim, lon_dim).values.astype("f8")
        mean = mean * factor
        total = mean if total is None else total + mean
    vals = np.where(np.isfinite(total), total, np.nan)  # _FillValue / missing_value: NaN on opening
    check_flux_values(vals, path, names[0])
    lat, lon = ds[lat_dim].values.astype("f8"), ds[lon_dim].values.astype("f8")
    areas = cell_areas(lat_b, lon_b)
    weight = np.ones_like(vals)
    if land_area or land_fraction:
        var = land_area or land_fraction
        if var not in ds.variables:
            raise UserError(f"no variable {var!r}", file=path, field="land_area" if land_area else "land_fraction")
        lw = np.nan_to_num(ds[var].transpose(lat_dim, lon_dim).values.astype("f8"))
        if land_area:
            u = str(ds[var].attrs.get("units", "m2")).replace("^", "").lower()
            lw = lw * (1e6 if u in ("km2", "km^2") else 1.0) / areas
        elif lw.max() > 1.5:  # percent
            lw = lw / 100
        weight = np.clip(lw, 0, 1)
        vals = np.where(weight > 0, vals, np.nan)
        notes.append(f"land share of each cell from {var}")
    if not np.isfinite(vals).any():
        raise UserError("all values missing (over the chosen period)", file=path, field=names[0])
    # lat ascending, lon in -180..180 ascending (bounds move with their cells)
    lon_n = ((lon + 180) % 360) - 180
    lon_b = lon_b + (lon_n - lon)[:, None]
    io, jo = np.argsort(lat), np.argsort(lon_n)
    return ModelField(
        values=vals[np.ix_(io, jo)],
        lat=lat[io],
        lon=lon_n[jo],
        lat_bounds=lat_b[io],
        lon_bounds=lon_b[jo],
        land_weight=weight[np.ix_(io, jo)],
        file=str(path),
        variables=names,
        source_units=" + ".join(dict.fromkeys(source_units)),
        period=period_label,
        notes=notes,
    )
