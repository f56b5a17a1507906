"""From the S1 daily dataset (xarray, dims site × time) to model-ready arrays.

The thin layer between the dataset side (``soilco2.prep.daily_dataset``, ``.splits``,
``.transforms``) and the LSTM: split labels, the scaler fitted on training cells only, scaled
float32 arrays, each site's driver span, and per-site loss weights. Nothing here trains a model.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import pandas as pd
import xarray as xr

from soilco2.errors import UserError

TARGET = "flux_umol_m2_s"
# split labels (also written as predictions.nc 'split'): per observed day
UNOBSERVED, TRAIN, VALIDATION, TEST = -1, 0, 1, 2


@dataclass
class DailyArrays:
    """Model-ready arrays for a set of sites on one daily time axis."""

    sites: list[str]
    time: pd.DatetimeIndex
    dynamic_features: list[str]
    static_features: list[str]
    x_dynamic: np.ndarray  # (site, time, feature) float32, scaled, 0 where missing
    x_static: np.ndarray  # (site, feature) float32, scaled
    y: np.ndarray  # (site, time) float32, scaled target, NaN where unobserved
    split: np.ndarray  # (site, time) int8: -1 unobserved, 0 train, 1 validation, 2 test
    train_end: np.ndarray  # (site,) first index of validation or test (training windows end before)
    test_start: np.ndarray  # (site,) first test index (the validation pass stops there)
    start: np.ndarray  # (site,) first index of the driver span
    stop: np.ndarray  # (site,) one past the last index of the driver span

    @property
    def n_sites(self) -> int:
        return len(self.sites)


def feature_lists(ds: xr.Dataset) -> tuple[list[str], list[str]]:
    """Dynamic inputs (drivers + availability channels) and static inputs named by the dataset."""
    dyn = list(ds.attrs.get("dynamic_features", []))
    dyn += [v for v in ds.data_vars if str(v).startswith("avail_") and v not in dyn]
    stat = list(ds.attrs.get("static_features", []))
    if not dyn:
        raise UserError("dataset lists no dynamic features (attrs['dynamic_features'])", field="dynamic_features")
    return dyn, stat


def driver_span(ds: xr.Dataset, dynamic: list[str], warmup_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per site [start, stop): from ``warmup_days`` before the first observed day (or the first day
    with every driver present, if later) to the last day with every driver present."""
    ok = np.ones((ds.sizes["site"], ds.sizes["time"]), bool)
    for v in dynamic:
        ok &= np.isfinite(ds[v].transpose("site", "time").values)
    obs = np.isfinite(ds[TARGET].transpose("site", "time").values)
    start = np.zeros(ok.shape[0], int)
    stop = np.zeros(ok.shape[0], int)
    for i in range(ok.shape[0]):
        idx = np.flatnonzero(ok[i])
        oidx = np.flatnonzero(obs[i] & ok[i])
        if idx.size == 0 or oidx.size == 0:
            site = str(ds["site"].values[i])
            raise UserError("site has no day with every driver and an observation", field=f"site {site}")
        start[i] = max(idx[0], oidx[0] - warmup_days)
        stop[i] = idx[-1] + 1
    return start, stop


def _first(mask: np.ndarray, default: np.ndarray) -> np.ndarray:
    return np.where(mask.any(1), mask.argmax(1), default)


def model_features(ds: xr.Dataset, scaler) -> tuple[list[str], list[str]]:
    """(dynamic, static) inputs in the scaler's order; the dataset must have them all."""
    names = [v for v in scaler.variables if v != scaler.target]
    missing = [v for v in names if v not in ds.data_vars]
    if missing:
        raise UserError(f"dataset lacks features the model was trained on: {missing}", field="features")
    return [v for v in names if ds[v].dims != ("site",)], [v for v in names if ds[v].dims == ("site",)]


def build_arrays(ds: xr.Dataset, *, split, warmup_days: int, scaler=None):
    """Split (``split``: a SplitConfig), fit the scaler on training cells (or reuse ``scaler`` from
    a run, to apply a trained model) and scale. Returns (DailyArrays, FeatureScaler)."""
    from soilco2.prep.splits import make_split
    from soilco2.prep.transforms import FeatureScaler

    sp = make_split(ds, split)
    if scaler is None:
        dynamic, static = feature_lists(ds)
        scaler = FeatureScaler.fit(ds, sp, features=dynamic + static)
    dynamic, static = model_features(ds, scaler)
    start, stop = driver_span(ds, dynamic, warmup_days)
    t = np.arange(ds.sizes["time"])
    in_span = (t[None, :] >= start[:, None]) & (t[None, :] < stop[:, None])
    label = sp.label.transpose("site", "time").values.astype(np.int8)
    label[~in_span] = UNOBSERVED
    x_dyn = np.stack([scaler.forward(v, ds[v].transpose("site", "time").values) for v in dynamic], axis=-1)
    x_dyn[~in_span] = 0.0
    x_stat = (np.stack([scaler.forward(v, ds[v].values) for v in static], axis=-1) if static
              else np.zeros((ds.sizes["site"], 0)))
    y_raw = ds[TARGET].transpose("site", "time").values
    y = np.where(label >= 0, scaler.forward(TARGET, y_raw), np.nan).astype(np.float32)
    arrays = DailyArrays(
        sites=[str(s) for s in ds["site"].values], time=pd.DatetimeIndex(ds["time"].values),
        dynamic_features=dynamic, static_features=static,
        x_dynamic=np.nan_to_num(x_dyn, nan=0.0).astype(np.float32),
        x_static=np.nan_to_num(x_stat, nan=0.5).astype(np.float32), y=y, split=label,
        train_end=_first((label == VALIDATION) | (label == TEST), stop), test_start=_first(label == TEST, stop),
        start=start, stop=stop)
    return arrays, scaler


def site_loss_weights(a: DailyArrays, normalise: bool) -> np.ndarray:
    """Per-site weight of each scored day: 1, or 1 / variance of the site's scaled training target
    (clipped, mean 1 over sites) so that every site counts about equally."""
    if not normalise:
        return np.ones(a.n_sites, np.float32)
    var = np.array([np.nanvar(np.where(a.split[i] == TRAIN, a.y[i], np.nan)) if (a.split[i] == TRAIN).sum() > 1
                    else np.nan for i in range(a.n_sites)])
    var = np.where(np.isfinite(var), var, np.nanmedian(var))
    var = np.clip(var, np.nanmedian(var) / 10, None)
    w = 1.0 / var
    return (w / w.mean()).astype(np.float32)
