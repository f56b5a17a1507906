"""Scoring process models' heterotrophic respiration against observations and against a map.

- Against SRDB: each unmanipulated SRDB record with an annual Rh and usable coordinates is paired
  with the value of the model cell that contains it (g C m-2 yr-1). A ~2° cell against a plot is a
  scale mismatch, so per-record r is low by construction; bias and the median ratio say more.
- Against an observation-based 0.5° map (e.g. the S3 quantile-forest Rh map): each 0.5° cell takes
  the value of the model cell containing its centre; area-weighted bias, RMSE and r over cells
  where both exist, and both global totals over that common area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from soilco2 import metrics
from soilco2.sources.grids import total_pg_c_yr
from soilco2.sources.landmodels import values_at


def srdb_rh_points(root=None) -> tuple[pd.DataFrame, dict]:
    """SRDB records usable for Rh scoring → (table: lat, lon, rh_annual_gc_m2_yr, study_midyear; counts)."""
    from soilco2.sources.srdb import load_srdb

    rec, _ = load_srdb(root)
    counts = {"unmanipulated_records": len(rec)}
    keep = rec["rh_annual_gc_m2_yr"].notna()
    counts["without_rh_annual"] = int((~keep).sum())
    for flag in ("flag_no_coords", "flag_in_sea"):
        if flag in rec:
            bad = keep & rec[flag].fillna(False).astype(bool)
            counts[flag] = int(bad.sum())
            keep &= ~bad
    counts["kept"] = int(keep.sum())
    cols = [c for c in ("record_number", "lat", "lon", "rh_annual_gc_m2_yr", "study_midyear", "biome") if c in rec]
    return rec.loc[keep, cols].reset_index(drop=True), counts


def score_at_points(
    models: xr.Dataset,
    names: list[str],
    points: pd.DataFrame,
    obs_col: str = "rh_annual_gc_m2_yr",
    max_distance_km: float = 300.0,
) -> pd.DataFrame:
    """Per model: n, r, bias, RMSE and median ratio model/observed over the points its grid covers
    (a coastal point whose cell has no model land takes the nearest model land cell within
    ``max_distance_km``; 300 km is about one ~2° model cell)."""
    rows = []
    obs = points[obs_col].to_numpy(float)
    for name in names:
        sim = values_at(models[name], points["lat"].to_numpy(), points["lon"].to_numpy(), max_distance_km)
        ok = np.isfinite(sim) & np.isfinite(obs)
        s = metrics.score(obs[ok], sim[ok], names=("r", "bias", "rmse"))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nanmedian(sim[ok] / obs[ok]) if ok.any() else np.nan
        rows.append(
            {
                "model": name,
                "n": int(ok.sum()),
                "n_outside_model_land": int((~np.isfinite(sim)).sum()),
                "r": s["r"],
                "bias_gc_m2_yr": s["bias"],
                "rmse_gc_m2_yr": s["rmse"],
                "median_ratio_model_over_obs": float(ratio),
            }
        )
    return pd.DataFrame(rows)


def compare_with_map(
    models: xr.Dataset, names: list[str], ref: xr.DataArray, land_area_m2: xr.DataArray
) -> pd.DataFrame:
    """Each model against a 0.5° reference map (same units) on the reference grid.

    ``land_area_m2`` is the land area of each reference cell. Returns per model: cells compared,
    area-weighted r, bias and RMSE (g C m-2 yr-1) and both totals (Pg C yr-1) over the common cells.
    """
    lat, lon = ref["lat"].values, ref["lon"].values
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    w_all = land_area_m2.transpose("lat", "lon").values
    r_all = ref.transpose("lat", "lon").values
    rows = []
    for name in names:
        m = values_at(models[name], la.ravel(), lo.ravel()).reshape(la.shape)
        ok = np.isfinite(m) & np.isfinite(r_all) & np.isfinite(w_all) & (w_all > 0)
        w, x, y = w_all[ok], r_all[ok], m[ok]
        wm = lambda v: float(np.sum(w * v) / np.sum(w))  # noqa: E731
        mx, my = wm(x), wm(y)
        cov = wm((x - mx) * (y - my))
        rows.append(
            {
                "model": name,
                "cells": int(ok.sum()),
                "r_area_weighted": cov / np.sqrt(wm((x - mx) ** 2) * wm((y - my) ** 2)),
                "bias_gc_m2_yr": my - mx,
                "rmse_gc_m2_yr": float(np.sqrt(wm((y - x) ** 2))),
                "model_total_pg_c_yr": float(total_pg_c_yr(y, w)),
                "map_total_pg_c_yr": float(total_pg_c_yr(x, w)),
            }
        )
    return pd.DataFrame(rows)
