"""S1 daily pipeline end to end: tiny train/evaluate/predict/gapfill on 3 real COSORE sites through the
CLI, the run-folder contract, determinism, tuning on Dask, and the bad inputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from cf_checker import cf_errors
from daily_synth import make_daily_dataset
from soilco2.daily.newsite.site import DRIVER_COLUMNS

TINY = Path(__file__).resolve().parents[1] / "configs" / "daily_tiny.yaml"
NEW_SITE = "d20190722_GORRES"


def soilco2(*args: str, env_root: Path | None = None) -> subprocess.CompletedProcess:
    env = None
    if env_root is not None:
        import os

        env = os.environ | {"SOILCO2_DATA": str(env_root)}
    return subprocess.run(
        [sys.executable, "-m", "soilco2.cli", *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


def write_config(tmp_path: Path, **changes) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data_root) -> Path:
    run = tmp_path_factory.mktemp("daily") / "run"
    res = soilco2("daily", "train", TINY, "--out", run, "--quiet")
    assert res.returncode == 0, res.stderr
    return run


def test_run_folder_contract(tiny_run: Path):
    for name in ("config.yaml", "scalers.json", "sites.parquet", "metrics.parquet", "summary.json", "predictions.nc"):
        assert (tiny_run / name).is_file(), name
    members = ["member_0.json", "member_0.pt", "member_1.json", "member_1.pt", "sites"]
    assert sorted(p.name for p in (tiny_run / "checkpoints").iterdir()) == ["calibration", *members]
    assert sorted(p.name for p in (tiny_run / "checkpoints" / "calibration").iterdir()) == members
    import torch

    state = torch.load(tiny_run / "checkpoints" / "member_0.pt", weights_only=True)
    assert "lstm.weight_ih_l0" in state
    # per-site fine-tuned weights (training.finetune_steps): one state dict per site, not the shared one
    sites = torch.load(tiny_run / "checkpoints" / "sites" / "member_0.pt", weights_only=True)
    assert len(sites) == 3 and all(s.keys() == state.keys() for s in sites.values())
    assert not all(torch.equal(s["head.weight"], state["head.weight"]) for s in sites.values())
    metrics = pd.read_parquet(tiny_run / "metrics.parquet")
    assert list(metrics.columns) == [
        "site",
        "model",
        "split",
        "nse",
        "kge",
        "kge_2012",
        "r",
        "rmse_umol_m2_s",
        "bias_umol_m2_s",
        "n",
        "class",
        "crps_umol_m2_s",
        "interval_score_90_umol_m2_s",
        "coverage_50",
        "coverage_90",
        "width_50_umol_m2_s",
        "width_90_umol_m2_s",
    ]
    assert set(metrics["model"]) == {"lstm", "q10", "doy_climatology", "random_forest"}
    assert set(metrics["split"]) == {"train", "test"} and metrics["site"].nunique() == 3
    assert set(metrics["class"]) <= {"good", "fair", "poor"}
    summary = json.loads((tiny_run / "summary.json").read_text())["models"]["lstm"]["test"]
    lo, hi = summary["median_nse_ci95"]  # bootstrap interval over the 3 sites
    assert lo <= summary["median_nse"] <= hi and 0 <= summary["share_good_ci95"][0] <= summary["share_good"]
    sites = pd.read_parquet(tiny_run / "sites.parquet")
    assert {"site", "lat", "lon", "igbp", "mat_c", "n_obs_days", "n_train_days", "n_test_days", "test_start"} <= set(
        sites.columns
    )
    assert (sites["n_train_days"] + sites["n_test_days"] == sites["n_obs_days"]).all()
    # which sensors each site has (COSORE files): PHILLIPS soil temperature only, GORRES soil T, moisture, air T
    shares = sites.set_index("site").filter(like="insitu_share_")
    assert ((shares >= 0) & (shares <= 1)).all().all() and len(shares.columns) == 12  # 6 drivers × train/test
    phillips, gorres = shares.loc["d20200229_PHILLIPS"], shares.loc["d20190722_GORRES"]
    assert phillips["insitu_share_soil_temp_c_test"] > 0.95 and phillips["insitu_share_swc_m3_m3_test"] == 0
    assert phillips["insitu_share_air_temp_c_train"] == 0
    assert (
        min(
            gorres[f"insitu_share_{d}_{sp}"]
            for d in ("soil_temp_c", "swc_m3_m3", "air_temp_c")
            for sp in ("train", "test")
        )
        > 0.95
    )
    assert cf_errors(tiny_run / "predictions.nc") == []
    pred = xr.open_dataset(tiny_run / "predictions.nc")
    for v in (
        "obs",
        "lstm",
        "lstm_q05",
        "lstm_q25",
        "lstm_q50",
        "lstm_q75",
        "lstm_q95",
        "q10",
        "doy_climatology",
        "random_forest",
        "split",
        "soil_temp_c",
        "obs_n",
    ):
        assert pred[v].dims == ("site", "time"), v
    assert ((pred["obs_n"].values > 0) == np.isfinite(pred["obs"].values)).all()  # records behind each observed day
    assert pred["lstm"].attrs["units"] == "umol m-2 s-1" and "long_name" in pred["obs"].attrs
    assert set(np.unique(pred["split"].values)) == {-1, 0, 1, 2}
    span = np.isfinite(pred["lstm"].values)
    q = np.stack([pred[f"lstm_q{p}"].values[span] for p in ("05", "25", "50", "75", "95")])
    assert (q > 0).all() and (np.diff(q, axis=0) >= -1e-6).all() and (pred["lstm"].values[span] >= 0).all()
    for p, level in (("05", 0.05), ("50", 0.5), ("95", 0.95)):
        attrs = pred[f"lstm_q{p}"].attrs
        assert attrs["units"] == "umol m-2 s-1" and attrs["quantile"] == level and "predictive" in attrs["long_name"]
    metrics = pd.read_parquet(tiny_run / "metrics.parquet")
    lstm = metrics[metrics["model"] == "lstm"]
    for col in ("crps_umol_m2_s", "interval_score_90_umol_m2_s", "coverage_50", "coverage_90", "width_90_umol_m2_s"):
        assert lstm[col].notna().all() and metrics.loc[metrics["model"] != "lstm", col].isna().all(), col
    assert (tiny_run / "calibration.parquet").is_file()
    # every observed day lies inside the predicted span: continuous daily predictions
    assert span[pred["split"].values >= 0].all()
    # no test day before any training day of the same site
    split = pred["split"].values
    for i in range(split.shape[0]):
        assert np.flatnonzero(split[i] == 2).min() > np.flatnonzero(split[i] == 0).max()


def test_evaluate_reproduces_metrics(tiny_run: Path):
    before = pd.read_parquet(tiny_run / "metrics.parquet")
    res = soilco2("daily", "evaluate", tiny_run)
    assert res.returncode == 0, res.stderr
    after = pd.read_parquet(tiny_run / "metrics.parquet")
    pd.testing.assert_frame_equal(before, after)


def test_same_config_same_metrics(tiny_run: Path, tmp_path: Path):
    """A rerun gives identical metrics and weights, also with the members trained in two worker
    processes at once (training.workers: 2) instead of one after another."""
    cfg = write_config(tmp_path, **{"training.workers": 2})
    res = soilco2("daily", "train", cfg, "--out", tmp_path / "again", "--quiet")
    assert res.returncode == 0, res.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(tiny_run / "metrics.parquet"), pd.read_parquet(tmp_path / "again" / "metrics.parquet")
    )
    import torch

    for k in range(2):
        a, b = (
            torch.load(r / "checkpoints" / f"member_{k}.pt", weights_only=True) for r in (tiny_run, tmp_path / "again")
        )
        assert all(torch.equal(a[key], b[key]) for key in a)


def test_predict_new_cosore_folder(tiny_run: Path, tmp_path: Path, cosore_root: Path):
    new = tmp_path / "new_cosore" / "datasets"
    new.mkdir(parents=True)
    (new / NEW_SITE).symlink_to(cosore_root / "datasets" / NEW_SITE)  # a folder in COSORE layout
    res = soilco2("daily", "predict", tiny_run, "--cosore", tmp_path / "new_cosore", "--out", tmp_path / "pred")
    assert res.returncode == 0, res.stderr
    pred = xr.open_dataset(tmp_path / "pred" / "predictions.nc")
    assert list(pred["site"].values) == [NEW_SITE]
    assert np.isfinite(pred["lstm"].values).sum() > 100
    m = pd.read_parquet(tmp_path / "pred" / "metrics.parquet")
    assert set(m["split"]) == {"all", "train", "test"} and (m.loc[m["split"] == "all", "n"] > 100).all()


def _predict_new_site_folder(tiny_run: Path, tmp_path: Path, cosore_root: Path) -> None:
    """NEW_SITE alone in a COSORE-layout folder (tmp_path/new_cosore), predicted to tmp_path/plain."""
    new = tmp_path / "new_cosore" / "datasets"
    new.mkdir(parents=True)
    (new / NEW_SITE).symlink_to(cosore_root / "datasets" / NEW_SITE)
    res = soilco2("daily", "predict", tiny_run, "--cosore", tmp_path / "new_cosore", "--out", tmp_path / "plain")
    assert res.returncode == 0, res.stderr


def test_predict_with_spot_measurements_sets_the_level(tiny_run: Path, tmp_path: Path, cosore_root: Path):
    """`predict --spots`: a few of the site's own days set its level (a factor on the LSTM series,
    in levels.parquet); a spot outside the driver span is one message with exit 2."""
    _predict_new_site_folder(tiny_run, tmp_path, cosore_root)
    with xr.open_dataset(tmp_path / "plain" / "predictions.nc") as ds:
        obs = ds["obs"].sel(site=NEW_SITE).to_series().dropna()
        plain = ds["lstm"].sel(site=NEW_SITE).to_series()
    spots = obs.iloc[:: max(len(obs) // 6, 1)][:6]
    f = tmp_path / "spots.csv"
    pd.DataFrame({"date": spots.index.strftime("%Y-%m-%d"), "flux_umol_m2_s": spots.values}).to_csv(f, index=False)
    res = soilco2("daily", "predict", tiny_run, "--cosore", tmp_path / "new_cosore", "--out", tmp_path / "spots",
                  "--spots", f)  # fmt: skip
    assert res.returncode == 0, res.stderr
    levels = pd.read_parquet(tmp_path / "spots" / "levels.parquet").set_index("site")
    assert levels.loc[NEW_SITE, "n_spots"] == 6 and levels.loc[NEW_SITE, "source"] == "spots"
    with xr.open_dataset(tmp_path / "spots" / "predictions.nc") as ds:
        scaled = ds["lstm"].sel(site=NEW_SITE).to_series()
    np.testing.assert_allclose(scaled.dropna(), plain.dropna() * levels.loc[NEW_SITE, "factor"], rtol=1e-5)
    bad = tmp_path / "late.csv"
    bad.write_text("date,flux_umol_m2_s\n2031-01-01,2.0\n")
    res = soilco2("daily", "predict", tiny_run, "--cosore", tmp_path / "new_cosore", "--out", tmp_path / "bad",
                  "--spots", bad)  # fmt: skip
    assert res.returncode == 2 and "late.csv" in res.stderr and "outside the driver span" in res.stderr


def test_predict_site_from_coordinates_and_a_driver_table(tiny_run: Path, tmp_path: Path, cosore_root: Path):
    """The Python API for a site without a COSORE folder: the site's own drivers, coordinates,
    elevation and land cover give the same series as `predict --cosore` on its folder; spots set
    the level (an attribute); the NetCDF is CF with the band; bad tables are one clear error."""
    from soilco2.daily.newsite.site import predict_site
    from soilco2.errors import UserError
    from soilco2.prep.cosore_records import daily_table
    from soilco2.sources.cosore import cosore_root as layout_root
    from soilco2.sources.cosore import list_datasets

    _predict_new_site_folder(tiny_run, tmp_path, cosore_root)
    with xr.open_dataset(tmp_path / "plain" / "predictions.nc") as ds:
        plain = ds["lstm"].sel(site=NEW_SITE).to_series().dropna()
        obs = ds["obs"].sel(site=NEW_SITE).to_series().dropna()
    table, _ = daily_table(tmp_path / "new_cosore", cache=False, progress=False)
    meta = list_datasets(layout_root(tmp_path / "new_cosore")).set_index("dataset").loc[NEW_SITE]
    drivers = table.drop(columns=[c for c in table.columns if c not in ("date", *DRIVER_COLUMNS)])
    drivers = drivers[(drivers["date"] >= plain.index[0]) & (drivers["date"] <= plain.index[-1])]
    drivers = pd.concat([pd.DataFrame({"date": [plain.index[0]]}), drivers]).drop_duplicates(
        "date"
    )  # the span's first day
    f = tmp_path / "drivers.csv"
    drivers.to_csv(f, index=False)
    out = tmp_path / "site.nc"
    got = predict_site(tiny_run, f, meta["lat"], meta["lon"], name=NEW_SITE, elevation_m=meta["elevation_m"],
                       igbp=meta["igbp"], out=out)  # fmt: skip
    series = got["lstm"].sel(site=NEW_SITE).to_series().dropna()
    day = "datetime64[D]"
    np.testing.assert_array_equal(series.index.values.astype(day), plain.index.values.astype(day))
    np.testing.assert_allclose(series.values, plain.values, rtol=1e-5)
    with xr.open_dataset(out) as ds:
        assert {"lstm", "lstm_q05", "lstm_q95"} <= set(ds.data_vars) and ds["lstm"].attrs["units"] == "umol m-2 s-1"
        assert (ds["lstm_q05"].to_series().dropna() > 0).all()
        assert ds["lat"].attrs["standard_name"] == "latitude" and "obs" not in ds
        assert ds["site"].attrs["long_name"] == "site name"
    assert cf_errors(out) == []
    step = max(len(obs) // 6, 1)
    spots = pd.DataFrame({"date": obs.index[::step][:6], "flux_umol_m2_s": obs.values[::step][:6]})
    levelled = predict_site(tiny_run, f, meta["lat"], meta["lon"], name=NEW_SITE, elevation_m=meta["elevation_m"],
                            igbp=meta["igbp"], spots=spots)  # fmt: skip
    mg = spots.assign(flux_umol_m2_s=spots["flux_umol_m2_s"] * 158.4)  # the same in mg CO2 m-2 h-1
    with pytest.warns(UserWarning, match="check their unit"):
        predict_site(tiny_run, f, meta["lat"], meta["lon"], name=NEW_SITE, spots=mg)
    anchor = levelled["anchor"]  # the field's Q10 curve fitted to the same spots, beside ours
    assert 1 <= anchor.attrs["q10"] <= 5 and anchor.attrs["n_readings"] == 6 and anchor.attrs["fit"] == "free"
    assert (
        np.isfinite(anchor.sel(site=NEW_SITE).to_series().dropna()).all()
        and ((levelled["anchor_q05"] < anchor) | anchor.isnull()).all()
    )
    factor = levelled["lstm"].attrs["level_factor"]
    assert levelled["lstm"].attrs["level_spots"] == 6 and factor != 1.0
    np.testing.assert_allclose(levelled["lstm"].sel(site=NEW_SITE).to_series().dropna(), plain * factor, rtol=1e-5)
    bad = [("date,soil_temp_c\n2020-01-01,5\n2020-01-01,6\n", "date"),
           ("date,soil_temp\n2020-01-01,5\n", "soil_temp"),
           ("date,swc_m3_m3\n2020-01-01,35\n", "swc_m3_m3"),
           ("date,precip_mm\n2020-13-45,1\n", "date"),
           ("soil_temp_c\n5\n", "date")]  # fmt: skip
    for text, field in bad:
        f.write_text(text)
        with pytest.raises(UserError) as err:
            predict_site(tiny_run, f, meta["lat"], meta["lon"])
        assert err.value.field == field and "drivers.csv" in str(err.value)
        res = soilco2("daily", "site", tiny_run, f, "--lat", "42.5", "--lon", "-72.2", "--out", tmp_path / "x.nc")
        assert res.returncode == 2 and "Traceback" not in res.stderr and f"'{field}'" in res.stderr
    mine = tmp_path / "mine.nc"
    mine.write_text("a user's file")
    drivers.to_csv(f, index=False)
    res = soilco2("daily", "site", tiny_run, f, "--lat", str(meta["lat"]), "--lon", str(meta["lon"]), "--out", mine)
    assert res.returncode == 2 and "not written by soilco2" in res.stderr and mine.read_text() == "a user's file"
    res = soilco2("daily", "site", tiny_run, f, "--lat", str(meta["lat"]), "--lon", str(meta["lon"]), "--out", out)
    assert res.returncode == 0 and "days written" in res.stdout  # its own file may be replaced


def test_gapfill_keeps_observations_and_fills_the_span(tiny_run: Path, tmp_path: Path):
    res = soilco2("daily", "gapfill", tiny_run, "--out", tmp_path / "gf")
    assert res.returncode == 0, res.stderr
    pred = xr.load_dataset(tiny_run / "predictions.nc")
    gf = xr.load_dataset(tmp_path / "gf" / "gapfilled.nc")
    assert cf_errors(tmp_path / "gf" / "gapfilled.nc") == []
    obs, lstm = pred["obs"].values, pred["lstm"].values
    observed, source = np.isfinite(obs), gf["gapfill_source"].values
    assert np.array_equal(gf["flux_gapfilled"].values[observed], obs[observed])
    assert np.array_equal(source == 1, np.isfinite(lstm) & ~observed) and (source == 1).sum() > 100
    filled = gf["flux_gapfilled"].values[source == 1]
    assert np.isfinite(filled).all() and np.isfinite(gf["flux_gapfilled_se"].values[source == 1]).all()
    lo, hi = (gf[f"flux_gapfilled_q{p}"].values[source == 1] for p in ("05", "95"))
    assert (lo >= 0).all() and (lo <= filled + 1e-5).all() and (filled <= hi + 1e-5).all()
    assert np.isnan(gf["flux_gapfilled_q05"].values[source == 0]).all()
    params = pd.read_parquet(tmp_path / "gf" / "residual_covariance.parquet")
    assert list(params["site"]) == list(pred["site"].values) and params["fitted"].all()
    annual = pd.read_parquet(tmp_path / "gf" / "annual_totals.parquet")
    assert (annual["total_gc_m2_yr"].dropna() > 0).all() and (annual["observed_days"] <= annual["n_days"]).all()


def test_gapfill_bad_inputs(tiny_run: Path, tmp_path: Path):
    res = soilco2("daily", "gapfill", tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "predictions.nc" in res.stderr
    pred = xr.load_dataset(tiny_run / "predictions.nc").drop_vars("lstm")
    pred.to_netcdf(tmp_path / "predictions.nc")
    res = soilco2("daily", "gapfill", tmp_path / "predictions.nc")
    assert res.returncode == 2 and "Traceback" not in res.stderr and "'lstm'" in res.stderr


@pytest.mark.parametrize(
    "change, field",
    [
        ({"training.bogus": 1}, "training.bogus"),
        ({"training.window_days": -5}, "training.window_days"),
        ({"split.train_fraction": 1.5}, "split.train_fraction"),
        ({"data.sites_include": []}, "data.sites_include"),
        ({"model.dropout": 1.2}, "model.dropout"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, change, field):
    res = soilco2("daily", "train", write_config(tmp_path, **change), "--out", tmp_path / "run")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and field in res.stderr and "cfg.yaml" in res.stderr
    assert not (tmp_path / "run").exists()


def test_site_shorter_than_one_window(tmp_path: Path, data_root):
    res = soilco2("daily", "train", write_config(tmp_path, **{"training.window_days": 400}), "--out", tmp_path / "run")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "fewer observed training days than one window" in res.stderr and "d20190722_GORRES" in res.stderr
    assert not (tmp_path / "run").exists()


def test_predict_on_folder_without_dataset(tiny_run: Path, tmp_path: Path, cosore_root: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = soilco2("daily", "predict", tiny_run, "--cosore", empty)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "empty" in res.stderr
    meta_only = tmp_path / "meta_only" / "datasets"
    meta_only.mkdir(parents=True)
    (meta_only / "d20190619_GU").symlink_to(cosore_root / "datasets" / "d20190619_GU")  # no released data
    res = soilco2("daily", "predict", tiny_run, "--cosore", tmp_path / "meta_only")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def _rewrite_manifest(run: Path) -> None:
    """What a user who hand-edits a run would have to do to get past the manifest check."""
    from soilco2.daily.run import run_files
    from soilco2.files import write_manifest

    write_manifest(run, run_files(run), kind="daily", members=2)


def test_incompatible_run_folder(tiny_run: Path, tmp_path: Path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_run, bad)
    cfg = yaml.safe_load((bad / "config.yaml").read_text())
    cfg["model"]["hidden_size"] = 64  # the checkpoints were trained with 16
    (bad / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = soilco2("daily", "evaluate", bad)  # the manifest sees the edit first
    assert res.returncode == 2 and "config.yaml" in res.stderr and "manifest" in res.stderr
    _rewrite_manifest(bad)
    res = soilco2("daily", "evaluate", bad)
    assert res.returncode == 2 and "checkpoint" in res.stderr and "Traceback" not in res.stderr
    cfg["model"]["hidden_size"], cfg["model"]["layers"] = 16, 2  # a key this version does not know
    (bad / "config.yaml").write_text(yaml.safe_dump(cfg))
    _rewrite_manifest(bad)
    res = soilco2("daily", "evaluate", bad)
    assert res.returncode == 2 and "model.layers" in res.stderr and "Traceback" not in res.stderr
    res = soilco2("daily", "evaluate", tmp_path / "missing")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    # a fine-tuned run without its per-site weights
    cfg["model"].pop("layers")
    (bad / "config.yaml").write_text(yaml.safe_dump(cfg))
    shutil.rmtree(bad / "checkpoints" / "sites")
    res = soilco2("daily", "evaluate", bad)  # the manifest lists them
    assert res.returncode == 2 and "sites" in res.stderr and "missing" in res.stderr and "Traceback" not in res.stderr
    _rewrite_manifest(bad)
    res = soilco2("daily", "evaluate", bad)
    assert res.returncode == 2 and "per-site weights" in res.stderr and "Traceback" not in res.stderr


def test_damaged_run_is_refused_and_left_as_it_was(tiny_run: Path, tmp_path: Path):
    """A deleted member checkpoint or an edited site list: evaluate refuses (exit 2, naming the
    file) and the run's outputs are unchanged."""
    for damage in ("delete_member", "edit_sites"):
        bad = tmp_path / damage
        shutil.copytree(tiny_run, bad)
        if damage == "delete_member":
            (bad / "checkpoints" / "member_1.pt").unlink()
        else:
            cfg = yaml.safe_load((bad / "config.yaml").read_text())
            cfg["data"]["sites_include"] = cfg["data"]["sites_include"][:1]
            (bad / "config.yaml").write_text(yaml.safe_dump(cfg))
        before = {p.name: p.read_bytes() for p in bad.iterdir() if p.is_file()}
        res = soilco2("daily", "evaluate", bad)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert ("member_1.pt" if damage == "delete_member" else "config.yaml") in res.stderr
        assert {p.name: p.read_bytes() for p in bad.iterdir() if p.is_file()} == before


