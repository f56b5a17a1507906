"""Splits on a small synthetic dataset with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from soilco2.config import validate
from soilco2.daily.dataset.splits import SplitConfig, leave_site_out_split, make_split, site_folds, temporal_split
from soilco2.errors import UserError


def toy(n_sites=3, n_days=30):
    """Site k observes days 5.. with every (k+1)-th day missing after day 10; in_span from day 2."""
    flux = np.full((n_sites, n_days), np.nan)
    for k in range(n_sites):
        flux[k, 5:25] = 1.0 + k
    flux[1, 12] = np.nan
    in_span = np.zeros_like(flux, dtype="int8")
    in_span[:, 2:25] = 1
    return xr.Dataset(
        {"flux_umol_m2_s": (("site", "time"), flux), "in_span": (("site", "time"), in_span)},
        coords={"site": [f"s{k}" for k in range(n_sites)], "time": pd.date_range("2020-01-01", periods=n_days)},
        attrs={"target": "flux_umol_m2_s"},
    )


def test_temporal_split_known_answer():
    ds = toy()
    sp = temporal_split(ds, train_fraction=0.8, val_fraction=0.25)
    # site 0: 20 observed days (5..24): 16 train-period days (5..20), last 4 of them validation
    assert np.flatnonzero(sp.train.values[0]).tolist() == list(range(5, 17))
    assert np.flatnonzero(sp.val.values[0]).tolist() == list(range(17, 21))
    assert np.flatnonzero(sp.test.values[0]).tolist() == list(range(21, 25))
    # site 1: 19 observed days (day 12 missing): floor(15.2) = 15 train-period days
    obs1 = np.flatnonzero(np.isfinite(ds.flux_umol_m2_s.values[1]))
    assert np.flatnonzero(sp.test.values[1]).tolist() == obs1[15:].tolist()
    assert int(sp.val.values[1].sum()) == 3  # floor(0.25 * 15)
    # masks are disjoint and cover every observed day
    total = sp.train.values.astype(int) + sp.val.values + sp.test.values
    assert (total == np.isfinite(ds.flux_umol_m2_s.values)).all()
    # labels and test start
    assert sp.label.values[0, 5] == 0 and sp.label.values[0, 17] == 1 and sp.label.values[0, 21] == 2
    assert sp.label.values[0, 0] == -1
    assert sp.test_start["s0"] == pd.Timestamp("2020-01-22")
    # the fit mask: in-span days up to the last training day, never a validation/test day
    assert np.flatnonzero(sp.fit_mask.values[0]).tolist() == list(range(2, 17))
    assert not (sp.fit_mask.values & (sp.val.values | sp.test.values)).any()
    assert sp.train.dims == ("site", "time") and list(sp.train.site.values) == ["s0", "s1", "s2"]


def test_leave_site_out_folds_are_seeded_partitions():
    sites = [f"s{k}" for k in range(7)]
    folds = site_folds(sites, 3, seed=1)
    assert sorted(sum(folds, [])) == sites and sorted(len(f) for f in folds) == [2, 2, 3]
    assert folds == site_folds(sites, 3, seed=1) and folds != site_folds(sites, 3, seed=2)
    ds = toy(n_sites=4)
    for fold in range(2):
        sp = leave_site_out_split(ds, k=2, fold=fold, seed=0, val_fraction=0.1)
        test_rows = [k for k, s in enumerate(ds.site.values) if s in sp.test_sites]
        assert len(sp.test_sites) == 2 and set(sp.train_sites).isdisjoint(sp.test_sites)
        assert sp.test.values[test_rows].sum() == np.isfinite(ds.flux_umol_m2_s.values[test_rows]).sum()
        assert not sp.fit_mask.values[test_rows].any() and not sp.train.values[test_rows].any()
        train_rows = [k for k in range(4) if k not in test_rows]
        n_obs = np.isfinite(ds.flux_umol_m2_s.values[train_rows]).sum(axis=1)
        assert sp.val.values.sum(axis=1)[train_rows].tolist() == np.floor(0.1 * n_obs).astype(int).tolist()


def test_split_config_and_bad_fractions():
    cfg = validate({"mode": "leave_site_out", "k_folds": 2, "fold": 1}, SplitConfig)
    assert make_split(toy(n_sites=4), cfg).test_sites
    for bad in ({"train_fraction": 1.2}, {"train_fraction": 0}, {"val_fraction": -0.1}, {"mode": "random"}):
        with pytest.raises(UserError):
            validate(bad, SplitConfig)
    with pytest.raises(UserError, match="train_fraction"):
        temporal_split(toy(), train_fraction=1.5)
    with pytest.raises(UserError, match="k_folds"):
        leave_site_out_split(toy(n_sites=3), k=4)
    with pytest.raises(UserError, match="fold"):
        leave_site_out_split(toy(n_sites=4), k=2, fold=2)
