"""A synthetic S1 daily run folder in the layout of docs/contracts.md, for the report tests.

Nine sites with a seasonal flux driven by soil temperature plus noise; the "LSTM" is the truth
plus site-specific error, so three sites come out good, three fair and three poor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from soilco2.metrics import score

MODELS = ("lstm", "q10", "doy_climatology", "random_forest")


def _class(nse: float, kge: float) -> str:
    if nse > 0.5 and kge > 0.3:
        return "good"
    if nse < 0 or kge < 0:
        return "poor"
    return "fair"


def make_run(root: Path, n_sites: int = 9, seed: int = 0, years: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    run = Path(root)
    run.mkdir(parents=True, exist_ok=True)
    time = pd.date_range("2015-01-01", periods=365 * years + 1, freq="D")
    nt = time.size
    doy = time.day_of_year.to_numpy()
    names = [f"d2019_SITE_{i:02d}" for i in range(n_sites)]
    lats = np.resize([45.0, 52.0, -35.0, 38.0, 10.0, 64.0, 33.0, -20.0, 48.0, 40.0, 55.0, 25.0], n_sites)
    lons = np.linspace(-120, 140, n_sites)
    lats[0], lons[0] = 42.54, -72.17  # Harvard Forest: SRDB has annual Rs records within a few km
    noise_sd = np.resize([0.1, 0.15, 0.2, 0.6, 0.8, 0.9, 2.5, 3.0, 4.0, 0.3, 0.5, 1.0], n_sites)
    shape = (n_sites, nt)
    obs, lstm, temp = (np.full(shape, np.nan) for _ in range(3))
    split = np.full(shape, -1, dtype=np.int8)
    preds = {m: np.full(shape, np.nan) for m in MODELS}
    for i in range(n_sites):
        phase = 0 if lats[i] >= 0 else 182
        temp[i] = 12 + 10 * np.sin(2 * np.pi * (doy - 110 - phase) / 365) + rng.normal(0, 1.5, nt)
        truth = 1.0 * 2.0 ** ((temp[i] - 10) / 10) + rng.normal(0, 0.2, nt)
        start = rng.integers(0, 200)
        seen = np.zeros(nt, bool)
        seen[start : nt - rng.integers(0, 100)] = True
        seen &= rng.random(nt) > 0.15  # scattered gaps
        seen[start + 300 : start + 330] = False  # one long gap
        obs[i, seen] = truth[seen]
        obs[i, np.flatnonzero(seen)[::97]] += 4.0  # a few pulses
        lstm[i] = truth + rng.normal(0, noise_sd[i], nt) * 0.5 + (noise_sd[i] > 2) * 1.5
        idx = np.flatnonzero(seen)
        n_train = int(0.8 * idx.size)
        split[i, idx[: n_train - int(0.1 * n_train)]] = 0
        split[i, idx[n_train - int(0.1 * n_train) : n_train]] = 1
        split[i, idx[n_train:]] = 2
        preds["lstm"][i] = lstm[i]
        preds["q10"][i] = 1.0 * 2.0 ** ((temp[i] - 10) / 10) * 1.1
        preds["doy_climatology"][i] = 1.0 * 2.0 ** ((12 + 10 * np.sin(2 * np.pi * (doy - 110 - phase) / 365) - 10) / 10)
        preds["random_forest"][i] = truth + rng.normal(0, 0.5, nt)
    # records behind each day: 48 on most observed days, 8 on every 23rd, whose mean is noisier (a partial day)
    n_rec = np.where(np.isfinite(obs), 48, 0)
    rng_n = np.random.default_rng(seed + 1)
    for i in range(n_sites):
        part = np.flatnonzero(np.isfinite(obs[i]))[5::23]
        n_rec[i, part] = 8
        obs[i, part] += rng_n.normal(0, 1.0, part.size)
    ds = xr.Dataset(
        {
            "obs": (("site", "time"), obs, {"units": "umol m-2 s-1", "long_name": "observed daily soil CO2 efflux"}),
            "obs_n": (("site", "time"), n_rec.astype(np.int32), {"units": "1"}),
            **{m: (("site", "time"), preds[m], {"units": "umol m-2 s-1"}) for m in MODELS},
            "lstm_q05": (("site", "time"), preds["lstm"] * 0.7, {"units": "umol m-2 s-1"}),
            "lstm_q95": (("site", "time"), preds["lstm"] * 1.3, {"units": "umol m-2 s-1"}),
            "split": (("site", "time"), split, {"flag_values": [-1, 0, 1, 2]}),
            "soil_temp_c": (("site", "time"), temp, {"units": "degC"}),
        },
        coords={"site": names, "time": time, "lat": ("site", lats), "lon": ("site", lons)},
    )
    ds.to_netcdf(run / "predictions.nc")
    rows = []
    for i, s in enumerate(names):
        for m in MODELS:
            for code, sp in ((0, "train"), (2, "test")):
                mask = split[i] == code
                sc = score(obs[i, mask], preds[m][i, mask], ("nse", "kge", "kge_2012", "r", "rmse", "bias"))
                rows.append({"site": s, "model": m, "split": sp, **sc, "class": _class(sc["nse"], sc["kge"])})
    metrics = pd.DataFrame(rows).rename(columns={"rmse": "rmse_umol_m2_s", "bias": "bias_umol_m2_s"})
    metrics.to_parquet(run / "metrics.parquet")
    n_obs = np.isfinite(obs).sum(1)
    test_start = [time[np.flatnonzero(split[i] == 2)[0]] for i in range(n_sites)]
    sites = pd.DataFrame(
        {
            "site": names,
            "lat": lats,
            "lon": lons,
            "elevation_m": rng.uniform(0, 1500, n_sites),
            "igbp": np.resize(
                ["ENF", "DBF", "GRA", "CRO", "EBF", "ENF", "SAV", "GRA", "MF", "DBF", "OSH", "WSA"], n_sites
            ),
            "mat_c": rng.uniform(-2, 25, n_sites),
            "map_mm": rng.uniform(200, 2200, n_sites),
            "soc_mg_ha": rng.uniform(20, 120, n_sites),
            "whc_mm": rng.uniform(50, 250, n_sites),
            "n_obs_days": n_obs,
            "n_train_days": (split >= 0).sum(1) - (split == 2).sum(1),
            "n_test_days": (split == 2).sum(1),
            "test_start": test_start,
            # shares of observed days with the sensor measured: every driver class occurs
            **{
                f"insitu_share_{d}_{sp}": np.resize(v, n_sites)
                for sp in ("train", "test")
                for d, v in (
                    ("soil_temp_c", [1.0, 1.0, 0.0, 0.0, 0.2]),
                    ("swc_m3_m3", [1.0, 0.0, 1.0, 0.0, 0.0]),
                    ("air_temp_c", [1.0, 0.0, 0.0, 1.0, 0.0]),
                )
            },
        }
    )
    sites.to_parquet(run / "sites.parquet")
    lstm_test = metrics[(metrics.model == "lstm") & (metrics.split == "test")]
    summary = {
        "lstm": {"test": {"median_nse": float(lstm_test.nse.median()), "median_kge": float(lstm_test.kge.median())}},
        "share_good": float((lstm_test["class"] == "good").mean()),
        "paper": {"test": {"median_nse": 0.02, "median_kge": 0.30}, "train": {"median_nse": 0.54, "median_kge": 0.67}},
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    (run / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "model": {"hidden": 16}, "synthetic": True}))
    from soilco2.files import RUN_MARKER, write_manifest

    (run / RUN_MARKER).write_text("{}")
    write_manifest(run, ["config.yaml"], kind="daily", synthetic=True)
    return run
