"""neuralhydrology export of the S1 daily dataset: one NetCDF per site with a ``date`` coordinate,
our inputs and the raw target, the static attributes, the site list and our temporal split as
per-site periods (neuralhydrology's own dataset class is exercised by benchmarks/peer_neuralhydrology.py,
outside the core dependencies)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from cf_checker import cf_errors

TINY = Path(__file__).resolve().parents[1] / "configs" / "daily_tiny.yaml"


@pytest.mark.realdata
def test_export_holds_our_inputs_target_and_split(data_root, tmp_path):
    out = tmp_path / "nh"
    cmd = [sys.executable, "-m", "soilco2.cli", "daily", "export", str(TINY), str(out), "--quiet"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    sites = (out / "sites.txt").read_text().split()
    assert sorted(p.stem for p in (out / "time_series").glob("*.nc")) == sorted(sites) and len(sites) == 3
    assert cf_errors(out / "time_series" / f"{sites[0]}.nc") == []
    nh = yaml.safe_load((out / "nh_config.yml").read_text())
    attrs = pd.read_csv(out / "attributes" / "attributes.csv", index_col=0)
    assert list(attrs.index) == sites and set(nh["static_attributes"]) <= set(attrs.columns)
    assert (attrs[nh["static_attributes"]].std() > 0).all()  # nh refuses constant attributes
    periods = pd.read_csv(out / "periods.csv", parse_dates=["train_start", "train_end", "test_start", "test_end"])
    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.dataset.splits import make_split
    from soilco2.daily.inputs import load_daily_dataset

    cfg = load_config(TINY, DailyConfig)
    ds = load_daily_dataset(cfg.data, progress=False)
    split = make_split(ds, cfg.split)
    for _, p in periods.iterrows():
        with xr.open_dataset(out / "time_series" / f"{p['site']}.nc") as ts:
            assert "date" in ts.coords and set(nh["dynamic_inputs"]) <= set(ts.data_vars)
            obs = ds["flux_umol_m2_s"].sel(site=p["site"], time=ts["date"]).values
            np.testing.assert_allclose(ts["flux_umol_m2_s"].values, obs, rtol=1e-6)  # raw µmol m-2 s-1
            assert np.isfinite(np.stack([ts[v].values for v in nh["dynamic_inputs"]])).all()  # 0 where missing
            assert set(ts.data_vars) - {"flux_umol_m2_s"} >= set(nh["dynamic_inputs"])
        assert p["test_start"] == split.test_start[p["site"]]  # our temporal 80/20 split
        assert p["train_start"] < p["train_end"] < p["test_start"] <= p["test_end"]
    assert nh["seq_length"] == cfg.training.warmup_days + cfg.training.window_days
    assert nh["predict_last_n"] == cfg.training.window_days and nh["hidden_size"] == cfg.model.hidden_size
    # a second export into a folder soilco2 did not write is refused
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    res = subprocess.run([*cmd[:5], str(TINY), str(foreign), "--quiet"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "foreign" in res.stderr and (foreign / "mine.txt").read_text() == "x"
