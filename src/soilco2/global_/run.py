"""S3: annual global soil respiration (Rs, Rh, Ra = Rs − Rh) from SRDB with quantile forests.

Steps (``run_global``): covariate grid and SRDB training tables (``build_inputs``) → with
``covariates: auto``, every subset of the candidate predictors by grouped-CV RMSE
(``global_selection``) → grouped k-fold CV, the headline skill (``global_cv``) → the runs
(``global_runs``): each draws 80 % of the records by vegetation bin, fits an Rs forest and an
Rh/Rs forest, maps every complete land cell and scores the 20 % it held out → per-cell and
global statistics over the runs, tables, maps, figures and the page (``global_outputs``).
Method after Lu et al. 2021 (ERL 16 054048).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.files import run_folder, write_json, write_manifest, write_parquet
from soilco2.global_.config import LANDCOVER_COVARIATES, LU2021_PG_C_YR, GlobalConfig

FLUXES = ("rs", "rh")


# --------------------------------------------------------------------------- totals
def land_area_m2(cells: pd.DataFrame) -> np.ndarray:
    """Land area of each mapped cell (cell area × land fraction), m²: the weight of every total
    (``soilco2.sources.grids.total_pg_c_yr``) and of the strata's area shares."""
    return cells["cell_area_m2"].to_numpy("f8") * cells["land_fraction"].to_numpy("f8")


def interval(values: np.ndarray, level: float = 0.95) -> dict:
    v = np.asarray(values, "f8")
    a = (1 - level) / 2
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        f"p{a * 100:g}": float(np.quantile(v, a)),
        f"p{(1 - a) * 100:g}": float(np.quantile(v, 1 - a)),
    }


def covariates_outside_training(
    table: pd.DataFrame, cells: pd.DataFrame, covariates: list[str], lo: float = 0.0, hi: float = 1.0
) -> np.ndarray:
    """Per cell, how many covariates lie outside the training records' [lo, hi] quantile range (default: min-max)
    (0 = inside the sampled climate space; > 0 = the forest extrapolates there)."""
    q = table[covariates].quantile([lo, hi])
    x = cells[covariates]
    return ((x < q.loc[lo]) | (x > q.loc[hi])).sum(axis=1).to_numpy(dtype="i1")


def build_inputs(cfg: GlobalConfig, root: Path) -> tuple[pd.DataFrame, dict, dict]:
    """The covariate grid (with land cover and NDVI when the config needs them) and the SRDB
    training tables ``rs``, ``rh`` (and ``pairs`` with the fraction model), with their accounting."""
    from soilco2.global_.covariates import covariate_grid, grid_coverage, training_table
    from soilco2.global_.runs import fraction_table
    from soilco2.sources.landcover import igbp_fractions
    from soilco2.sources.srdb import load_srdb
    from soilco2.sources.vegetation_index import ndvi_max

    wanted = cfg.all_covariates()
    needs_lc = cfg.sampling != "climate_strata" or any(c in LANDCOVER_COVARIATES for c in wanted)
    grid = covariate_grid(
        root,
        igbp_fractions(cfg.landcover_file) if needs_lc else None,
        ndvi_max(cfg.ndvi_file) if "ndvi_max" in wanted else None,
    )
    records, srdb_acc = load_srdb(root)
    tables = {}
    accounting = {"srdb": srdb_acc.to_dict(orient="records")[0] if hasattr(srdb_acc, "to_dict") else srdb_acc}
    for flux in FLUXES:
        tables[flux], accounting[flux] = training_table(
            records, grid, flux, drop_flags=tuple(cfg.drop_flags), max_distance_km=cfg.max_distance_km
        )
        if len(tables[flux]) < 2 * cfg.cv_folds:
            raise UserError(f"only {len(tables[flux])} {flux} records left for training", field="drop_flags")
    if cfg.rh_model == "fraction":
        tables["pairs"], accounting["rh_fraction"] = fraction_table(tables["rh"])
    accounting["grid"] = grid_coverage(grid)
    return grid, tables, accounting


