"""The S1 daily dataset on the real shared COSORE copy and grids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from soilco2.daily.dataset.build import DailyDataConfig, build_daily_dataset
from soilco2.daily.dataset.splits import leave_site_out_split, temporal_split
from soilco2.daily.dataset.transforms import FeatureScaler


@pytest.fixture(scope="module")
def ds(data_root, cosore_root):
    return build_daily_dataset(DailyDataConfig(), root=data_root)


def test_every_dataset_is_built_or_skipped_with_a_reason(ds, cosore_root):
    from soilco2.sources.cosore import list_datasets

    names = set(list_datasets(cosore_root)["dataset"])
    skipped = json.loads(ds.attrs["skipped_sites"])
    assert set(ds.site.values) | set(skipped) == names and not set(ds.site.values) & set(skipped)
    assert ds.sizes["site"] >= 55  # 72 datasets with data; a few are too short after cleaning
    assert all(r for r in skipped.values())
    n_obs = np.isfinite(ds["flux_umol_m2_s"].values).sum(axis=1)
    assert n_obs.min() >= 30
    assert (np.diff(ds["time"].values) == np.timedelta64(1, "D")).all()


def test_drivers_finite_in_span_nan_outside_and_cf_attrs(ds):
    span = ds["in_span"].values.astype(bool)
    assert {"soil_temp_c", "swc_m3_m3", "air_temp_c", "clim_temp_c", "toa_sw_w_m2", "avail_soil_temp_c"} <= set(
        ds.attrs["dynamic_features"]
    )
    for name in ds.attrs["dynamic_features"]:
        v = ds[name].values
        assert np.isfinite(v[span]).all(), name
        assert np.isnan(v[~span]).all(), name
    for name in ds.attrs["static_features"]:
        assert ds[name].dims == ("site",) and np.isfinite(ds[name].values).all(), name
    for name in ds.data_vars:  # a flag variable has meanings instead of units
        attrs = ds[name].attrs
        assert (attrs.get("units") or attrs.get("flag_meanings")) and attrs.get("long_name"), name
    # the target: NaN outside observed days, physically plausible, with its record counts
    y, n = ds["flux_umol_m2_s"].values, ds["flux_n"].values
    assert (n[np.isfinite(y)] > 0).all() and (n[~np.isfinite(y)] == 0).all()
    assert np.nanmin(y) > -5 and np.nanmax(y) < 100


def test_every_site_has_seasonal_forcing(ds):
    span = ds["in_span"].values.astype(bool)
    for name in ("clim_temp_c", "toa_sw_w_m2"):
        v = np.where(span, ds[name].values, np.nan)
        amp = np.nanmax(v, axis=1) - np.nanmin(v, axis=1)
        long_sites = span.sum(axis=1) >= 365
        assert (amp[long_sites] > 0.5).all(), name
    # soil temperature follows the season where sites lack sensors too (climatology fill)
    assert ((ds["avail_soil_temp_c"].values == 0) & span).any()


def test_no_leakage_on_real_data(ds):
    split = temporal_split(ds)
    base = FeatureScaler.fit(ds, split).to_dict()
    hidden = split.val.values | split.test.values
    changed = ds.copy(deep=True)
    for name in ["flux_umol_m2_s", *ds.attrs["dynamic_features"]]:
        changed[name].values[hidden] = 1e6
    assert FeatureScaler.fit(changed, split).to_dict() == base
    # every test day lies after every train day of its site
    t = np.arange(ds.sizes["time"])
    last_train = np.where(split.train.values, t, -1).max(axis=1)
    first_test = np.where(split.test.values, t, 10**9).min(axis=1)
    assert (last_train < first_test).all()
    lso = leave_site_out_split(ds, k=5, fold=0, seed=0)
    assert len(lso.test_sites) in (ds.sizes["site"] // 5, ds.sizes["site"] // 5 + 1)


def test_other_cosore_folder_new_sites(data_root, cosore_root, tmp_path):
    """``cosore_dir``: a COSORE-layout folder of new sites (links to two real datasets)."""
    from soilco2.errors import UserError

    (tmp_path / "new" / "datasets").mkdir(parents=True)
    for name in ("d20190526_MINIONS_IMNH", "d20190527_GOULDEN"):
        (tmp_path / "new" / "datasets" / name).symlink_to(cosore_root / "datasets" / name)
    ds = build_daily_dataset(
        DailyDataConfig(min_obs_days=10), root=data_root, cosore_dir=tmp_path / "new", progress=False
    )
    assert set(ds.site.values) <= {"d20190526_MINIONS_IMNH", "d20190527_GOULDEN"} and ds.sizes["site"] >= 1
    assert np.isfinite(ds["soil_temp_c"].values[ds["in_span"].values.astype(bool)]).all()
    (tmp_path / "empty" / "datasets").mkdir(parents=True)
    with pytest.raises(UserError, match="no COSORE dataset"):
        build_daily_dataset(DailyDataConfig(), root=data_root, cosore_dir=tmp_path / "empty")
