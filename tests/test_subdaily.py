"""S2 data preparation, tower readers, splits, bad input and a tiny end-to-end run."""

import json

import numpy as np
import pandas as pd
import pytest

from cf_checker import cf_errors
from page_checks import assert_page_reads_well, browser_available
from soilco2.errors import UserError
from soilco2.sources.towers import read_halfhourly, read_hn1_chamber
from soilco2.subdaily import data as prep
from soilco2.subdaily.rain_pulses import detect_events, pulse_skill


def _records(n_hours=24 * 20, with_temp=True, start="2019-01-01"):
    t = pd.date_range(start, periods=n_hours, freq="1h")
    temp = 15 + 8 * np.sin(2 * np.pi * (np.arange(n_hours) % 24) / 24)
    rec = pd.DataFrame(
        {"time": t + pd.Timedelta("7min"), "port": 1, "flux_umol_m2_s": 0.5 * 2 ** ((temp - 10) / 10), "swc_m3_m3": 0.1}
    )
    if with_temp:
        rec["soil_temp_c"] = temp
    return rec


def test_tower_reader_end_labels_missing_values(tmp_path):
    f = tmp_path / "tower.csv"
    f.write_text("TIMESTAMP_END,P_F,TS\n2019-01-01 00:30:00,0.5,-9999\n2019-01-01 01:00:00,-9999,3.0\n")
    t = read_halfhourly(f, {"precip_mm": "P_F", "soil_temp_c": "TS"})
    assert list(t.index) == [pd.Timestamp("2019-01-01 00:00"), pd.Timestamp("2019-01-01 00:30")]  # interval starts
    assert np.isnan(t["soil_temp_c"].iloc[0]) and np.isnan(t["precip_mm"].iloc[1])
    with pytest.raises(UserError, match="P_X"):
        read_halfhourly(f, {"precip_mm": "P_X"})


def test_site_table_regular_grid_tower_sum_and_gaps():
    rec = _records()
    rec = rec[~rec["time"].between("2019-01-05", "2019-01-05 05:30")]  # a 6-h gap in the fluxes
    tower = pd.DataFrame({"precip_mm": 0.25}, index=pd.date_range("2018-12-31", "2019-02-01", freq="30min"))
    table, acct = prep.build_site_table(rec, tower=tower, tower_drivers=("precip_mm",))
    assert acct["interval"] == "1h" and (np.diff(table.index.values) == np.timedelta64(1, "h")).all()
    assert np.allclose(table["precip_mm"], 0.5)  # two half hours summed into each hour
    assert table["flux_umol_m2_s"].isna().sum() == 6  # the gap stays a gap
    assert acct["missing_flux_umol_m2_s"] == 6


def test_bad_inputs_no_soil_temperature_and_no_overlap():
    with pytest.raises(UserError, match="no soil temperature"):
        prep.build_site_table(_records(with_temp=False), name="mysite")
    tower = pd.DataFrame({"precip_mm": 0.1}, index=pd.date_range("2010-01-01", periods=100, freq="30min"))
    with pytest.raises(UserError, match="do not overlap") as err:
        prep.build_site_table(_records(), tower=tower, tower_drivers=("precip_mm",), tower_file="x.csv")
    assert "x.csv" in str(err.value)


def test_windows_have_no_flux_and_exact_future():
    table, _ = prep.build_site_table(_records(), driver_gap_fill_hours=0)
    table["precip_mm"] = 0.0
    win, drops = prep.make_windows(table, ["soil_temp_c", "precip_mm"], ["soil_temp_c"], 24, 6)
    assert drops["kept"] == len(table) - 23 - 6
    i = 10
    r = win.row[i]
    assert np.allclose(win.past[i, :, 0], table["soil_temp_c"].to_numpy()[r - 23 : r + 1])  # ends at t
    assert np.allclose(win.future[i, :, 0], table["soil_temp_c"].to_numpy()[r + 1 : r + 7])  # t+1..t+F
    assert win.target[i] == pytest.approx(table["flux_umol_m2_s"].iloc[r])
    assert "flux_umol_m2_s" not in win.past_drivers + win.future_drivers


