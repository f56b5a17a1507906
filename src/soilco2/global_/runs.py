"""The S3 runs: each run draws its training records (an 80/20 split by vegetation bin, or a
climate-stratified bootstrap), fits one Rs forest and one Rh forest — or, with
``rh_model: fraction``, one forest of the fraction Rh/Rs on the records that report both, so
that Rh = Rs × fraction lies in [0, Rs] — maps every complete land cell, and scores the records
it held out (the paper's protocol: random records, so a test record often shares its 0.5° cell
with a training record, which is counted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.global_.config import GlobalConfig

FLUXES = ("rs", "rh")


def fraction_table(rh_table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Rh records that report their Rs too, with ``fraction`` = Rh/Rs clipped to [0, 1]; the
    counts of records without Rs and of records clipped (Rh > Rs: measurement error)."""
    rs = rh_table.get("rs_same_record_gc_m2_yr", pd.Series(np.nan, index=rh_table.index)).to_numpy("f8")
    ok = np.isfinite(rs) & (rs > 0)
    pairs = rh_table[ok].reset_index(drop=True).copy()
    frac = pairs["flux_gc_m2_yr"].to_numpy("f8") / pairs["rs_same_record_gc_m2_yr"].to_numpy("f8")
    counts = {
        "rh_records": int(len(rh_table)),
        "with_rs": int(ok.sum()),
        "fraction_above_1_clipped": int((frac > 1).sum()),
        "fraction_below_0_clipped": int((frac < 0).sum()),
    }
    pairs["fraction"] = np.clip(frac, 0.0, 1.0)
    if len(pairs) < 20:
        raise UserError(
            f"only {len(pairs)} SRDB records report both Rh and Rs; use rh_model: independent", field="rh_model"
        )
    return pairs, counts


def shared_cell_share(train_cells: np.ndarray, test_cells: np.ndarray) -> float:
    """Share of test records whose 0.5° cell also holds a training record."""
    return float(np.isin(test_cells, train_cells).mean()) if len(test_cells) else float("nan")


def _score(obs, mean, lo, hi) -> dict:
    from soilco2 import metrics

    return {
        "n": int(len(obs)),
        "r2": float(metrics.nse(obs, mean)),
        "rmse_gc_m2_yr": float(metrics.rmse(obs, mean)),
        "bias_gc_m2_yr": float(metrics.bias(obs, mean)),
        "r": float(metrics.pearson_r(obs, mean)),
        "coverage_90": float(np.mean((obs >= lo) & (obs <= hi))) if len(obs) else float("nan"),
    }


def spread_runs(n_runs: int, k: int) -> set[int]:
    """``k`` run indices spread evenly over ``range(n_runs)`` (the runs that also explain or fit an
    independent Rh forest: spread, so that no Dask task gets all the slow runs)."""
    k = min(k, n_runs)
    return set(np.linspace(0, n_runs - 1, k).round().astype(int).tolist()) if k > 0 else set()


def _fitted_tables(cfg) -> tuple[str, str]:
    return ("rs", "pairs") if cfg.rh_model == "fraction" else ("rs", "rh")


