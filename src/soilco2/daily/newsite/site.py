"""One new site from its coordinates and a daily driver table (no COSORE folder): a trained S1 run
gives the daily series and its band, :mod:`soilco2.daily.newsite.level` its level, and the
result is a CF-NetCDF dataset.

    from soilco2.daily.newsite.site import predict_site
    ds = predict_site("runs/daily", drivers, lat=42.54, lon=-72.17, spots="spots.csv",
                      level="annual_map", global_run="runs/global", out="site.nc")

``drivers``: a table (or CSV path) with ``date`` and any of the in-situ drivers the run knows
(``soil_temp_c``, ``swc_m3_m3``, ``air_temp_c``, ``par_umol_m2_s``, ``rh_pct``, ``precip_mm``;
temperatures also ``_min``/``_max``). Missing drivers and gaps are filled from the climatology
exactly as for a COSORE site. The series starts on the table's first day, like a COSORE site's
span, which starts ``data.warmup_days`` before its first observation: the LSTM's memory builds up
over those first days.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.daily.dataset.drivers import INSITU_DRIVERS, STAT_SUFFIXES, TEMPERATURE_DRIVERS
from soilco2.errors import UserError

# plausible daily values of each driver: outside them a column is in another unit
DRIVER_RANGES = {
    "soil_temp_c": (-60.0, 70.0, "°C"),
    "air_temp_c": (-80.0, 60.0, "°C"),
    "swc_m3_m3": (0.0, 1.0, "m3 m-3 (a value above 1 is surely %)"),
    "par_umol_m2_s": (0.0, 3000.0, "µmol m-2 s-1"),
    "rh_pct": (0.0, 100.0, "%"),
    "precip_mm": (0.0, 1000.0, "mm per day"),
}
PRODUCT = "daily_site"
DRIVER_COLUMNS = [
    *INSITU_DRIVERS,
    *(base + suffix for base in TEMPERATURE_DRIVERS for suffix in STAT_SUFFIXES),
]


def read_drivers(drivers: pd.DataFrame | str | Path) -> pd.DataFrame:
    """The driver table checked: ``date`` (one row per day) and known, numeric, plausible drivers;
    each problem one :class:`UserError` naming the file (when read from one) and the column."""
    source = None
    if not isinstance(drivers, pd.DataFrame):
        from soilco2.daily.newsite.level import read_user_csv

        source = Path(drivers)
        drivers = read_user_csv(source, "driver table")
    if "date" not in drivers.columns:
        raise UserError("missing column", file=source, field="date")
    unknown = [c for c in drivers.columns if c != "date" and c not in DRIVER_COLUMNS]
    if unknown:
        raise UserError(
            f"unknown driver {unknown[0]!r} (known: {', '.join(DRIVER_COLUMNS)})", file=source, field=unknown[0]
        )
    dates = pd.to_datetime(drivers["date"], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        raise UserError(f"unparsable date {drivers['date'].iloc[row]!r} (row {row + 1})", file=source, field="date")
    dates = dates.dt.normalize()
    if dates.duplicated().any():
        raise UserError(f"date {dates[dates.duplicated()].iloc[0].date()} appears twice", file=source, field="date")
    out = pd.DataFrame({"date": dates})
    for col in drivers.columns.drop("date"):
        v = pd.to_numeric(drivers[col], errors="coerce")
        if (v.isna() & drivers[col].notna()).any():
            raise UserError("a value is not a number", file=source, field=col)
        lo, hi, unit = DRIVER_RANGES[col.removesuffix("_min").removesuffix("_max")]
        if (v < lo).any() or (v > hi).any():
            raise UserError(f"values outside {lo:g}..{hi:g}: give {unit}", file=source, field=col)
        out[col] = v.to_numpy(float)
    return out.sort_values("date").reset_index(drop=True)


def site_dataset(cfg, drivers: pd.DataFrame, lat: float, lon: float, *, name: str, elevation_m=None, igbp=None):
    """The run's daily dataset for one site from its drivers (span = the table's dates)."""
    from soilco2.daily.dataset.build import TARGET, assemble_daily_dataset
    from soilco2.paths import data_root
    from soilco2.sources import grids

    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise UserError(f"coordinates ({lat}, {lon}) are not degrees north / east", field="lat, lon")
    days = (drivers["date"].max() - drivers["date"].min()).days + 1
    if days <= cfg.data.warmup_days:
        raise UserError(
            f"{days} days of drivers, not more than the run's warm-up of {cfg.data.warmup_days}", field="date"
        )
    root = data_root(cfg.data.data_root)
    table = drivers.assign(dataset=name, **{TARGET: np.nan, "flux_n": 0})
    meta = pd.DataFrame(
        {
            "dataset": [name],
            "lat": [float(lat)],
            "lon": [float(lon) if lon <= 180 else float(lon) - 360],
            "elevation_m": [np.nan if elevation_m is None else float(elevation_m)],
            "igbp": [igbp],
        }  # fmt: skip
    )
    return assemble_daily_dataset(
        cfg.data.model_copy(update={"sites_include": None, "sites_exclude": []}),
        table,
        meta,
        monthly_at=lambda la, lo: grids.climatology_at(la, lo, root=root),
        site_attributes=lambda la, lo: grids.site_attributes(la, lo, root=root),
        root=root,
        drivers_only=True,
    )


def predict_site(
    run: str | Path,
    drivers: pd.DataFrame | str | Path,
    lat: float,
    lon: float,
    *,
    name: str = "site",
    elevation_m: float | None = None,
    igbp: str | None = None,
    level: str = "none",
    spots: pd.DataFrame | str | Path | None = None,
    global_run: str | Path | None = None,
    srdb: pd.DataFrame | None = None,
    radius_km: float = 5.0,
    between_site_sd: float | None = None,
    out: str | Path | None = None,
) -> xr.Dataset:
    """The site's daily soil CO2 efflux (µmol m⁻² s⁻¹) with its 5–95 % band as a CF-NetCDF-ready
    dataset (written atomically to ``out`` when given). ``level``: none, annual_map (needs
    ``global_run``), srdb (``srdb`` records, default the data root's); ``spots``: dated
    measurements (a table or a CSV, :func:`soilco2.daily.newsite.level.read_spots`) that update the
    level. The level's factor, SD and source are attributes of the ``lstm`` variable."""
    from soilco2.daily.members import ensemble_predict
    from soilco2.daily.newsite.level import DEFAULT_BETWEEN_SITE_SD, read_spots, site_levels, spot_sd_from_run
    from soilco2.daily.outputs import predictions_dataset, write_predictions
    from soilco2.daily.run import load_members, load_run_config, load_scaler, prepare
    from soilco2.files import write_with

    if level not in ("none", "annual_map", "srdb"):
        raise UserError(f"unknown level source {level!r} (none, annual_map, srdb)", field="level")
    run = Path(run)
    cfg = load_run_config(run)
    table = read_drivers(drivers)
    ds = site_dataset(cfg, table, lat, lon, name=name, elevation_m=elevation_m, igbp=igbp)
    scalers, site_target = load_scaler(run)
    ds, a, scalers = prepare(cfg, scalers, ds=ds, site_target=site_target)
    preds = ensemble_predict(load_members(run, cfg, a), a, scalers)
    spots_file = None
    if spots is not None and not isinstance(spots, pd.DataFrame):
        spots_file, spots = spots, read_spots(spots)
    if level == "srdb" and srdb is None:
        from soilco2.daily.newsite.level import srdb_rs_records

        srdb = srdb_rs_records(cfg.data.data_root)
    levels = None
    if level != "none" or spots is not None:
        preds, levels = site_levels(
            preds, a, np.array([lat]), np.array([lon]), source=level, spots=spots, spot_sd=spot_sd_from_run(run),
            between_site_sd=DEFAULT_BETWEEN_SITE_SD if between_site_sd is None else between_site_sd,
            global_run=global_run, srdb=srdb, radius_km=radius_km, spots_file=spots_file,
        )  # fmt: skip
    result = predictions_dataset(ds, a, preds).drop_vars(["obs", "obs_n", "split"], errors="ignore")
    result.attrs |= {"title": "soilco2 daily soil CO2 efflux at a new site", "run": str(run),
                     "Conventions": "CF-1.8", "soilco2_product": PRODUCT}  # fmt: skip
    if levels is not None:
        row = levels.iloc[0]
        result["lstm"].attrs |= {"level_source": row["source"], "level_factor": float(row["factor"]),
                                 "level_log_sd": float(row["log_k_sd"]), "level_spots": int(row["n_spots"])}  # fmt: skip
    if out is not None:
        _check_overwrite(Path(out))
        write_with(out, lambda tmp: write_predictions(result, tmp))
    return result


def _check_overwrite(path: Path) -> None:
    """Only a file this function wrote may be replaced."""
    if not path.exists():
        return
    try:
        with xr.open_dataset(path) as old:
            ours = old.attrs.get("soilco2_product") == PRODUCT
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise UserError("exists and was not written by soilco2 for a site; choose another output", file=path)