def test_splits_and_holdout():
    lab = prep.split_interpolation(1000, seed=3)
    assert np.bincount(lab).tolist() == [800, 100, 100]
    t = pd.date_range("2019-01-01", periods=24 * 200, freq="1h")
    lab = prep.split_extrapolation(t, "2019-05-01", "2019-06-01", seed=0)
    assert (lab[(t >= "2019-05-01") & (t < "2019-06-01")] == prep.TEST).all()
    val_days = pd.DatetimeIndex(t[lab == prep.VAL]).normalize().unique()
    assert 0.07 < len(val_days) / 169 < 0.13  # about a tenth of the remaining days
    with pytest.raises(UserError, match="no samples"):
        prep.split_extrapolation(t, "2030-01-01", "2030-07-01", seed=0)
    table = pd.DataFrame({"flux_umol_m2_s": 1.0, "precip_mm": 0.0}, index=t)
    table.loc["2019-03-10", "precip_mm"] = 10.0
    start, end = prep.default_holdout(table, months=2)
    assert start == pd.Timestamp("2019-03-01") and end == pd.Timestamp("2019-05-01")


def test_scaler_target_transform_round_trip():
    table = pd.DataFrame({"soil_temp_c": np.arange(10.0), "precip_mm": np.r_[np.zeros(5), np.ones(5)]})
    y = np.linspace(0.1, 3, 10)
    sc = prep.Scaler.fit(table, np.arange(5), ["soil_temp_c", "precip_mm"], y[:5], "log")
    assert np.allclose(sc.flux(sc.y(y)), y, rtol=1e-5)
    assert sc.mean["soil_temp_c"] == 2.0  # fitted on the training rows only


def test_rain_pulse_detection_and_skill():
    t = pd.date_range("2019-01-01", periods=24 * 30, freq="1h")
    p = pd.Series(0.0, index=t)
    p["2019-01-15 12:00"] = 12.0
    p["2019-01-16 03:00"] = 3.0  # same event
    ev = detect_events(p, dry_days=7, min_rain_mm=5)
    assert list(ev.onset) == [pd.Timestamp("2019-01-15 12:00")]
    obs = pd.Series(1.0, index=t)
    obs["2019-01-15 18:00"] = 4.0
    sim = pd.Series(1.0, index=t)
    sim["2019-01-15 20:00"] = 2.0
    res = pulse_skill(ev, obs, {"m": sim}).iloc[0]
    assert res.peak_ratio == pytest.approx(0.5) and res.timing_error_hours == pytest.approx(2.0)


@pytest.mark.realdata
def test_hn1_chamber_reader(data_root):
    rec, counts = read_hn1_chamber(data_root / "sites/us-hn1/Hn1_chamber.csv")
    assert (
        counts["raw"]
        == counts["kept"] + counts["dropped_bad_time"] + counts["dropped_missing_flux"] + counts["dropped_low_r2"]
    )
    assert rec["time"].min() >= pd.Timestamp("2018-07-01") and rec["flux_umol_m2_s"].between(0, 10).all()


