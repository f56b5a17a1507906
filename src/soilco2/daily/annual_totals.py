"""Annual totals of daily flux series (g C m-2 yr-1) and their agreement with SRDB annual Rs
records near each site."""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd

from soilco2.metrics import pearson_r

# µmol CO2 m-2 s-1 → g C m-2 day-1: 12.011 g C per mol, 86400 s per day.
UMOL_M2_S_TO_GC_M2_DAY = 12.011e-6 * 86400


def annual_totals(times: pd.DatetimeIndex, flux_umol_m2_s: np.ndarray, min_coverage: float = 0.9) -> pd.DataFrame:
    """Calendar-year totals (g C m-2 yr-1) of a daily flux series.

    Each day contributes flux × 12.011e-6 × 86400 g C m-2. Years with every day present are
    summed exactly; years with at least ``min_coverage`` of their days present are scaled up
    from the daily mean (``scaled=True``); sparser years get NaN total but are still listed.
    """
    t = pd.DatetimeIndex(times)
    gc = np.asarray(flux_umol_m2_s, dtype=float) * UMOL_M2_S_TO_GC_M2_DAY
    frame = pd.DataFrame({"year": t.year, "gc": gc})
    rows = []
    for year, g in frame.groupby("year"):
        days = 366 if calendar.isleap(int(year)) else 365
        n = int(np.isfinite(g["gc"]).sum())
        cov = n / days
        total = np.nan
        if n == days:
            total = float(np.nansum(g["gc"]))
        elif cov >= min_coverage:
            total = float(np.nanmean(g["gc"]) * days)
        rows.append(
            {"year": int(year), "n_days": n, "coverage": cov, "scaled": bool(0 < n < days), "total_gc_m2_yr": total}
        )
    return pd.DataFrame(rows)


def match_srdb(sites: pd.DataFrame, annual: pd.DataFrame, srdb: pd.DataFrame, max_km: float = 5.0) -> pd.DataFrame:
    """Pair each site's annual predicted totals with SRDB annual Rs records within ``max_km``.

    ``annual``: ``site, year, total_gc_m2_yr`` (NaN totals ignored). ``srdb``: ``lat, lon,
    year`` (study mid-year, may be NaN), ``rs_annual_gc_m2_yr`` and ``record``. For each SRDB
    record the predicted total of the same calendar year is used when available
    (``same_year=True``), else the mean over the site's complete predicted years.
    """
    from soilco2.sources.grids import haversine_km

    rows = []
    srdb = srdb[np.isfinite(srdb["rs_annual_gc_m2_yr"].to_numpy(float))]
    for _, site in sites.iterrows():
        d = haversine_km(site["lat"], site["lon"], srdb["lat"].to_numpy(float), srdb["lon"].to_numpy(float))
        near = srdb[d <= max_km].assign(distance_km=d[d <= max_km])
        if near.empty:
            continue
        pred = annual[(annual["site"] == site["site"]) & np.isfinite(annual["total_gc_m2_yr"])]
        if pred.empty:
            continue
        by_year = pred.set_index("year")["total_gc_m2_yr"]
        for _, rec in near.iterrows():
            yr = rec.get("year", np.nan)
            same = np.isfinite(yr) and int(np.floor(yr)) in by_year.index
            predicted = by_year[int(np.floor(yr))] if same else by_year.mean()
            rows.append(
                {
                    "site": site["site"],
                    "srdb_record": rec.get("record"),
                    "distance_km": rec["distance_km"],
                    "srdb_year": yr,
                    "same_year": bool(same),
                    "pred_years": ",".join(str(y) for y in by_year.index),
                    "srdb_rs_gc_m2_yr": float(rec["rs_annual_gc_m2_yr"]),
                    "pred_rs_gc_m2_yr": float(predicted),
                }
            )
    cols = [
        "site",
        "srdb_record",
        "distance_km",
        "srdb_year",
        "same_year",
        "pred_years",
        "srdb_rs_gc_m2_yr",
        "pred_rs_gc_m2_yr",
    ]
    return pd.DataFrame(rows, columns=cols)


def _agree(o: np.ndarray, p: np.ndarray) -> dict:
    return {
        "n": int(o.size),
        "r": pearson_r(o, p),
        "bias_gc_m2_yr": float(np.mean(p - o)) if o.size else np.nan,
        "rmse_gc_m2_yr": float(np.sqrt(np.mean((p - o) ** 2))) if o.size else np.nan,
        "median_ratio_pred_over_srdb": float(np.median(p / o)) if o.size else np.nan,
    }


def site_level_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """One row per site: median SRDB annual Rs of its nearby records vs the predicted mean annual total."""
    if matches.empty:
        return pd.DataFrame(columns=["site", "n_records", "srdb_rs_gc_m2_yr", "pred_rs_gc_m2_yr"])
    return (
        matches.groupby("site")
        .agg(
            n_records=("srdb_rs_gc_m2_yr", "size"),
            srdb_rs_gc_m2_yr=("srdb_rs_gc_m2_yr", "median"),
            pred_rs_gc_m2_yr=("pred_rs_gc_m2_yr", "mean"),
        )
        .reset_index()
    )


def agreement(matches: pd.DataFrame) -> dict:
    """Predicted vs SRDB annual Rs: per site (median of nearby records, so a site with many SRDB
    records does not dominate), for same-year pairs, and over all record pairs."""
    if matches.empty:
        return {"n_records": 0, "n_sites": 0}
    sites = site_level_matches(matches)
    same = matches[matches["same_year"]]
    col = lambda t, c: t[c].to_numpy(float)  # noqa: E731
    out = {"n_records": int(len(matches)), "n_sites": int(len(sites)), "n_same_year": int(len(same))}
    for label, t in (("sites", sites), ("same_year", same), ("records", matches)):
        out.update(
            {f"{label}_{k}": v for k, v in _agree(col(t, "srdb_rs_gc_m2_yr"), col(t, "pred_rs_gc_m2_yr")).items()}
        )
    return out
