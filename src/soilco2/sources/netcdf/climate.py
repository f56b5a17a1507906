"""A user's monthly climate (CRU TS, ERA5 monthly means, ...) as 12 monthly fields per year on
the S3 0.5° grid, for year-by-year maps.

Variables (named in the config, ``climate.variables``): ``temp_c`` monthly mean air temperature
(°C or K), ``prec_mm_month`` monthly precipitation (mm month-1, mm d-1, kg m-2 s-1, or m d-1 as
ERA5's monthly means of daily totals), and ``sun_pct`` (% of possible sunshine) or ``cloud_pct``
(cloud cover %, sunshine taken as 100 − cloud, as in BIOME4's own inputs). Any regular lat/lon
grid; a grid other than 0.5° is regridded conservatively (:mod:`soilco2.sources.netcdf.regrid`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soilco2.errors import UserError
from soilco2.sources.grids import open_nc
from soilco2.sources.netcdf.fields import cell_bounds, dates_of, grid_dim
from soilco2.sources.netcdf.regrid import bounds_from_centres, regrid_conservative

VARIABLES = ("temp_c", "prec_mm_month", "sun_pct", "cloud_pct")
TEMP_UNITS = {
    "degc": 0.0,
    "c": 0.0,
    "celsius": 0.0,
    "degrees_celsius": 0.0,
    "deg_c": 0.0,
    "k": -273.15,
    "kelvin": -273.15,
}
# after unit conversion: the year's mean over the file's cells, and every monthly value, must lie
# in these (K or °F labelled °C, metres labelled mm fall outside)
PLAUSIBLE = {
    "temp_c": ((-35.0, 35.0), (-90.0, 60.0), "°C"),
    "prec_mm_month": ((0.5, 1000.0), (0.0, 3000.0), "mm per month"),
}
PREC_PER_DAY = {  # units -> mm per day factor (then x days in the month)
    "mm/day": 1.0, "mm d-1": 1.0, "mm day-1": 1.0, "kg m-2 d-1": 1.0, "kg m-2 day-1": 1.0,
    "kg m-2 s-1": 86400.0, "kg/m2/s": 86400.0, "mm s-1": 86400.0, "m": 1000.0, "m/day": 1000.0, "m d-1": 1000.0,
}  # fmt: skip
PREC_PER_MONTH = ("mm", "mm/month", "mm month-1", "mm mon-1", "mm/mon")
PERCENT = ("%", "percent", "percentage")


class MonthlyClimate:
    """Open and check the file once; :meth:`year` gives one year's fields."""

    def __init__(self, path, variables: dict[str, str], units: dict[str, str], lat: np.ndarray, lon: np.ndarray):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise UserError("climate file not found", file=self.path, field="climate.path")
        self.ds = open_nc(self.path)
        self.variables, self.units, self.lat, self.lon = dict(variables), dict(units), lat, lon
        for key, name in self.variables.items():
            if name not in self.ds.data_vars:
                raise UserError(
                    f"no variable {name!r} (the file has {', '.join(map(str, self.ds.data_vars))})",
                    file=self.path,
                    field=f"climate.variables.{key}",
                )
        first = self.ds[next(iter(self.variables.values()))]
        self.lat_dim = grid_dim(self.ds, first, "lat", self.path)
        self.lon_dim = grid_dim(self.ds, first, "lon", self.path)
        tdims = [d for d in first.dims if d not in (self.lat_dim, self.lon_dim)]
        if len(tdims) != 1:
            raise UserError("needs one time axis besides lat and lon", file=self.path, field=first.name)
        self.tdim = tdims[0]
        try:
            self.year_of, self.month_of, self.days = dates_of(self.ds, self.tdim)
        except ValueError:
            raise UserError("time axis cannot be dated", file=self.path, field=self.tdim) from None
        stamp = np.asarray(self.year_of, int) * 12 + np.asarray(self.month_of, int)
        _, first, count = np.unique(stamp, return_index=True, return_counts=True)
        if (count > 1).any():
            k = first[np.argmax(count > 1)]
            y, m = self.year_of[k], self.month_of[k]
            raise UserError(f"month {int(y)}-{int(m):02d} appears twice on the time axis", file=self.path,
                            field=self.tdim)  # fmt: skip
        self.src_lat_b = cell_bounds(self.ds, self.lat_dim, self.path, -90, 90)
        self.src_lon_b = cell_bounds(self.ds, self.lon_dim, self.path)
        self.dst_lat_b, self.dst_lon_b = bounds_from_centres(lat, -90, 90), bounds_from_centres(lon)

    def years(self) -> tuple[int, int]:
        return int(self.year_of.min()), int(self.year_of.max())

    def check_years(self, first: int, last: int) -> None:
        full = [y for y in range(first, last + 1) if set(self.month_of[self.year_of == y]) == set(range(1, 13))]
        missing = sorted(set(range(first, last + 1)) - set(full))
        if missing:
            lo, hi = self.years()
            raise UserError(
                f"years {missing[0]}" + (f"-{missing[-1]}" if len(missing) > 1 else "")
                + f" lack 12 months in the file (it covers {lo}-{hi})",
                file=self.path,
                field="climate.years",
            )  # fmt: skip

    def _convert(self, key: str, name: str, values: np.ndarray, days: np.ndarray) -> np.ndarray:
        unit = (self.units.get(key) or str(self.ds[name].attrs.get("units", ""))).strip()
        u = unit.lower()
        field = f"climate.units.{key}"
        if key == "temp_c":
            if u not in TEMP_UNITS:
                raise UserError(f"unknown temperature unit {unit!r} (°C or K)", file=self.path, field=field)
            return values + TEMP_UNITS[u]
        if key == "prec_mm_month":
            if u in PREC_PER_MONTH:
                return values
            if u in PREC_PER_DAY:
                return values * PREC_PER_DAY[u] * days[:, None, None]
            raise UserError(
                f"unknown precipitation unit {unit!r} (mm month-1, mm d-1, kg m-2 s-1, m)", file=self.path, field=field
            )
        if u in PERCENT:
            return values
        if u in ("1", "fraction", "0-1", "(0 - 1)", ""):
            return values * 100.0
        raise UserError(f"unknown unit {unit!r} for {key} (%, or 1 for a fraction)", file=self.path, field=field)

    def _check_plausible(self, key: str, name: str, values: np.ndarray) -> None:
        """Monthly values outside what the Earth has: a unit label that lies (K or °F as °C, metres
        as mm) or a variable without values; one message naming the file and the variable."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise UserError("the variable has no value in this year", file=self.path, field=name)
        if key not in PLAUSIBLE:
            return
        (lo, hi), (vlo, vhi), unit = PLAUSIBLE[key]
        mean = float(np.mean(finite))
        if not lo <= mean <= hi:
            raise UserError(f"the year's mean {mean:.4g} {unit} after conversion lies outside {lo:g}..{hi:g}: "
                            f"check the unit (climate.units.{key})", file=self.path, field=name)  # fmt: skip
        if finite.min() < vlo or finite.max() > vhi:
            bad = finite.min() if finite.min() < vlo else finite.max()
            raise UserError(f"a monthly value of {bad:.4g} {unit} after conversion lies outside {vlo:g}..{vhi:g}: "
                            f"check the unit (climate.units.{key})", file=self.path, field=name)  # fmt: skip

    def year(self, y: int) -> dict[str, np.ndarray]:
        """``{variable: (12, lat, lon)}`` of year ``y`` on the target grid (lat, lon of the run)."""
        idx = np.nonzero(self.year_of == y)[0]
        idx = idx[np.argsort(self.month_of[idx])]
        out = {}
        for key, name in self.variables.items():
            da = self.ds[name].isel({self.tdim: idx}).transpose(self.tdim, self.lat_dim, self.lon_dim)
            v = self._convert(key, name, da.values.astype("f8"), self.days[idx])
            self._check_plausible(key, name, v)
            out[key] = np.stack(
                [regrid_conservative(m, self.src_lat_b, self.src_lon_b, self.dst_lat_b, self.dst_lon_b)[0] for m in v]
            )
        if "sun_pct" not in out and "cloud_pct" in out:
            out["sun_pct"] = 100.0 - out.pop("cloud_pct")
        return out
