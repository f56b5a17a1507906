"""From the S1 daily dataset (xarray, dims site × time) to model-ready arrays.

The thin layer between the dataset side (``soilco2.daily.dataset.build``, ``.splits``,
``.transforms``) and the LSTM: split labels, the scaler fitted on training cells only, scaled
float32 arrays, each site's driver span, and per-site loss weights. Nothing here trains a model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    y_mean: np.ndarray | None = None  # (site,) per-site target scaling (y = (scaled - mean) / std)
    y_std: np.ndarray | None = None

    def to_flux(self, pred: np.ndarray, scaler) -> np.ndarray:
        """Model output (site, time) back to µmol m-2 s-1."""
        if self.y_mean is not None:
            pred = pred * self.y_std[:, None] + self.y_mean[:, None]
        return scaler.inverse_target(pred)

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    def site_view(self, i: int) -> DailyArrays:
        """Site ``i`` alone (views of the arrays, no copies): per-site fine-tuning and prediction."""
        one = slice(i, i + 1)
        per_site = (
            "x_dynamic",
            "x_static",
            "y",
            "split",
            "train_end",
            "test_start",
            "start",
            "stop",
            "y_mean",
            "y_std",
        )
        return replace(
            self,
            sites=[self.sites[i]],
            **{k: None if getattr(self, k) is None else getattr(self, k)[one] for k in per_site},
        )


def feature_lists(ds: xr.Dataset) -> tuple[list[str], list[str]]:
    """Dynamic inputs (drivers + availability channels) and static inputs named by the dataset."""
    from soilco2.daily.dataset.form import as_list  # attrs may be lists or JSON strings (from NetCDF)

    dyn = as_list(ds, "dynamic_features")
    dyn += [v for v in ds.data_vars if str(v).startswith("avail_") and v not in dyn]
    stat = as_list(ds, "static_features")
    if not dyn:
        raise UserError("dataset lists no dynamic features (attrs['dynamic_features'])", field="dynamic_features")
    return dyn, stat


def driver_span(ds: xr.Dataset, dynamic: list[str], warmup_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per site [start, stop): from ``warmup_days`` before the first observed day (or the first day
    with every driver present, if later) to the last day with every driver present. A dataset
    built from drivers alone (attribute ``drivers_only``, a site to predict) spans every day with
    every driver present."""
    drivers_only = bool(ds.attrs.get("drivers_only", 0))
    ok = np.ones((ds.sizes["site"], ds.sizes["time"]), bool)
    for v in dynamic:
        ok &= np.isfinite(ds[v].transpose("site", "time").values)
    obs = np.isfinite(ds[TARGET].transpose("site", "time").values)
    start = np.zeros(ok.shape[0], int)
    stop = np.zeros(ok.shape[0], int)
    for i in range(ok.shape[0]):
        idx = np.flatnonzero(ok[i])
        oidx = np.flatnonzero(obs[i] & ok[i])
        if drivers_only and idx.size:
            start[i], stop[i] = idx[0], idx[-1] + 1
            continue
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


def select_static(static: list[str], wanted: list[str] | None) -> list[str]:
    """The dataset's static features named in ``wanted`` (``igbp`` = every ``igbp_*`` column);
    None keeps them all."""
    if wanted is None:
        return static
    has_igbp = any(s.startswith("igbp_") for s in static)
    unknown = [w for w in wanted if w not in static and not (w == "igbp" and has_igbp)]
    if unknown:
        raise UserError(
            f"not a static feature: {', '.join(unknown)} (known: {', '.join(static)}, igbp)",
            field="model.static_inputs",
        )
    return [s for s in static if s in wanted or ("igbp" in wanted and s.startswith("igbp_"))]


