"""Baselines of the S1 daily pipeline, on the same split and metrics as the LSTM.

- ``q10``: per site, R = R10 * Q10 ** ((T - 10) / 10) on the dataset's soil temperature (in-situ
  where present, else the builder's fill from the climatology), Levenberg–Marquardt
  (:class:`soilco2.models.q10.Q10`), fitted on the site's training days.
- ``doy_climatology``: per site, the mean training flux by day of year, smoothed with a circular
  window of ±``doy_window_days``; days of year without training data get the site's training mean.
- ``random_forest``: one forest for all sites on the LSTM's scaled daily inputs (dynamic + static,
  no lags), fitted on every site's training days.

Every baseline predicts each site's whole span and is fitted on the training and validation days
(the first 80 % of each site's observed days): nothing from the test period.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from soilco2.daily.arrays import TARGET, TRAIN, VALIDATION, DailyArrays


def _in_span(a: DailyArrays) -> np.ndarray:
    t = np.arange(a.time.size)
    return (t[None, :] >= a.start[:, None]) & (t[None, :] < a.stop[:, None])


def q10_baseline(ds: xr.Dataset, a: DailyArrays) -> tuple[np.ndarray, dict[str, int]]:
    """Per-site Q10 predictions and a count of sites whose fit failed (left NaN)."""
    from soilco2.models.q10 import Q10

    out = np.full(a.y.shape, np.nan)
    counts = {"fitted": 0, "failed": 0, "no_soil_temp": 0}
    if "soil_temp_c" not in ds:
        counts["no_soil_temp"] = a.n_sites
        return out, counts
    temp = ds["soil_temp_c"].transpose("site", "time").values
    obs = ds[TARGET].transpose("site", "time").values
    fit_days = np.isin(a.split, (TRAIN, VALIDATION))
    for i in range(a.n_sites):
        m = fit_days[i] & np.isfinite(temp[i])
        try:
            model = Q10().fit(temp[i, m], obs[i, m])
        except ValueError:
            counts["failed"] += 1
            continue
        span = slice(a.start[i], a.stop[i])
        out[i, span] = model.predict(temp[i, span])
        counts["fitted"] += 1
    return out, counts


def doy_climatology_baseline(ds: xr.Dataset, a: DailyArrays, window_days: int = 15) -> np.ndarray:
    obs = ds[TARGET].transpose("site", "time").values
    doy = np.clip(a.time.day_of_year.to_numpy(), 1, 365) - 1
    fit_days = np.isin(a.split, (TRAIN, VALIDATION))
    kernel_offsets = np.arange(-window_days, window_days + 1)
    out = np.full(a.y.shape, np.nan)
    span = _in_span(a)
    for i in range(a.n_sites):
        m = fit_days[i] & np.isfinite(obs[i])
        total = np.bincount(doy[m], weights=obs[i, m], minlength=365)
        count = np.bincount(doy[m], minlength=365).astype(float)
        idx = (np.arange(365)[:, None] + kernel_offsets[None, :]) % 365
        s, c = total[idx].sum(1), count[idx].sum(1)
        clim = np.where(c > 0, s / np.maximum(c, 1), obs[i, m].mean() if m.any() else np.nan)
        out[i, span[i]] = clim[doy[span[i]]]
    return out


def random_forest_baseline(
    ds: xr.Dataset, a: DailyArrays, trees: int = 200, min_samples_leaf: int = 5, seed: int = 0, threads: int = 2
) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

    obs = ds[TARGET].transpose("site", "time").values
    n_site, n_time, n_feat = a.x_dynamic.shape
    static = np.broadcast_to(a.x_static[:, None, :], (n_site, n_time, a.x_static.shape[1]))
    X = np.concatenate([a.x_dynamic, static], axis=-1)
    fit = np.isin(a.split, (TRAIN, VALIDATION)) & np.isfinite(obs)
    rf = RandomForestRegressor(
        n_estimators=trees, min_samples_leaf=min_samples_leaf, max_features=0.5, random_state=seed, n_jobs=threads
    )
    rf.fit(X[fit], obs[fit])
    out = np.full(a.y.shape, np.nan)
    span = _in_span(a)
    out[span] = rf.predict(X[span])
    return out


def run_baselines(ds: xr.Dataset, a: DailyArrays, bc, seed: int = 0, threads: int = 2) -> dict[str, np.ndarray]:
    """The baselines switched on in ``bc`` (a BaselineConfig), keyed by model name."""
    out: dict[str, np.ndarray] = {}
    if bc.q10:
        out["q10"], _ = q10_baseline(ds, a)
    if bc.doy_climatology:
        out["doy_climatology"] = doy_climatology_baseline(ds, a, bc.doy_window_days)
    if bc.random_forest:
        out["random_forest"] = random_forest_baseline(ds, a, bc.rf_trees, bc.rf_min_samples_leaf, seed, threads)
    return out
