"""ERA5 daily drivers offline, from the FLUXNET ``*_FLUXNET*_ERA5_DD_*.csv`` files of flux towers.

The FLUXNET processing (FLUXNET2015, AmeriFlux FLUXNET, ONEFlux) ships with every tower a daily
ERA5 series downscaled to the tower (Vuichard & Papale 2015, doi:10.5194/essd-7-157-2015), 1981
onwards, on local-standard-time days — the same days as COSORE's daily table. Many chamber
sites stand at or near such a tower, so a folder of these files is day-to-day weather for sites
whose own files carry no driver. A site takes the nearest tower within ``max_km`` (default
100 km: synoptic weather, a few ERA5 cells); tower coordinates come from the COSORE datasets
whose ``CSR_SITE_ID`` names the tower.

:class:`FluxnetERA5Files` has the ``daily`` method of :class:`soilco2.sources.era5.ERA5Client`,
so :class:`soilco2.daily.dataset.drivers.ERA5Provider` uses either (``data.era5_source``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.sources.tower_csv import MISSING, read_tower_csv

FILE_PATTERN = re.compile(r"^(?:AMF|FLX)_([A-Za-z]{2}-[A-Za-z0-9]{3})_FLUXNET.*ERA5_DD.*\.csv$")
# variables of soilco2.sources.era5.ERA5_VARS these files give (min/max and soil are not in them)
VARIABLES = ("era5_air_temp_c", "era5_precip_mm", "era5_sw_w_m2", "era5_rh_pct")


def find_files(folder: str | Path) -> dict[str, Path]:
    """``{tower id: file}`` for the ERA5 DD files anywhere under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("folder of FLUXNET ERA5 daily files not found", file=folder, field="data.era5_fluxnet_dir")
    out: dict[str, Path] = {}
    for f in sorted(folder.rglob("*.csv")):
        m = FILE_PATTERN.match(f.name)
        if m:
            out.setdefault(m.group(1), f)
    if not out:
        raise UserError(
            "no FLUXNET ERA5 daily file (AMF_/FLX_<tower>_FLUXNET*_ERA5_DD_*.csv) in this folder",
            file=folder,
            field="data.era5_fluxnet_dir",
        )
    return out


def read_dd(path: str | Path) -> pd.DataFrame:
    """One ERA5 DD file → daily ``era5_*`` columns indexed by date (−9999 → NaN). Relative
    humidity comes from the day's mean VPD and air temperature (Tetens), so it is approximate."""
    path = Path(path)
    raw = read_tower_csv(path)
    missing = [c for c in ("TIMESTAMP", "TA_ERA") if c not in raw]
    if missing:
        raise UserError("not a FLUXNET ERA5 daily file", file=path, field=missing[0])
    date = pd.to_datetime(raw["TIMESTAMP"].astype(str), format="%Y%m%d", errors="coerce")

    def col(name):
        if name not in raw:
            return pd.Series(np.nan, index=raw.index)
        return pd.to_numeric(raw[name], errors="coerce").where(lambda s: s > MISSING + 0.5)

    ta, vpd = col("TA_ERA"), col("VPD_ERA")  # degC, hPa
    es = 6.1078 * np.exp(17.27 * ta / (ta + 237.3))
    out = pd.DataFrame(
        {
            "era5_air_temp_c": ta.to_numpy(),
            "era5_precip_mm": col("P_ERA").to_numpy(),
            "era5_sw_w_m2": col("SW_IN_ERA").to_numpy(),
            "era5_rh_pct": (100.0 * (1.0 - vpd / es)).clip(0.0, 100.0).to_numpy(),
        },
        index=pd.DatetimeIndex(date, name="date"),
    )
    out = out[out.index.notna()]
    return out[~out.index.duplicated(keep="first")].sort_index()


def tower_coordinates(meta: pd.DataFrame, towers) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Coordinates of ``towers`` from COSORE metadata (``site_id``, ``lat``, ``lon``; mean over the
    datasets naming the tower), and the towers no dataset names."""
    ids = meta["site_id"].astype(str).str.strip().str.upper() if "site_id" in meta else pd.Series("", meta.index)
    coords, unlocated = {}, []
    for t in towers:
        rows = meta[ids == t.upper()]  # COSORE spells some ids in capitals (US-WKG)
        lat = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(float) if len(rows) else np.array([])
        lon = pd.to_numeric(rows["lon"], errors="coerce").to_numpy(float) if len(rows) else np.array([])
        ok = np.isfinite(lat) & np.isfinite(lon)
        if ok.any():
            coords[t] = (float(lat[ok].mean()), float(lon[ok].mean()))
        else:
            unlocated.append(t)
    return coords, unlocated


class FluxnetERA5Files:
    """Daily ERA5 drivers at a point from the nearest tower's ERA5 DD file within ``max_km``."""

    variables = VARIABLES

    def __init__(
        self,
        files: dict[str, Path],
        coords: dict[str, tuple[float, float]],
        max_km: float = 100.0,
        unlocated: list[str] | None = None,
    ):
        self.files = {t: Path(f) for t, f in files.items() if t in coords}
        self.coords = {t: coords[t] for t in self.files}
        self.max_km = float(max_km)
        self.unlocated = list(unlocated or [])
        self._read: dict[str, pd.DataFrame] = {}

    @classmethod
    def from_folder(cls, folder: str | Path, meta: pd.DataFrame, max_km: float = 100.0) -> FluxnetERA5Files:
        files = find_files(folder)
        coords, unlocated = tower_coordinates(meta, files)
        return cls(files, coords, max_km, unlocated)

    def nearest(self, lat: float, lon: float) -> tuple[str | None, float]:
        """The nearest tower within ``max_km`` and its distance (km); (None, nan) if none."""
        from soilco2.sources.grids import haversine_km

        if not self.coords:
            return None, float("nan")
        towers = list(self.coords)
        d = haversine_km(
            lat, lon, np.array([self.coords[t][0] for t in towers]), np.array([self.coords[t][1] for t in towers])
        )
        k = int(np.argmin(d))
        return (towers[k], float(d[k])) if d[k] <= self.max_km else (None, float("nan"))

    def describe(self, lat: float, lon: float) -> str:
        tower, km = self.nearest(lat, lon)
        return "" if tower is None else f"{tower} ({km:.1f} km)"

    def daily(self, lat: float, lon: float, start, end, utc_offset_h: float | None = None) -> pd.DataFrame:
        """Daily ``era5_*`` values over [start, end] (the files' days are already local standard
        time, so ``utc_offset_h`` is not needed); an empty frame when no tower is near."""
        tower, _ = self.nearest(lat, lon)
        if tower is None:
            return pd.DataFrame(columns=list(VARIABLES), index=pd.DatetimeIndex([], name="date"), dtype=float)
        if tower not in self._read:
            self._read[tower] = read_dd(self.files[tower])
        return self._read[tower].loc[pd.Timestamp(start).normalize() : pd.Timestamp(end).normalize()]
