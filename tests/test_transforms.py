"""Scalers: arcsinh + min-max, fitted on training cells only, JSON round trip, inverse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from soilco2.daily.dataset.build import DailyDataConfig, assemble_daily_dataset
from soilco2.daily.dataset.splits import leave_site_out_split, temporal_split
from soilco2.daily.dataset.transforms import FeatureScaler
from soilco2.errors import UserError
from synth_daily_inputs import monthly_at, site_attributes, synthetic


@pytest.fixture(scope="module")
def ds():
    table, meta = synthetic()
    return assemble_daily_dataset(
        DailyDataConfig(), table, meta, monthly_at=monthly_at, site_attributes=site_attributes
    )


def test_known_scaling_and_inverse(ds):
    split = temporal_split(ds)
    sc = FeatureScaler.fit(ds, split)
    y = ds["flux_umol_m2_s"].values
    train = y[split.train.values]
    s = sc.variables["flux_umol_m2_s"]
    assert (
        s.arcsinh
        and s.min == pytest.approx(np.arcsinh(train).min())
        and s.max == pytest.approx(np.arcsinh(train).max())
    )
    scaled = sc.transform(ds)
    assert np.nanmin(scaled["flux_umol_m2_s"].values[split.train.values]) == pytest.approx(0, abs=1e-6)
    assert np.nanmax(scaled["flux_umol_m2_s"].values[split.train.values]) == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(sc.inverse_target(scaled["flux_umol_m2_s"].values), y, rtol=1e-5)
    assert sc.variables["precip_mm"].arcsinh and not sc.variables["soil_temp_c"].arcsinh
    # binary channels pass through; NaN outside spans stays NaN
    np.testing.assert_array_equal(scaled["avail_soil_temp_c"].values, ds["avail_soil_temp_c"].values)
    assert np.isnan(scaled["soil_temp_c"].values[~ds["in_span"].values.astype(bool)]).all()
    assert scaled["soil_temp_c"].attrs["units"] == "1"


def test_json_round_trip(ds, tmp_path):
    sc = FeatureScaler.fit(ds, temporal_split(ds))
    back = FeatureScaler.from_json(sc.to_json(tmp_path / "scalers.json"))
    assert back == sc
    assert json.loads((tmp_path / "scalers.json").read_text())["format"] == "soilco2-feature-scaler"
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(UserError, match="not a soilco2 scaler"):
        FeatureScaler.from_json(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        FeatureScaler.from_json(tmp_path / "broken.json")


def test_no_leakage_test_and_validation_days_never_touch_the_scalers(ds):
    split = temporal_split(ds)
    before = FeatureScaler.fit(ds, split).to_dict()
    # wreck every validation and test day (target and drivers): the fit must not move
    hidden = split.val.values | split.test.values
    after_test = hidden | (
        np.arange(ds.sizes["time"])[None, :]
        > np.where(split.test.values.any(axis=1), np.argmax(split.test.values, axis=1), 10**9)[:, None]
    )
    wrecked = ds.copy(deep=True)
    for name in ["flux_umol_m2_s", *ds.attrs["dynamic_features"]]:
        v = wrecked[name].values
        v[after_test | hidden] = v[after_test | hidden] * 1000 + 1e6
    assert FeatureScaler.fit(wrecked, split).to_dict() == before
    # ... while wrecking a training day does move it
    wrecked2 = ds.copy(deep=True)
    wrecked2["flux_umol_m2_s"].values[split.train.values] *= 3
    assert FeatureScaler.fit(wrecked2, split).to_dict() != before


def test_leave_site_out_statics_from_training_sites_only(ds):
    split = leave_site_out_split(ds, k=2, fold=0, seed=0)
    sc = FeatureScaler.fit(ds, split)
    test_row = list(ds.site.values).index(split.test_sites[0])
    wrecked = ds.copy(deep=True)
    wrecked["soc_mg_ha"].values[test_row] = 1e6
    wrecked["soil_temp_c"].values[test_row] += 500
    assert FeatureScaler.fit(wrecked, split).to_dict() == sc.to_dict()


def test_arcsinh_scale_known_values_inverse_and_json(ds, tmp_path):
    """arcsinh(x / scale) then min-max; the scale travels in the JSON (absent = 1, older files)."""
    from soilco2.daily.dataset.transforms import fit_var_scale

    sc = FeatureScaler.fit(ds, temporal_split(ds))
    x = np.array([0.0, 0.2, 1.0, 8.0])
    sc.variables["flux_umol_m2_s"] = fit_var_scale(x, True, "target", scale=0.2)
    s = sc.variables["flux_umol_m2_s"]
    assert (s.min, s.max) == (0.0, pytest.approx(np.arcsinh(40.0)))
    np.testing.assert_allclose(sc.forward("flux_umol_m2_s", x), np.arcsinh(x / 0.2) / np.arcsinh(40.0))
    np.testing.assert_allclose(sc.inverse_target(sc.forward("flux_umol_m2_s", x)), x, atol=1e-12)
    saved = json.loads(sc.to_json(tmp_path / "s.json").read_text())["variables"]
    assert saved["flux_umol_m2_s"]["scale"] == 0.2 and "scale" not in saved["soil_temp_c"]
    assert FeatureScaler.from_json(tmp_path / "s.json") == sc
