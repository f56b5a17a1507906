"""The level of a new site's daily series: the LSTM gives the day-to-day shape, the level comes
from what a site PI has — an S3 annual map, SRDB records nearby, a few manual measurements.

The level is a multiplicative factor ``k`` on the LSTM series, updated in log space (a normal
prior, normal likelihood: conjugate):

- prior from the annual map (``annual_map``: the run's Rs at the site's 0.5° cell, with its SD over
  runs) or from SRDB annual Rs records within a radius (``srdb``): log k₀ = log(level / the
  series' mean over its span), SD from the level's relative spread and ``between_site_sd``;
  without a level source the prior is log k₀ = 0 with SD ``between_site_sd``;
- each spot measurement y at a day with series value s gives log(y / s) with SD ``spot_sd``
  (day-to-day error of the series in log space plus measurement error);
- posterior: precision = 1/σ₀² + n/σₛ², mean = (log k₀/σ₀² + Σ log(yᵢ/sᵢ)/σₛ²) / precision.

The series is multiplied by exp(mean); its 5–95 % band is log-normal around it with SD
√(σ_post² + σ_day² + σ_ensemble²): it widens when the level is uncertain, narrows as spots are
added, and never gets narrower than a day's scatter around the series. 1 µmol CO2 m⁻² s⁻¹ over a year
is 378.7 g C m⁻² yr⁻¹ (12.011 g/mol × 31.536 Ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError

GC_M2_YR_PER_UMOL_M2_S = 12.011e-6 * 365 * 86400  # 378.7
MAX_PLAUSIBLE_UMOL = 100.0
SPOT_COLUMNS = {"date", "flux_umol_m2_s", "soil_temp_c", "site"}
# the floor of the predictive distribution's log space (calibration.floor_umol_m2_s's default)
SERIES_FLOOR = 0.05
# SD of a new site's log level around the LSTM's own (statics-only) level: 0.62–0.68 leave-site-out
# over the five folds of benchmarks/daily_new_sites.py (decision E22)
DEFAULT_BETWEEN_SITE_SD = 0.65


@dataclass
class Level:
    """A level for one site: log factor and its SD, and where it came from."""

    log_k: float
    sd: float
    source: str
    n_spots: int = 0
    level_umol_m2_s: float | None = None


def read_user_csv(path: Path, what: str) -> pd.DataFrame:
    """A CSV a user wrote (``#`` starts a comment); a missing or unreadable file is a :class:`UserError`."""
    if not path.is_file():
        raise UserError(f"{what} not found", file=path)
    try:
        return pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise UserError(f"not a readable CSV ({err.__class__.__name__})", file=path) from None


ISO_DATE = r"^\s*\d{4}-\d{2}-\d{2}"


def local_dates(values: pd.Series) -> pd.Series:
    """Calendar dates from ISO 8601 text: a time and a UTC offset (``+05:00``, ``Z``) may follow, and
    the date is the one written (the logger's local day); any other form (``01/06/2016``) is NaT."""
    text = values.astype(str)
    iso = text.str.match(ISO_DATE)
    day = pd.to_datetime(text.str.strip().str.slice(0, 10).where(iso), format="%Y-%m-%d", errors="coerce")
    return day


def read_spots(path: str | Path) -> pd.DataFrame:
    """A hand-written CSV of spot measurements: ``date``, ``flux_umol_m2_s`` (µmol CO2 m⁻² s⁻¹),
    optional ``soil_temp_c`` and ``site`` (needed when the prediction has several sites).
    Every problem is one :class:`UserError` naming the file and the column."""
    path = Path(path)
    df = read_user_csv(path, "spots file")
    unknown = sorted(set(df.columns) - SPOT_COLUMNS)
    if unknown:
        raise UserError(
            f"unknown column {unknown[0]!r} (known: {', '.join(sorted(SPOT_COLUMNS))})", file=path, field=unknown[0]
        )
    for need in ("date", "flux_umol_m2_s"):
        if need not in df.columns:
            raise UserError("missing column", file=path, field=need)
    if df.empty:
        raise UserError("no spot measurement in the file", file=path)
    dates = local_dates(df["date"])
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        raise UserError(
            f"unparsable date {df['date'].iloc[row]!r} (row {row + 1}; use YYYY-MM-DD)", file=path, field="date"
        )
    flux = pd.to_numeric(df["flux_umol_m2_s"], errors="coerce")
    if flux.isna().any() or not np.isfinite(flux).all():
        raise UserError("a flux value is missing or not a number", file=path, field="flux_umol_m2_s")
    if (flux > MAX_PLAUSIBLE_UMOL).any():
        raise UserError(
            f"value {flux.max():g} above {MAX_PLAUSIBLE_UMOL:g} µmol m-2 s-1: surely another unit "
            "(g C m-2 per day or per year?); give µmol CO2 m-2 s-1",
            file=path,
            field="flux_umol_m2_s",
        )
    if (flux <= 0).any():
        raise UserError("flux values must be positive (soil CO2 efflux)", file=path, field="flux_umol_m2_s")
    out = pd.DataFrame({"date": dates.dt.normalize(), "flux_umol_m2_s": flux.astype(float)})
    if "site" in df.columns:
        out["site"] = df["site"].astype(str)
    if "soil_temp_c" in df.columns:
        out["soil_temp_c"] = pd.to_numeric(df["soil_temp_c"], errors="coerce")
    return out


def prior_from_level(
    level_umol: float, level_sd_umol: float, series_mean: float, between_site_sd: float, source: str
) -> Level:
    """The prior of log k from an annual level (µmol m⁻² s⁻¹) and its SD."""
    rel = np.log1p((level_sd_umol / level_umol) ** 2) if level_umol > 0 else 1.0
    return Level(
        log_k=float(np.log(level_umol / series_mean)),
        sd=float(np.sqrt(rel + between_site_sd**2)),
        source=source,
        level_umol_m2_s=float(level_umol),
    )


def effective_spots(days: np.ndarray, acf: np.ndarray | None) -> float:
    """How many independent spots ``days`` (one a day) are worth when the deviations of days
    ``k`` apart correlate by ``acf[k]`` (0 beyond its end): n² / Σᵢⱼ ρ(|tᵢ − tⱼ|), the n that gives
    their mean's variance (n when ``acf`` is None; about 1 for a run of days inside one spell)."""
    t = np.sort(np.asarray(days, int))
    n = t.size
    if n < 2 or acf is None or len(acf) < 2:
        return float(n)
    reach = np.searchsorted(t, t + len(acf) - 1, side="right")
    total = float(n) + 2 * sum(float(acf[t[i + 1 : reach[i]] - t[i]].sum()) for i in range(n))
    return n * n / total


def update(
    prior: Level,
    series: np.ndarray,
    spot_index: np.ndarray,
    spot_flux: np.ndarray,
    spot_sd: float,
    spot_acf: np.ndarray | None = None,
) -> Level:
    """The conjugate update of ``prior`` with spots (``spot_index``: days into ``series``); the
    spots' mean log ratio counts as :func:`effective_spots` independent ones (many spots close in
    time share their deviation: a level SD of 0.002 from 10⁵ daily spots would be false)."""
    s = np.maximum(series[spot_index], SERIES_FLOOR)  # a day the LSTM puts at 0 still takes a spot
    ok = np.isfinite(s) & np.isfinite(spot_flux) & (spot_flux > 0)
    if not ok.any():
        return prior
    r = np.log(spot_flux[ok] / s[ok])
    n_eff = effective_spots(np.asarray(spot_index)[ok], spot_acf)
    precision = 1 / prior.sd**2 + n_eff / spot_sd**2
    mean = (prior.log_k / prior.sd**2 + n_eff * r.mean() / spot_sd**2) / precision
    source = f"{prior.source}+spots" if prior.source != "none" else "spots"
    return Level(float(mean), float(np.sqrt(1 / precision)), source, int(ok.sum()), prior.level_umol_m2_s)


def combine(a: Level, b: Level) -> Level:
    """Two independent estimates of log k joined by precision (e.g. the LSTM's own level and the map's)."""
    precision = 1 / a.sd**2 + 1 / b.sd**2
    mean = (a.log_k / a.sd**2 + b.log_k / b.sd**2) / precision
    return Level(float(mean), float(np.sqrt(1 / precision)), f"{a.source}+{b.source}", a.n_spots + b.n_spots,
                 b.level_umol_m2_s if b.level_umol_m2_s is not None else a.level_umol_m2_s)  # fmt: skip


def apply_level(preds: dict[str, np.ndarray], level: Level) -> dict[str, np.ndarray]:
    """The point forecast times exp(log k). The band around it is the predictive distribution's
    (:mod:`soilco2.daily.uncertainty.distribution`), widened there by the level's SD."""
    out = dict(preds)
    out["lstm"] = preds["lstm"] * np.exp(level.log_k)
    return out


def annual_map_level(global_run: str | Path, lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Rs of the S3 run at each site's 0.5° cell as a mean flux (µmol m⁻² s⁻¹) and its SD over runs
    (the map read once for all sites); a site outside the map's land cells is a :class:`UserError`."""
    import xarray as xr

    from soilco2.files import verify_manifest

    maps = Path(global_run) / "maps.nc"
    if not maps.is_file():
        raise UserError("not an S3 run folder (no maps.nc)", file=maps, field="--global-run")
    verify_manifest(Path(global_run), kind="global")  # a changed or partial map is never a level
    lat = np.atleast_1d(np.asarray(lat, float))
    lon = (np.atleast_1d(np.asarray(lon, float)) + 180.0) % 360.0 - 180.0  # 0-360 degrees east too
    points = {"lat": xr.DataArray(lat, dims="site"), "lon": xr.DataArray(lon, dims="site")}
    try:
        with xr.open_dataset(maps) as ds:
            missing = [v for v in ("rs_mean", "rs_sd") if v not in ds]
            if missing:
                raise UserError("not an S3 map (variable missing)", file=maps, field=missing[0])
            cell = ds[["rs_mean", "rs_sd"]].sel(points, method="nearest")
            mean, sd = cell["rs_mean"].values.astype(float), cell["rs_sd"].values.astype(float)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"unreadable S3 map ({err.__class__.__name__})", file=maps) from None
    off = ~np.isfinite(mean)
    if off.any():
        k = int(np.flatnonzero(off)[0])
        raise UserError(
            f"the site ({lat[k]:.3f}, {lon[k]:.3f}) is outside the annual map's land cells", file=maps, field="rs_mean"
        )
    return mean / GC_M2_YR_PER_UMOL_M2_S, sd / GC_M2_YR_PER_UMOL_M2_S


def srdb_rs_records(root=None) -> pd.DataFrame:
    """SRDB records with an annual Rs and coordinates (the ``srdb`` level source)."""
    from soilco2.sources.srdb import load_srdb

    return load_srdb(root)[0].dropna(subset=["rs_annual_gc_m2_yr", "lat", "lon"])


def srdb_level(records: pd.DataFrame, lat: float, lon: float, radius_km: float, years=None) -> tuple[float, float, int]:
    """Mean SRDB annual Rs (µmol m⁻² s⁻¹) of the records within ``radius_km`` (years in ``years``
    when any is), their SD (0 for one record) and count; a :class:`UserError` when there is none."""
    from soilco2.sources.grids import haversine_km

    d = haversine_km(lat, lon, records["lat"].to_numpy(), records["lon"].to_numpy())
    near = records[d <= radius_km]
    if years is not None and "study_midyear" in near and near["study_midyear"].round().isin(years).any():
        near = near[near["study_midyear"].round().isin(years)]
    if near.empty:
        raise UserError(
            f"no SRDB annual Rs record within {radius_km:g} km of ({lat:.3f}, {lon:.3f})", field="--level srdb"
        )
    v = near["rs_annual_gc_m2_yr"].to_numpy(float) / GC_M2_YR_PER_UMOL_M2_S
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, int(len(v))


def spot_error_from_run(run: str | Path, max_lag_days: int = 180) -> dict:
    """:func:`spot_error` on the run's training days."""
    import xarray as xr

    with xr.open_dataset(Path(run) / "predictions.nc") as ds:
        obs, sim, split = (ds[v].transpose("site", "time").values for v in ("obs", "lstm", "split"))
    return spot_error(obs, sim, split == 0, max_lag_days)


def spot_error(obs: np.ndarray, sim: np.ndarray, days: np.ndarray, max_lag_days: int = 180) -> dict:
    """How far spots say something about a site's level, from log(observed / LSTM) within sites
    (site × day arrays) on ``days``, each site's own mean removed: ``spot_sd``, the day-to-day SD,
    and ``spot_acf``, its autocorrelation at lags 0..``max_lag_days`` pooled over sites (kept
    non-negative and non-increasing). The deviations have a long memory (default run: 0.74 at one
    day, 0.16 at 30 days), so a month of daily spots is worth a few independent ones (E26)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(obs / sim)
    r[~(days & np.isfinite(r))] = np.nan
    dev = r - np.nanmean(r, axis=1, keepdims=True)
    acf = [1.0]
    for k in range(1, min(max_lag_days, dev.shape[1] - 1) + 1):
        a, b = dev[:, k:], dev[:, :-k]
        pair = np.isfinite(a) & np.isfinite(b)
        acf.append(float(np.sum((a * b)[pair]) / np.sum((b**2)[pair])) if pair.sum() > 30 else 0.0)
    acf = np.minimum.accumulate(np.clip(acf, 0.0, 1.0))
    return {"spot_sd": float(np.sqrt(np.nanmean(dev**2))), "spot_acf": acf}


LEVEL_SOURCES = ("none", "annual_map", "srdb", "spots", "auto")


def daily_spots(spots: pd.DataFrame, sites: list[str], spots_file=None) -> pd.DataFrame:
    """One value a site and day (the mean of that day's readings: readings on one day share its
    deviation, so they count once); a spot naming a site not predicted is a :class:`UserError`."""
    if "site" in spots:
        unknown = sorted(set(spots["site"].astype(str)) - set(sites))
        if unknown:
            raise UserError(f"site(s) {', '.join(unknown)} not among the predicted sites ({', '.join(sites)})",
                            file=spots_file, field="site")  # fmt: skip
        keys = ["site", "date"]
    elif len(sites) > 1:
        raise UserError(f"{len(sites)} sites are predicted: give each spot its site", file=spots_file, field="site")
    else:
        keys = ["date"]
    day = spots.assign(date=pd.to_datetime(spots["date"]).dt.normalize())
    return day.groupby(keys, as_index=False)["flux_umol_m2_s"].mean()


def level_settings(
    level: str = "auto",
    spots=None,
    global_run=None,
    radius_km: float = 5.0,
    between_site_sd: float = DEFAULT_BETWEEN_SITE_SD,
    srdb: pd.DataFrame | None = None,
) -> dict | None:
    """The keyword arguments of :func:`site_levels` from the options ``daily predict`` and ``daily
    site`` share (one vocabulary, one set of defaults), or None for the plain LSTM. ``auto``: the
    richest source given (the map, then the spots alone, else none)."""
    if level not in LEVEL_SOURCES:
        raise UserError(f"unknown level source {level!r} (known: {', '.join(LEVEL_SOURCES)})", field="--level")
    if level == "none" and spots is not None:
        raise UserError("--level none keeps the LSTM's level, so the spots would be ignored: drop --spots or "
                        "choose --level spots (or auto)", field="--spots")  # fmt: skip
    if level == "auto":
        level = "annual_map" if global_run else ("spots" if spots is not None else "none")
    if level == "annual_map" and global_run is None:
        raise UserError("--level annual_map needs --global-run RUN (an S3 run folder)", field="--global-run")
    if level == "spots" and spots is None:
        raise UserError("--level spots needs --spots FILE", field="--spots")
    if not 0 < radius_km <= 500:
        raise UserError(f"{radius_km:g} km: give a radius in (0, 500] km", field="--radius-km")
    if not 0 < between_site_sd <= 5:
        raise UserError(f"{between_site_sd:g}: give a log-level SD in (0, 5]", field="--between-site-sd")
    if level == "none":
        return None
    spots_file = None
    if spots is not None and not isinstance(spots, pd.DataFrame):
        spots_file, spots = spots, read_spots(spots)
    settings = {"source": "none" if level == "spots" else level, "spots": spots, "spots_file": spots_file,
                "between_site_sd": between_site_sd, "global_run": global_run, "radius_km": radius_km}  # fmt: skip
    if level == "srdb":
        settings["srdb"] = srdb if srdb is not None else srdb_rs_records()
    return settings


def site_levels(
    preds: dict[str, np.ndarray],
    a,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    source: str,
    spots: pd.DataFrame | None,
    spot_sd: float,
    between_site_sd: float,
    spot_acf: np.ndarray | None = None,
    global_run=None,
    srdb=None,
    radius_km: float = 5.0,
    spots_file=None,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Each site's level (prior from ``source``: none, annual_map or srdb; then the spots) applied
    to the predictions; returns the new predictions and one row per site."""
    out = {k: v.copy() for k, v in preds.items()}
    rows = []
    if spots is not None:
        spots = daily_spots(spots, a.sites, spots_file)
    if source == "annual_map":
        map_level, map_sd = annual_map_level(global_run, lat, lon)
    for i, site in enumerate(a.sites):
        span = slice(a.start[i], a.stop[i])
        series = preds["lstm"][i]
        mean = float(np.nanmean(series[span]))
        if source == "annual_map":
            prior = prior_from_level(map_level[i], map_sd[i], mean, between_site_sd, "annual_map")
        elif source == "srdb":
            years = sorted(set(a.time[span].year))
            level, sd, _ = srdb_level(srdb, float(lat[i]), float(lon[i]), radius_km, years)
            prior = prior_from_level(level, sd, mean, between_site_sd, "srdb")
        else:
            prior = Level(0.0, between_site_sd, "none")
        level = prior
        if spots is not None:
            mine = spots[spots["site"] == site] if "site" in spots else spots
            if len(mine):
                idx = a.time.get_indexer(mine["date"])
                inside = (idx >= a.start[i]) & (idx < a.stop[i])
                if not inside.all():
                    bad = mine["date"].iloc[int(np.flatnonzero(~inside)[0])].date()
                    raise UserError(
                        f"date {bad} outside the driver span of {site} ({a.time[a.start[i]].date()} to "
                        f"{a.time[a.stop[i] - 1].date()})",
                        file=spots_file,
                        field="date",
                    )
                level = update(prior, series, idx, mine["flux_umol_m2_s"].to_numpy(float), spot_sd, spot_acf)
                implied = float(np.exp(np.mean(np.log(mine["flux_umol_m2_s"].to_numpy(float)
                                                      / np.maximum(series[idx], SERIES_FLOOR)))))  # fmt: skip
                if not 0.2 <= implied <= 5.0:
                    import warnings

                    warnings.warn(f"{site}: the spots imply {implied:.3g} x the model's level (outside 1/5..5): "
                                  "check their unit (µmol CO2 m-2 s-1, daily mean) and site", stacklevel=2)  # fmt: skip
        one = apply_level({k: v[i] for k, v in preds.items() if k.startswith("lstm")}, level)
        for k, v in one.items():
            out[k][i] = v
        rows.append({"site": site, "source": level.source, "factor": float(np.exp(level.log_k)), "log_k": level.log_k,
                     "log_k_sd": level.sd, "n_spots": level.n_spots, "level_umol_m2_s": level.level_umol_m2_s})  # fmt: skip
    return out, pd.DataFrame(rows)
