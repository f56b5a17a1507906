"""Daily driver providers for the S1 dataset.

A provider declares the variables it gives (:class:`DriverVar`: name, units, long name, whether it
is skewed) and returns them on a ``(site, time)`` grid as float arrays (NaN = not available):

- :class:`InSituProvider` — COSORE sensor columns from the daily table (shallowest sensors);
- :class:`ClimatologyProvider` — BIOME4 monthly climatology at the site, cyclic spline to days;
- :class:`AstronomyProvider` — day length and top-of-atmosphere shortwave (FAO-56 eq. 21–34);
- :class:`ERA5Provider` — ERA5-Land daily values from :mod:`soilco2.sources.era5` (online, cached)
  or from towers' FLUXNET ERA5 daily files (:mod:`soilco2.sources.fluxnet_era5`, offline).

Gap filling is not a provider's job (see :mod:`soilco2.daily.dataset.gaps`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DriverVar:
    name: str
    units: str
    long_name: str
    skewed: bool = False  # arcsinh before scaling


class DriverProvider(Protocol):
    """What the builder needs from a provider."""

    name: str

    def variables(self) -> list[DriverVar]: ...

    def provide(self, sites: pd.DataFrame, time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        """Arrays ``(len(sites), len(time))`` keyed by variable name; ``sites`` is indexed by site
        with columns ``lat``, ``lon``."""
        ...


# --- in-situ ---------------------------------------------------------------------------------

INSITU_DRIVERS: dict[str, DriverVar] = {
    "soil_temp_c": DriverVar("soil_temp_c", "degC", "soil temperature, shallowest sensor, daily mean"),
    "swc_m3_m3": DriverVar("swc_m3_m3", "m3 m-3", "soil volumetric water content, shallowest sensor, daily mean"),
    "air_temp_c": DriverVar("air_temp_c", "degC", "air temperature, daily mean"),
    "par_umol_m2_s": DriverVar(
        "par_umol_m2_s", "umol m-2 s-1", "photosynthetically active radiation, daily mean", True
    ),
    "rh_pct": DriverVar("rh_pct", "%", "relative humidity, daily mean"),
    "precip_mm": DriverVar("precip_mm", "mm d-1", "precipitation, daily total", True),
}
STAT_SUFFIXES = {"_min": "daily minimum", "_max": "daily maximum"}
TEMPERATURE_DRIVERS = ("soil_temp_c", "air_temp_c")


class InSituProvider:
    """COSORE in-situ drivers from the long daily table (``dataset, date, <driver>...``).

    Always gives every requested driver (temperatures with ``_min``/``_max``), so the variable list
    depends on the config only, never on which sensors a set of sites happens to have: a column
    missing from the table, or a site without that sensor, gives all-NaN rows (filled later).
    """

    name = "insitu"

    def __init__(self, table: pd.DataFrame, drivers: list[str] | None = None):
        drivers = list(INSITU_DRIVERS) if drivers is None else drivers
        self.table = table
        self.columns: list[str] = []
        self._vars: list[DriverVar] = []
        for base in drivers:
            spec = INSITU_DRIVERS[base]
            self.columns.append(base)
            self._vars.append(spec)
            if base in TEMPERATURE_DRIVERS:
                for suffix, word in STAT_SUFFIXES.items():
                    self.columns.append(base + suffix)
                    self._vars.append(
                        DriverVar(base + suffix, spec.units, spec.long_name.replace("daily mean", word), spec.skewed)
                    )

    def variables(self) -> list[DriverVar]:
        return list(self._vars)

    def provide(self, sites: pd.DataFrame, time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        out = {c: np.full((len(sites), len(time)), np.nan) for c in self.columns}
        if not self.columns:
            return out
        t = self.table[self.table["dataset"].isin(sites.index)]
        s_idx = pd.Index(sites.index).get_indexer(t["dataset"])
        t_idx = time.get_indexer(pd.to_datetime(t["date"]).dt.normalize())
        ok = (s_idx >= 0) & (t_idx >= 0)
        for c in self.columns:
            if c in t.columns:
                out[c][s_idx[ok], t_idx[ok]] = t[c].to_numpy(float)[ok]
        return out


def tower_fill(
    raw: dict[str, np.ndarray],
    sites: pd.DataFrame,
    time: pd.DatetimeIndex,
    in_span: np.ndarray,
    *,
    root=None,
    min_cover: float = 0.8,
) -> dict[str, np.ndarray]:
    """Fill ``raw`` (the :class:`InSituProvider` arrays, in place) where a site has no COSORE value
    from the AmeriFlux tower measured at the same site (:func:`soilco2.sources.towers.cosore_towers`):
    a driver is taken from the tower when it covers at least ``min_cover`` of the days from the
    site's first to its last observed flux day, so that it does not appear or vanish between the
    training and the test days. Returns ``{variable: (site, time) mask of the cells it filled}``."""
    from soilco2.sources.towers import cosore_towers, tower_daily

    cells: dict[str, np.ndarray] = {}
    towers = cosore_towers()
    for i, site in enumerate(sites.index):
        if site not in towers:
            continue
        daily = tower_daily(towers[site], root).reindex(time)
        obs_span = (time >= sites["first_obs_day"].iloc[i]) & (time <= sites["last_obs_day"].iloc[i])
        for name, x in raw.items():
            if name not in daily:
                continue
            values = daily[name].to_numpy(float)
            if np.isfinite(values[obs_span]).mean() < min_cover:
                continue
            take = ~np.isfinite(x[i]) & np.isfinite(values) & in_span[i]
            x[i, take] = values[take]
            cells.setdefault(name, np.zeros(x.shape, bool))[i] = take
    return cells


# --- climatology -------------------------------------------------------------------------------

_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], float)
_MID_MONTH = np.cumsum(_MONTH_DAYS) - _MONTH_DAYS / 2  # day-of-year position of mid-month, 365-day year


def monthly_to_daily(monthly: np.ndarray, time: pd.DatetimeIndex) -> np.ndarray:
    """Cyclic cubic spline through mid-month values: ``monthly`` (n, 12) -> (n, len(time)).

    The year wraps (December joins January smoothly); leap years are stretched onto 365 days.
    """
    from scipy.interpolate import CubicSpline

    monthly = np.atleast_2d(np.asarray(monthly, float))
    x = np.append(_MID_MONTH, _MID_MONTH[0] + 365.0)
    y = np.concatenate([monthly, monthly[:, :1]], axis=1)
    spline = CubicSpline(x, y, axis=1, bc_type="periodic")
    year_len = np.where(time.is_leap_year, 366.0, 365.0)
    pos = (time.day_of_year.to_numpy() - 0.5) / year_len * 365.0
    pos = np.where(pos < x[0], pos + 365.0, pos)
    return spline(pos)


CLIMATOLOGY_VARS = [
    DriverVar("clim_temp_c", "degC", "air temperature climatology (BIOME4, monthly means splined to days)"),
    DriverVar(
        "clim_precip_mm_day", "mm d-1", "precipitation climatology (BIOME4, monthly totals / days, splined)", True
    ),
    DriverVar("clim_sun_pct", "%", "sunshine climatology, percent of possible (BIOME4, splined)"),
]


class ClimatologyProvider:
    """BIOME4 monthly climatology at each site (nearest land cell), interpolated to days.

    ``monthly_at(lat, lon) -> DataFrame`` must give, per point and month, ``temp_c``,
    ``prec_mm_month`` and ``sun_pct``; by default :func:`soilco2.sources.grids.climatology_at`.
    """

    name = "climatology"

    def __init__(self, root=None, monthly_at: Callable | None = None):
        self.root = root
        self._monthly_at = monthly_at

    def variables(self) -> list[DriverVar]:
        return list(CLIMATOLOGY_VARS)

    def monthly(self, sites: pd.DataFrame) -> dict[str, np.ndarray]:
        """Monthly arrays (n_site, 12): ``temp_c``, ``prec_mm_month``, ``sun_pct``."""
        if self._monthly_at is None:
            from soilco2.sources.grids import climatology_at

            self._monthly_at = lambda lat, lon: climatology_at(lat, lon, root=self.root)
        table = self._monthly_at(sites["lat"].to_numpy(float), sites["lon"].to_numpy(float))
        return monthly_arrays(table, len(sites))

    def provide(self, sites: pd.DataFrame, time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        m = self.monthly(sites)
        precip_day = m["prec_mm_month"] / _MONTH_DAYS
        return {
            "clim_temp_c": monthly_to_daily(m["temp_c"], time),
            "clim_precip_mm_day": np.clip(monthly_to_daily(precip_day, time), 0.0, None),
            "clim_sun_pct": np.clip(monthly_to_daily(m["sun_pct"], time), 0.0, 100.0),
        }


def monthly_arrays(table: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    """Normalise ``climatology_at`` output to (n, 12) arrays per variable.

    Accepts a long table (one row per point and month, with ``point``/``site`` index column and
    ``month``) or an ``xarray`` Dataset with dims (point, month)."""
    names = ("temp_c", "prec_mm_month", "sun_pct")
    if hasattr(table, "data_vars"):  # xarray
        return {k: np.asarray(table[k].values, float).reshape(n, 12) for k in names}
    t = table.reset_index()
    key = next((c for c in ("point", "site", "i", "index") if c in t.columns), None)
    if key is not None and "month" in t.columns:
        t = t.sort_values([key, "month"])
    elif "month" in t.columns:
        t = t.sort_values("month", kind="stable")  # single point
    return {k: t[k].to_numpy(float).reshape(n, 12) for k in names}


# --- astronomy ---------------------------------------------------------------------------------

ASTRONOMY_VARS = [
    DriverVar("day_length_h", "h", "daylight hours (FAO-56 eq. 34)"),
    DriverVar("toa_sw_w_m2", "W m-2", "top-of-atmosphere shortwave radiation, daily mean (FAO-56 eq. 21)"),
    DriverVar("doy_sin", "1", "sine of the annual cycle (2 pi doy / year length)"),
    DriverVar("doy_cos", "1", "cosine of the annual cycle (2 pi doy / year length)"),
]
SOLAR_CONSTANT_MJ_M2_MIN = 0.0820


def extraterrestrial_radiation(lat_deg: np.ndarray, doy: np.ndarray, year_len=365.0) -> tuple[np.ndarray, np.ndarray]:
    """FAO-56 (Allen et al. 1998) eqs. 21–25 and 34: (Ra in MJ m-2 d-1, daylight hours N).

    ``lat_deg`` (n, 1) broadcasts against ``doy`` (t,)."""
    phi = np.deg2rad(lat_deg)
    angle = 2 * np.pi * doy / year_len
    dr = 1 + 0.033 * np.cos(angle)
    delta = 0.409 * np.sin(angle - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    ra = (
        (24 * 60 / np.pi)
        * SOLAR_CONSTANT_MJ_M2_MIN
        * dr
        * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
    )
    return np.clip(ra, 0.0, None), 24 / np.pi * ws


class AstronomyProvider:
    """Day length, TOA shortwave and the annual cycle from latitude and day of year."""

    name = "astronomy"

    def variables(self) -> list[DriverVar]:
        return list(ASTRONOMY_VARS)

    def provide(self, sites: pd.DataFrame, time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        lat = sites["lat"].to_numpy(float)[:, None]
        doy = time.day_of_year.to_numpy(float)
        year_len = np.where(time.is_leap_year, 366.0, 365.0)
        ra_mj, n_h = extraterrestrial_radiation(lat, doy, year_len)
        angle = 2 * np.pi * (doy - 0.5) / year_len
        shape = (len(sites), len(time))
        return {
            "day_length_h": n_h,
            "toa_sw_w_m2": ra_mj * 1e6 / 86400.0,
            "doy_sin": np.broadcast_to(np.sin(angle), shape).copy(),
            "doy_cos": np.broadcast_to(np.cos(angle), shape).copy(),
        }


# --- ERA5 --------------------------------------------------------------------------------------


class ERA5Provider:
    """ERA5 / ERA5-Land daily drivers from the Open-Meteo archive (online; cached on disk), or from
    any ``client`` with the same ``daily`` method (e.g. :class:`FluxnetERA5Files`); a client with a
    ``variables`` attribute gives only those."""

    name = "era5"

    def __init__(self, model: str = "era5_land", client=None):
        from soilco2.sources import era5

        self.model = model
        self.client = client or era5.ERA5Client(model=model)

    def variables(self) -> list[DriverVar]:
        from soilco2.sources.era5 import ERA5_VARS

        given = getattr(self.client, "variables", None)
        return [
            DriverVar(v.name, v.units, v.long_name, v.skewed) for v in ERA5_VARS if given is None or v.name in given
        ]

    def provide(self, sites: pd.DataFrame, time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        names = [v.name for v in self.variables()]
        out = {n: np.full((len(sites), len(time)), np.nan) for n in names}
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"ERA5 drivers ({type(self.client).__name__})", total=len(sites))
            for i, (_, row) in enumerate(sites.iterrows()):
                self._one(out, names, i, row, time)
                bar.advance(task)
        return out

    def _one(self, out, names, i, row, time) -> None:
        start = row.get("span_start", time[0])
        end = row.get("span_end", time[-1])
        daily = self.client.daily(
            float(row["lat"]), float(row["lon"]), start, end, utc_offset_h=row.get("utc_offset_h")
        )
        idx = time.get_indexer(daily.index)
        ok = idx >= 0
        for n in names:
            if n in daily.columns:
                out[n][i, idx[ok]] = daily[n].to_numpy(float)[ok]
