"""Scoring and the files of an S1 run folder: the per-site metrics table and its summary, the
CF-NetCDF predictions and the sites table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.daily.arrays import TARGET, TEST, TRAIN, VALIDATION, DailyArrays
from soilco2.daily.dataset.config import INSITU_NAMES
from soilco2.daily.uncertainty.distribution import (
    LEVELS,
    PIT,
    PIT_ATTRS,
    SCORE_UNITS,
    quantile_attrs,
    quantile_name,
)
from soilco2.metrics import bootstrap_ci

MODELS = ("lstm", "q10", "doy_climatology", "random_forest")
METRIC_NAMES = ("nse", "kge", "kge_2012", "r", "rmse", "bias")
# metrics.parquet names: units in every name that has one
COLUMN_NAMES = {"rmse": "rmse_umol_m2_s", "bias": "bias_umol_m2_s"}
SUMMARY_METRICS = ("nse", "kge", "kge_2012", "r", "rmse_umol_m2_s", "bias_umol_m2_s")
# The daily paper (Smykalov et al. 2025), 82 COSORE sites, medians.
PAPER = {
    "median_test_nse": 0.02,
    "median_test_kge": 0.30,
    "median_train_nse": 0.54,
    "median_train_kge": 0.67,
    "good_sites": 26,
    "sites": 82,
}


def performance_class(nse: float, kge: float) -> str:
    """The daily paper's classes: good = NSE > 0.5 and KGE > 0.3; poor = NSE < 0 or KGE < 0 (or
    undefined); fair = everything between."""
    if not (np.isfinite(nse) and np.isfinite(kge)) or nse < 0 or kge < 0:
        return "poor"
    return "good" if nse > 0.5 and kge > 0.3 else "fair"


def score_predictions(
    obs: np.ndarray,
    split: np.ndarray,
    preds: dict[str, np.ndarray],
    sites: list[str],
    splits: dict[str, tuple[int, ...]] | None = None,
) -> pd.DataFrame:
    """Long metrics table: site, model, split, metrics, n, class."""
    from soilco2.metrics import score

    splits = splits or {"train": (TRAIN, VALIDATION), "test": (TEST,)}
    rows = []
    for model in (m for m in MODELS if m in preds):
        for name, labels in splits.items():
            sel = np.isin(split, labels)
            for i, site in enumerate(sites):
                m = sel[i]
                if not m.any():  # e.g. training sites of a leave-site-out split have no test days
                    continue
                rows.append(
                    {"site": site, "model": model, "split": name, **score(obs[i, m], preds[model][i, m], METRIC_NAMES)}
                )
    table = pd.DataFrame(rows).rename(columns=COLUMN_NAMES)
    table["class"] = [performance_class(n, k) for n, k in zip(table["nse"], table["kge"])]
    return table


def summarise(metrics: pd.DataFrame) -> dict:
    """Medians and means per model and split, the share of good sites, the paper's numbers, and 95 %
    bootstrap intervals over sites of the median NSE, KGE and the share of good sites."""
    out: dict = {"sites": int(metrics["site"].nunique()), "models": {}, "paper": PAPER}
    for (model, split), g in metrics.groupby(["model", "split"]):
        d = out["models"].setdefault(model, {}).setdefault(split, {})
        for k in SUMMARY_METRICS:
            d[f"median_{k}"] = float(g[k].median())
            d[f"mean_{k}"] = float(g[k].mean())
        for k in SCORE_UNITS.values():  # the predictive distribution's scores (the LSTM's rows)
            if k in g and g[k].notna().any():
                d[f"median_site_{k}"] = float(g[k].median())
        d["share_good"] = float((g["class"] == "good").mean())
        d["n_good"] = int((g["class"] == "good").sum())
        for k in ("nse", "kge"):
            d[f"median_{k}_ci95"] = list(bootstrap_ci(g[k]))
        d["share_good_ci95"] = list(bootstrap_ci(g["class"] == "good", np.mean))
    return out


_VAR_ATTRS = {
    "obs": ("observed daily mean soil CO2 efflux (control Rs ports)", "umol m-2 s-1"),
    "lstm": (
        "LSTM point forecast of daily mean soil CO2 efflux: the ensemble members' mean, floored at 0",
        "umol m-2 s-1",
    ),
    "q10": ("per-site Q10 model on soil temperature (Levenberg-Marquardt)", "umol m-2 s-1"),
    "doy_climatology": ("per-site day-of-year climatology of training days", "umol m-2 s-1"),
    "random_forest": ("random forest on the daily features (all sites)", "umol m-2 s-1"),
    "soil_temp_c": ("soil temperature driver (in-situ or filled)", "degC"),
    "obs_n": ("flux records behind the observed daily mean (0: no observation)", "1"),
}


def _cf_role(name: str) -> dict:
    """Standard name and cell method of a daily variable."""
    from soilco2 import cf

    if name == "soil_temp_c":
        return {"standard_name": cf.SOIL_TEMPERATURE, "cell_methods": "time: mean"}
    if name == "obs_n":
        return {}
    return {"standard_name": cf.CO2_FLUX, "cell_methods": "time: mean"}


def predictions_dataset(
    ds: xr.Dataset, a: DailyArrays, preds: dict[str, np.ndarray], site_label: str = "COSORE dataset name"
) -> xr.Dataset:
    """CF-NetCDF-ready dataset (site, time) of observations, predictions and split labels."""
    coords = {"site": a.sites, "time": a.time}
    out = xr.Dataset(coords=coords)
    obs = ds[TARGET].transpose("site", "time").values
    t = np.arange(a.time.size)
    in_span = (t[None, :] >= a.start[:, None]) & (t[None, :] < a.stop[:, None])
    out["obs"] = (("site", "time"), np.where(in_span, obs, np.nan).astype(np.float32))
    if "flux_n" in ds:  # how much of the day the observed mean covers (report: partial days)
        n = ds["flux_n"].transpose("site", "time").values
        out["obs_n"] = (("site", "time"), np.where(in_span & np.isfinite(obs), n, 0).astype(np.int32))
    for name, values in preds.items():
        out[name] = (("site", "time"), np.where(in_span, values, np.nan).astype(np.float32))
    if "soil_temp_c" in ds:
        out["soil_temp_c"] = (
            ("site", "time"),
            np.where(in_span, ds["soil_temp_c"].transpose("site", "time").values, np.nan).astype(np.float32),
        )
    for name, (long_name, units) in _VAR_ATTRS.items():
        if name in out:
            out[name].attrs = {"long_name": long_name, "units": units} | _cf_role(name)
    for level in LEVELS:
        if quantile_name(level) in out:
            out[quantile_name(level)].attrs = quantile_attrs(level)
    if PIT in out:
        out[PIT].attrs = dict(PIT_ATTRS)
    out["split"] = (("site", "time"), a.split.astype(np.int8))
    out["split"].attrs = {
        "long_name": "split of each observed day",
        "flag_values": np.array([-1, 0, 1, 2], np.int8),
        "flag_meanings": "no_observation train validation test",
    }
    for c in ("lat", "lon"):
        if c in ds.coords:
            out.coords[c] = ("site", ds[c].values.astype(float))
    out["lat"].attrs = {"units": "degrees_north", "long_name": "latitude", "standard_name": "latitude"}
    out["lon"].attrs = {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude"}
    out["time"].attrs = {"long_name": "day (local standard time)", "standard_name": "time", "axis": "T"}
    out["site"].attrs = {"long_name": site_label, "cf_role": "timeseries_id"}
    out.attrs = {
        "title": "soilco2 S1 daily soil respiration predictions",
        "source": "soilco2 daily LSTM ensemble and baselines; data: COSORE (Bond-Lamberty et al. 2020)",
    }
    return out


def write_predictions(pred: xr.Dataset, path: Path) -> None:
    """CF-NetCDF (one time series per site); the caller makes the write atomic."""
    from soilco2 import cf

    cf.write(pred, path, feature_type="timeSeries", atomic=False)


def sites_table(ds: xr.Dataset, a: DailyArrays) -> pd.DataFrame:
    """One row per site: position, attributes, day counts, first test day, and for each in-situ
    driver the share of the site's observed training / test days on which it was measured (or
    interpolated over a short gap) rather than filled: ``insitu_share_<driver>_train`` / ``_test``."""

    def pick(*names):
        for n in names:
            if n in ds.variables:
                return ds[n].values
        return np.full(a.n_sites, np.nan)

    test_start = [
        a.time[np.argmax(a.split[i] == TEST)] if (a.split[i] == TEST).any() else pd.NaT for i in range(a.n_sites)
    ]
    insitu = {}
    for name in sorted(f"avail_{d}" for d in INSITU_NAMES if f"avail_{d}" in ds.data_vars):  # not avail_era5
        avail = ds[name].transpose("site", "time").values > 0.5
        for label, codes in (("train", (TRAIN, VALIDATION)), ("test", (TEST,))):
            days = np.isin(a.split, codes)
            with np.errstate(invalid="ignore", divide="ignore"):
                insitu[f"insitu_share_{name.removeprefix('avail_')}_{label}"] = (avail & days).sum(1) / days.sum(1)
    return pd.DataFrame(
        {
            "site": a.sites,
            "lat": pick("lat", "lat_deg").astype(float),
            "lon": pick("lon", "lon_deg").astype(float),
            "elevation_m": pick("elevation_m").astype(float),
            "igbp": pick("igbp").astype(str),
            "mat_c": pick("mat_c").astype(float),
            "map_mm": pick("map_mm").astype(float),
            "soc_mg_ha": pick("soc_mg_ha").astype(float),
            "whc_mm": pick("whc_mm").astype(float),
            "n_obs_days": (a.split >= 0).sum(1),
            "n_train_days": np.isin(a.split, (TRAIN, VALIDATION)).sum(1),
            "n_test_days": (a.split == TEST).sum(1),
            "test_start": pd.to_datetime(test_start),
            **insitu,
        }
    )
