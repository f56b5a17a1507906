"""The daily report on a synthetic run folder (contracts.md layout): files, tables, self-containment,
bad input, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from daily_run_factory import make_run
from page_checks import require_browser
from soilco2.commands.daily_report import report
from soilco2.daily.report.build import build_report
from soilco2.errors import UserError

N_SITES = 9


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run") / "synthetic", n_sites=N_SITES)
    index = build_report(run)
    return run, index


def test_report_files_and_tables(built):
    run, index = built
    out = run / "report"
    assert index == out / "index.html" and index.stat().st_size > 50_000
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert {
        "site_map.png",
        "series.png",
        "temperature_response.png",
        "metrics_vs_obs_days.png",
        "extremes_spikes.png",
        "mat_map.png",
        "annual_vs_srdb.png",
        "error_parts.png",
    } <= set(pngs)
    per_site = pd.read_parquet(out / "tables" / "per_site.parquet")
    assert len(per_site) == N_SITES and per_site["site"].is_unique
    for col in (
        "n_obs_days",
        "acf_1",
        "acf_182",
        "acf_365",
        "summer_minus_winter_umol_m2_s",
        "pet_mm_yr",
        "aridity_pet_p",
        "test_nse",
        "class",
    ):
        assert col in per_site
    assert (per_site["acf_365"] > 0.3).all()  # synthetic flux is strongly annual
    shares = per_site[["test_level_share", "test_amplitude_share", "test_timing_share"]]
    assert shares.notna().all().all() and (shares >= 0).all().all()
    assert shares.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert (per_site["test_nse_level_removed"] >= per_site["test_nse"] - 1e-9).all()  # removing an error only helps
    parts = pd.read_parquet(out / "tables" / "error_parts.parquet")
    assert parts.loc[0, "group"] == "all" and parts.loc[0, "n_sites"] == N_SITES
    assert "Why the test error" in index.read_text(encoding="utf-8")
    drivers = pd.read_parquet(out / "tables" / "share_good.parquet").query("grouping == 'in-situ drivers (test days)'")
    assert drivers["n_sites"].sum() == N_SITES and len(drivers) == 5  # the factory gives every class
    assert (parts["grouping"] == "in-situ drivers (test days)").any()
    assert per_site["test_insitu_drivers"].notna().all()
    assert "By the in-situ drivers measured on the test days" in index.read_text(encoding="utf-8")
    corr = pd.read_parquet(out / "tables" / "correlations.parquet")
    assert set(corr["outliers"]) == {"kept", "iqr_removed"}
    assert set(corr.loc[corr["outliers"] == "iqr_removed", "metric"]) == {"test_nse"}
    ext = pd.read_parquet(out / "tables" / "extremes.parquet")
    assert set(ext["part"]) == {"bottom_5pct", "middle_90pct", "top_5pct"}
    spk = pd.read_parquet(out / "tables" / "spikes.parquet")
    assert (spk.loc[(spk.part == "spikes") & (spk.split == "train"), "n"] > 0).all()  # factory adds pulses
    # partial days (the factory's every 23rd observed day: 8 records and a noisier mean)
    share = per_site["test_partial_day_share"]
    assert share.between(0.02, 0.08).all()
    accurate = per_site["site"].isin([f"d2019_SITE_{i:02d}" for i in range(3)])  # the "LSTM" errs least there
    assert (per_site.loc[accurate, "test_partial_mse_share"] > 3 * share[accurate]).all()
    assert (per_site.loc[accurate, "test_nse_full_days"] > per_site.loc[accurate, "test_nse"]).all()
    pooled = pd.read_parquet(out / "tables" / "pooled_parts.parquet")
    assert {"partial_days", "full_days"} <= set(pooled["part"])
    assert "Partial days (fewer flux records than 50%" in index.read_text(encoding="utf-8")
    summary = pd.read_parquet(out / "tables" / "summary.parquet")
    assert {"lstm", "q10", "doy_climatology", "random_forest"} <= set(summary["model"])
    assert summary["model"].str.startswith("paper").sum() == 2


def test_report_matches_srdb_and_uses_grids(built, data_root):
    run, _ = built
    matches = pd.read_parquet(run / "report" / "tables" / "srdb_matches.parquet")
    assert set(matches["site"]) == {"d2019_SITE_00"}  # only the Harvard Forest site lies near SRDB records
    assert (matches["distance_km"] <= 5).all() and (matches["srdb_rs_gc_m2_yr"] > 0).all()
    per_site = pd.read_parquet(run / "report" / "tables" / "per_site.parquet").set_index("site")
    assert 400 < per_site.loc["d2019_SITE_00", "pet_mm_yr"] < 1000  # Hargreaves at 42.5° N, temperate
    diag = json.loads((run / "report" / "diagnostics.json").read_text())
    assert diag["srdb_agreement"]["n_sites"] == 1


def test_report_is_self_contained(built):
    _, index = built
    text = index.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)
    assert '<link rel="stylesheet"' not in text
    assert text.count("data:image/png;base64,") >= 9
    rows = re.search(r'<table id="site-table".*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    assert rows.count("<tr") == N_SITES
    for needle in ("02f32e8", "0.02", "26 of 82", "seed", "Hargreaves"):
        assert needle in text


def test_bad_run_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="run folder not found"):
        build_report(tmp_path / "nope")
    run = make_run(tmp_path / "r", n_sites=3, years=2)
    (run / "metrics.parquet").unlink()
    with pytest.raises(UserError, match="metrics.parquet"):
        build_report(run)


def test_run_without_record_counts(tmp_path):
    """Run folders written before predictions.nc carried obs_n: the report says so and skips the
    partial-day diagnostics."""
    import xarray as xr

    run = make_run(tmp_path / "r", n_sites=3, years=2)
    pred = xr.load_dataset(run / "predictions.nc").drop_vars("obs_n")
    pred.to_netcdf(run / "predictions.nc")
    text = build_report(run).read_text(encoding="utf-8")
    assert "predictions.nc has no obs_n" in text and "Partial days (" not in text
    assert "test_partial_mse_share" not in pd.read_parquet(run / "report" / "tables" / "per_site.parquet")


def test_cli_command(tmp_path):
    run = make_run(tmp_path / "r", n_sites=3, years=2)
    app = typer.Typer()
    app.command("report")(report)
    app.command("other")(lambda: None)
    res = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "index.html").is_file()


@pytest.mark.browser
def test_page_in_headless_chromium(built, tmp_path):
    require_browser()
    from soilco2.report.browser import check_page

    _, index = built
    shot = tmp_path / "report.png"
    res = check_page(index, screenshot=shot)
    assert res.console_errors == [], res.console_all
    assert res.n_images >= 9 and res.broken_images == []
    assert res.clipped_headers == [] and res.page_width <= 1280, (res.clipped_headers, res.page_width)
    assert res.table_rows == N_SITES
    assert sorted(res.sorted_first_cells, reverse=True) == res.sorted_first_cells  # clicked twice: descending
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("SOILCO2_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, os.path.join(keep, "report-screenshot.png"))


def test_a_truncated_summary_is_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    run = make_run(tmp_path / "r", n_sites=3, years=2)
    summary = run / "summary.json"
    summary.write_text(summary.read_text()[:50])
    cmd = [sys.executable, "-m", "soilco2.cli", "daily", "report", str(run), "--out", str(tmp_path / "rep")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "summary.json" in res.stderr and "daily evaluate" in res.stderr and not (tmp_path / "rep").exists()
