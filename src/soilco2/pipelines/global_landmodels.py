"""Score the soil models' Rh (CASA-CLM, CORPSE, MIMICS; :mod:`soilco2.sources.landmodels`) against
an S3 run: at the run's SRDB Rh training records and against its Rh map. The scoring itself is
:mod:`soilco2.model_benchmark` (``score_at_points``, ``compare_with_map``); this module only
feeds it the run's records and map and writes the result into the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from soilco2.errors import UserError


def score_landmodels(run: str | Path, root=None) -> pd.DataFrame:
    """One row per model: ``total_pg_c_yr`` (its own land area), ``srdb_*`` (n, r, bias, RMSE,
    median ratio at the run's Rh records; model cell containing each record), ``map_*``
    (area-weighted r, bias, RMSE against the run's ``rh_median`` map and both totals over the
    cells they share). Writes ``landmodel_scores.parquet`` / ``.json`` into the run folder."""
    import xarray as xr

    from soilco2.model_benchmark import compare_with_map, score_at_points
    from soilco2.sources.grids import total_pg_c_yr
    from soilco2.sources.landmodels import SOIL_MODELS, soil_model_rh

    run = Path(run)
    table_path, maps_path = run / "training_table.parquet", run / "maps.nc"
    for p in (table_path, maps_path):
        if not p.is_file():
            raise UserError("not an S3 run folder (file missing)", file=p)
    table = pd.read_parquet(table_path)
    points = table.loc[table["flux"] == "rh", ["lat", "lon", "flux_gc_m2_yr"]].reset_index(drop=True)
    models = soil_model_rh(root)
    names = list(SOIL_MODELS)
    with xr.open_dataset(maps_path) as ds:
        ref = ds["rh_median"].load()
        land_area = (ds["cell_area"] * ds["land_fraction"]).load()
    at_points = score_at_points(models, names, points, obs_col="flux_gc_m2_yr").set_index("model")
    vs_map = compare_with_map(models, names, ref, land_area).set_index("model")
    out = pd.DataFrame(
        {"total_pg_c_yr": [float(total_pg_c_yr(models[m], models["land_area_m2"], axis=None)) for m in names]},
        index=pd.Index(names, name="model"),
    )
    out = out.join(at_points.add_prefix("srdb_")).join(vs_map.add_prefix("map_")).reset_index()
    out.to_parquet(run / "landmodel_scores.parquet", index=False)
    (run / "landmodel_scores.json").write_text(json.dumps(out.to_dict(orient="records"), indent=2))
    return out


def compare_published_totals(run: str | Path, root=None, years: tuple[int, int] = (2000, 2010)) -> pd.DataFrame:
    """Global Rh of published model ensembles and data products (``published_global_rh``: CMIP6,
    ISIMIP2a, Hashimoto et al. 2015, Tang et al. 2020), each model's mean over ``years``, beside
    the run's Rh total (mean and 2.5–97.5 % of draws). Writes ``published_rh_totals.parquet``."""
    from soilco2.sources.landmodels import published_global_rh

    run = Path(run)
    summary_path = run / "summary.json"
    if not summary_path.is_file():
        raise UserError("not an S3 run folder (file missing)", file=summary_path)
    rh = json.loads(summary_path.read_text())["totals_pg_c_yr"]["rh"]
    pub = published_global_rh(root)
    pub = pub[pub["year"].between(*years)]
    per_model = pub.groupby(["source", "model"], as_index=False)["rh_pg_c_yr"].mean()
    out = (
        per_model.groupby("source")["rh_pg_c_yr"]
        .agg(models="size", median="median", min="min", max="max")
        .reset_index()
    )
    out.insert(0, "years", f"{years[0]}-{years[1]}")
    run_row = pd.DataFrame(
        [
            {
                "years": "",
                "source": f"this run ({run.name}), mean of draws",
                "models": 1,
                "median": rh["mean"],
                "min": rh["p2.5"],
                "max": rh["p97.5"],
            }
        ]
    )
    out = pd.concat([out, run_row], ignore_index=True)
    out.to_parquet(run / "published_rh_totals.parquet", index=False)
    return out
