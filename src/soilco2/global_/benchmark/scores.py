"""Score process models' Rs, Rh and Ra against an S3 run (Lu et al. 2021, Figs. 4–6, Tables S2–S5).

Every model file goes one way: :func:`soilco2.sources.netcdf.fields.read_model_field` (any regular
grid, units and time axis) → against the run's SRDB records on the model's own grid (the cell that
holds each record, a coastal record the nearest land cell within ``max_distance_km``) →
:func:`soilco2.sources.netcdf.regrid.regrid_conservative` to the run's 0.5° grid → against the run's mean map
with ILAMB's scores (:mod:`soilco2.global_.benchmark.map_scores`), by 0.5° latitude band and by IGBP class. The
series that are not gridded (CMIP6 / ISIMIP2a totals, ISIMIP2a sites) and the budget table are
:mod:`soilco2.global_.benchmark.budget`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.global_.benchmark.config import BenchmarkConfig, ModelFile
from soilco2.sources.netcdf.fields import FLUXES, ModelField

PG = 1e15


@dataclass
class RunMaps:
    """What the benchmark needs of an S3 run folder."""

    folder: Path
    lat: np.ndarray
    lon: np.ndarray
    mean: dict[str, np.ndarray]  # flux -> (lat, lon) mean over runs, g C m-2 yr-1
    land_area: np.ndarray  # (lat, lon) m²
    records: pd.DataFrame  # SRDB training records: flux, lat, lon, flux_gc_m2_yr
    summary: dict
    profiles: pd.DataFrame | None
    ecosystems: pd.DataFrame | None


def load_run(run: str | Path) -> RunMaps:
    import xarray as xr

    run = Path(run)
    need = [run / "maps.nc", run / "summary.json", run / "training_table.parquet"]
    for p in need:
        if not p.is_file():
            raise UserError("not an S3 run folder (file missing)", file=p)
    from soilco2.files import verify_manifest

    verify_manifest(run, kind="global")  # a changed or partial run is never scored against
    try:
        ds = xr.open_dataset(need[0])
    except (OSError, ValueError) as err:
        raise UserError(f"unreadable S3 map ({err.__class__.__name__})", file=need[0]) from None
    with ds:
        missing = [v for v in ("rs_mean", "rh_mean", "ra_mean", "cell_area", "land_fraction") if v not in ds]
        if missing:
            raise UserError("not an S3 map file (variable missing)", file=need[0], field=missing[0])
        lat, lon = ds["lat"].values.astype("f8"), ds["lon"].values.astype("f8")
        mean = {f: ds[f"{f}_mean"].transpose("lat", "lon").values.astype("f8") for f in FLUXES}
        land = (ds["cell_area"] * ds["land_fraction"]).transpose("lat", "lon").values.astype("f8")
    opt = {name: run / f"{name}.parquet" for name in ("latitude_profiles", "ecosystem_totals")}
    return RunMaps(
        folder=run,
        lat=lat,
        lon=lon,
        mean=mean,
        land_area=land,
        records=pd.read_parquet(need[2], columns=["flux", "lat", "lon", "flux_gc_m2_yr"]),
        summary=json.loads(need[1].read_text()),
        profiles=pd.read_parquet(opt["latitude_profiles"]) if opt["latitude_profiles"].is_file() else None,
        ecosystems=pd.read_parquet(opt["ecosystem_totals"]) if opt["ecosystem_totals"].is_file() else None,
    )


def read_models(cfg: BenchmarkConfig, root: Path | None, progress: bool = False) -> list[tuple[str, str, ModelField]]:
    """(model name, flux, field) for every flux of every model file in ``cfg``."""
    from soilco2.progress import track
    from soilco2.sources.netcdf.fields import read_model_field

    out = []
    for m in track(cfg.models, "reading model files", progress):
        path = _resolve(m, root)
        fluxes = list(m.variables) or m.fluxes or list(FLUXES)
        found = []
        for flux in fluxes:
            try:
                field = read_model_field(
                    path,
                    flux,
                    variables=m.variables.get(flux),
                    units=m.units.get(flux),
                    land_area=m.land_area,
                    land_fraction=m.land_fraction,
                    period=cfg.period,
                )
            except UserError as err:
                if m.variables or m.fluxes or "no " + flux + " variable" not in str(err):
                    raise
                continue  # looking for any flux: a missing one is fine
            found.append((m.name, flux, field))
        if not found:
            raise UserError("no rs, rh or ra variable (by name or CF standard name)", file=path, field="variables")
        out.extend(found)
    return out


def _resolve(m: ModelFile, root: Path | None) -> Path:
    if "{data_root}" in m.path:
        if root is None:
            from soilco2.paths import data_root

            root = data_root()
        return Path(m.path.replace("{data_root}", str(root)))
    return Path(m.path).expanduser()


def on_run_grid(field: ModelField, run: RunMaps) -> np.ndarray:
    """The field regridded conservatively onto the run's 0.5° grid (NaN where it has no value)."""
    from soilco2.sources.netcdf.regrid import bounds_from_centres, regrid_conservative

    mean, _ = regrid_conservative(
        field.values,
        field.lat_bounds,
        field.lon_bounds,
        bounds_from_centres(run.lat, -90, 90),
        bounds_from_centres(run.lon),
        field.land_weight,
    )
    return mean


def at_points(field: ModelField, lat: np.ndarray, lon: np.ndarray, max_distance_km: float) -> np.ndarray:
    """The model value of the cell holding each point; a point in a cell without value takes the
    nearest cell with one within ``max_distance_km``; else NaN."""
    from soilco2.sources.grids import nearest_valid

    ok = np.isfinite(field.values)
    i, j, _, _ = nearest_valid(ok, field.lat, field.lon, np.asarray(lat, "f8"), np.asarray(lon, "f8"), max_distance_km)
    return np.where(i >= 0, field.values[np.maximum(i, 0), np.maximum(j, 0)], np.nan)


