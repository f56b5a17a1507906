"""S3: annual global soil respiration (Rs, Rh, Ra = Rs − Rh) from SRDB with quantile forests.

Steps (``run_global``): covariate grid and SRDB training tables (``prep.global_table``) →
grouped k-fold CV (no 0.5° location in two folds) → area-weighted stratified bootstrap: each
draw resamples the training records so that every climate stratum (MAT × MAP class) holds its
share of global land area, fits one Rs and one Rh forest and predicts every complete land cell
→ per-cell median and 5–95 % across draws, Ra per draw, global totals per draw (Pg C/yr).
Method after Lu et al. 2021 (ERL 16 054048).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.pipelines.global_config import GlobalConfig, StrataConfig

LU2021_PG_C_YR = {"rs": 85.5, "rh": 50.3, "ra": 35.2}  # Lu et al. 2021, ERL 16 054048
FLUXES = ("rs", "rh")


# --------------------------------------------------------------------------- strata and weights
def assign_strata(mat_c, map_mm, strata: StrataConfig) -> np.ndarray:
    """Stratum id = MAT class × (number of MAP classes) + MAP class."""
    mat_k = np.digitize(np.asarray(mat_c, "f8"), strata.mat_edges_c)
    map_k = np.digitize(np.asarray(map_mm, "f8"), strata.map_edges_mm)
    return mat_k * (len(strata.map_edges_mm) + 1) + map_k


def stratum_label(sid: int, strata: StrataConfig) -> str:
    def rng(k, edges, unit):
        lo = f"{edges[k - 1]:g}" if k > 0 else "-inf"
        hi = f"{edges[k]:g}" if k < len(edges) else "inf"
        return f"[{lo},{hi}) {unit}"

    n_map = len(strata.map_edges_mm) + 1
    return f"MAT {rng(sid // n_map, strata.mat_edges_c, 'degC')}, MAP {rng(sid % n_map, strata.map_edges_mm, 'mm')}"


def stratum_weights(record_strata: np.ndarray, area_share: pd.Series, record_groups: np.ndarray | None = None,
                    min_locations: int = 1) -> pd.DataFrame:
    """Per stratum: ``area_share`` (of mapped land), ``n_records``, ``n_locations``, ``record_share``,
    ``target_share`` (share of each bootstrap sample) and ``weight`` = target share / record share.

    Strata with at least ``min_locations`` distinct locations (``covered``) get target share =
    area share (renormalised over covered strata, after the rest). Strata with records but fewer
    locations are not up-weighted: they keep their record share (weight 1), so a handful of sites
    is never copied hundreds of times. Strata without records cannot be represented (weight 0).
    """
    strata = pd.Series(np.asarray(record_strata))
    groups = pd.Series(np.asarray(record_groups) if record_groups is not None else np.arange(len(strata)))
    counts = strata.value_counts()
    locs = groups.groupby(strata.to_numpy()).nunique()
    out = pd.DataFrame({"area_share": area_share.astype("f8")})
    out = out.reindex(out.index.union(counts.index), fill_value=0.0)
    out["n_records"] = counts.reindex(out.index, fill_value=0).astype(int)
    out["n_locations"] = locs.reindex(out.index, fill_value=0).astype(int)
    out["record_share"] = out["n_records"] / max(int(out["n_records"].sum()), 1)
    out["covered"] = out["n_locations"] >= max(min_locations, 1)
    sparse = (out["n_records"] > 0) & ~out["covered"]
    covered_area = out.loc[out["covered"], "area_share"].sum()
    if covered_area <= 0:
        raise UserError("no stratum with land area holds enough training locations", field="strata")
    rest = 1.0 - out.loc[sparse, "record_share"].sum()
    out["target_share"] = np.where(out["covered"], rest * out["area_share"] / covered_area,
                                   np.where(sparse, out["record_share"], 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weight"] = np.where(out["n_records"] > 0, out["target_share"] / out["record_share"], 0.0)
    out.index.name = "stratum"
    return out


def bootstrap_probabilities(record_strata: np.ndarray, weights: pd.DataFrame) -> np.ndarray:
    """Sampling probability of each record: stratum weight / number of records (sums to 1)."""
    w = weights["weight"].reindex(record_strata).to_numpy(dtype="f8")
    return w / w.sum()


def stratified_bootstrap(record_strata: np.ndarray, weights: pd.DataFrame, rng: np.random.Generator,
                         n: int | None = None) -> np.ndarray:
    """Indices of one area-weighted bootstrap sample (with replacement, ``n`` = number of records)."""
    p = bootstrap_probabilities(record_strata, weights)
    return rng.choice(len(record_strata), size=n or len(record_strata), replace=True, p=p)


# --------------------------------------------------------------------------- grouped CV
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
    return {"n": int(obs.size), "r2": float(metrics.nse(obs, mean)),  # R² against the 1:1 line = NSE
            "rmse_gc_m2_yr": float(metrics.rmse(obs, mean)), "bias_gc_m2_yr": float(metrics.bias(obs, mean)),
            "r": float(metrics.pearson_r(obs, mean)),
            "coverage_90": float(np.mean((obs >= np.asarray(lo)) & (obs <= np.asarray(hi))))}


def cross_validate(table: pd.DataFrame, cfg: GlobalConfig, flux: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grouped k-fold CV of one forest (unweighted). Returns (metrics: one row per fold + 'all',
    out-of-fold predictions)."""
    from soilco2.prep.global_table import location_groups

    rng = np.random.default_rng([cfg.seed, 7, FLUXES.index(flux)])
    groups = location_groups(table["lat"], table["lon"], cfg.cv_group_deg)
    folds = grouped_folds(groups, cfg.cv_folds, rng)
    X, y = table[list(cfg.covariates)].to_numpy("f8"), table["flux_gc_m2_yr"].to_numpy("f8")
    pred = np.full((len(y), 3), np.nan)  # mean, q05, q95
    rows = []
    for f in range(cfg.cv_folds):
        test = folds == f
        m = _forest(cfg, seed=cfg.seed * 1000 + f).fit(X[~test], y[~test])
        q = m.predict_quantiles(X[test])
        qi = [m.quantiles.index(0.05), m.quantiles.index(0.95)]
        pred[test] = np.column_stack([m.predict(X[test]), q[:, qi]])
        rows.append({"flux": flux, "fold": str(f), **interval_metrics(y[test], *pred[test].T)})
    rows.append({"flux": flux, "fold": "all", **interval_metrics(y, *pred.T)})
    oof = pd.DataFrame({"flux": flux, "record_number": table.get("record_number"), "lat": table["lat"],
                        "lon": table["lon"], "fold": folds, "group": groups, "obs_gc_m2_yr": y,
                        "pred_mean_gc_m2_yr": pred[:, 0], "pred_q05_gc_m2_yr": pred[:, 1], "pred_q95_gc_m2_yr": pred[:, 2]})
    return pd.DataFrame(rows), oof


