"""S3 predictor selection (every subset by grouped-CV RMSE) and permutation importance, on
synthetic data with a known law, and `covariates: auto` on a tiny real run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from soilco2.config import load_config
from soilco2.errors import UserError
from soilco2.global_.config import GlobalConfig
from soilco2.global_.selection import all_subsets, chosen, select_flux


def _known_law(n=600, seed=0):
    """y depends on x0 and x1 only; x2..x4 are noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 5))
    y = 800 * X[:, 0] + 400 * X[:, 1] ** 2 + rng.normal(0, 20, n)
    folds = rng.integers(0, 5, n)
    return X, y, folds


def test_all_subsets_counts():
    assert len(all_subsets(4)) == 15 and all_subsets(2) == [(0,), (1,), (0, 1)]
    assert len(set(all_subsets(10))) == 2**10 - 1


def test_selection_finds_the_true_predictors():
    X, y, folds = _known_law()
    cfg = GlobalConfig(min_samples_leaf=5, max_features=1.0, selection={"n_trees": 20})
    names = ["x0", "x1", "x2", "x3", "x4"]
    table = select_flux(X, y, folds, names, cfg, progress=False)
    assert len(table) == 31 and list(table["rank"]) == list(range(1, 32))
    assert table["rmse"].is_monotonic_increasing
    assert chosen(table) == ["x0", "x1"]
    assert chosen(table, "one_se") == ["x0", "x1"]  # x0 alone is far outside one SE
    assert table.loc[table["covariates"] == "x0,x1", "r2"].iloc[0] > 0.9
    # every subset without x0 is worse than every subset with it
    with_x0 = table[table["x0"] == 1]["rmse"]
    assert table[table["x0"] == 0]["rmse"].min() > with_x0.max()


def test_selection_on_two_dask_workers_gives_the_same_table():
    X, y, folds = _known_law(n=200)
    cfg = GlobalConfig(min_samples_leaf=5, selection={"n_trees": 5, "chunk_subsets": 4})
    one = select_flux(X[:, :3], y, folds, ["a", "b", "c"], cfg, progress=False)
    two = select_flux(X[:, :3], y, folds, ["a", "b", "c"], cfg.model_copy(update={"n_workers": 2}), progress=False)
    pd.testing.assert_frame_equal(one, two)


def test_permutation_importance_ranks_the_strong_predictor_first():
    from sklearn.ensemble import RandomForestRegressor

    from soilco2.global_.runs import explain_run

    X, y, _ = _known_law(n=800, seed=3)
    train, test = np.arange(600), np.arange(600, 800)
    cfg = GlobalConfig(covariates=["mat_c", "map_mm", "tmin_c", "prec_cv", "whc_mm"], rh_model="independent")
    model = RandomForestRegressor(50, min_samples_leaf=5, random_state=0).fit(X[train], y[train])
    d = {"X": X, "y": y, "covariates": cfg.covariates_of("rs")}
    rows = explain_run(0, {"rs": model, "rh": model}, {"rs": (train, test), "rh": (train, test)},
                       {"rs": d, "rh": d}, cfg)  # fmt: skip
    imp = pd.DataFrame([r for r in rows if r["kind"] == "importance" and r["flux"] == "rs"])
    ranked = imp.sort_values("value", ascending=False)["covariate"].tolist()
    assert ranked[:2] == ["mat_c", "map_mm"]  # x0 (800 x) before x1 (400 x^2)
    assert (
        imp.set_index("covariate").loc[["tmin_c", "prec_cv", "whc_mm"], "value"].abs().max() < 0.05 * imp["value"].max()
    )
    pdp = pd.DataFrame([r for r in rows if r["kind"] == "partial_dependence" and r["flux"] == "rs"])
    curve = pdp[pdp["covariate"] == "mat_c"].sort_values("x")["value"].to_numpy()
    assert curve[-1] - curve[0] > 500  # the law's slope shows in the partial dependence


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("covariates: [mat_c, leaf_area]\n", "covariates", "leaf_area"),
        ("covariates: {rs: [mat_c]}\n", "covariates", "both rs and rh"),
        ("covariates: automatic\n", "covariates", ""),
        ("selection:\n  candidates: [mat_c, map_mm, sun_pct_mean, tmin_c, prec_cv, whc_mm, soc_mg_ha, abs_lat_deg,"
         " gs_precip_mm, gs_length_months, sw_mj_m2_day, aridity_index, lc_forest, lc_shrub, lc_savanna, lc_grass,"
         " lc_crop]\n", "selection.candidates", "131,071 subsets"),
        ("selection:\n  candidates: [mat_c, pressure]\n", "selection.candidates", "pressure"),
    ],
)  # fmt: skip
def test_bad_selection_config_names_the_field(tmp_path, text, field, words):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as err:
        load_config(p, GlobalConfig)
    assert err.value.field.startswith(field) and words in str(err.value)


@pytest.mark.realdata
def test_tiny_run_selects_covariates_per_flux(data_root, tmp_path):
    from soilco2.global_.run import run_global

    cfg = GlobalConfig(
        data_root=str(data_root),
        out_dir=str(tmp_path / "run"),
        n_bootstrap=2,
        n_trees=8,
        cv_folds=3,
        figures=False,
        explain_runs=1,
        covariates="auto",
        selection={"candidates": ["mat_c", "map_mm", "soc_mg_ha", "ndvi_max"], "n_trees": 5},
    )
    out = run_global(cfg, progress=False)
    sel = pd.read_parquet(out / "selection.parquet")
    assert sorted(sel.groupby("flux").size().to_dict().items()) == [("rh", 15), ("rs", 15)]
    summary = json.loads((out / "summary.json").read_text())
    picked = summary["selected_covariates"]
    for flux in ("rs", "rh"):
        best = sel[sel["flux"] == flux].iloc[0]["covariates"].split(",")
        assert picked[flux] == best == summary["selection"][flux]["chosen"]
    imp = pd.read_parquet(out / "importance.parquet")
    assert set(imp[imp["flux"] == "rs"]["covariate"]) == set(picked["rs"])
    assert set(imp[imp["flux"] == "rh"]["covariate"]) == set(picked["rs"]) | set(picked["rh"])
    assert summary["ra_negative_cell_share"] == 0