def run_chunk(data: dict, cfg_data: dict, runs: list[int]) -> dict:
    """Runs ``runs`` (a worker's share): per run, forests on its training records, maps of every
    cell, scores of its held-out records. Mean maps come from scikit-learn forests; every
    ``quantile_every``-th run fits quantile forests instead (their 5/50/95 % maps and the held-out
    interval coverage). Pure: the same runs give the same arrays in any process."""
    from sklearn.ensemble import RandomForestRegressor

    from soilco2.global_.bins import split_run
    from soilco2.global_.intervals import JOINT_GRID, product_quantiles
    from soilco2.global_.strata import stratified_bootstrap
    from soilco2.models.forest import QuantileForest

    cfg = GlobalConfig.model_validate(cfg_data)
    qs = list(cfg.quantiles)
    joint = cfg.rh_model == "fraction"  # Rh's quantiles from the joint draw of Rs and the fraction
    fit_qs = sorted(set(qs) | set(JOINT_GRID)) if joint else qs
    cols, grid_cols = [fit_qs.index(q) for q in qs], [fit_qs.index(q) for q in JOINT_GRID] if joint else []
    i05, i95 = qs.index(0.05), qs.index(0.95)
    fitted = _fitted_tables(cfg)
    n_cells = len(data["rs"]["Xc"])
    out = {"runs": list(runs), "maps": {k: np.empty((len(runs), n_cells), "f4") for k in fitted},
           "q": {}, "scores": [], "crossing": [], "explain": [], "year_totals": [], "year_sum": None, "year_n": 0}  # fmt: skip

    def plain_forest(seed):  # the mean-map forest of the runs without quantiles
        return RandomForestRegressor(
            cfg.n_trees,
            min_samples_leaf=cfg.min_samples_leaf,
            max_features=cfg.max_features,
            random_state=seed,
            n_jobs=1,
        )

    def draw(d, b, k):
        rng = np.random.default_rng([cfg.seed, b, k])
        if cfg.sampling == "climate_strata":
            return stratified_bootstrap(d["strata"], d["weights"], rng), np.array([], int)
        return split_run(d["p"], rng, cfg.train_fraction)

    explain, crossing = spread_runs(cfg.n_bootstrap, cfg.explain_runs), spread_runs(cfg.n_bootstrap, cfg.crossing_runs)
    for r, b in enumerate(runs):
        quantile_run = b % cfg.quantile_every == 0
        models, split, grids = {}, {}, {}
        for k, name in enumerate(fitted):
            d = data[name]
            train, test = draw(d, b, k)
            seed = cfg.seed * 100_003 + b * 2 + k
            if quantile_run:
                m = QuantileForest(
                    cfg.n_trees, fit_qs, min_samples_leaf=cfg.min_samples_leaf, max_features=cfg.max_features, seed=seed
                ).fit(d["X"][train], d["y"][train])
                q = m.predict_quantiles(d["Xc"])
                out["q"].setdefault(name, []).append(q[:, cols].T.astype("f4"))
                if joint:
                    grids[name] = q[:, grid_cols]
            else:
                m = plain_forest(seed).fit(d["X"][train], d["y"][train])
            models[name], split[name] = m, (train, test)
            out["maps"][name][r] = m.predict(d["Xc"])
        if quantile_run and joint:
            out["q"].setdefault("rh_joint", []).append(
                product_quantiles(grids["rs"], grids["pairs"], qs).T.astype("f4")
            )
        for flux in FLUXES:  # the run's held-out records
            name = "rs" if flux == "rs" else fitted[1]
            d, (train, test) = data[name], split[name]
            if not len(test):
                continue
            X = d["X"][test]
            if flux == "rh" and cfg.rh_model == "fraction":
                Xr = d["X_union"][test][:, d["idx_rs"]]
                mean, obs = models["rs"].predict(Xr) * models["pairs"].predict(X), d["rh"][test]
            else:
                mean, obs = models[name].predict(X), d["y"][test]
            lo = hi = np.full(len(test), np.nan)
            if quantile_run:
                if flux == "rh" and joint:
                    qr, qf = models["rs"].predict_quantiles(Xr), models["pairs"].predict_quantiles(X)
                    lo, hi = product_quantiles(qr[:, grid_cols], qf[:, grid_cols], [0.05, 0.95]).T
                else:
                    q = models[name].predict_quantiles(X)[:, cols]
                    lo, hi = q[:, i05], q[:, i95]
            row = _score(obs, mean, lo, hi)
            if not quantile_run:
                row["coverage_90"] = float("nan")
            out["scores"].append(
                {
                    "run": b,
                    "flux": flux,
                    **row,
                    "shared_cell_share": shared_cell_share(d["cell"][train], d["cell"][test]),
                }
            )
        if b in explain:
            out["explain"].extend(explain_run(b, models, split, data, cfg))
        if "years" in data and b in data["years"]["runs"]:  # year-by-year maps from a climate file
            _map_years(out, b, models, data, cfg, fitted)
        if cfg.rh_model == "fraction" and b in crossing:  # where an independent Rh forest would cross Rs
            d = data["rh"]
            train, _ = draw(d, b, 9)
            indep = plain_forest(b).fit(d["X"][train], d["y"][train]).predict(d["Xc"])
            out["crossing"].append(float(np.mean(indep > out["maps"]["rs"][r])))
    return out


