"""``soilco2 daily gapfill``: a gap-filled daily record for every site of a run's (or a
``predict`` folder's) ``predictions.nc`` — the observations, and on the other days of each site's
driver span the LSTM plus its residual kriged from the observed days around (:mod:`soilco2.daily.gapfill.kriging`),
with calendar-year totals. The residual covariance of each site is fitted on all its observed days:
gap-filling uses every observation there is (evaluation lives in ``benchmarks/daily_gapfill.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2 import cf
from soilco2.daily.annual_totals import annual_totals
from soilco2.daily.gapfill.kriging import (
    FILLED,
    NO_VALUE,
    OBSERVED,
    fill_series,
    filled_interval,
    fit_residual_covariance,
)
from soilco2.errors import UserError
from soilco2.files import mkdir, verify_manifest, write_with

_ATTRS = {
    "flux_gapfilled": ("daily soil CO2 efflux: observed, else LSTM + kriged residual", "umol m-2 s-1"),
    "flux_gapfilled_se": (
        "standard error of a filled day (residual kriging variance; observed days: NaN)",
        "umol m-2 s-1",
    ),
    "residual_correction": ("kriged residual added to the LSTM on filled days", "umol m-2 s-1"),
    "flux_gapfilled_q05": (
        "5th percentile of a filled day: the LSTM's predictive band scaled by the kriging's "
        "remaining share of the residual SD (observed days: NaN)",
        "umol m-2 s-1",
    ),
    "flux_gapfilled_q95": ("95th percentile of a filled day (as flux_gapfilled_q05)", "umol m-2 s-1"),
}


def read_predictions(source: Path, model: str = "lstm") -> tuple[xr.Dataset, Path]:
    """``predictions.nc`` itself or a folder holding one, with ``obs`` and ``model`` on (site, time)."""
    path = source / "predictions.nc" if source.is_dir() else source
    if source.is_dir() and path.is_file():  # a run or predict folder: checked against its manifest first
        verify_manifest(source)
    if not path.is_file():
        raise UserError("no predictions.nc here (a 'soilco2 daily train' run or a 'daily predict' folder)", file=path)
    try:
        pred = xr.load_dataset(path)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read as NetCDF ({err.__class__.__name__})", file=path) from None
    for v in ("obs", model):
        if v not in pred or set(pred[v].dims) != {"site", "time"}:
            raise UserError("variable missing or not on (site, time)", file=path, field=v)
    return pred, path


def gapfill_predictions(
    pred: xr.Dataset, model: str = "lstm", neighbours: int = 3, max_lag: int = 15
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Gap-filled series (site, time) and one row per site of the fitted residual covariance."""
    obs = pred["obs"].transpose("site", "time").values.astype(float)
    sim = pred[model].transpose("site", "time").values.astype(float)
    out = {k: np.full(obs.shape, np.nan) for k in _ATTRS}
    source = np.full(obs.shape, NO_VALUE, dtype=np.int8)
    rows = []
    for i, site in enumerate(pred["site"].values.astype(str)):
        resid = obs[i] - sim[i]
        cov = fit_residual_covariance(resid, max_lag=max_lag)
        filled, corr, se, src = fill_series(obs[i], sim[i], cov, neighbours)
        out["flux_gapfilled"][i], out["flux_gapfilled_se"][i], source[i] = filled, se, src
        out["residual_correction"][i] = np.where(src == FILLED, corr, np.nan)
        if "lstm_q05" in pred and model == "lstm":
            q05, q95 = (pred[f"lstm_q{p}"].transpose("site", "time").values[i].astype(float) for p in ("05", "95"))
            lo, hi = filled_interval(filled, sim[i], se, cov, q05, q95)
            out["flux_gapfilled_q05"][i] = np.where(src == FILLED, lo, np.nan)
            out["flux_gapfilled_q95"][i] = np.where(src == FILLED, hi, np.nan)
        fit = (
            {"sill": cov.sill, "nugget": cov.nugget, "phi": cov.phi, "efolding_days": cov.efolding_days}
            if cov
            else dict.fromkeys(("sill", "nugget", "phi", "efolding_days"), np.nan)
        )
        rows.append(
            {
                "site": site,
                "fitted": cov is not None,
                **fit,
                "lag1_pairs": int(np.isfinite(resid[:-1] * resid[1:]).sum()),
                "observed_days": int((src == OBSERVED).sum()),
                "filled_days": int((src == FILLED).sum()),
            }
        )
    ds = xr.Dataset(coords={"site": pred["site"].values, "time": pred["time"].values})
    for name, (long_name, units) in _ATTRS.items():
        if name.startswith("flux_gapfilled_q") and not ("lstm_q05" in pred and model == "lstm"):
            continue  # predictions without a predictive distribution
        ds[name] = (("site", "time"), out[name].astype(np.float32))
        ds[name].attrs = {"long_name": long_name, "units": units, "standard_name": cf.CO2_FLUX,
                          "cell_methods": "time: mean"}  # fmt: skip
    ds["gapfill_source"] = (("site", "time"), source)
    ds["gapfill_source"].attrs = {
        "long_name": "origin of flux_gapfilled",
        "flag_values": np.array([NO_VALUE, OBSERVED, FILLED], np.int8),
        "flag_meanings": "no_value observed lstm_plus_kriged_residual",
    }
    for c in ("lat", "lon"):
        if c in pred.coords:
            ds.coords[c] = pred[c]
    for c in ("time", "site"):
        ds[c].attrs = dict(pred[c].attrs)
    ds.attrs = {
        "title": "soilco2 S1 gap-filled daily soil respiration",
        "source": f"observations, else the {model} ensemble mean plus the residual kriged from the nearest "
        f"{neighbours} observed days on each side (soilco2.daily.gapfill.kriging)",
    }
    return ds, pd.DataFrame(rows)


