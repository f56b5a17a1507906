"""S3 global pipeline: areas and totals, stratified bootstrap, quantile forest, grouped CV,
config errors, and a tiny real-data run that writes every output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cf_checker import cf_errors
from page_checks import require_browser
from soilco2.config import load_config
from soilco2.errors import UserError
from soilco2.global_.config import GlobalConfig, StrataConfig
from soilco2.global_.covariates import COVARIATES, location_groups
from soilco2.global_.cv import grouped_folds
from soilco2.global_.run import land_area_m2
from soilco2.global_.strata import assign_strata, stratified_bootstrap, stratum_weights
from soilco2.models.forest import QuantileForest, quantile_name
from soilco2.sources.grids import cell_area_m2, total_pg_c_yr


# --------------------------------------------------------------------------- areas and totals
def test_cell_areas_sum_to_the_sphere():
    lat = np.arange(-89.75, 90, 0.5)
    total = cell_area_m2(lat).sum() * 720
    assert total == pytest.approx(4 * np.pi * 6371007.2**2, rel=1e-9)


@pytest.fixture(scope="module")
def grid(data_root):
    from soilco2.global_.covariates import covariate_grid

    return covariate_grid(data_root)


@pytest.mark.realdata
def test_land_area_and_constant_map_total(grid):
    land = grid["cell_area_m2"] * grid["land_fraction"]
    assert 1.3e14 < land.sum() < 1.5e14  # Earth's land incl. Antarctica ~1.49e14 m2
    total = total_pg_c_yr(np.full(len(grid), 1000.0), land_area_m2(grid))
    assert total == pytest.approx(land.sum() * 1000 / 1e15)
    assert 130 < total < 150  # 1000 g C m-2 yr-1 over all land = ~148 Pg C/yr
    ok = grid[grid["complete"]]
    assert (ok[list(COVARIATES)].notna().all()).all()
    assert (
        0.85 < (ok["cell_area_m2"] * ok["land_fraction"]).sum() / land.sum() < 0.95
    )  # Antarctica, ice, coasts unmapped


@pytest.mark.realdata
def test_training_table_counts_every_drop_once(grid):
    from soilco2.global_.covariates import training_table

    f = dict(flag_no_coords=False, flag_in_sea=False, flag_mat_mismatch=False, qc_problem=False, flag_duplicate=False)
    rows = [
        dict(lat=42.54, lon=-72.17, rs_annual_gc_m2_yr=700.0, **f),  # Harvard Forest: kept
        dict(lat=56.46, lon=-99.97, rs_annual_gc_m2_yr=300.0, **f),  # BOREAS (BIOME4 whc missing -> -1): kept
        dict(lat=np.nan, lon=np.nan, rs_annual_gc_m2_yr=500.0, **{**f, "flag_no_coords": True}),
        dict(lat=0.0, lon=-140.0, rs_annual_gc_m2_yr=500.0, **{**f, "flag_in_sea": True, "qc_problem": True}),
        dict(lat=50.0, lon=10.0, rs_annual_gc_m2_yr=500.0, **{**f, "qc_problem": True, "flag_duplicate": True}),
        dict(lat=50.0, lon=10.0, rs_annual_gc_m2_yr=500.0, **{**f, "flag_duplicate": True}),
        dict(lat=-30.0, lon=-100.0, rs_annual_gc_m2_yr=500.0, **f),  # Pacific, not flagged: off the grid
        dict(lat=50.0, lon=10.0, rs_annual_gc_m2_yr=np.nan, **f),  # no Rs: not counted
    ]
    table, acc = training_table(pd.DataFrame(rows), grid, "rs")
    assert acc == {
        "flux": "rs",
        "raw": 7,
        "dropped_no_coords": 1,
        "dropped_in_sea": 1,
        "dropped_mat_mismatch": 0,
        "dropped_qc_problem": 1,
        "dropped_duplicate": 1,
        "dropped_off_land_grid": 1,
        "dropped_missing_covariate": 0,
        "kept": 2,
    }
    assert table["flux_gc_m2_yr"].tolist() == [700.0, 300.0]
    assert table.loc[1, "whc_mm"] == -1.0 and -6 < table.loc[1, "mat_c"] < 0 and table.loc[0, "whc_mm"] > 0
    with pytest.raises(UserError, match="flag_in_sea"):
        training_table(pd.DataFrame(rows).drop(columns="flag_in_sea"), grid, "rs")


# --------------------------------------------------------------------------- strata and bootstrap
def test_extrapolation_counts_covariates_outside_the_training_range():
    from soilco2.global_.run import covariates_outside_training

    train = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [10.0, 20.0, 30.0]})
    cells = pd.DataFrame({"a": [1.0, 3.0, -1.0], "b": [15.0, 15.0, 40.0]})
    assert covariates_outside_training(train, cells, ["a", "b"]).tolist() == [0, 1, 2]


def test_strata_ids_follow_the_edges():
    s = StrataConfig(mat_edges_c=[0, 10], map_edges_mm=[500])
    sid = assign_strata([-5, 5, 5, 25], [100, 100, 900, 900], s)
    assert sid.tolist() == [0, 2, 3, 5]


def test_bootstrap_reproduces_area_shares():
    rng = np.random.default_rng(1)
    # 1000 records: stratum 0 over-sampled (70 %), stratum 2 rare (5 %); land: 20/30/50 %
    strata = rng.choice([0, 1, 2], size=1000, p=[0.7, 0.25, 0.05])
    groups = np.arange(1000)
    area = pd.Series({0: 0.2, 1: 0.3, 2: 0.5})
    w = stratum_weights(strata, area, groups, min_locations=1)
    assert w["target_share"].sum() == pytest.approx(1.0)
    assert w.loc[2, "weight"] == pytest.approx(0.5 / np.mean(strata == 2))
    draws = np.concatenate([stratified_bootstrap(strata, w, np.random.default_rng(k)) for k in range(20)])
    share = pd.Series(strata[draws]).value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(share.to_numpy(), [0.2, 0.3, 0.5], atol=0.01)


def test_sparse_and_empty_strata_are_not_up_weighted():
    strata = np.array([0] * 50 + [1] * 3)  # stratum 1: 3 records at one location; stratum 2: none
    groups = np.array(list(range(50)) + [99] * 3)
    area = pd.Series({0: 0.3, 1: 0.3, 2: 0.4})
    w = stratum_weights(strata, area, groups, min_locations=5)
    assert not w.loc[1, "covered"] and w.loc[1, "weight"] == pytest.approx(1.0)
    assert w.loc[2, "weight"] == 0 and w.loc[2, "target_share"] == 0
    assert w["target_share"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- forest
def test_forest_recovers_a_known_law_with_calibrated_intervals():
    rng = np.random.default_rng(0)

    def sample(n):
        X = rng.uniform(-1, 1, size=(n, 3))
        return X, 500 + 300 * X[:, 0] + 100 * X[:, 1] ** 2 + rng.normal(0, 50, n)  # noise sd 50

    X, y = sample(3000)
    Xt, yt = sample(1000)
    m = QuantileForest(100, min_samples_leaf=10, max_features=1.0, seed=0).fit(X, y)
    truth = 500 + 300 * Xt[:, 0] + 100 * Xt[:, 1] ** 2
    assert np.sqrt(np.mean((m.predict(Xt) - truth) ** 2)) < 30
    q = m.predict_table(Xt)
    assert list(q.columns) == ["mean", "q05", "q50", "q95"]
    cover = np.mean((yt >= q["q05"]) & (yt <= q["q95"]))
    assert 0.83 < cover < 0.96
    assert quantile_name(0.975) == "q97.5"


# --------------------------------------------------------------------------- grouped CV
def test_grouped_folds_never_share_a_location():
    rng = np.random.default_rng(3)
    lat = rng.choice(np.linspace(-40, 60, 80), size=900) + rng.uniform(0, 0.2, 900)
    lon = rng.choice(np.linspace(-120, 120, 80), size=900)
    groups = location_groups(lat, lon, 0.5)
    folds = grouped_folds(groups, 5, np.random.default_rng(0))
    per_group = pd.Series(folds).groupby(groups).nunique()
    assert (per_group == 1).all()
    sizes = np.bincount(folds)
    assert sizes.min() > 0.6 * sizes.max()
    with pytest.raises(UserError, match="cv_folds"):
        grouped_folds(np.array([1, 1, 2]), 5, np.random.default_rng(0))


# --------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    "text, field",
    [
        ("n_bootstrap: 0\n", "n_bootstrap"),
        ("n_trees: 10\ncolour: red\n", "colour"),
        ("quantiles: [0.1, 0.5, 0.9]\n", "quantiles"),
        ("strata:\n  mat_edges_c: [10, 0]\n", "strata.mat_edges_c"),
        ("drop_flags: [flag_unknown]\n", "drop_flags"),
    ],
)
def test_bad_config_names_the_field(tmp_path, text, field):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as err:
        load_config(p, GlobalConfig)
    assert err.value.field.startswith(field) and str(p) in str(err.value)


def test_cli_bad_config_is_one_line(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "bad.yaml"
    p.write_text("n_bootstrap: 0\n")
    res = subprocess.run([sys.executable, "-m", "soilco2.cli", "global", "run", str(p)], capture_output=True, text=True)
    assert res.returncode == 2 and "n_bootstrap" in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------------- tiny real run
@pytest.mark.realdata
def test_tiny_real_run_writes_every_output(data_root, tmp_path):
    import xarray as xr

    from soilco2.global_.run import run_global

    cfg = GlobalConfig(
        data_root=str(data_root), out_dir=str(tmp_path / "run"), n_bootstrap=2, n_trees=8, cv_folds=3, seed=4
    )
    out = run_global(cfg, progress=False)
    for name in (
        "config.yaml",
        "training_table.parquet",
        "accounting.json",
        "cv_metrics.parquet",
        "maps.nc",
        "totals.parquet",
        "summary.json",
        "vegetation_bins.parquet",
        "run_scores.parquet",
        "index.html",
        "figures/maps_median.png",
        "figures/totals.png",
    ):
        assert (out / name).is_file(), name
    acc = json.loads((out / "accounting.json").read_text())
    for flux in ("rs", "rh"):
        a = acc[flux]
        assert a["raw"] == a["kept"] + sum(v for k, v in a.items() if k.startswith("dropped_"))
    table = pd.read_parquet(out / "training_table.parquet")
    assert (table.groupby("flux").size() == pd.Series({"rh": acc["rh"]["kept"], "rs": acc["rs"]["kept"]})).all()
    assert table[list(COVARIATES)].notna().all().all()
    totals = pd.read_parquet(out / "totals.parquet")
    assert len(totals) == 2
    np.testing.assert_allclose(totals["ra_pg_c_yr"], totals["rs_pg_c_yr"] - totals["rh_pg_c_yr"], rtol=1e-5)
    assert 40 < totals["rs_pg_c_yr"].mean() < 150 and 20 < totals["rh_pg_c_yr"].mean() < 100
    assert cf_errors(out / "maps.nc") == []
    with xr.open_dataset(out / "maps.nc") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8" and ds.sizes == {"lat": 360, "lon": 720, "nv": 2}
        assert 1961 <= ds["time"].dt.year <= 2019  # the middle of the training records' years
        for f in ("rs", "rh", "ra"):
            for s in ("mean", "median", "sd", "mad", "p05", "p95"):
                v = ds[f"{f}_{s}"]
                assert v.attrs["units"] == "g m-2 yr-1" and "carbon" in v.attrs["long_name"]
            assert ds[f"{f}_cv_pct"].attrs["units"] == "percent"
            assert (ds[f"{f}_p05"] <= ds[f"{f}_p95"] + 1e-3).where(ds[f"{f}_median"].notnull()).fillna(True).all()
        for r in ("rh_rs", "ra_rs"):
            assert float(ds[f"{r}_mean"].min()) >= 0 and float(ds[f"{r}_mean"].max()) <= 1 + 1e-6
        # Rh <= Rs by construction: Ra is never negative, in any run (p05 of the runs) or cell
        assert float(ds["ra_p05"].min()) >= -1e-3
        # the map total recomputed from the file matches the draws' median within the draws' spread
        w = ds["cell_area"] * ds["land_fraction"]
        rs_total = float((ds["rs_median"] * w).sum()) / 1e15
        assert totals["rs_pg_c_yr"].min() - 5 < rs_total < totals["rs_pg_c_yr"].max() + 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lu2021_pg_c_yr"]["rs"] == 85.5 and {r["flux"] for r in summary["cv"]} == {"rs", "rh"}
    assert summary["ra_negative_cell_share"] == 0 and summary["ra_negative_in_any_run_cell_share"] == 0
    assert 0 <= summary["independent_rh_above_rs_cell_share"] <= 1
    pp = summary["paper_protocol"]
    assert set(pp) == {"rs", "rh"} and pp["rs"]["shared_cell_share"] > 0.5  # random splits share cells
    ts = summary["total_statistics_pg_c_yr"]["rs"]
    assert ts["p05"] <= ts["median"] <= ts["p95"] and ts["sd"] >= 0 and ts["mad"] >= 0
    bins = pd.read_parquet(out / "vegetation_bins.parquet")
    rs_bins = bins[bins["table"] == "rs"].set_index("bin")
    assert rs_bins["area_share"].sum() == pytest.approx(1.0) and rs_bins["n_records"].sum() == acc["rs"]["kept"]
    # the bundled soil models through the generic model-file path: units checked by their totals
    from pathlib import Path

    from soilco2.config import load_config
    from soilco2.global_.benchmark.config import BenchmarkConfig
    from soilco2.global_.benchmark.run import run_benchmark

    bcfg = load_config(Path(__file__).parents[1] / "configs" / "global_benchmark.yaml", BenchmarkConfig)
    bench = run_benchmark(out, bcfg.model_copy(update={"data_root": str(data_root), "figures": False}), progress=False)
    scores = pd.read_parquet(bench / "scores.parquet").set_index("model")
    assert set(scores.index) == {"casa_clm", "corpse", "mimics"} and set(scores["flux"]) == {"rh"}
    assert scores["total_pg_c_yr"].between(50, 60).all()  # 54.3 / 55.0 / 55.0 Pg C/yr (g C m-2 d-1 x 365)
    assert (scores["srdb_n"] > 0.95 * acc["rh"]["kept"]).all()
    assert scores[["bias_score", "spatial_score", "overall_score"]].stack().between(0, 1).all()
    pub = pd.read_parquet(bench / "published.parquet")
    assert {"CMIP6", "ISIMIP2a", "Hashimoto et al. 2015", "Tang et al. 2020"} <= set(pub["source"])
    assert (pub["source"] == "CMIP6").sum() == 15
    sites = pd.read_parquet(bench / "isimip_sites.parquet")
    assert len(sites) == 8 and (sites["n"] > 50).all()
    eco = pd.read_parquet(bench / "ecosystems.parquet")
    assert eco["ours_pg_c_yr"].sum() == pytest.approx(summary["totals_pg_c_yr"]["rh"]["mean"], rel=0.1)
    # same seed -> identical numbers
    out2 = run_global(cfg.model_copy(update={"out_dir": str(tmp_path / "run2"), "figures": False}), progress=False)
    pd.testing.assert_frame_equal(totals, pd.read_parquet(out2 / "totals.parquet"))


@pytest.mark.realdata
def test_tiny_run_with_climate_strata_and_independent_rh(data_root, tmp_path):
    """The earlier method stays available: a stratified bootstrap and an Rh forest of its own."""
    from soilco2.global_.run import run_global

    cfg = GlobalConfig(
        data_root=str(data_root),
        out_dir=str(tmp_path / "run"),
        n_bootstrap=2,
        n_trees=8,
        cv_folds=3,
        seed=1,
        sampling="climate_strata",
        rh_model="independent",
        figures=False,
    )
    out = run_global(cfg, progress=False)
    assert (out / "strata.parquet").is_file() and not (out / "run_scores.parquet").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["paper_protocol"] is None and summary["independent_rh_above_rs_cell_share"] is None


@pytest.mark.realdata
def test_runs_on_two_dask_workers_give_the_same_numbers(data_root, tmp_path):
    """The runs are pure functions of (seed, run): a two-worker local cluster maps the same."""
    from soilco2.global_.run import run_global

    base = dict(
        data_root=str(data_root),
        n_bootstrap=4,
        n_trees=8,
        cv_folds=3,
        seed=2,
        figures=False,
        chunk_runs=1,
        quantile_every=2,
        explain_runs=1,
        crossing_runs=1,
    )
    one = run_global(GlobalConfig(out_dir=str(tmp_path / "one"), **base), progress=False)
    two = run_global(GlobalConfig(out_dir=str(tmp_path / "two"), n_workers=2, **base), progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(one / "totals.parquet"), pd.read_parquet(two / "totals.parquet"))
    pd.testing.assert_frame_equal(
        pd.read_parquet(one / "run_scores.parquet"), pd.read_parquet(two / "run_scores.parquet")
    )


@pytest.mark.realdata
@pytest.mark.browser
def test_global_page_in_headless_chromium(data_root, tmp_path):
    """The S3 run's page: no console error, every figure decodes."""

    from soilco2.global_.run import run_global

    require_browser()
    from soilco2.report.browser import check_page

    cfg = GlobalConfig(
        data_root=str(data_root),
        out_dir=str(tmp_path / "run"),
        n_bootstrap=3,
        n_trees=8,
        cv_folds=3,
        seed=0,
        explain_runs=2,
        quantile_every=2,
    )
    out = run_global(cfg, progress=False)
    res = check_page(out / "index.html", table_id="none")
    assert res.console_errors == [], res.console_all
    assert res.n_images >= 7 and res.broken_images == []
    assert res.clipped_headers == [] and res.page_width <= 1280, (res.clipped_headers, res.page_width)
    # the process-model benchmark page
    from pathlib import Path

    from soilco2.config import load_config
    from soilco2.global_.benchmark.config import BenchmarkConfig
    from soilco2.global_.benchmark.run import run_benchmark

    bcfg = load_config(Path(__file__).parents[1] / "configs" / "global_benchmark.yaml", BenchmarkConfig)
    bench = run_benchmark(out, bcfg.model_copy(update={"data_root": str(data_root)}), progress=False)
    res = check_page(bench / "index.html", table_id="none")
    assert res.console_errors == [], res.console_all
    assert res.n_images == 2 and res.broken_images == []
    assert res.clipped_headers == [] and res.page_width <= 1280, (res.clipped_headers, res.page_width)
    assert 'id="scores"' in (bench / "index.html").read_text()