def build_arrays(
    ds: xr.Dataset,
    *,
    split,
    warmup_days: int,
    scaler=None,
    site_scaling: bool | str | dict = False,
    anomalies: tuple[str, ...] = (),
    trailing: dict[str, int] | None = None,
    target_arcsinh: bool = True,
    target_arcsinh_scale: float = 1.0,
    static_inputs: list[str] | None = None,
):
    """Split (``split``: a SplitConfig), fit the scaler on training cells (or reuse ``scaler`` from
    a run, to apply a trained model) and scale. ``site_scaling``: True fits a per-site target
    scaling on the training days, a dict (from a run) reuses one. ``static_inputs`` picks static
    attributes (see :func:`select_static`) when the scaler is fitted. Returns (DailyArrays,
    FeatureScaler, site-scaling dict or None)."""
    from soilco2.daily.dataset.splits import make_split
    from soilco2.daily.dataset.transforms import FeatureScaler

    sp = make_split(ds, split)
    if scaler is None:
        dynamic, static = feature_lists(ds)
        static = select_static(static, static_inputs)
        scaler = FeatureScaler.fit(
            ds, sp, features=dynamic + static, target_arcsinh=target_arcsinh, target_scale=target_arcsinh_scale
        )
    dynamic, static = model_features(ds, scaler)
    start, stop = driver_span(ds, dynamic, warmup_days)
    t = np.arange(ds.sizes["time"])
    in_span = (t[None, :] >= start[:, None]) & (t[None, :] < stop[:, None])
    label = sp.label.transpose("site", "time").values.astype(np.int8)
    label[~in_span] = UNOBSERVED
    x_dyn = np.stack([scaler.forward(v, ds[v].transpose("site", "time").values) for v in dynamic], axis=-1)
    x_dyn[~in_span] = 0.0
    x_stat = (
        np.stack([scaler.forward(v, ds[v].values) for v in static], axis=-1)
        if static
        else np.zeros((ds.sizes["site"], 0))
    )
    train_end = _first((label == VALIDATION) | (label == TEST), stop)
    has_train = (label == TRAIN).any(1)  # leave-site-out test sites: anomalies over the whole span
    x_dyn, dynamic = _with_anomalies(x_dyn, dynamic, anomalies, start, np.where(has_train, train_end, stop), in_span)
    x_dyn, dynamic = _with_trailing_means(x_dyn, dynamic, trailing or {}, in_span)
    y_raw = ds[TARGET].transpose("site", "time").values
    y = np.where(label >= 0, scaler.forward(TARGET, y_raw), np.nan).astype(np.float32)
    arrays = DailyArrays(
        sites=[str(s) for s in ds["site"].values],
        time=pd.DatetimeIndex(ds["time"].values),
        dynamic_features=dynamic,
        static_features=static,
        x_dynamic=np.nan_to_num(x_dyn, nan=0.0).astype(np.float32),
        x_static=np.nan_to_num(x_stat, nan=0.5).astype(np.float32),
        y=y,
        split=label,
        train_end=train_end,
        test_start=_first(label == TEST, stop),
        start=start,
        stop=stop,
    )
    site = None
    if site_scaling is not False:
        site = (
            SiteTargetScaling.from_dict(site_scaling)
            if isinstance(site_scaling, dict)
            else SiteTargetScaling.fit(arrays, center_only=site_scaling == "center")
        )
        arrays.y_mean, arrays.y_std = site.for_sites(arrays)
        arrays.y = ((arrays.y - arrays.y_mean[:, None]) / arrays.y_std[:, None]).astype(np.float32)
    return arrays, scaler, (site.to_dict() if site else None)


def _with_anomalies(x_dyn: np.ndarray, dynamic: list[str], names, start, train_end, in_span):
    """Append ``<name>_site_anomaly`` channels: scaled driver minus its mean over the site's
    training period, or its whole span for a site without training days (drivers only, no target)."""

    def anomaly(name: str, x: np.ndarray):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            end = max(train_end[i], start[i] + 1)
            out[i] = np.where(in_span[i], x[i] - np.nanmean(x[i, start[i] : end]), 0.0)
        return f"{name}_site_anomaly", out

    return _derived_channels(x_dyn, dynamic, list(names), "training.site_anomalies", anomaly)


def _with_trailing_means(x_dyn: np.ndarray, dynamic: list[str], trailing: dict[str, int], in_span):
    """Append ``<name>_mean<days>d`` channels: the scaled driver's mean over the trailing ``days`` days
    of the site's span (fewer at its start; missing values skipped), a memory longer than the LSTM's
    training windows."""

    def window_sum(v: np.ndarray, days: int) -> np.ndarray:
        c = np.cumsum(v, axis=1)
        return c - np.concatenate([np.zeros((v.shape[0], days)), c[:, :-days]], axis=1)[:, : v.shape[1]]

    def trailing_mean(name: str, x: np.ndarray):
        days = trailing[name]
        ok = in_span & np.isfinite(x)
        x = np.where(ok, x.astype(np.float64), 0.0)
        mean = window_sum(x, days) / np.maximum(window_sum(ok.astype(np.float64), days), 1)
        return f"{name}_mean{days}d", np.where(in_span, mean, 0.0)

    return _derived_channels(x_dyn, dynamic, list(trailing), "training.trailing_means", trailing_mean)


