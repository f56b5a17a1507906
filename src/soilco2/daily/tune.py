"""Grid search of the S1 LSTM (the daily paper's: hidden size, dropout, window length, seed),
each trial one model scored on the **validation days only** (never the test), trials spread over
Dask workers — a local ``distributed.LocalCluster`` by default, or the scheduler at
``tune.scheduler_address`` (a cluster).

Outputs in the tune folder: ``trials.parquet`` (one row per trial), ``best_config.yaml`` (the
config with the best trial's values), ``tune.json`` (grid, best trial, timing).
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.config import dump_config

GRID_KEYS = ("hidden_size", "dropout", "window_days", "seed")


def trial_grid(tune_cfg) -> list[dict]:
    """Every combination of the grid, in a fixed order."""
    values = [getattr(tune_cfg, k) for k in GRID_KEYS]
    return [dict(zip(GRID_KEYS, combo)) for combo in itertools.product(*values)]


def apply_trial(cfg, params: dict):
    """A copy of ``cfg`` with one trial's values (one member, single-threaded, validation days
    from ``tune.val_fraction``)."""
    data = cfg.model_dump()
    data["split"]["val_fraction"] = cfg.tune.val_fraction
    data["model"].update(hidden_size=params["hidden_size"], dropout=params["dropout"])
    data["training"].update(window_days=params["window_days"], seed=params["seed"], ensemble=1, threads=1)
    if cfg.tune.epochs:
        data["training"]["epochs"] = cfg.tune.epochs
    return type(cfg).model_validate(data)


def run_trial(ds, cfg_data: dict, params: dict) -> dict:
    """Train one model with ``params`` and score it on the validation days (runs on a worker)."""
    from soilco2.daily.arrays import VALIDATION
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.members import train_member
    from soilco2.daily.model import predict_scaled
    from soilco2.daily.run import prepare
    from soilco2.metrics import kge, nse

    t0 = time.perf_counter()
    cfg = apply_trial(DailyConfig.model_validate(cfg_data), params)
    _, a, scaler = prepare(cfg, ds=ds)
    # the all-site model only: the grid is about its hyperparameters (no per-site fine-tuning)
    model, res = train_member(a, cfg, params["seed"], show_progress=False)
    sim = a.to_flux(predict_scaled(model, a, until=a.test_start), scaler)
    obs = ds[scaler.target].transpose("site", "time").values
    val = a.split == VALIDATION
    nses = [nse(obs[i, val[i]], sim[i, val[i]]) for i in range(a.n_sites) if val[i].sum() > 1]
    kges = [kge(obs[i, val[i]], sim[i, val[i]]) for i in range(a.n_sites) if val[i].sum() > 1]
    return {
        **params,
        "val_loss": res.best_val_loss,
        "val_median_nse": float(np.nanmedian(nses)),
        "val_median_kge": float(np.nanmedian(kges)),
        "best_epoch": res.best_epoch,
        "seconds": time.perf_counter() - t0,
    }


def _trial_task(shared: tuple, params: dict) -> dict:
    return run_trial(shared[0], shared[1], params)


def tune_run(cfg, out: str | Path | None = None, *, ds=None, show_progress: bool = True) -> tuple[Path, dict]:
    """Run the grid on Dask; returns the tune folder and the best trial: lowest loss over the
    validation days of all sites (the per-site medians of NSE/KGE on the short validation slices
    are reported, but too noisy to rank by)."""
    from soilco2.daily.inputs import load_daily_dataset
    from soilco2.parallel import map_tasks

    dest = Path(out) if out else Path(cfg.run_dir) / f"{cfg.name}-tune"
    dest.mkdir(parents=True, exist_ok=True)
    if ds is None:
        ds = load_daily_dataset(cfg.data)
    grid = trial_grid(cfg.tune)
    t0 = time.perf_counter()
    rows = map_tasks(
        _trial_task,
        (ds, cfg.model_dump(mode="json")),
        grid,
        n_workers=cfg.tune.n_workers,
        scheduler_address=cfg.tune.scheduler_address,
        field="tune.scheduler_address",
        label=f"tune ({len(grid)} trials)",
        progress=show_progress,
    )
    trials = pd.DataFrame(rows).sort_values(["val_loss", "val_median_nse"], ascending=[True, False])
    trials.to_parquet(dest / "trials.parquet", index=False)
    best = {k: (v.item() if hasattr(v, "item") else v) for k, v in trials.iloc[[0]].to_dict("records")[0].items()}
    best_cfg = apply_trial(cfg, best).model_dump()
    best_cfg["training"].update(
        ensemble=cfg.training.ensemble, threads=cfg.training.threads, epochs=cfg.training.epochs
    )
    best_cfg["split"] = cfg.split.model_dump()
    dump_config(type(cfg).model_validate(best_cfg), dest / "best_config.yaml")
    (dest / "tune.json").write_text(
        json.dumps(
            {
                "grid": {k: getattr(cfg.tune, k) for k in GRID_KEYS},
                "trials": len(grid),
                "best": best,
                "seconds": time.perf_counter() - t0,
                "scored_on": "validation days only",
            },
            indent=1,
        )
    )
    return dest, best
