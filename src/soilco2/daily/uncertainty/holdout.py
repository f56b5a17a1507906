"""The calibration ensemble: the run's recipe (members, epochs, fine-tuning, scalers) trained
without the last ``calibration.holdout_fraction`` of each site's training days, and its members'
predictions on those held-out days — the conformity scores of the run's predictive distribution
(``calibration.parquet``). The run's test days are no part of it: their observations are removed
before the calibration ensemble's arrays and scalers are built."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.daily.arrays import TARGET, TEST, DailyArrays
from soilco2.daily.config import DailyConfig

TABLE = "calibration.parquet"


def holdout_config(cfg: DailyConfig) -> DailyConfig:
    """The calibration ensemble's config: a temporal split of the training days alone."""
    split = cfg.split.model_copy(update={"mode": "temporal", "train_fraction": 1 - cfg.calibration.holdout_fraction})
    return cfg.model_copy(update={"split": split})


def without_test_days(ds: xr.Dataset, a: DailyArrays) -> xr.Dataset:
    """``ds`` with the observations of the run's test days removed (they never calibrate)."""
    test = xr.DataArray(a.split == TEST, coords={"site": a.sites, "time": a.time}, dims=("site", "time"))
    out = ds.copy()
    out[TARGET] = ds[TARGET].where(~test.reindex_like(ds[TARGET]).fillna(False).astype(bool))
    return out


def calibration_table(ds: xr.Dataset, a: DailyArrays, fluxes: np.ndarray) -> pd.DataFrame:
    """One row per held-out day (the calibration arrays' test days) with every member's value."""
    obs = ds[TARGET].transpose("site", "time").to_numpy()
    site_idx, time_idx = np.nonzero((a.split == TEST) & np.isfinite(obs))
    table = pd.DataFrame(
        {"site": np.asarray(a.sites, dtype=object)[site_idx], "time": a.time[time_idx], "obs": obs[site_idx, time_idx]}
    )
    for k, f in enumerate(fluxes):
        table[f"member_{k}"] = f[site_idx, time_idx].astype("f8")
    return table
