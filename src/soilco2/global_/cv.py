"""Grouped cross-validation of the S3 forests: k folds of 0.5° locations, so no location is on
both sides (the headline skill); for Rh either its own forest or Rs × the Rh/Rs fraction (its
interval from the joint draw of both forests). The 5–95 % intervals are also conformalized under
the same folds (:mod:`soilco2.global_.intervals`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.global_.config import GlobalConfig

FLUXES = ("rs", "rh")


def grouped_folds(groups: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold (0..k-1) of each record; all records of one group share a fold. Groups are shuffled,
    then each goes to the fold with the fewest records so far (balanced folds)."""
    uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < k:
        raise UserError(f"only {len(uniq)} distinct locations for {k} CV folds", field="cv_folds")
    fold_of_group = np.empty(len(uniq), int)
    load = np.zeros(k, int)
    for g in rng.permutation(len(uniq)):
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += sizes[g]
    return fold_of_group[inverse]


def interval_metrics(obs, mean, lo, hi) -> dict:
    from soilco2 import metrics

    obs, mean = np.asarray(obs, "f8"), np.asarray(mean, "f8")
    return {
        "n": int(obs.size),
        "r2": float(metrics.nse(obs, mean)),  # R² against the 1:1 line = NSE
        "rmse_gc_m2_yr": float(metrics.rmse(obs, mean)),
        "bias_gc_m2_yr": float(metrics.bias(obs, mean)),
        "r": float(metrics.pearson_r(obs, mean)),
        "coverage_90": float(np.mean((obs >= np.asarray(lo)) & (obs <= np.asarray(hi)))),
    }