@pytest.mark.realdata
def test_wkg_tiny_end_to_end_cli(data_root, tmp_path):
    """A few weeks of Walnut Gulch through the CLI: every output of the run folder is written."""
    from typer.testing import CliRunner

    from soilco2.cli import app

    cfg = tmp_path / "wkg.yaml"
    cfg.write_text(f"""
site: {{name: US-Wkg, source: cosore, dataset: d20190617_SCOTT_WKG, tower_site: us-wkg,
        tower_drivers: [precip_mm], start: "2018-06-01", end: "2018-08-15"}}
data_root: {data_root}
out_dir: {tmp_path / "run"}
models: [pastfuture_lstm, oneway_lstm, mlp_pastfuture, q10, q10_swc_logistic]
scenarios: {{holdout_start: "2018-07-20", holdout_end: "2018-08-15"}}
sweep: {{past_hours: [12, 24]}}
search: {{past_hours: 12, hidden: [8], lr: [0.01]}}
train: {{epochs: 2, batches_per_epoch: 5, batch_size: 64, ensemble: 2}}
show_progress: false
""")
    res = CliRunner().invoke(app, ["subdaily", "run", str(cfg)])
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    for f in (
        "mi.parquet",
        "sweep.parquet",
        "predictions.nc",
        "summary.json",
        "index.html",
        "figures/sweep.png",
        "figures/mi_lags.png",
        "rain_pulses.parquet",
        "scalers.json",
    ):
        assert (run / f).exists(), f
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["extrapolation"]) >= {"pastfuture_lstm", "oneway_lstm", "q10"}
    assert summary["holdout"]["holdout_start"].startswith("2018-07-20")
    sweep = pd.read_parquet(run / "sweep.parquet")
    assert set(sweep.past_hours.dropna()) == {12.0, 24.0}
    import xarray as xr

    assert cf_errors(run / "predictions.nc") == []
    with xr.open_dataset(run / "predictions.nc") as ds:
        assert ds["obs"].attrs["units"] == "umol m-2 s-1"
        assert ds["split"].attrs["flag_meanings"] == "not_a_sample train validation test"
        assert "Q10" in ds["q10"].attrs["long_name"] and "torch" not in ds["q10"].attrs["long_name"]
        assert (ds["split"] == 2).any()
        # the headline torch prediction is the 2-seed ensemble, not the single seed of the sweep
        h = summary["headline_past_hours"]["extrapolation"]
        ex = ds.sel(scenario="extrapolation")
        single = ex["pastfuture_lstm_sweep"].sel(past_hours=h)
        assert np.isfinite(ex["pastfuture_lstm"]).any() and not np.allclose(
            ex["pastfuture_lstm"], single, equal_nan=True
        )
    with xr.open_dataset(run / "predictions.nc") as ds:  # the page's series figure holds the model lines
        from soilco2.subdaily.page import test_series_figure

        lines = {ln.get_label(): ln for ln in test_series_figure(ds.load(), "extrapolation").axes[0].lines}
        assert all(np.isfinite(lines[m].get_ydata()).sum() > 10 for m in ("pastfuture_lstm", "oneway_lstm"))
    html = (run / "index.html").read_text()
    assert "<pre>" not in html and "sweep.png</figcaption>" not in html  # no JSON dump, no file-name captions
    if browser_available():
        assert_page_reads_well(run / "index.html")
    head = summary["extrapolation"]["pastfuture_lstm"]
    assert head["members"] == 2 and "single_seed" in head and summary["extrapolation"]["q10"]["members"] is None
    ens = sweep[(sweep.members == 2) & (sweep.split == "test") & (sweep.scenario == "extrapolation")]
    assert set(ens.model) == {"pastfuture_lstm", "oneway_lstm", "mlp_pastfuture"} and set(ens.past_hours) == {h}
    assert ens.set_index("model").loc["pastfuture_lstm", "nse"] == pytest.approx(head["nse"])
    # the sweep's fits on a two-worker local Dask cluster: the same numbers as in this process
    cfg.write_text(
        cfg.read_text()
        .replace("sweep: {past_hours: [12, 24]}", "sweep: {past_hours: [12, 24], n_workers: 2}")
        .replace(str(tmp_path / "run"), str(tmp_path / "run2"))
    )
    res = CliRunner().invoke(app, ["subdaily", "run", str(cfg)])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(sweep, pd.read_parquet(tmp_path / "run2" / "sweep.parquet"))


@pytest.mark.realdata
def test_holdout_outside_data_is_a_user_error(data_root, tmp_path):
    from typer.testing import CliRunner

    from soilco2.cli import app

    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"""
site: {{name: US-Wkg, dataset: d20190617_SCOTT_WKG, tower_site: us-wkg, tower_drivers: [precip_mm],
        start: "2018-06-01", end: "2018-07-15"}}
data_root: {data_root}
out_dir: {tmp_path / "run"}
scenarios: {{run: [extrapolation], holdout_start: "2025-01-01"}}
sweep: {{past_hours: [12]}}
show_progress: false
""")
    res = CliRunner().invoke(app, ["subdaily", "run", str(cfg)])
    assert isinstance(res.exception, UserError)
    assert "outside the data" in str(res.exception)


@pytest.mark.realdata
def test_q10_only_run_has_no_headline_length(data_root, tmp_path):
    """A run with only Q10-family models (no torch model, so no past length and no seed ensemble)."""
    from soilco2.subdaily.config import SubdailyConfig
    from soilco2.subdaily.run import run

    cfg = SubdailyConfig.model_validate(
        {
            "site": {
                "name": "US-Wkg",
                "source": "cosore",
                "dataset": "d20190617_SCOTT_WKG",
                "tower_site": "us-wkg",
                "tower_drivers": ["precip_mm"],
                "start": "2018-06-01",
                "end": "2018-08-15",
            },
            "data_root": str(data_root),
            "out_dir": str(tmp_path / "run"),
            "models": ["q10", "lloyd_taylor"],
            "scenarios": {"holdout_start": "2018-07-20", "holdout_end": "2018-08-15"},
            "sweep": {"past_hours": [12]},
            "search": {"past_hours": 12},
            "train": {"ensemble": 3},
            "show_progress": False,
        }
    )
    s = run(cfg)
    assert set(s["extrapolation"]) == {"q10", "lloyd_taylor"}
    assert s["extrapolation"]["q10"]["members"] is None and np.isnan(s["headline_past_hours"]["extrapolation"])