def annual_table(filled: xr.Dataset) -> pd.DataFrame:
    """Calendar-year totals (g C m-2 yr-1) of each site's gap-filled series, with the share of the
    year's days that are observed (years under 90 % covered by the series get no total)."""
    times = pd.DatetimeIndex(filled["time"].values)
    frames = []
    for i, site in enumerate(filled["site"].values.astype(str)):
        series = filled["flux_gapfilled"].values[i]
        if not np.isfinite(series).any():
            continue
        years = annual_totals(times, series)
        observed = pd.Series(filled["gapfill_source"].values[i] == OBSERVED).groupby(times.year).sum()
        years["observed_days"] = observed.reindex(years["year"]).to_numpy(int)
        frames.append(years[years["n_days"] > 0].assign(site=site))
    cols = ["site", "year", "n_days", "observed_days", "coverage", "scaled", "total_gc_m2_yr"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def gapfill_run(source: str | Path, out: str | Path | None = None, neighbours: int = 3, max_lag: int = 15) -> Path:
    """Write gapfilled.nc, residual_covariance.parquet, annual_totals.parquet and summary.json."""
    from soilco2.daily.outputs import write_predictions

    pred, path = read_predictions(Path(source))
    filled, params = gapfill_predictions(pred, neighbours=neighbours, max_lag=max_lag)
    dest = Path(out) if out else path.parent / "gapfill"
    mkdir(dest)
    write_with(dest / "gapfilled.nc", lambda tmp: write_predictions(filled, tmp))
    params.to_parquet(dest / "residual_covariance.parquet", index=False)
    annual = annual_table(filled)
    annual.to_parquet(dest / "annual_totals.parquet", index=False)
    summary = {
        "predictions": str(path),
        "sites": len(params),
        "observed_days": int(params["observed_days"].sum()),
        "filled_days": int(params["filled_days"].sum()),
        "sites_without_covariance": params.loc[~params["fitted"], "site"].tolist(),
        "median_efolding_days": float(params["efolding_days"].median()),
        "median_signal_share": float((params["sill"] / (params["sill"] + params["nugget"])).median()),
        "site_years_with_total": int(np.isfinite(annual["total_gc_m2_yr"]).sum()),
        "neighbours": neighbours,
        "max_lag": max_lag,
    }
    (dest / "summary.json").write_text(json.dumps(summary, indent=1))
    return dest