def run_global(
    cfg: GlobalConfig, *, config_file: str | Path | None = None, progress: bool = True, replace: bool = False
) -> Path:
    """Run the S3 pipeline and write the run folder ``cfg.out_dir``; returns its path. ``replace``: a
    finished S3 run there is replaced."""
    from soilco2.config import dump_config
    from soilco2.global_ import outputs
    from soilco2.global_.cv import cross_validate, cross_validate_fraction
    from soilco2.global_.runs import prepare, run_all, total_statistics
    from soilco2.global_.selection import select_covariates, selection_summary
    from soilco2.global_.tables import (
        convergence_table,
        ecosystem_totals,
        landcover_agreement,
        latitude_profiles,
    )
    from soilco2.parallel import probe_scheduler
    from soilco2.paths import data_root
    from soilco2.sources.grids import total_pg_c_yr

    if cfg.scheduler_address:  # refused in seconds, before inputs or CV are built
        probe_scheduler(cfg.scheduler_address, field="scheduler_address", file=config_file)
    for key in ("landcover_file", "ndvi_file"):  # the config's own input files, before any folder is touched
        given = getattr(cfg, key)
        if given is not None and not Path(given).is_file():
            raise UserError("file not found", file=given, field=key)
    t0 = time.perf_counter()
    timings = {}
    root = data_root(cfg.data_root)
    # the whole run is built in <out_dir>.partial and swapped in at the end (soilco2.files.run_folder)
    with run_folder(Path(cfg.out_dir), "global", replace=replace) as out:
        dump_config(cfg, out / "config.yaml")

        grid, tables, accounting = build_inputs(cfg, root)
        timings["inputs_s"] = time.perf_counter() - t0
        selection = None
        if cfg.covariates == "auto":  # every subset of the candidates, by grouped-CV RMSE
            t_sel = time.perf_counter()
            selection, picked = select_covariates(tables, cfg, progress)
            write_parquet(selection, out / "selection.parquet", index=False)
            cfg = cfg.model_copy(update={"covariates": picked})
            timings["selection_s"] = time.perf_counter() - t_sel

        t1 = time.perf_counter()
        cv = [cross_validate(tables["rs"], cfg, "rs")]
        cv.append(
            cross_validate_fraction(tables, cfg)
            if cfg.rh_model == "fraction"
            else cross_validate(tables["rh"], cfg, "rh")
        )
        cv_metrics = pd.concat([c[0] for c in cv], ignore_index=True)
        cv_oof = pd.concat([c[1] for c in cv], ignore_index=True)
        timings["cv_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        cells = grid[grid["complete"]].reset_index(drop=True)
        area = land_area_m2(cells)
        data, sampling = prepare(tables, cells, cfg, area)
        if cfg.climate is not None:  # every year of the user's monthly climate
            from soilco2.global_.runs import _fitted_tables, spread_runs
            from soilco2.global_.years import year_inputs

            runs = sorted(spread_runs(cfg.n_bootstrap, cfg.climate.runs))  # spread: no Dask task gets them all
            data["years"] = year_inputs(cfg, root, cells, data, _fitted_tables(cfg), progress) | {
                "area": area,
                "runs": runs,
            }
        boot = run_all(data, cfg, progress=progress) | sampling
        every = cv_metrics[cv_metrics["fold"] == "all"].set_index("flux")
        boot["interval_correction"] = every["log_correction_90"].to_dict()  # the maps' conformal widening
        boot["outside"] = {f: covariates_outside_training(tables[f], cells, cfg.covariates_of(f)) for f in FLUXES}
        timings["runs_s"] = time.perf_counter() - t2

        totals = pd.DataFrame({"draw": np.arange(cfg.n_bootstrap)})
        for flux in (*FLUXES, "ra"):
            totals[f"{flux}_pg_c_yr"] = total_pg_c_yr(boot["draws"][flux], area)
        qruns = boot["quantile_runs"]
        for flux in (*FLUXES, "ra"):  # the median maps exist for the quantile runs only
            totals[f"{flux}_from_q50_pg_c_yr"] = np.nan
            totals.loc[qruns, f"{flux}_from_q50_pg_c_yr"] = total_pg_c_yr(boot["draws_q50"][flux], area)
        conv_table, conv_first = convergence_table(totals)
        t3 = time.perf_counter()
        stats = outputs.cell_stats(boot)
        summary = {
            "convergence_runs": conv_first,
            "totals_pg_c_yr": {f: interval(totals[f"{f}_pg_c_yr"]) for f in ("rs", "rh", "ra")},
            "totals_from_q50_pg_c_yr": {
                f: interval(totals[f"{f}_from_q50_pg_c_yr"].dropna()) for f in ("rs", "rh", "ra")
            },
            "lu2021_pg_c_yr": LU2021_PG_C_YR,
            "totals_note": "per draw: sum of the forest's conditional-mean map x cell area x land fraction / 1e15; "
            "interval = 2.5-97.5 % of draws; totals_from_q50: the same from the forest's "
            "conditional-median map; land cells lacking a covariate are not mapped (see accounting.grid)",
            "config_file": str(config_file) if config_file is not None else None,
            "cv": cv_metrics[cv_metrics["fold"] == "all"].drop(columns="fold").to_dict(orient="records"),
            "n_training_records": {f: int(len(tables[f])) for f in FLUXES},
            "n_training_locations": {f: int(tables[f].groupby(["cell_lat", "cell_lon"]).ngroups) for f in FLUXES},
            "ra_negative_cell_share": float(np.mean(np.median(boot["draws"]["ra"], axis=0) < 0)),
            "ra_negative_in_any_run_cell_share": float(np.mean((boot["draws"]["ra"] < 0).any(axis=0))),
            "independent_rh_above_rs_cell_share": float(np.mean(boot["crossing"])) if boot["crossing"] else None,
            "total_statistics_pg_c_yr": {
                f: total_statistics(totals[f"{f}_pg_c_yr"]) | _cell_spread_integrals(stats[f], area)
                for f in ("rs", "rh", "ra")
            },
            "sampling": cfg.sampling,
            "rh_model": cfg.rh_model,
            "selected_covariates": {f: cfg.covariates_of(f) for f in FLUXES},
            "selection": selection_summary(selection, cfg) if selection is not None else None,
            "paper_protocol": _paper_protocol(boot["scores"]),
            "mapped_land_area_m2": accounting["grid"]["covered_land_area_m2"],
            "extrapolated_land_area_share": {  # >= 1 covariate outside the training records' min-max range
                f: float(np.sum(area * (boot["outside"][f] > 0)) / np.sum(area)) for f in FLUXES
            },
            "n_bootstrap": cfg.n_bootstrap,
            "n_trees": cfg.n_trees,
            "seed": cfg.seed,
        }
        outputs.write_tables(out, tables, accounting, cv_metrics, cv_oof, totals, boot, cfg)
        conv_table.to_parquet(out / "convergence.parquet", index=False)
        latitude_profiles(boot["draws"], cells, area).to_parquet(out / "latitude_profiles.parquet", index=False)
        if "igbp" in cells.columns:
            eco = ecosystem_totals(boot["draws"], cells, area)
            eco.to_parquet(out / "ecosystem_totals.parquet", index=False)
            summary["ecosystem_totals_pg_c_yr"] = (
                eco.set_index("igbp")[["rs_pg_c_yr", "rh_pg_c_yr", "ra_pg_c_yr"]].round(3).to_dict(orient="index")
            )
            both = pd.concat([tables["rs"], tables["rh"]], ignore_index=True)
            landcover_agreement(both).to_parquet(out / "landcover_agreement.parquet", index=False)
        if "year_totals" in boot:
            from soilco2.global_.years import write_year_outputs

            summary["interannual"] = write_year_outputs(out, grid, cells, boot, data["years"], cfg)
        maps = outputs.map_arrays(grid, cells, stats, boot, cfg)
        years = pd.concat([tables["rs"], tables["rh"]])["study_midyear"]
        outputs.write_maps(out / "maps.nc", grid, cells, boot, cfg, maps, record_years=(years.min(), years.max()))
        timings["outputs_s"] = time.perf_counter() - t3
        if cfg.figures:
            t4 = time.perf_counter()
            outputs.write_figures_and_html(
                out, cells, grid, boot, totals, cv_metrics, cv_oof, summary, accounting, cfg, maps
            )
            timings["figures_s"] = time.perf_counter() - t4
        timings["total_s"] = time.perf_counter() - t0
        summary["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
        write_json(out / "summary.json", summary, indent=2)
        write_manifest(out, ["config.yaml", "maps.nc", "totals.parquet", "summary.json"], kind="global")
    return Path(cfg.out_dir)


def _paper_protocol(scores: pd.DataFrame) -> dict | None:
    """Held-out records of the runs (random 80/20 splits): median over runs of each score, and
    the share of test records sharing a 0.5° cell with a training record."""
    if scores.empty:
        return None
    cols = ["r2", "rmse_gc_m2_yr", "bias_gc_m2_yr", "r", "coverage_90", "shared_cell_share", "n"]
    return {f: {c: float(g[c].median()) for c in cols} for f, g in scores.groupby("flux")}


def _cell_spread_integrals(stats: dict, area: np.ndarray) -> dict:
    """The area integral of each cell's spread over runs (Pg C/yr): what a "global SD" is when
    it sums per-cell SDs (much wider than the SD of the global total, which is ``sd``)."""
    return {
        "cell_sd_area_integral": float(np.sum(stats["sd"] * area) / 1e15),
        "cell_mad_area_integral": float(np.sum(stats["mad"] * area) / 1e15),
    }
