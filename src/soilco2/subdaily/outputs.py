"""Outputs of an S2 run: the headline past length and predictions, the CF-NetCDF predictions,
rain-pulse skill and the run summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from soilco2 import cf
from soilco2.subdaily import data as prep
from soilco2.subdaily.config import Q10_MODELS, TORCH_MODELS


def headline_hours(sweep: pd.DataFrame, scenario: str) -> float:
    """The past length whose single-seed past/future LSTM has the lowest *validation* MSE."""
    v = sweep[(sweep.scenario == scenario) & (sweep.split == "validation") & (sweep.members == 1)]
    if (v.model == "pastfuture_lstm").any():
        v = v[v.model == "pastfuture_lstm"]
    return float(v.loc[v["mse"].idxmin(), "past_hours"]) if len(v) else float("nan")


def headline_predictions(preds, ensembles, headline) -> dict[tuple[str, str], np.ndarray]:
    """(scenario, model) -> the prediction reported: Q10 fits, torch models at the headline length
    (their seed ensemble when ``train.ensemble`` > 1)."""
    out = {}
    for (s, m, h), p in preds.items():
        if h == 0.0 or h == headline.get(s):
            out[(s, m)] = ensembles.get((s, m), p)
    return out


def predictions_dataset(table, win, preds, head_preds, split_labels, cfg, headline):
    import xarray as xr

    time_index = table.index
    n = len(time_index)
    scen = list(cfg.scenarios.run)
    obs = table["flux_umol_m2_s"].to_numpy(float)
    data = {
        "obs": (
            ("time",),
            obs,
            {"long_name": "observed soil respiration (control Rs ports mean)"} | _FLUX,
        ),
        "soil_temp_c": (
            ("time",),
            table["soil_temp_c"].to_numpy(float),
            {
                "units": "degC",
                "long_name": "soil temperature",
                "standard_name": "soil_temperature",
                "cell_methods": "time: mean",
            },
        ),
    }
    if "precip_mm" in table:
        data["precip_mm"] = (
            ("time",),
            table["precip_mm"].to_numpy(float),
            {
                "units": "mm",
                "long_name": "precipitation per interval",
                "standard_name": "lwe_thickness_of_precipitation_amount",
                "cell_methods": "time: sum",
            },
        )
    split = np.full((len(scen), n), -1, np.int8)
    for i, s in enumerate(scen):
        split[i, win.row] = split_labels[s]
    data["split"] = (
        ("scenario", "time"),
        split,
        {
            "long_name": "sample split of each interval per scenario",
            "flag_values": np.array([-1, 0, 1, 2], np.int8),
            "flag_meanings": "not_a_sample train validation test",
        },
    )
    models = sorted({k[1] for k in preds})
    for m in models:
        arr = np.full((len(scen), n), np.nan, np.float32)
        for i, s in enumerate(scen):
            if (s, m) in head_preds:
                arr[i, win.row] = head_preds[(s, m)]
        data[m] = (
            ("scenario", "time"),
            arr,
            {"long_name": _model_long_name(m, cfg.train.ensemble)} | _FLUX,
        )
    hours = [float(h) for h in cfg.sweep.past_hours]
    for m in [m for m in models if m in TORCH_MODELS]:
        arr = np.full((len(scen), len(hours), n), np.nan, np.float32)
        for i, s in enumerate(scen):
            for j, h in enumerate(hours):
                if (s, m, h) in preds:
                    arr[i, j, win.row] = preds[(s, m, h)]
        data[f"{m}_sweep"] = (
            ("scenario", "past_hours", "time"),
            arr,
            {"long_name": f"{m} prediction per past length (one seed)"} | _FLUX,
        )
    ds = xr.Dataset(
        data,
        coords={
            "time": ("time", time_index.values, {"long_name": "interval start, local standard time",
                                                  "standard_name": "time", "axis": "T"}),
            "scenario": ("scenario", np.array(scen, dtype=object), {
                "long_name": "evaluation scenario: interpolation (test days spread through the record) or "
                "extrapolation (test days at its end)"}),
            "past_hours": ("past_hours", np.array(hours), {"units": "h", "long_name": "past drivers window length"}),
            "site": ((), cfg.site.name, {"long_name": "site name", "cf_role": "timeseries_id"}),
        },
    )  # fmt: skip
    ds.attrs.update(
        title=f"soilco2 S2 sub-daily predictions: {cfg.site.name}",
        headline_past_hours=json.dumps(headline),
    )
    return ds


_FLUX = {"units": cf.CO2_FLUX_UNITS, "standard_name": cf.CO2_FLUX, "cell_methods": "time: mean"}


def _model_long_name(model: str, ensemble: int) -> str:
    if model in Q10_MODELS:
        return f"{model} prediction (Q10 model fitted by Levenberg-Marquardt on the training samples)"
    return f"{model} prediction at the headline past length, mean of {ensemble} seed(s)"


def write_predictions(ds, path, position: tuple[float, float] | None) -> None:
    """CF-NetCDF, one station time series (the site's lat/lon when known)."""
    if position is not None:
        ds = ds.assign_coords(
            lat=((), position[0], {"units": "degrees_north", "standard_name": "latitude"}),
            lon=((), position[1], {"units": "degrees_east", "standard_name": "longitude"}),
        )
    cf.write(ds, path, feature_type="timeSeries")


def rain_pulse_table(table, win, head_preds, split_labels, cfg) -> pd.DataFrame:
    from soilco2.subdaily.rain_pulses import detect_events, pulse_skill

    if "precip_mm" not in table:
        return pd.DataFrame()
    pc = cfg.rain_pulses
    events = detect_events(
        table["precip_mm"], dry_days=pc.dry_days, dry_max_mm=pc.dry_max_mm, min_rain_mm=pc.min_rain_mm
    )
    obs = table["flux_umol_m2_s"]
    parts = []
    for s in cfg.scenarios.run:
        sims = {m: pd.Series(p, index=win.time) for (sc, m), p in head_preds.items() if sc == s}
        res = pulse_skill(events, obs, sims, window_hours=pc.window_hours)
        if len(res):
            lab = pd.Series(split_labels[s], index=win.time)
            res["onset_split"] = [
                int(lab.loc[t : t + pd.Timedelta(hours=pc.window_hours)].max())
                if len(lab.loc[t : t + pd.Timedelta(hours=pc.window_hours)])
                else -1
                for t in res.onset
            ]
            res.insert(0, "scenario", s)
            parts.append(res)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def run_summary(
    cfg, sweep, peaks, headline, holdouts, sweep_seconds, total_seconds, acct, drops, past_d, future_d, pulses
) -> dict:
    test = sweep[sweep.split == "test"]
    out = {
        "site": cfg.site.name,
        "dataset": cfg.site.dataset,
        "inputs": {"past": past_d, "future": future_d, "future_hours": cfg.inputs.future_hours},
        "target_transform": cfg.train.target_transform,
        "headline_past_hours": headline,
        "holdout": holdouts.get("extrapolation", {}),
        "window_drops": drops,
    }
    for s in cfg.scenarios.run:
        t = test[test.scenario == s]
        res = {}
        for m, g in t.groupby("model"):
            g = g if g["past_hours"].isna().all() else g[g.past_hours == headline[s]]
            members = g["members"].fillna(1).astype(int)
            row = g.loc[members.idxmax()]  # the seed ensemble where there is one
            torch_model = not pd.isna(row["past_hours"])
            res[m] = {
                "r": row["r"],
                "nse": row["nse"],
                "mse": row["mse"],
                "kge": row["kge"],
                "n": int(row["n"]),
                "past_hours": float(row["past_hours"]) if torch_model else None,
                "members": int(members.max()) if torch_model else None,
            }
            if members.max() > 1:  # the single seed that chose the past length, for comparison
                one = g[g["members"] == 1].iloc[0]
                res[m]["single_seed"] = {"r": one["r"], "nse": one["nse"], "mse": one["mse"], "kge": one["kge"]}
        out[s] = res
        q = t[t.model.isin(Q10_MODELS)]
        out[f"best_q10_r_{s}"] = float(q["r"].max()) if len(q) else None
    out["mi_peak_lag_hours"] = {r.driver: r.peak_lag_hours for r in peaks.itertuples()}
    out["mi_lag_convention"] = (
        "lag_hours = tau pairs flux(t) with driver(t - tau); negative = driver's future (respiration leads)"
    )
    out["sweep_seconds"] = sweep_seconds
    out["total_seconds"] = total_seconds
    if len(pulses):
        scen = "extrapolation" if "extrapolation" in set(pulses.scenario) else pulses.scenario.iloc[-1]
        ex = pulses[(pulses.scenario == scen) & (pulses.onset_split == prep.TEST)]
        out["rain_pulses"] = {
            "scenario": scen,
            "events": "onsets whose 48 h window holds test samples",
            "n_events": int(ex.onset.nunique()),
            "median_peak_ratio": ex.groupby("model")["peak_ratio"].median().to_dict(),
            "median_abs_timing_error_hours": ex.assign(a=ex.timing_error_hours.abs())
            .groupby("model")["a"]
            .median()
            .to_dict(),
        }
    return out
