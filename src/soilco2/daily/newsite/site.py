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
DRIVER_RANGES = {  # daily means: the ingestion's per-record ranges (docs/data.md) hold for them too
    "soil_temp_c": (-40.0, 60.0, "°C"),
    "air_temp_c": (-60.0, 55.0, "°C"),
    "swc_m3_m3": (0.0, 1.0, "m3 m-3 (a value above 1 is surely %)"),
    "par_umol_m2_s": (0.0, 3000.0, "µmol m-2 s-1"),
    "rh_pct": (0.0, 100.0, "%"),
    "precip_mm": (0.0, 1000.0, "mm per day"),
}
PRODUCT = "daily_site"
MAX_GAP_DAYS = 366  # a longer gap between two driver days is two periods, not one series
ELEVATION_RANGE_M = (-500.0, 9000.0)
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
    if drivers.empty:
        raise UserError("no rows: the table has a header but no day", file=source, field="date")
    unknown = [c for c in drivers.columns if c != "date" and c not in DRIVER_COLUMNS]
    if unknown:
        raise UserError(
            f"unknown driver {unknown[0]!r} (known: {', '.join(DRIVER_COLUMNS)})", file=source, field=unknown[0]
        )
    from soilco2.daily.newsite.level import local_dates

    dates = local_dates(drivers["date"])
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        raise UserError(
            f"unparsable date {drivers['date'].iloc[row]!r} (row {row + 1}; use YYYY-MM-DD)", file=source, field="date"
        )
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
        if v.isna().all():
            raise UserError("the column has no value: drop it (the climatology fills a driver left out)",
                            file=source, field=col)  # fmt: skip
        out[col] = v.to_numpy(float)
    out = out.sort_values("date").reset_index(drop=True)
    gaps = out["date"].diff().dt.days.fillna(1).to_numpy()
    if (gaps > MAX_GAP_DAYS).any():
        k = int(np.argmax(gaps))
        raise UserError(
            f"the dates jump from {out['date'].iloc[k - 1].date()} to {out['date'].iloc[k].date()} ({int(gaps[k]) - 1} "
            "days without drivers): give one table per continuous period", file=source, field="date")  # fmt: skip
    missing = int((gaps - 1).sum())
    if missing:
        import warnings

        warnings.warn(f"{source or 'driver table'}: {missing} day(s) without a row are filled from the "
                      "site's climatology", stacklevel=2)  # fmt: skip
    return out


MAX_TEMP_DEPARTURE_C = 25.0  # a daily mean this far from the month's climatological air temperature


def check_against_climate(drivers: pd.DataFrame, monthly_temp_c: pd.Series, source=None) -> None:
    """Temperatures far from the site's climate (°F or K labelled °C, a logger of another site)
    are a :class:`UserError` naming the column and the first such day."""
    normal = monthly_temp_c.reindex(drivers["date"].dt.month).to_numpy(float)
    for col in [c for c in drivers if c in TEMPERATURE_DRIVERS]:  # daily means (a desert soil's max may be far off)
        off = np.abs(drivers[col].to_numpy(float) - normal) > MAX_TEMP_DEPARTURE_C
        if off.any():
            k = int(np.flatnonzero(off)[0])
            raise UserError(
                f"{drivers[col].iloc[k]:g} °C on {drivers['date'].iloc[k].date()} is more than "
                f"{MAX_TEMP_DEPARTURE_C:g} °C from the site's mean air temperature of that month "
                f"({normal[k]:.1f} °C): °F or K, or another site's logger?", file=source, field=col)  # fmt: skip


