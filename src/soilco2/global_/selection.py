"""Complete combinatorial predictor selection for the S3 forests (``covariates: auto``).

Every non-empty subset of the candidate predictors is scored by grouped k-fold CV (the folds of
``global_cv``: no 0.5° location on both sides) with a random forest of ``selection.n_trees``
trees; subsets are ranked by the RMSE of all out-of-fold predictions. Every subset sees the same
folds and the same forest seed, so their differences are the predictors' and not the draw's.
Rs is selected on the Rs records; Rh on the Rh/Rs fraction of the records that report both (with
``rh_model: fraction``) or on the Rh records. The subsets run in chunks on Dask
(:func:`soilco2.parallel.map_tasks`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from soilco2.global_.config import GlobalConfig


def all_subsets(n: int) -> list[tuple[int, ...]]:
    """Every non-empty subset of ``range(n)`` (2^n - 1), smallest first."""
    return [s for k in range(1, n + 1) for s in combinations(range(n), k)]


def score_subsets(shared: dict, subsets: list[tuple[int, ...]]) -> list[dict]:
    """Grouped-CV RMSE and R² of one forest per subset (a Dask task: pure)."""
    from sklearn.ensemble import RandomForestRegressor

    X, y, folds, p = shared["X"], shared["y"], shared["folds"], shared["params"]
    k = int(folds.max()) + 1
    rows = []
    for subset in subsets:
        cols = list(subset)
        pred = np.empty_like(y)
        fold_rmse = []
        for f in range(k):
            test = folds == f
            m = RandomForestRegressor(
                p["n_trees"],
                min_samples_leaf=p["min_samples_leaf"],
                max_features=p["max_features"],
                random_state=p["seed"],
                n_jobs=1,
            ).fit(X[~test][:, cols], y[~test])
            pred[test] = m.predict(X[test][:, cols])
            fold_rmse.append(float(np.sqrt(np.mean((pred[test] - y[test]) ** 2))))
        rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
        rows.append(
            {
                "subset": subset,
                "rmse": rmse,
                "rmse_se": float(np.std(fold_rmse, ddof=1) / np.sqrt(k)),
                "r2": float(1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)),
            }
        )
    return rows


def select_flux(
    X: np.ndarray, y: np.ndarray, folds: np.ndarray, candidates: list[str], cfg: GlobalConfig, progress: bool = True
) -> pd.DataFrame:
    """Every subset of ``candidates`` (columns of ``X``) ranked by grouped-CV RMSE: one row per
    subset with ``rank``, ``covariates`` (comma-separated), ``n_covariates``, ``rmse``,
    ``rmse_se`` (SD of the fold RMSEs / sqrt(k)), ``r2`` and one 0/1 column per candidate."""
    from soilco2.parallel import map_tasks

    s = cfg.selection
    subsets = all_subsets(len(candidates))
    chunks = [subsets[a : a + s.chunk_subsets] for a in range(0, len(subsets), s.chunk_subsets)]
    params = {
        "n_trees": s.n_trees,
        "min_samples_leaf": cfg.min_samples_leaf,
        "max_features": cfg.max_features,
        "seed": cfg.seed,
    }
    shared = {"X": np.asarray(X, "f4"), "y": np.asarray(y, "f8"), "folds": np.asarray(folds), "params": params}
    parts = map_tasks(score_subsets, shared, chunks, n_workers=cfg.n_workers, scheduler_address=cfg.scheduler_address,
                      label=f"predictor subsets ({len(subsets)})", progress=progress)  # fmt: skip
    table = pd.DataFrame([r for part in parts for r in part])
    table["n_covariates"] = table["subset"].map(len)
    for k, name in enumerate(candidates):
        table[name] = table["subset"].map(lambda sub, k=k: int(k in sub))
    table["covariates"] = table["subset"].map(lambda sub: ",".join(candidates[k] for k in sub))
    table = table.drop(columns="subset").sort_values(["rmse", "n_covariates"], kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def chosen(table: pd.DataFrame, rule: str = "best") -> list[str]:
    """The subset the rule picks: ``best`` the lowest RMSE; ``one_se`` the smallest subset whose RMSE
    is within one standard error of the lowest (ties: the lower RMSE)."""
    row = table.iloc[0]
    if rule == "one_se":
        ok = table[table["rmse"] <= row["rmse"] + row["rmse_se"]]
        row = ok.sort_values(["n_covariates", "rmse"], kind="stable").iloc[0]
    return row["covariates"].split(",")


def select_covariates(tables: dict, cfg: GlobalConfig, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Selection for Rs and for Rh (the fraction forest's predictors with ``rh_model: fraction``):
    ``(table of every subset of both, with a 'flux' column; {flux: chosen list})``."""
    from soilco2.global_.covariates import location_groups
    from soilco2.global_.cv import FLUXES, grouped_folds

    cands = list(cfg.selection.candidates)
    out, picked = [], {}
    for flux in FLUXES:
        name = "pairs" if flux == "rh" and cfg.rh_model == "fraction" else flux
        t = tables[name]
        rng = np.random.default_rng([cfg.seed, 7, FLUXES.index(flux)])  # the folds of the grouped CV
        folds = grouped_folds(location_groups(t["lat"], t["lon"], cfg.cv_group_deg), cfg.cv_folds, rng)
        y = t["fraction" if name == "pairs" else "flux_gc_m2_yr"].to_numpy("f8")
        table = select_flux(t[cands].to_numpy("f8"), y, folds, cands, cfg, progress)
        table.insert(0, "flux", flux)
        table.insert(1, "target", "rh_over_rs" if name == "pairs" else f"{flux}_gc_m2_yr")
        picked[flux] = chosen(table, cfg.selection.rule)
        out.append(table)
    return pd.concat(out, ignore_index=True), picked


def selection_summary(table: pd.DataFrame, cfg: GlobalConfig) -> dict:
    """Per flux: subsets scored, the chosen one, the best RMSE and its standard error, and how many
    subsets lie within one standard error of the best (the ranking's noise floor)."""
    out = {"candidates": list(cfg.selection.candidates), "rule": cfg.selection.rule, "n_trees": cfg.selection.n_trees}
    for flux, t in table.groupby("flux", sort=False):
        best = t.iloc[0]
        out[flux] = {
            "subsets": int(len(t)),
            "chosen": chosen(t, cfg.selection.rule),
            "best": best["covariates"].split(","),
            "best_rmse": float(best["rmse"]),
            "best_rmse_se": float(best["rmse_se"]),
            "best_r2": float(best["r2"]),
            "within_one_se": int((t["rmse"] <= best["rmse"] + best["rmse_se"]).sum()),
            "all_candidates_rank": int(t.loc[t["n_covariates"] == len(cfg.selection.candidates), "rank"].iloc[0]),
        }
    return out