def _map_years(out: dict, b: int, models: dict, data: dict, cfg: GlobalConfig, fitted) -> None:
    from soilco2.global_.years import predict_years

    maps = predict_years(models, data, cfg, fitted)
    area = data["years"]["area"]
    tot = np.nansum(maps.astype("f8") * area, axis=2) / 1e15  # (year, flux)
    for y, row in zip(data["years"]["years"], tot, strict=True):
        out["year_totals"].append(
            {"run": b, "year": y, "rs_pg_c_yr": row[0], "rh_pg_c_yr": row[1], "ra_pg_c_yr": row[2]}
        )
    out["year_sum"] = maps.astype("f8") if out["year_sum"] is None else out["year_sum"] + maps
    out["year_n"] += 1


def _run_chunk_task(shared: tuple, runs: list[int]) -> dict:
    return run_chunk(shared[0], shared[1], runs)


def explain_run(b: int, models: dict, split: dict, data: dict, cfg: GlobalConfig, grid: int = 20) -> list[dict]:
    """Permutation importance on the run's held-out records (rise of the MSE when one predictor
    is shuffled, 3 repeats) and partial dependence over the training records (the mean prediction
    with one predictor set to each of ``grid`` values between its 2nd and 98th percentiles over all
    records, the same grid in every run), for
    Rs and for Rh (with the fraction model: Rs forest × fraction forest)."""
    fitted = _fitted_tables(cfg)
    rows = []
    for flux in FLUXES:
        name = "rs" if flux == "rs" else fitted[1]
        d, (train, test) = data[name], split[name]
        if flux == "rh" and cfg.rh_model == "fraction":  # on the union of both forests' predictors

            def predict(X, d=d):
                return models["rs"].predict(X[:, d["idx_rs"]]) * models["pairs"].predict(X[:, d["idx_fraction"]])

            y, Xall, names = d["rh"], d["X_union"], d["union"]
        else:
            predict, y, Xall, names = models[name].predict, d["y"], d["X"], d["covariates"]
        rng = np.random.default_rng([cfg.seed, b, 11])
        if len(test) >= 10:
            X = Xall[test]
            base = np.mean((predict(X) - y[test]) ** 2)
            for k, cov in enumerate(names):
                rise = []
                for _ in range(3):
                    Xp = X.copy()
                    Xp[:, k] = rng.permutation(Xp[:, k])
                    rise.append(np.mean((predict(Xp) - y[test]) ** 2) - base)
                rows.append(
                    {
                        "run": b,
                        "flux": flux,
                        "kind": "importance",
                        "covariate": cov,
                        "value": float(np.mean(rise)),
                        "x": np.nan,
                    }
                )
        Xt = Xall[train][:1000]  # partial dependence: a fixed subset of the training records
        for k, cov in enumerate(names):
            for v in np.unique(np.quantile(Xall[:, k], np.linspace(0.02, 0.98, grid))):  # one grid for all runs
                Xv = Xt.copy()
                Xv[:, k] = v
                rows.append(
                    {
                        "run": b,
                        "flux": flux,
                        "kind": "partial_dependence",
                        "covariate": cov,
                        "value": float(predict(Xv).mean()),
                        "x": float(v),
                    }
                )
    return rows