def _forest(cfg: GlobalConfig, seed: int):
    from soilco2.models.forest import QuantileForest

    return QuantileForest(cfg.n_trees, cfg.quantiles, min_samples_leaf=cfg.min_samples_leaf,
                          max_features=cfg.max_features, seed=seed, n_jobs=cfg.n_jobs)


# --------------------------------------------------------------------------- totals
def land_area_m2(cells: pd.DataFrame) -> np.ndarray:
    """Land area of each mapped cell (cell area × land fraction), m²: the weight of every total
    (``soilco2.sources.grids.total_pg_c_yr``) and of the strata's area shares."""
    return cells["cell_area_m2"].to_numpy("f8") * cells["land_fraction"].to_numpy("f8")


def interval(values: np.ndarray, level: float = 0.95) -> dict:
    v = np.asarray(values, "f8")
    a = (1 - level) / 2
    return {"mean": float(v.mean()), "median": float(np.median(v)), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            f"p{a * 100:g}": float(np.quantile(v, a)), f"p{(1 - a) * 100:g}": float(np.quantile(v, 1 - a))}


def covariates_outside_training(table: pd.DataFrame, cells: pd.DataFrame, covariates: list[str],
                                lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Per cell, how many covariates lie outside the training records' [lo, hi] quantile range (default: min-max)
    (0 = inside the sampled climate space; > 0 = the forest extrapolates there)."""
    q = table[covariates].quantile([lo, hi])
    x = cells[covariates]
    return ((x < q.loc[lo]) | (x > q.loc[hi])).sum(axis=1).to_numpy(dtype="i1")


# --------------------------------------------------------------------------- the run
def bootstrap_maps(tables: dict, cells: pd.DataFrame, cfg: GlobalConfig, progress: bool = True) -> dict:
    """Per draw b: resample each flux's records (area-weighted by stratum), fit one forest,
    predict every cell. Returns per-draw mean maps ``draws[flux]`` (n_draws, n_cells), the
    per-draw conditional-median maps ``draws_q50[flux]``, the forests' own quantiles averaged
    over draws ``qrf[flux]`` (n_q, n_cells) and the strata tables."""
    from soilco2.prep.global_table import location_groups
    from soilco2.progress import track

    area = land_area_m2(cells)
    cell_strata = assign_strata(cells["mat_c"], cells["map_mm"], cfg.strata)
    area_share = pd.Series(area).groupby(cell_strata).sum()
    area_share = area_share / area_share.sum()
    Xc = cells[list(cfg.covariates)].to_numpy("f8")
    weights, rec_strata, xy, draws, draws_q50, qrf = {}, {}, {}, {}, {}, {}
    for flux in FLUXES:
        t = tables[flux]
        rec_strata[flux] = assign_strata(t["mat_c"], t["map_mm"], cfg.strata)
        groups = location_groups(t["lat"], t["lon"], cfg.cv_group_deg)
        weights[flux] = stratum_weights(rec_strata[flux], area_share, groups, cfg.strata.min_locations)
        xy[flux] = (t[list(cfg.covariates)].to_numpy("f8"), t["flux_gc_m2_yr"].to_numpy("f8"))
        draws[flux] = np.empty((cfg.n_bootstrap, len(cells)), "f4")
        draws_q50[flux] = np.empty((cfg.n_bootstrap, len(cells)), "f4")
        qrf[flux] = np.zeros((len(cfg.quantiles), len(cells)), "f8")
    for b in track(range(cfg.n_bootstrap), "bootstrap draws (Rs and Rh forests)", show=progress):
        for k, flux in enumerate(FLUXES):
            idx = stratified_bootstrap(rec_strata[flux], weights[flux], np.random.default_rng([cfg.seed, b, k]))
            X, y = xy[flux][0][idx], xy[flux][1][idx]
            m = _forest(cfg, seed=cfg.seed * 100_003 + b * 2 + k).fit(X, y)
            draws[flux][b] = m.predict(Xc)
            q = m.predict_quantiles(Xc)
            draws_q50[flux][b] = q[:, m.quantiles.index(0.5)]
            qrf[flux] += q.T / cfg.n_bootstrap
    draws["ra"] = draws["rs"] - draws["rh"]  # same draw index: consistent uncertainty
    draws_q50["ra"] = draws_q50["rs"] - draws_q50["rh"]
    return {"draws": draws, "draws_q50": draws_q50, "qrf": qrf, "weights": weights, "cell_strata": cell_strata}


def run_global(cfg: GlobalConfig, *, config_file: str | Path | None = None, progress: bool = True) -> Path:
    """Run the S3 pipeline and write the run folder ``cfg.out_dir``; returns its path."""
    from soilco2.config import dump_config
    from soilco2.paths import data_root
    from soilco2.pipelines import global_outputs as outputs
    from soilco2.prep.global_table import covariate_grid, grid_coverage, training_table
    from soilco2.sources.grids import total_pg_c_yr
    from soilco2.sources.srdb import load_srdb

    t0 = time.perf_counter()
    timings = {}
    root = data_root(cfg.data_root)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, out / "config.yaml")

    grid = covariate_grid(root)
    records, srdb_acc = load_srdb(root)
    tables, accounting = {}, {"srdb": srdb_acc.to_dict(orient="records")[0] if hasattr(srdb_acc, "to_dict") else srdb_acc}
    for flux in FLUXES:
        tables[flux], accounting[flux] = training_table(records, grid, flux, drop_flags=tuple(cfg.drop_flags),
                                                        max_distance_km=cfg.max_distance_km)
        if len(tables[flux]) < 2 * cfg.cv_folds:
            raise UserError(f"only {len(tables[flux])} {flux} records left for training", field="drop_flags")
    accounting["grid"] = grid_coverage(grid)
    timings["inputs_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    cv = [cross_validate(tables[f], cfg, f) for f in FLUXES]
    cv_metrics = pd.concat([c[0] for c in cv], ignore_index=True)
    cv_oof = pd.concat([c[1] for c in cv], ignore_index=True)
    timings["cv_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    cells = grid[grid["complete"]].reset_index(drop=True)
    boot = bootstrap_maps(tables, cells, cfg, progress=progress)
    boot["outside"] = {f: covariates_outside_training(tables[f], cells, cfg.covariates) for f in FLUXES}
    timings["bootstrap_s"] = time.perf_counter() - t2

    area = land_area_m2(cells)
    totals = pd.DataFrame({"draw": np.arange(cfg.n_bootstrap)})
    for flux in (*FLUXES, "ra"):
        totals[f"{flux}_pg_c_yr"] = total_pg_c_yr(boot["draws"][flux], area)
    for flux in (*FLUXES, "ra"):
        totals[f"{flux}_from_q50_pg_c_yr"] = total_pg_c_yr(boot["draws_q50"][flux], area)
    summary = {
        "totals_pg_c_yr": {f: interval(totals[f"{f}_pg_c_yr"]) for f in ("rs", "rh", "ra")},
        "totals_from_q50_pg_c_yr": {f: interval(totals[f"{f}_from_q50_pg_c_yr"]) for f in ("rs", "rh", "ra")},
        "lu2021_pg_c_yr": LU2021_PG_C_YR,
        "totals_note": "per draw: sum of the forest's conditional-mean map x cell area x land fraction / 1e15; "
                       "interval = 2.5-97.5 % of draws; totals_from_q50: the same from the forest's "
                       "conditional-median map; land cells lacking a covariate are not mapped (see accounting.grid)",
        "config_file": str(config_file) if config_file is not None else None,
        "cv": cv_metrics[cv_metrics["fold"] == "all"].drop(columns="fold").to_dict(orient="records"),
        "n_training_records": {f: int(len(tables[f])) for f in FLUXES},
        "n_training_locations": {f: int(tables[f].groupby(["cell_lat", "cell_lon"]).ngroups) for f in FLUXES},
        "ra_negative_cell_share": float(np.mean(np.median(boot["draws"]["ra"], axis=0) < 0)),
        "mapped_land_area_m2": accounting["grid"]["covered_land_area_m2"],
        "extrapolated_land_area_share": {  # >= 1 covariate outside the training records' min-max range
            f: float(np.sum(area * (boot["outside"][f] > 0)) / np.sum(area)) for f in FLUXES},
        "n_bootstrap": cfg.n_bootstrap, "n_trees": cfg.n_trees, "seed": cfg.seed,
    }
    t3 = time.perf_counter()
    outputs.write_tables(out, tables, accounting, cv_metrics, cv_oof, totals, boot, cfg)
    maps = outputs.map_arrays(grid, cells, boot, cfg)
    outputs.write_maps(out / "maps.nc", grid, cells, boot, cfg, maps)
    timings["outputs_s"] = time.perf_counter() - t3
    if cfg.figures:
        t4 = time.perf_counter()
        outputs.write_figures_and_html(out, cells, grid, boot, totals, cv_metrics, cv_oof, summary, accounting, cfg,
                                       maps)
        timings["figures_s"] = time.perf_counter() - t4
    timings["total_s"] = time.perf_counter() - t0
    summary["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)
