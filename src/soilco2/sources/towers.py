"""Readers for the AmeriFlux tower files under ``sites/`` (from the JAX-CanVeg repository).

Every half-hourly reader returns a DataFrame indexed by the **interval start** in the site's
local standard time (naive, no DST, the AmeriFlux convention), with standard column names
(``precip_mm``, ``air_temp_c``, ``soil_temp_c``, ``swc_m3_m3``, ``ppfd_umol_m2_s``,
``sw_in_w_m2``) and -9999 turned into NaN. :func:`tower_daily` turns them into the daily in-situ
drivers of the S1 dataset (``data.tower_drivers``) for the COSORE datasets measured at the tower
(:func:`cosore_towers`).

Timestamp conventions (checked against the radiation centroid vs. solar noon per month):
- ``*-fluxes.csv`` and ``*-forcings.csv`` label each half hour by its **end**
  (the column is called ``TIMESTAMP_END``; a winter radiation centroid 15 min after solar
  noon confirms it), so the interval start is the label minus 30 min.
- ``US-Hn1-forcings-2019-06-01_to_2019-10-30_named.csv`` has only Year/DoY/Hour; its radiation
  centroid sits ~60 min after solar noon (30 min later than the 2016–17 file), so its labels
  are taken as end + 30 min and shifted by 60 min.
- ``Hn1_chamber.csv`` holds measurement times (~15 min); chamber temperature peaks at
  13:00 all year (no DST jump), so they are read as local standard time (PST).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import data_root
from soilco2.sources.fluxnet_era5 import read_dd
from soilco2.sources.tower_csv import MISSING, read_tower_csv


@dataclass(frozen=True)
class TowerFile:
    """One half-hourly file: where it is, how its time is labelled, which columns to keep."""

    relpath: str
    columns: dict[str, str]  # standard name -> raw column
    time: str = "timestamp_end"  # or "year_doy_hour"
    label_to_start_minutes: int = 30  # subtract from the label to get the interval start


@dataclass(frozen=True)
class TowerSite:
    site: str
    timezone: str  # CSR/IANA name of the local standard time
    files: tuple[TowerFile, ...] = ()
    era5_daily: str | None = None
    cosore_dataset: str | None = None
    extra: dict = field(default_factory=dict)


TOWER_SITES: dict[str, TowerSite] = {
    "us-wkg": TowerSite(
        "us-wkg",
        "Etc/GMT+7",
        (TowerFile("sites/us-wkg/US-Wkg-fluxes.csv", {"precip_mm": "P_F", "ppfd_umol_m2_s": "PPFD_IN"}),),
        era5_daily="sites/us-wkg/AMF_US-Wkg_FLUXNET_ERA5_DD_1981-2021_3-5.csv",
        cosore_dataset="d20190617_SCOTT_WKG",
    ),
    "us-whs": TowerSite(
        "us-whs",
        "Etc/GMT+7",
        (
            TowerFile("sites/us-whs/US-Whs-fluxes.csv", {"precip_mm": "P_F", "ppfd_umol_m2_s": "PPFD_IN"}),
            TowerFile(
                "sites/us-whs/US-Whs-forcings-test.csv",
                {
                    "air_temp_c": "TA_F",
                    "sw_in_w_m2": "SW_IN_F",
                    "soil_temp_c": "TS_F_MDS_3",
                    "swc_m3_m3": "SWC_F_MDS_1",
                },
            ),
        ),
        cosore_dataset="d20190617_SCOTT_WHS",
    ),
    "us-hn1": TowerSite(
        "us-hn1",
        "Etc/GMT+8",
        (
            TowerFile("sites/us-hn1/US-Hn1-fluxes.csv", {"precip_mm": "P_mm"}),
            TowerFile(
                "sites/us-hn1/US-Hn1-forcings.csv",
                {"air_temp_c": "Tair", "sw_in_w_m2": "Rg", "soil_temp_c": "TS_15cm", "swc_m3_m3": "SWC_15cm"},
            ),
            TowerFile(
                "sites/us-hn1/US-Hn1-forcings-2019-06-01_to_2019-10-30_named.csv",
                {"air_temp_c": "Tair", "sw_in_w_m2": "Rg", "soil_temp_c": "TS_15cm", "swc_m3_m3": "SWC_15cm"},
                time="year_doy_hour",
                label_to_start_minutes=60,
            ),
        ),
        extra={"chamber": "sites/us-hn1/Hn1_chamber.csv"},
    ),
    "us-bi1": TowerSite(
        "us-bi1",
        "Etc/GMT+8",
        (
            TowerFile("sites/us-bi1/US-Bi1-fluxes.csv", {"precip_mm": "P_F", "ppfd_umol_m2_s": "PPFD_IN"}),
            TowerFile(
                "sites/us-bi1/US-Bi1-forcings.csv",
                {
                    "air_temp_c": "TA_F",
                    "sw_in_w_m2": "SW_IN_F",
                    "soil_temp_c": "TS_F_MDS_4",
                    "swc_m3_m3": "SWC_F_MDS_1",
                },
            ),
        ),
        era5_daily="sites/us-bi1/AMF_US-Bi1_FLUXNET_ERA5_DD_1981-2021_3-5.csv",
        cosore_dataset="d20200214_SZUTU_BOULDINA",
    ),
}


def tower_site(site: str) -> TowerSite:
    key = site.lower()
    if key not in TOWER_SITES:
        raise UserError(f"unknown tower site '{site}'; known: {', '.join(sorted(TOWER_SITES))}", field="tower_site")
    return TOWER_SITES[key]


def read_halfhourly(
    path: str | Path,
    columns: dict[str, str],
    *,
    time: str = "timestamp_end",
    label_to_start_minutes: int = 30,
) -> pd.DataFrame:
    """One tower file → DataFrame indexed by interval start (``time``), standard columns, NaN gaps."""
    path = Path(path)
    raw = read_tower_csv(path)
    if time == "timestamp_end":
        if "TIMESTAMP_END" not in raw:
            raise UserError("no TIMESTAMP_END column", file=path, field="TIMESTAMP_END")
        col = raw["TIMESTAMP_END"]
        if pd.api.types.is_numeric_dtype(col):  # AmeriFlux BASE style 201801010030
            label = pd.to_datetime(col.astype("Int64").astype(str), format="%Y%m%d%H%M", errors="coerce")
        else:
            label = pd.to_datetime(col.astype(str), format="mixed", errors="coerce")
    elif time == "year_doy_hour":
        for col in ("Year", "DoY", "Hour"):
            if col not in raw:
                raise UserError("missing time column", file=path, field=col)
        label = (
            pd.to_datetime(raw["Year"].astype(int).astype(str), format="%Y")
            + pd.to_timedelta(raw["DoY"] - 1, unit="D")
            + pd.to_timedelta(raw["Hour"], unit="h")
        )
    else:
        raise ValueError(f"unknown time convention {time!r}")
    if label.isna().all():
        raise UserError("no parseable timestamps", file=path, field="TIMESTAMP_END")
    out = pd.DataFrame(index=pd.DatetimeIndex(label - pd.Timedelta(minutes=label_to_start_minutes), name="time"))
    for std, col in columns.items():
        if col not in raw:
            raise UserError(f"column for '{std}' missing", file=path, field=col)
        vals = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float, copy=True)
        vals[vals <= MISSING + 0.5] = np.nan  # -9999 written as float or int
        out[std] = vals
    out = out[out.index.notna()]
    return out[~out.index.duplicated(keep="first")].sort_index()


def load_tower(site: str, root: str | Path | None = None, drivers: list[str] | None = None) -> pd.DataFrame:
    """All half-hourly tower files of ``site`` joined on interval start (later files fill gaps)."""
    spec = tower_site(site)
    root = data_root(root)
    parts = [
        read_halfhourly(root / f.relpath, f.columns, time=f.time, label_to_start_minutes=f.label_to_start_minutes)
        for f in spec.files
    ]
    table = parts[0]
    for part in parts[1:]:
        table = table.combine_first(part)
    if drivers is not None:
        missing = [d for d in drivers if d not in table]
        if missing:
            raise UserError(f"tower site {site} has no {', '.join(missing)}", field="tower_drivers")
        table = table[drivers]
    return table


# half hours a day needs before its tower means / totals count (the shared files are gap-filled)
MIN_HALFHOURS_PER_DAY = 40
# tower column -> daily standard driver: means, and min/max for temperatures, as in the COSORE daily table
_DAILY_MEANS = {
    "soil_temp_c": "soil_temp_c",
    "air_temp_c": "air_temp_c",
    "swc_m3_m3": "swc_m3_m3",
    "ppfd_umol_m2_s": "par_umol_m2_s",
}


def tower_daily(site: str, root: str | Path | None = None) -> pd.DataFrame:
    """A tower's half-hourly drivers as daily in-situ drivers, indexed by local standard date:
    ``soil_temp_c``, ``air_temp_c`` (each with ``_min``/``_max``), ``swc_m3_m3``, ``par_umol_m2_s``
    (PPFD) and ``precip_mm`` (day total); NaN where a day has fewer than
    :data:`MIN_HALFHOURS_PER_DAY` values of that variable."""
    hh = load_tower(site, root)
    day = hh.index.floor("D")
    grouped = hh.groupby(day)
    counts = grouped.count()
    out = pd.DataFrame(index=pd.DatetimeIndex(counts.index, name="date"))
    for col, name in _DAILY_MEANS.items():
        if col not in hh:
            continue
        enough = counts[col] >= MIN_HALFHOURS_PER_DAY
        out[name] = grouped[col].mean().where(enough)
        if name in ("soil_temp_c", "air_temp_c"):
            out[name + "_min"] = grouped[col].min().where(enough)
            out[name + "_max"] = grouped[col].max().where(enough)
    if "precip_mm" in hh:
        out["precip_mm"] = grouped["precip_mm"].sum().where(counts["precip_mm"] >= MIN_HALFHOURS_PER_DAY)
    return out


def cosore_towers() -> dict[str, str]:
    """COSORE dataset -> the tower site whose files were measured at the same site."""
    return {spec.cosore_dataset: key for key, spec in TOWER_SITES.items() if spec.cosore_dataset}


def read_era5_daily(path: str | Path) -> pd.DataFrame:
    """FLUXNET ERA5 daily file → DataFrame indexed by local date: ``precip_mm`` (day total), ``air_temp_c``
    (read by :func:`soilco2.sources.fluxnet_era5.read_dd`)."""
    return read_dd(path)[["era5_precip_mm", "era5_air_temp_c"]].rename(
        columns={"era5_precip_mm": "precip_mm", "era5_air_temp_c": "air_temp_c"}
    )


def read_hn1_chamber(path: str | Path, min_r2: float = 0.0) -> tuple[pd.DataFrame, dict[str, int]]:
    """US-Hn1 automated chambers → (records with ``time``, ``flux_umol_m2_s``, ``chamber_temp_c``, counts).

    Records with a missing flux/time or with ``Meas_R2`` below ``min_r2`` are dropped and counted.
    """
    path = Path(path)
    raw = read_tower_csv(path)
    for col in ("Timestamp", "Rsoil", "Tchamber"):
        if col not in raw:
            raise UserError("missing column", file=path, field=col)
    time = pd.to_datetime(raw["Timestamp"], errors="coerce")
    flux = pd.to_numeric(raw["Rsoil"], errors="coerce").where(lambda s: s > MISSING + 0.5)
    temp = pd.to_numeric(raw["Tchamber"], errors="coerce").where(lambda s: s > MISSING + 0.5)
    r2 = pd.to_numeric(raw.get("Meas_R2", pd.Series(1.0, index=raw.index)), errors="coerce")
    counts = {"raw": len(raw), "dropped_bad_time": int(time.isna().sum())}
    ok = time.notna()
    counts["dropped_missing_flux"] = int((ok & flux.isna()).sum())
    ok &= flux.notna()
    counts["dropped_low_r2"] = int((ok & (r2 < min_r2)).sum())
    ok &= ~(r2 < min_r2)
    counts["kept"] = int(ok.sum())
    rec = pd.DataFrame({"time": time[ok], "flux_umol_m2_s": flux[ok], "chamber_temp_c": temp[ok]})
    return rec.sort_values("time").reset_index(drop=True), counts