def run_all(data: dict, cfg: GlobalConfig, progress: bool = True) -> dict:
    """Every run, in chunks over Dask workers (``n_workers`` local processes, or the cluster at
    ``scheduler_address``), or in this process when ``n_workers`` is 1. ``data``: per table
    (``rs``, ``rh`` and, with the fraction model, ``pairs``) its ``covariates``, their values ``X``
    on the records and ``Xc`` on the mapped cells, target ``y``, 0.5° cells ``cell`` and the sampler.

    Returns per-run maps ``draws[flux]`` (run, cell) of Rs, Rh, Ra (and ``fraction``), the
    quantile runs' median maps ``draws_q50`` and mean quantile maps ``qrf``, held-out scores per
    run ``scores`` and ``crossing`` (share of cells where an independent Rh forest exceeds Rs)."""
    from soilco2.parallel import map_tasks

    n = cfg.n_bootstrap
    chunks = [list(range(a, min(a + cfg.chunk_runs, n))) for a in range(0, n, cfg.chunk_runs)]
    cfg_data = cfg.model_dump(mode="json")
    label = f"runs (Rs and {'Rh/Rs' if cfg.rh_model == 'fraction' else 'Rh'} forests)"
    parts = map_tasks(_run_chunk_task, (data, cfg_data), chunks, n_workers=cfg.n_workers,
                      scheduler_address=cfg.scheduler_address, label=label, progress=progress)  # fmt: skip
    fitted = _fitted_tables(cfg)
    draws = {k: np.concatenate([p["maps"][k] for p in parts]) for k in fitted}
    qruns = {k: [q for p in parts for q in p["q"].get(k, [])] for k in (*fitted, "rh_joint")}
    qs = list(cfg.quantiles)
    i50 = qs.index(0.5)
    qrf = {k: np.mean(qruns[k], axis=0) for k in fitted}
    rh_joint = np.mean(qruns["rh_joint"], axis=0) if qruns["rh_joint"] else None
    q50 = {k: np.stack([q[i50] for q in qruns[k]]) for k in fitted}
    scores = pd.DataFrame([r for p in parts for r in p["scores"]])
    explain = pd.DataFrame([r for p in parts for r in p["explain"]])
    crossing = [c for p in parts for c in p["crossing"]]
    if cfg.rh_model == "fraction":
        frac, frac50 = draws.pop("pairs"), q50.pop("pairs")
        qrf.pop("pairs")  # the fraction's own quantiles: Rh's come from the joint draw below
        draws["fraction"] = frac
        draws["rh"] = draws["rs"] * frac
        q50["rh"] = q50["rs"] * frac50
        qrf["rh"] = rh_joint  # Rh's quantiles from the joint draw of Rs and the fraction, run by run
    draws["ra"] = draws["rs"] - draws["rh"]  # same run index: consistent uncertainty
    q50["ra"] = q50["rs"] - q50["rh"]
    years = {}
    if "years" in data:
        sums = [p["year_sum"] for p in parts if p["year_sum"] is not None]
        years = {"year_totals": pd.DataFrame([r for p in parts for r in p["year_totals"]]),
                 "year_maps": (sum(sums) / sum(p["year_n"] for p in parts)).astype("f4")}  # fmt: skip
    return years | {"draws": draws, "draws_q50": q50, "qrf": qrf, "scores": scores, "crossing": crossing, "explain": explain,
            "quantile_runs": [b for b in range(n) if b % cfg.quantile_every == 0]}  # fmt: skip