def _derived_channels(x_dyn: np.ndarray, dynamic: list[str], names: list[str], field: str, derive):
    """Append one channel per driver in ``names``: ``derive(name, scaled driver)`` gives the channel's
    name and ``(site, time)`` values. A name that is not a dynamic input is a user error on ``field``."""
    missing = [n for n in names if n not in dynamic]
    if missing:
        raise UserError(
            f"{field.split('.')[-1]} lists {', '.join(missing)}, not among the dynamic inputs ({', '.join(dynamic)})",
            field=field,
        )
    if not names:
        return x_dyn, dynamic
    new = [derive(n, x_dyn[..., dynamic.index(n)]) for n in names]
    channels = np.stack([values for _, values in new], axis=-1).astype(x_dyn.dtype)
    return np.concatenate([x_dyn, channels], axis=-1), dynamic + [n for n, _ in new]


class SiteTargetScaling:
    """Per-site mean and standard deviation of the (globally scaled) target over the site's
    training days, so the LSTM learns each site's variations around its own level. Sites without
    training days (new sites, leave-site-out test sites) get both from a ridge regression on the
    static attributes, fitted on the training sites."""

    def __init__(
        self,
        sites: dict[str, tuple[float, float]],
        coef: list[list[float]],
        ridge: float = 1.0,
        center_only: bool = False,
    ):
        self.sites, self.coef, self.ridge, self.center_only = sites, np.asarray(coef, float), ridge, center_only

    @classmethod
    def fit(cls, a: DailyArrays, ridge: float = 1.0, center_only: bool = False) -> SiteTargetScaling:
        stats = {}
        for i, site in enumerate(a.sites):
            v = a.y[i, a.split[i] == TRAIN]
            v = v[np.isfinite(v)]
            if v.size >= 2:
                stats[site] = (float(v.mean()), 1.0 if center_only else float(max(v.std(), 0.02)))
        if not stats:
            raise UserError("no site with training days for the per-site target scaling", field="split")
        rows = [a.sites.index(s) for s in stats]
        X = np.c_[np.ones(len(rows)), a.x_static[rows]]
        Y = np.array([[m, np.log(sd)] for m, sd in stats.values()])
        coef = np.linalg.solve(X.T @ X + ridge * np.diag([0] + [1] * (X.shape[1] - 1)), X.T @ Y)
        return cls(stats, coef.tolist(), ridge, center_only)

    def for_sites(self, a: DailyArrays) -> tuple[np.ndarray, np.ndarray]:
        X = np.c_[np.ones(a.n_sites), a.x_static]
        if X.shape[1] != self.coef.shape[0]:
            raise UserError("per-site target scaling does not fit the static features", field="site_target")
        guess = X @ self.coef
        mean = np.array([self.sites[s][0] if s in self.sites else guess[i, 0] for i, s in enumerate(a.sites)])
        std = np.array(
            [
                self.sites[s][1] if s in self.sites else 1.0 if self.center_only else np.exp(guess[i, 1])
                for i, s in enumerate(a.sites)
            ]
        )
        return mean.astype(np.float32), std.astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "sites": {k: {"mean": m, "std": sd} for k, (m, sd) in self.sites.items()},
            "coef": self.coef.tolist(),
            "ridge": self.ridge,
            "center_only": self.center_only,
            "note": "per-site target scaling: y = (scaled target - mean) / std, training days only; "
            "coef: ridge regression [1, statics] -> [mean, log std] for sites not listed",
        }

    @classmethod
    def from_dict(cls, d: dict) -> SiteTargetScaling:
        try:
            return cls(
                {k: (float(v["mean"]), float(v["std"])) for k, v in d["sites"].items()},
                d["coef"],
                d["ridge"],
                bool(d.get("center_only", False)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"malformed per-site target scaling ({err})", field="site_target") from None


def site_loss_weights(a: DailyArrays, normalise: bool) -> np.ndarray:
    """Per-site weight of each scored day: 1, or 1 / variance of the site's scaled training target
    (clipped, mean 1 over sites) so that every site counts about equally."""
    if not normalise:
        return np.ones(a.n_sites, np.float32)
    var = np.array(
        [
            np.nanvar(np.where(a.split[i] == TRAIN, a.y[i], np.nan)) if (a.split[i] == TRAIN).sum() > 1 else np.nan
            for i in range(a.n_sites)
        ]
    )
    var = np.where(np.isfinite(var), var, np.nanmedian(var))
    var = np.clip(var, np.nanmedian(var) / 10, None)
    w = 1.0 / var
    return (w / w.mean()).astype(np.float32)