def cross_validate(table: pd.DataFrame, cfg: GlobalConfig, flux: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grouped k-fold CV of one forest (unweighted). Returns (metrics: one row per fold + 'all',
    out-of-fold predictions)."""
    from soilco2.global_.covariates import location_groups

    rng = np.random.default_rng([cfg.seed, 7, FLUXES.index(flux)])
    groups = location_groups(table["lat"], table["lon"], cfg.cv_group_deg)
    folds = grouped_folds(groups, cfg.cv_folds, rng)
    X, y = table[cfg.covariates_of(flux)].to_numpy("f8"), table["flux_gc_m2_yr"].to_numpy("f8")
    pred = np.full((len(y), 3), np.nan)  # mean, q05, q95
    rows = []
    for f in range(cfg.cv_folds):
        test = folds == f
        m = _forest(cfg, seed=cfg.seed * 1000 + f).fit(X[~test], y[~test])
        q = m.predict_quantiles(X[test])
        qi = [m.quantiles.index(0.05), m.quantiles.index(0.95)]
        pred[test] = np.column_stack([m.predict(X[test]), q[:, qi]])
        rows.append({"flux": flux, "fold": str(f), **interval_metrics(y[test], *pred[test].T)})
    rows, calibrated = _calibrated(rows, folds, y, pred)
    rows.append({"flux": flux, "fold": "all", **interval_metrics(y, *pred.T), **calibrated})
    oof = pd.DataFrame(
        {
            "flux": flux,
            "record_number": table.get("record_number"),
            "lat": table["lat"],
            "lon": table["lon"],
            "fold": folds,
            "group": groups,
            "obs_gc_m2_yr": y,
            "pred_mean_gc_m2_yr": pred[:, 0],
            "pred_q05_gc_m2_yr": pred[:, 1],
            "pred_q95_gc_m2_yr": pred[:, 2],
        }
    )
    return pd.DataFrame(rows), oof


def _calibrated(rows: list[dict], folds: np.ndarray, obs: np.ndarray, pred: np.ndarray) -> tuple[list[dict], dict]:
    """The forests' 5–95 % interval conformalized under the grouped folds (soilco2.global_.intervals):
    each fold's coverage with the other folds' correction, and for all records together with the
    correction the maps get."""
    from soilco2.global_.intervals import nested_coverage

    covered, c, lo_c, hi_c = nested_coverage(folds, obs, pred[:, 1], pred[:, 2])
    for row in rows:
        test = folds == int(row["fold"])
        row["coverage_90_calibrated"] = float(np.mean((obs[test] >= lo_c[test]) & (obs[test] <= hi_c[test])))
    return rows, {"coverage_90_calibrated": covered, "log_correction_90": c,
                  "width_90_calibrated_gc_m2_yr": float(np.mean(hi_c - lo_c))}  # fmt: skip


def _forest(cfg: GlobalConfig, seed: int):
    from soilco2.models.forest import QuantileForest

    return QuantileForest(
        cfg.n_trees,
        cfg.quantiles,
        min_samples_leaf=cfg.min_samples_leaf,
        max_features=cfg.max_features,
        seed=seed,
        n_jobs=cfg.n_jobs,
    )


def cross_validate_fraction(tables: dict, cfg: GlobalConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grouped k-fold CV of Rh = Rs forest × fraction forest on the records with both: no 0.5°
    location is on both sides, for either forest. Same columns as the independent CV."""
    from soilco2.global_.covariates import location_groups
    from soilco2.global_.intervals import JOINT_GRID, product_quantiles
    from soilco2.models.forest import QuantileForest

    pairs, rs = tables["pairs"], tables["rs"]
    rng = np.random.default_rng([cfg.seed, 7, 1])
    g_pairs = location_groups(pairs["lat"], pairs["lon"], cfg.cv_group_deg)
    g_rs = location_groups(rs["lat"], rs["lon"], cfg.cv_group_deg)
    folds = grouped_folds(g_pairs, cfg.cv_folds, rng)
    cov_rs, cov_f = cfg.covariates_of("rs"), cfg.covariates_of("rh")
    Xp, Xpr, Xr = pairs[cov_f].to_numpy("f8"), pairs[cov_rs].to_numpy("f8"), rs[cov_rs].to_numpy("f8")
    obs = pairs["flux_gc_m2_yr"].to_numpy("f8")
    pred = np.full((len(pairs), 3), np.nan)
    grid = list(JOINT_GRID)  # each forest's quantiles behind the joint draw of Rs and the fraction
    rows = []
    for f in range(cfg.cv_folds):
        test = folds == f
        held = np.isin(g_rs, np.unique(g_pairs[test]))
        kw = dict(min_samples_leaf=cfg.min_samples_leaf, max_features=cfg.max_features, n_jobs=cfg.n_jobs)
        mr = QuantileForest(cfg.n_trees, grid, seed=cfg.seed * 1000 + f, **kw).fit(
            Xr[~held], rs["flux_gc_m2_yr"][~held]
        )
        mf = QuantileForest(cfg.n_trees, grid, seed=cfg.seed * 1000 + 500 + f, **kw).fit(
            Xp[~test], pairs["fraction"][~test]
        )
        joint = product_quantiles(mr.predict_quantiles(Xpr[test]), mf.predict_quantiles(Xp[test]), [0.05, 0.95])
        pred[test] = np.column_stack([mr.predict(Xpr[test]) * mf.predict(Xp[test]), joint])
        rows.append({"flux": "rh", "fold": str(f), **interval_metrics(obs[test], *pred[test].T)})
    rows, calibrated = _calibrated(rows, folds, obs, pred)
    rows.append({"flux": "rh", "fold": "all", **interval_metrics(obs, *pred.T), **calibrated})
    oof = pd.DataFrame({
        "flux": "rh", "record_number": pairs.get("record_number"), "lat": pairs["lat"], "lon": pairs["lon"],
        "fold": folds, "group": g_pairs, "obs_gc_m2_yr": obs, "pred_mean_gc_m2_yr": pred[:, 0],
        "pred_q05_gc_m2_yr": pred[:, 1], "pred_q95_gc_m2_yr": pred[:, 2],
    })  # fmt: skip
    return pd.DataFrame(rows), oof