def score_records(sim: np.ndarray, obs: np.ndarray) -> dict:
    from soilco2 import metrics

    ok = np.isfinite(sim) & np.isfinite(obs)
    if ok.sum() < 3:
        return {"n": int(ok.sum())}
    s = metrics.score(obs[ok], sim[ok], names=("r", "bias", "rmse"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmedian(sim[ok] / obs[ok]))
    return {"n": int(ok.sum()), "r": s["r"], "bias": s["bias"], "rmse": s["rmse"], "median_ratio": ratio}


def score_models(run: RunMaps, models: list[tuple[str, str, ModelField]], cfg: BenchmarkConfig) -> dict:
    """Scores (one row per model and flux), the regridded maps, latitude profiles and per-IGBP
    totals of every model beside the run's."""
    from soilco2.global_.benchmark.map_scores import compare_maps

    rows, grids = [], {}
    ours_total = run.summary.get("totals_pg_c_yr", {})
    for name, flux, field in models:
        g = on_run_grid(field, run)
        grids[(name, flux)] = g
        pts = run.records[run.records["flux"] == flux]
        srdb = score_records(
            at_points(field, pts["lat"].to_numpy(), pts["lon"].to_numpy(), cfg.max_distance_km),
            pts["flux_gc_m2_yr"].to_numpy("f8"),
        )
        vs_map = compare_maps(run.mean[flux], g, run.land_area)
        both = np.isfinite(g) & np.isfinite(run.mean[flux])
        interval = ours_total.get(flux, {})
        rows.append(
            {
                "model": name,
                "flux": flux,
                "file": Path(field.file).name,
                "variables": "+".join(field.variables),
                "source_units": field.source_units,
                "period": field.period,
                "total_pg_c_yr": field.total_pg_c_yr(),
                "ours_total_pg_c_yr": interval.get("mean", np.nan),
                "ours_total_low": interval.get("p2.5", np.nan),
                "ours_total_high": interval.get("p97.5", np.nan),
                "total_within_our_interval": bool(
                    interval.get("p2.5", np.inf) <= field.total_pg_c_yr() <= interval.get("p97.5", -np.inf)
                ),
                "shared_cells_model_pg_c_yr": float(np.sum(np.where(both, g, 0) * run.land_area) / PG),
                "shared_cells_ours_pg_c_yr": float(np.sum(np.where(both, run.mean[flux], 0) * run.land_area) / PG),
                **{f"srdb_{k}": v for k, v in srdb.items()},
                **{f"map_{k}" if "score" not in k else k: v for k, v in vs_map.items()},
            }
        )
    scores = pd.DataFrame(rows).rename(columns={"srdb_bias": "srdb_bias_gc_m2_yr", "srdb_rmse": "srdb_rmse_gc_m2_yr"})
    return {
        "scores": scores,
        "grids": grids,
        "profiles": _profiles(run, grids),
        "ecosystems": _ecosystems(run, grids, cfg),
    }


def _profiles(run: RunMaps, grids: dict) -> pd.DataFrame:
    """Per 0.5° latitude band: Pg C/yr over the run's land area, ours (mean and SD over runs from
    the run's ``latitude_profiles``) and each model's (over cells where it has a value)."""
    rows = []
    if run.profiles is not None:
        for flux in FLUXES:
            p = run.profiles
            rows.append(
                pd.DataFrame({"lat": p["lat"], "flux": flux, "source": "ours", "pg_c_yr": p[f"{flux}_pg_c_yr"]}).assign(
                    pg_c_yr_sd=p[f"{flux}_pg_c_yr_sd"].to_numpy()
                )
            )
    for (name, flux), g in grids.items():
        band = np.nansum(np.where(np.isfinite(g), g, 0) * run.land_area, axis=1) / PG
        keep = band != 0
        rows.append(pd.DataFrame({"lat": run.lat[keep], "flux": flux, "source": name, "pg_c_yr": band[keep]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _ecosystems(run: RunMaps, grids: dict, cfg: BenchmarkConfig) -> pd.DataFrame:
    """Per IGBP class (weights: class fraction × cell land area, as the run's own table): each
    model's total beside ours (mean, SD over runs), and the models' mean and CV %."""
    if run.ecosystems is None or not grids:
        return pd.DataFrame()
    from soilco2.sources.landcover import IGBP, igbp_fractions

    frac = igbp_fractions(cfg.landcover_file)
    if run.lat[0] < run.lat[-1]:
        frac = frac[:, ::-1, :]  # the file's rows run from the north
    if frac.shape[1:] != run.land_area.shape:
        return pd.DataFrame()
    eco = run.ecosystems.set_index("igbp")
    rows = []
    for flux in FLUXES:
        names = [n for (n, f) in grids if f == flux]
        if not names:
            continue
        for c in eco.index:
            w = frac[IGBP.index(c)] * run.land_area
            row = {
                "flux": flux,
                "igbp": c,
                "name": eco.loc[c, "name"],
                "ours_pg_c_yr": eco.loc[c, f"{flux}_pg_c_yr"],
                "ours_sd": eco.loc[c, f"{flux}_pg_c_yr_sd"],
            }
            vals = [float(np.nansum(grids[(n, flux)] * w) / PG) for n in names]
            row |= dict(zip(names, vals, strict=True))
            row["models_mean"] = float(np.mean(vals))
            row["models_cv_pct"] = float(np.std(vals, ddof=1) / abs(np.mean(vals)) * 100) if len(vals) > 1 else np.nan
            rows.append(row)
    return pd.DataFrame(rows)