def test_tune_on_dask_scores_validation_only(tmp_path: Path):
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.tune import tune_run

    ds = make_daily_dataset(n_sites=3, years=2, seed=2)
    # the run trains on all training days (no validation slice); the trials still hold one out
    raw = yaml.safe_load(TINY.read_text()) | {"data": {}, "split": {"train_fraction": 0.8, "val_fraction": 0.0}}
    cfg = DailyConfig.model_validate(raw)
    dest, best = tune_run(cfg, tmp_path / "tune", ds=ds, show_progress=False)
    trials = pd.read_parquet(dest / "trials.parquet")
    assert len(trials) == 2 and set(trials["hidden_size"]) == {8, 16}
    assert trials["val_median_nse"].notna().all() and "test" not in " ".join(trials.columns)
    assert (trials["val_loss"] > 0).all()  # a loss on validation days, not the no-validation epoch count
    best_cfg = yaml.safe_load((dest / "best_config.yaml").read_text())
    assert best_cfg["split"]["val_fraction"] == 0.0
    assert best_cfg["model"]["hidden_size"] == best["hidden_size"]
    assert best_cfg["training"]["ensemble"] == cfg.training.ensemble


def test_failed_train_leaves_an_existing_run_untouched(tmp_path: Path, monkeypatch):
    """Training writes to <run>.partial and swaps it in only on success; a folder that is not a
    run folder is never overwritten."""
    from soilco2.daily import run as daily
    from soilco2.daily.config import DailyConfig
    from soilco2.errors import UserError

    ds = make_daily_dataset(n_sites=3, years=2, seed=2)
    cfg = DailyConfig.model_validate(yaml.safe_load(TINY.read_text()) | {"data": {}})
    from soilco2.daily import members as daily_members
    from soilco2.files import RUN_MARKER

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / RUN_MARKER).write_text('{"kind": "daily"}')  # an earlier run of soilco2's
    (run / "config.yaml").write_text("old: run\n")
    (run / "checkpoints" / "member_0.pt").write_bytes(b"old")

    def boom(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(daily_members, "train_member", boom)
    with pytest.raises(RuntimeError):
        daily.train_run(cfg, run, show_progress=False, ds=ds, replace=True)
    assert (run / "config.yaml").read_text() == "old: run\n"
    assert (run / "checkpoints" / "member_0.pt").read_bytes() == b"old"

    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    with pytest.raises(UserError, match="not written by soilco2"):
        daily.train_run(cfg, other, show_progress=False, ds=ds)
    assert (other / "thesis.tex").read_text() == "keep me"


def test_site_anomaly_of_a_missing_driver_is_an_error():
    """A driver listed in training.site_anomalies that is not a dynamic input is named, not skipped."""
    from soilco2.daily import run as daily
    from soilco2.daily.config import DailyConfig
    from soilco2.errors import UserError

    ds = make_daily_dataset(n_sites=3, years=2, seed=2)
    raw = yaml.safe_load(TINY.read_text()) | {"data": {}}
    raw["training"] = raw.get("training", {}) | {"site_anomalies": ["no_such_driver"]}
    cfg = DailyConfig.model_validate(raw)
    with pytest.raises(UserError, match="no_such_driver") as err:
        daily.prepare(cfg, ds=ds)
    assert err.value.field == "training.site_anomalies"


def test_static_inputs_select_attributes():
    """model.static_inputs keeps the named static attributes, [] none; an unknown name is an error
    naming the field. (The real dataset's one-hot IGBP columns are picked with ``igbp``.)"""
    from soilco2.daily import run as daily
    from soilco2.daily.config import DailyConfig
    from soilco2.errors import UserError

    ds = make_daily_dataset(n_sites=3, years=2, seed=2)
    raw = yaml.safe_load(TINY.read_text()) | {"data": {}}
    for wanted, check in ((["lat_deg"], lambda s: s == ["lat_deg"]), ([], lambda s: s == [])):
        cfg = DailyConfig.model_validate(raw | {"model": raw["model"] | {"static_inputs": wanted}})
        _, a, scaler = daily.prepare(cfg, ds=ds)
        assert check(a.static_features) and a.x_static.shape == (3, len(a.static_features))
        assert not set(scaler.variables) & (set(ds.attrs["static_features"]) - set(a.static_features))
    cfg = DailyConfig.model_validate(raw | {"model": raw["model"] | {"static_inputs": ["colour"]}})
    with pytest.raises(UserError, match="colour") as err:
        daily.prepare(cfg, ds=ds)
    assert err.value.field == "model.static_inputs"


def _drivers(tmp_path: Path, dates, **columns) -> Path:
    f = tmp_path / "drivers.csv"
    pd.DataFrame({"date": dates, **columns}).to_csv(f, index=False)
    return f


def test_daily_site_refuses_nonsense_with_one_message_each(tiny_run: Path, tmp_path: Path):
    """Inputs `daily site` once took silently: each is now a UserError naming the option or the
    file and column; an ISO date with a UTC offset is the logger's local day."""
    from soilco2.daily.newsite.site import predict_site, read_drivers
    from soilco2.errors import UserError

    days = pd.date_range("2016-01-01", "2016-12-31", freq="D")
    temp = 10 + 8 * np.sin(2 * np.pi * (days.day_of_year - 110) / 365)
    good = _drivers(tmp_path, days.strftime("%Y-%m-%d"), soil_temp_c=temp)
    site = {"lat": 42.54, "lon": -72.17}
    cases = [
        ({"igbp": "Deciduous"}, "--igbp", "not an IGBP class"),
        ({"elevation_m": 1e9}, "--elevation-m", "not an elevation"),
        ({"level": "none", "spots": pd.DataFrame({"date": ["2016-06-01"], "flux_umol_m2_s": [2.0]})}, "--spots",
         "would be ignored"),
        ({"level": "annual_map"}, "--global-run", "needs --global-run"),
        ({"radius_km": 1e9, "level": "srdb"}, "--radius-km", "(0, 500]"),
        ({"out": tmp_path / "no" / "such" / "x.nc"}, "--out", "does not exist"),
    ]  # fmt: skip
    for kw, field, words in cases:
        with pytest.raises(UserError, match=re.escape(words)) as err:
            predict_site(tiny_run, good, **(site | kw))
        assert err.value.field == field, kw
    assert not (tmp_path / "no").exists()
    tables = [
        (pd.DataFrame({"date": [], "soil_temp_c": []}), "no rows"),
        (pd.DataFrame({"date": ["01/06/2016", "02/06/2016"], "soil_temp_c": [5.0, 6.0]}), "use YYYY-MM-DD"),
        (pd.DataFrame({"date": ["2002-01-01", "2016-01-01"], "soil_temp_c": [5.0, 6.0]}), "jump from 2002-01-01"),
        (pd.DataFrame({"date": days[:40].strftime("%Y-%m-%d"), "swc_m3_m3": np.nan}), "has no value"),
        (pd.DataFrame({"date": ["2016-03-01"], "soil_temp_c": [61.0]}), "-40..60"),
    ]
    for k, (table, words) in enumerate(tables):
        f = tmp_path / f"bad{k}.csv"
        table.to_csv(f, index=False)
        with pytest.raises(UserError, match=re.escape(words)) as err:
            read_drivers(f)
        assert str(f) in str(err.value)
    march = _drivers(tmp_path, days.strftime("%Y-%m-%d"), soil_temp_c=np.where(days.month == 3, 44.0, temp))
    with pytest.raises(UserError, match="from the site's mean air temperature") as err:
        predict_site(tiny_run, march, **site)
    assert err.value.field == "soil_temp_c"
    with pytest.raises(UserError, match="swapped") as err:
        predict_site(tiny_run, good, lat=-72.17, lon=42.54)
    assert err.value.field == "--lat/--lon"
    offset = read_drivers(_drivers(tmp_path, [f"{d}T23:30:00+05:00" for d in days[:3].strftime("%Y-%m-%d")],
                                   soil_temp_c=[1.0, 2.0, 3.0]))  # fmt: skip
    assert list(offset["date"]) == list(days[:3])


def test_spots_count_once_a_day_and_must_name_a_predicted_site(tiny_run: Path, tmp_path: Path):
    from soilco2.daily.newsite.site import predict_site
    from soilco2.errors import UserError

    days = pd.date_range("2016-01-01", "2016-12-31", freq="D")
    good = _drivers(
        tmp_path, days.strftime("%Y-%m-%d"), soil_temp_c=10 + 8 * np.sin(2 * np.pi * days.day_of_year / 365)
    )
    once = pd.DataFrame({"date": ["2016-06-01", "2016-08-01"], "flux_umol_m2_s": [3.0, 4.0]})
    many = pd.concat([once.iloc[:1]] * 25 + [once.iloc[1:]], ignore_index=True)
    a = predict_site(tiny_run, good, 42.54, -72.17, spots=once)
    b = predict_site(tiny_run, good, 42.54, -72.17, spots=many)
    assert a["lstm"].attrs["level_factor"] == pytest.approx(b["lstm"].attrs["level_factor"])
    assert b["lstm"].attrs["level_spots"] == 2
    q05, q95 = (b[f"lstm_q{p}"].to_series().dropna() for p in ("05", "95"))
    assert (q05 > 0).all() and (q95 > q05).all()
    with pytest.raises(UserError, match="not among the predicted sites"):
        predict_site(tiny_run, good, 42.54, -72.17, spots=once.assign(site="elsewhere"))


def test_a_log_gets_plain_progress_lines_and_whole_tables(tmp_path: Path, data_root):
    """Piped (a batch job's log): one plain line per member and epoch with elapsed and remaining
    time on stderr, the summary table at full width; `--version` answers."""
    cfg = write_config(tmp_path, **{"training.epochs": 2, "training.ensemble": 1, "calibration.method": "none"})
    res = soilco2("daily", "train", cfg, "--out", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    lines = [x for x in res.stderr.splitlines() if "epochs" in x and "elapsed" in x]
    assert len(lines) >= 2 and "progress: member 1/1: 2/2 epochs" in res.stderr, res.stderr
    assert "…" not in res.stdout
    version = soilco2("--version")
    assert version.returncode == 0 and version.stdout.startswith("soilco2 ")