def cell_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per cell over runs (axis 0): mean, median, SD, MAD (median absolute deviation from the
    median, unscaled), CV % (SD / mean × 100) and the 5th and 95th percentiles."""
    mean = values.mean(axis=0, dtype="f8")
    p05, median, p95 = np.quantile(values, [0.05, 0.5, 0.95], axis=0)  # one partial sort for the three
    sd = values.std(axis=0, ddof=1, dtype="f8") if len(values) > 1 else np.zeros(values.shape[1])
    mad = np.median(np.abs(values - median), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(np.abs(mean) > 0, sd / np.abs(mean) * 100.0, np.nan)
    return {"mean": mean, "median": median, "sd": sd, "mad": mad, "cv_pct": cv, "p05": p05, "p95": p95}


def total_statistics(per_run_pg: np.ndarray) -> dict:
    """The spread of a global total over runs (Pg C/yr): mean, median, SD, MAD, 5th and 95th
    percentiles — the uncertainty of the total itself."""
    v = np.asarray(per_run_pg, "f8")
    med = float(np.median(v))
    return {
        "mean": float(v.mean()),
        "median": med,
        "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "mad": float(np.median(np.abs(v - med))),
        "p05": float(np.quantile(v, 0.05)),
        "p95": float(np.quantile(v, 0.95)),
    }


def convergence(per_run_pg: np.ndarray, tolerance: float = 0.01) -> dict:
    """Running mean and SD of a total after n runs, and the smallest n after which both stay
    within ``tolerance`` (relative) of their final values."""
    v = np.asarray(per_run_pg, "f8")
    n = np.arange(1, v.size + 1)
    mean = np.cumsum(v) / n
    sq = np.cumsum(v**2) / n
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(np.maximum(sq - mean**2, 0.0) * n / np.maximum(n - 1, 1))
    ok = (np.abs(mean - mean[-1]) <= tolerance * abs(mean[-1])) & (
        np.abs(sd - sd[-1]) <= tolerance * max(sd[-1], 1e-12)
    )
    bad = np.nonzero(~ok)[0]
    stable_from = int(bad[-1] + 2) if bad.size else 1
    return {"running_mean": mean, "running_sd": sd, "stable_from_run": min(stable_from, int(v.size))}


def prepare(tables: dict, cells: pd.DataFrame, cfg: GlobalConfig, area_m2: np.ndarray) -> tuple[dict, dict]:
    """The inputs of :func:`run_all` and the sampling tables written to the run folder
    (``bins`` per table for the 80/20 splits, ``strata`` for the bootstrap)."""
    from soilco2.global_.bins import bin_table, record_bins, selection_probabilities, vegetated_area_shares
    from soilco2.global_.covariates import location_groups
    from soilco2.global_.strata import assign_strata, stratum_weights
    from soilco2.sources.landcover import IGBP

    data = {}
    named = {"rs": tables["rs"], "rh": tables["rh"]}
    if cfg.rh_model == "fraction":
        named["pairs"] = tables["pairs"]
    sampling: dict = {"bins": {}, "strata": {}}
    if cfg.sampling == "climate_strata":
        cell_strata = assign_strata(cells["mat_c"], cells["map_mm"], cfg.strata)
        share = pd.Series(area_m2).groupby(cell_strata).sum()
        share = share / share.sum()
        sampling["cell_strata"] = cell_strata
    else:
        if "igbp" not in cells.columns:
            raise UserError("sampling by vegetation bins needs the MODIS land cover", field="landcover_file")
        fractions = np.stack([cells[f"lc_{c}"].to_numpy("f8") for c in IGBP])
        area_share = vegetated_area_shares(fractions, area_m2)
    for name, t in named.items():
        cov = cfg.covariates_of(name)
        d = {
            "covariates": cov,
            "X": t[cov].to_numpy("f8"),
            "Xc": cells[cov].to_numpy("f8"),
            "y": t["fraction" if name == "pairs" else "flux_gc_m2_yr"].to_numpy("f8"),
            "cell": location_groups(t["cell_lat"], t["cell_lon"], 0.5),
        }
        if name == "pairs":  # Rh = Rs forest x fraction forest, each on its own predictors
            d["rh"] = t["flux_gc_m2_yr"].to_numpy("f8")
            union = list(dict.fromkeys(cfg.covariates_of("rs") + cov))
            d["union"], d["X_union"] = union, t[union].to_numpy("f8")
            d["idx_rs"] = [union.index(c) for c in cfg.covariates_of("rs")]
            d["idx_fraction"] = [union.index(c) for c in cov]
        if cfg.sampling == "climate_strata":
            d["strata"] = assign_strata(t["mat_c"], t["map_mm"], cfg.strata)
            groups = location_groups(t["lat"], t["lon"], cfg.cv_group_deg)
            d["weights"] = stratum_weights(d["strata"], share, groups, cfg.strata.min_locations)
            sampling["strata"][name] = d["weights"]
        else:
            bins = record_bins(t["igbp"].to_numpy())
            table = bin_table(bins, area_share)
            d["p"] = selection_probabilities(bins, table, "equal" if cfg.sampling == "equal" else "vegetation_bins")
            sampling["bins"][name] = table
        data[name] = d
    return data, sampling