def site_dataset(cfg, drivers: pd.DataFrame, lat: float, lon: float, *, name: str, elevation_m=None, igbp=None):
    """The run's daily dataset for one site from its drivers (span = the table's dates)."""
    from soilco2.daily.dataset.build import TARGET, assemble_daily_dataset
    from soilco2.daily.dataset.form import IGBP_CODES
    from soilco2.paths import data_root
    from soilco2.sources import grids

    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise UserError(f"coordinates ({lat}, {lon}) are not degrees north / east", field="--lat/--lon")
    if igbp is not None and igbp not in IGBP_CODES:
        raise UserError(f"{igbp!r} is not an IGBP class code ({', '.join(IGBP_CODES)})", field="--igbp")
    if elevation_m is not None and not ELEVATION_RANGE_M[0] <= elevation_m <= ELEVATION_RANGE_M[1]:
        raise UserError(f"{elevation_m:g} m is not an elevation on Earth ({ELEVATION_RANGE_M[0]:g}.."
                        f"{ELEVATION_RANGE_M[1]:g} m)", field="--elevation-m")  # fmt: skip
    days = (drivers["date"].max() - drivers["date"].min()).days + 1
    if days <= cfg.data.warmup_days:
        raise UserError(
            f"{days} days of drivers, not more than the run's warm-up of {cfg.data.warmup_days}", field="date"
        )
    root = data_root(cfg.data.data_root)
    try:
        clim = grids.climatology_at(np.array([lat]), np.array([lon if lon <= 180 else lon - 360]), root=root)
    except UserError as err:
        clim, why = None, err.detail
    if clim is None or clim["temp_c"].isna().all():
        raise UserError(f"({lat}, {lon}) has no land cell of the climatology nearby"
                        f"{f' ({why})' if clim is None else ''}: latitude and longitude swapped?",
                        field="--lat/--lon")  # fmt: skip
    check_against_climate(drivers, clim.set_index("month")["temp_c"])
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
    level: str = "auto",
    spots: pd.DataFrame | str | Path | None = None,
    global_run: str | Path | None = None,
    srdb: pd.DataFrame | None = None,
    radius_km: float = 5.0,
    between_site_sd: float | None = None,
    out: str | Path | None = None,
) -> xr.Dataset:
    """The site's daily soil CO2 efflux (µmol m⁻² s⁻¹) with its predictive quantiles as a
    CF-NetCDF-ready dataset (written atomically to ``out`` when given). ``level`` and ``spots``
    as ``daily predict`` (:func:`soilco2.daily.newsite.level.level_settings`): none, annual_map
    (needs ``global_run``), srdb (``srdb`` records, default the data root's), spots, auto; spots
    are dated measurements (a table or a CSV) that update the level. The level's factor, SD and
    source are attributes of the ``lstm`` variable; the band holds the level's uncertainty."""
    from soilco2.daily.members import ensemble_predict
    from soilco2.daily.newsite.level import DEFAULT_BETWEEN_SITE_SD, level_settings, site_levels, spot_error_from_run
    from soilco2.daily.outputs import predictions_dataset, write_predictions
    from soilco2.daily.run import load_members, load_run_config, load_scaler, prepare, with_distribution
    from soilco2.files import write_with

    if out is not None and not Path(out).resolve().parent.is_dir():  # a typo in a path creates no folder
        raise UserError("its folder does not exist; create it first", file=out, field="--out")
    sd = DEFAULT_BETWEEN_SITE_SD if between_site_sd is None else between_site_sd
    settings = level_settings(level, spots, global_run, radius_km, sd, srdb=srdb)
    run = Path(run)
    cfg = load_run_config(run)
    table = read_drivers(drivers)
    ds = site_dataset(cfg, table, lat, lon, name=name, elevation_m=elevation_m, igbp=igbp)
    scalers, site_target = load_scaler(run)
    ds, a, scalers = prepare(cfg, scalers, ds=ds, site_target=site_target)
    preds = ensemble_predict(load_members(run, cfg, a), a, scalers)
    levels = None
    if settings is not None:
        preds, levels = site_levels(preds, a, np.array([lat]), np.array([lon]), **spot_error_from_run(run),
                                    **settings)  # fmt: skip
    with_distribution(run, cfg, ds, a, preds, levels=levels)
    result = predictions_dataset(ds, a, preds, site_label="site name").drop_vars(
        ["obs", "obs_n", "split"], errors="ignore"
    )
    result.attrs |= {"title": "soilco2 daily soil CO2 efflux at a new site", "run": str(run),
                     "Conventions": "CF-1.8", "soilco2_product": PRODUCT}  # fmt: skip
    if levels is not None:
        row = levels.iloc[0]
        result["lstm"].attrs |= {"level_source": row["source"], "level_factor": float(row["factor"]),
                                 "level_log_sd": float(row["log_k_sd"]), "level_spots": int(row["n_spots"])}  # fmt: skip
    spots_table = settings.get("spots") if settings else None
    if spots_table is not None and "soil_temp_c" in ds:
        _add_anchor(result, run, ds, spots_table)
    if out is not None:
        _check_overwrite(Path(out))
        write_with(out, lambda tmp: write_predictions(result, tmp))
    return result


def _add_anchor(result: xr.Dataset, run: Path, ds: xr.Dataset, spots: pd.DataFrame) -> None:
    """The Q10 curve fitted to the spots on the site's soil temperature, beside the LSTM."""
    from soilco2 import cf
    from soilco2.daily.newsite.anchors import anchor_variables

    temp = ds["soil_temp_c"].sel(time=result["time"]).values.ravel()
    day = pd.to_datetime(spots["date"]).dt.normalize()
    at = pd.Series(temp, index=pd.DatetimeIndex(result["time"].values)).reindex(day).to_numpy()
    try:
        anchor = anchor_variables(run, temp, at, spots["flux_umol_m2_s"].to_numpy(float))
    except (ValueError, IndexError, np.linalg.LinAlgError) as err:  # no usable reading, or no site to fit σ on
        import warnings

        warnings.warn(f"no Q10 anchor beside the LSTM: {err}", stacklevel=2)
        return
    for name, (values, attrs) in anchor.items():
        span = np.isfinite(result["lstm"].values.ravel())
        result[name] = (("site", "time"), np.where(span, values, np.nan)[None, :].astype(np.float32),
                        attrs | {"standard_name": cf.CO2_FLUX, "cell_methods": "time: mean"})  # fmt: skip


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
