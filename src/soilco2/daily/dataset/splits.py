"""Train / validation / test masks aligned with the daily dataset ``(site, time)``.

- **temporal** (the daily paper's split): per site, the first ``train_fraction`` of *observed* days
  train, the rest test; validation = the last ``val_fraction`` of each site's training days (taken
  out of train) for early stopping.
- **leave_site_out**: sites are shuffled (seeded) into ``k_folds`` folds; fold ``fold``'s sites are
  test (all their observed days), the others train, with the same validation slice at the end of
  each training site's record.

``Split.fit_mask`` marks the cells a scaler may see: in-span days of training sites before
validation starts (driver-only warm-up days included). Test and validation days are never in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.daily.dataset.config import SplitConfig
from soilco2.errors import UserError

UNOBSERVED, TRAIN, VALIDATION, TEST = -1, 0, 1, 2


@dataclass
class Split:
    train: xr.DataArray  # bool (site, time), observed training days
    val: xr.DataArray
    test: xr.DataArray
    fit_mask: xr.DataArray  # bool (site, time), cells a scaler may be fitted on
    train_sites: list[str]
    test_sites: list[str]

    @property
    def label(self) -> xr.DataArray:
        """int8 (site, time): 0 train, 1 validation, 2 test, -1 no observation."""
        lab = np.full(self.train.shape, UNOBSERVED, np.int8)
        lab[self.train.values] = TRAIN
        lab[self.val.values] = VALIDATION
        lab[self.test.values] = TEST
        return xr.DataArray(
            lab,
            coords=self.train.coords,
            dims=self.train.dims,
            name="split",
            attrs={
                "long_name": "split of each day",
                "flag_values": [-1, 0, 1, 2],
                "flag_meanings": "unobserved train validation test",
            },
        )

    @property
    def test_start(self) -> pd.Series:
        """First test day per site (NaT for sites without test days)."""
        t = self.test.values
        times = self.test["time"].values
        first = [times[np.argmax(row)] if row.any() else np.datetime64("NaT") for row in t]
        return pd.Series(pd.to_datetime(first), index=self.test["site"].values, name="test_start")


def _check_fraction(value: float, name: str, *, allow_zero=False) -> None:
    lo_ok = value >= 0 if allow_zero else value > 0
    if not (lo_ok and value < 1 and math.isfinite(value)):
        raise UserError(f"must be {'≥' if allow_zero else '>'} 0 and < 1 (got {value})", field=f"split.{name}")


def _observed(ds: xr.Dataset) -> np.ndarray:
    return np.isfinite(ds[ds.attrs.get("target", "flux_umol_m2_s")].values)


def _mask(ds: xr.Dataset, values: np.ndarray, name: str) -> xr.DataArray:
    return xr.DataArray(values, coords={"site": ds["site"], "time": ds["time"]}, dims=("site", "time"), name=name)


def _train_val(obs: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split each row's observed cells: last ``val_fraction`` (rounded, ≥1 when > 0 and ≥2 days) val."""
    rank = np.cumsum(obs, axis=1)
    n = obs.sum(axis=1, keepdims=True)
    n_val = np.floor(val_fraction * n + 1e-9)
    n_val = np.where((val_fraction > 0) & (n_val == 0) & (n >= 2), 1, n_val)
    val = obs & (rank > n - n_val)
    return obs & ~val, val


def _fit_mask(ds: xr.Dataset, train: np.ndarray, val: np.ndarray, site_ok: np.ndarray) -> np.ndarray:
    """In-span days of training sites up to the last training day before any validation/test day."""
    in_span = ds["in_span"].values.astype(bool) if "in_span" in ds else np.ones(train.shape, bool)
    idx = np.arange(train.shape[1])
    last_train = np.where(train.any(axis=1), np.where(train, idx, -1).max(axis=1), -1)
    return in_span & (idx[None, :] <= last_train[:, None]) & site_ok[:, None]


def temporal_split(ds: xr.Dataset, train_fraction: float = 0.8, val_fraction: float = 0.1) -> Split:
    """Per site: first ``train_fraction`` of observed days train (val from its end), rest test."""
    _check_fraction(train_fraction, "train_fraction")
    _check_fraction(val_fraction, "val_fraction", allow_zero=True)
    obs = _observed(ds)
    rank = np.cumsum(obs, axis=1)
    n_train = np.floor(train_fraction * obs.sum(axis=1, keepdims=True) + 1e-9)
    train_all = obs & (rank <= n_train)
    test = obs & ~train_all
    train, val = _train_val(train_all, val_fraction)
    sites = [str(s) for s in ds["site"].values]
    return Split(
        _mask(ds, train, "train"),
        _mask(ds, val, "val"),
        _mask(ds, test, "test"),
        _mask(ds, _fit_mask(ds, train, val, np.ones(len(sites), bool)), "fit_mask"),
        train_sites=sites,
        test_sites=sites,
    )


def site_folds(sites, k: int, seed: int = 0) -> list[list[str]]:
    """Seeded shuffle of ``sites`` into ``k`` folds of near-equal size (sizes differ by ≤ 1)."""
    sites = [str(s) for s in sites]
    if k < 2 or k > len(sites):
        raise UserError(
            f"k_folds must be between 2 and the number of sites ({len(sites)}); got {k}", field="split.k_folds"
        )
    order = np.random.default_rng(seed).permutation(len(sites))
    return [[sites[i] for i in order[f::k]] for f in range(k)]


def leave_site_out_split(ds: xr.Dataset, k: int = 5, fold: int = 0, seed: int = 0, val_fraction: float = 0.1) -> Split:
    """Fold ``fold`` of ``k`` seeded site folds is test; the other sites train (+ validation)."""
    _check_fraction(val_fraction, "val_fraction", allow_zero=True)
    folds = site_folds(ds["site"].values, k, seed)
    if not 0 <= fold < k:
        raise UserError(f"fold must be in 0..{k - 1}; got {fold}", field="split.fold")
    test_sites = set(folds[fold])
    is_test = np.array([str(s) in test_sites for s in ds["site"].values])
    obs = _observed(ds)
    train, val = _train_val(obs & ~is_test[:, None], val_fraction)
    test = obs & is_test[:, None]
    sites = [str(s) for s in ds["site"].values]
    return Split(
        _mask(ds, train, "train"),
        _mask(ds, val, "val"),
        _mask(ds, test, "test"),
        _mask(ds, _fit_mask(ds, train, val, ~is_test), "fit_mask"),
        train_sites=[s for s in sites if s not in test_sites],
        test_sites=[s for s in sites if s in test_sites],
    )


def make_split(ds: xr.Dataset, cfg: SplitConfig | None = None) -> Split:
    cfg = cfg or SplitConfig()
    if cfg.mode == "temporal":
        return temporal_split(ds, cfg.train_fraction, cfg.val_fraction)
    return leave_site_out_split(ds, cfg.k_folds, cfg.fold, cfg.seed, cfg.val_fraction)
