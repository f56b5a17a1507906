"""Read an S1 daily run folder (docs/contracts.md) and compute every diagnostic of the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from soilco2.daily import annual_totals
from soilco2.daily.outputs import performance_class
from soilco2.daily.report import diagnostics as dg
from soilco2.daily.report import error_parts
from soilco2.errors import UserError
from soilco2.files import verify_manifest

PAPER = {  # Smykalov et al. 2025, 82 COSORE sites
    "test": {"median_nse": 0.02, "median_kge": 0.30},
    "train": {"median_nse": 0.54, "median_kge": 0.67},
    "n_good": 26,
    "n_sites": 82,
}
BASELINES = ("q10", "doy_climatology", "random_forest")
TRAIN, VALIDATION, TEST = 0, 1, 2  # split codes of predictions.nc
ATTRIBUTES = (
    "n_obs_days",
    "acf_1",
    "acf_182",
    "acf_365",
    "summer_minus_winter_umol_m2_s",
    "mean_flux_umol_m2_s",
    "cv_flux",
    "abs_lat",
    "elevation_m",
    "mat_c",
    "map_mm",
    "pet_mm_yr",
    "aridity_pet_p",
    "soc_mg_ha",
    "whc_mm",
)
SITE_COLUMNS = ("site", "lat", "lon")
METRIC_COLUMNS = ("site", "model", "split", "nse", "kge", "r")
PRED_VARS = ("obs", "lstm", "split")  # obs_n (records per day) is optional


@dataclass
class RunData:
    run: Path
    sites: pd.DataFrame
    metrics: pd.DataFrame
    summary: dict
    config: dict
    preds: xr.Dataset


@dataclass
class Diagnostics:
    per_site: pd.DataFrame  # sites + characteristics + attributes + LSTM test metrics + class + error parts
    correlations: pd.DataFrame
    share_good: pd.DataFrame
    extremes: pd.DataFrame
    spikes: pd.DataFrame
    annual: pd.DataFrame
    srdb_matches: pd.DataFrame
    srdb_agreement: dict
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    pooled_parts: pd.DataFrame = field(default_factory=pd.DataFrame)  # test days of all sites, by part
    pooled_days: pd.DataFrame = field(default_factory=pd.DataFrame)  # site, part, obs, sim (each day twice)
    error_parts: pd.DataFrame = field(default_factory=pd.DataFrame)  # medians of the test-MSE shares by group


def _need_columns(frame: pd.DataFrame, cols, path: Path) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise UserError(f"missing column(s) {', '.join(missing)}", file=path, field=missing[0])


def load_run(run: Path) -> RunData:
    """Read the run folder; a missing file or column is a :class:`UserError` naming it."""
    run = Path(run)
    if not run.is_dir():
        raise UserError("run folder not found", file=run)
    verify_manifest(run)
    paths = {k: run / k for k in ("sites.parquet", "metrics.parquet", "predictions.nc")}
    for p in paths.values():
        if not p.is_file():
            raise UserError("not a daily run folder: file missing (run 'soilco2 daily train' first)", file=p)
    try:
        sites = pd.read_parquet(paths["sites.parquet"])
        metrics = pd.read_parquet(paths["metrics.parquet"])
        preds = xr.load_dataset(paths["predictions.nc"])
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read run output ({err.__class__.__name__})", file=run) from None
    _need_columns(sites, SITE_COLUMNS, paths["sites.parquet"])
    _need_columns(metrics, METRIC_COLUMNS, paths["metrics.parquet"])
    for v in PRED_VARS:
        if v not in preds:
            raise UserError("variable missing", file=paths["predictions.nc"], field=v)
    try:
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    except (ValueError, UnicodeDecodeError):
        raise UserError("unreadable (truncated?): 'soilco2 daily evaluate RUN' writes it again",
                        file=run / "summary.json") from None  # fmt: skip
    config = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
    sites = sites[sites["site"].isin(preds["site"].values.astype(str))].reset_index(drop=True)
    return RunData(run, sites, metrics, summary, config or {}, preds)


def find_key(cfg, key: str):
    """First value of ``key`` in a nested config mapping (top level first), else None."""
    if not isinstance(cfg, dict):
        return None
    if key in cfg:
        return cfg[key]
    for v in cfg.values():
        found = find_key(v, key)
        if found is not None:
            return found
    return None


def lstm_test_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    t = metrics[(metrics["model"] == "lstm") & (metrics["split"] == "test")].copy()
    if "class" not in t:
        t["class"] = [performance_class(a, b) for a, b in zip(t["nse"], t["kge"])]
    return t[["site", "nse", "kge", "r", "class"]].rename(columns={"nse": "test_nse", "kge": "test_kge", "r": "test_r"})


def summary_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Median/mean NSE, KGE, r per model and split, share good, and the paper's row."""
    rows = []
    for (model, split), g in metrics.groupby(["model", "split"], sort=False):
        cls = g["class"] if "class" in g else pd.Series([performance_class(a, b) for a, b in zip(g.nse, g.kge)])
        rows.append(
            {
                "model": model,
                "split": split,
                "n_sites": int(g["site"].nunique()),
                "median_nse": g["nse"].median(),
                "median_kge": g["kge"].median(),
                "median_r": g["r"].median(),
                "mean_nse": g["nse"].mean(),
                "mean_kge": g["kge"].mean(),
                "n_good": int((cls == "good").sum()),
                "share_good": float((cls == "good").mean()),
            }
        )
    for split in ("train", "test"):
        rows.append(
            {
                "model": "paper LSTM (Smykalov et al. 2025)",
                "split": split,
                "n_sites": PAPER["n_sites"],
                "median_nse": PAPER[split]["median_nse"],
                "median_kge": PAPER[split]["median_kge"],
                "n_good": PAPER["n_good"] if split == "test" else np.nan,
                "share_good": PAPER["n_good"] / PAPER["n_sites"] if split == "test" else np.nan,
            }
        )
    order = {"lstm": 0, "paper LSTM (Smykalov et al. 2025)": 1}
    out = pd.DataFrame(rows)
    out["n_good"] = out["n_good"].astype("Int64")
    out["_o"] = out["model"].map(order).fillna(2)
    out["_s"] = (out["split"] != "test").astype(int)
    return out.sort_values(["_s", "_o", "model"]).drop(columns=["_o", "_s"]).reset_index(drop=True)


def _monthly_climatology(sites: pd.DataFrame, data_root, notes: list[str]) -> pd.DataFrame | None:
    try:
        from soilco2.sources.grids import climatology_at

        clim = climatology_at(sites["lat"].to_numpy(float), sites["lon"].to_numpy(float), data_root)
    except (ImportError, UserError, OSError) as err:
        notes.append(f"PET/aridity not computed: 0.5° climatology unavailable ({err})")
        return None
    clim["site"] = sites["site"].to_numpy()[clim["point"].to_numpy()]
    return clim


def srdb_annual_points(data_root, notes: list[str]) -> pd.DataFrame | None:
    """SRDB unmanipulated annual Rs records as ``record, lat, lon, year, rs_annual_gc_m2_yr``.

    Uses ``soilco2.sources.srdb.load_srdb`` (duplicates dropped); records flagged as having no or
    sea coordinates, or a known SRDB quality problem, are left out and counted in ``notes``.
    """
    try:
        from soilco2.sources.srdb import load_srdb

        table, _ = load_srdb(data_root, drop_duplicates=True)
    except ImportError:
        notes.append("SRDB comparison skipped: soilco2.sources.srdb is not available")
        return None
    except (UserError, OSError) as err:
        notes.append(f"SRDB comparison skipped: {err}")
        return None
    table = table.loc[:, ~table.columns.duplicated()]
    t = table[table["rs_annual_gc_m2_yr"].notna()]
    bad = pd.Series(False, index=t.index)
    for flag in ("flag_no_coords", "flag_in_sea", "qc_problem"):
        if flag in t:
            bad |= t[flag].fillna(False).astype(bool)
    notes.append(
        f"SRDB: {len(t)} unmanipulated records with Rs_annual (duplicates dropped); "
        f"{int(bad.sum())} left out for missing/sea coordinates or SRDB quality problems"
    )
    t = t[~bad]
    return pd.DataFrame(
        {
            "record": t["record_number"].to_numpy(),
            "lat": t["lat"].to_numpy(float),
            "lon": t["lon"].to_numpy(float),
            "year": pd.to_numeric(t["study_midyear"], errors="coerce").to_numpy(float),
            "rs_annual_gc_m2_yr": t["rs_annual_gc_m2_yr"].to_numpy(float),
        }
    )


def analyse(rd: RunData, data_root=None, max_km: float = 5.0, tick: Callable[[str], None] | None = None) -> Diagnostics:
    """Every analysis of the report for one run. ``tick`` reports progress."""
    tick = tick or (lambda _msg: None)
    notes: list[str] = []
    preds = rd.preds
    names = preds["site"].values.astype(str)
    times = pd.DatetimeIndex(preds["time"].values)
    obs = pd.DataFrame(preds["obs"].values.T, index=times, columns=names)
    lat = rd.sites.set_index("site")["lat"]

    tick("data characteristics")
    chars = dg.data_characteristics(obs[rd.sites["site"]], lat)
    tick("climate attributes (PET, aridity)")
    clim = dg.climate_attributes(rd.sites, _monthly_climatology(rd.sites, data_root, notes))
    per_site = clim.merge(chars, on="site").merge(lstm_test_metrics(rd.metrics), on="site", how="left")
    for c in (
        "igbp",
        "n_train_days",
        "n_test_days",
        "test_start",
        *[c for c in rd.sites if c.startswith("insitu_share_")],
    ):
        if c in rd.sites:
            per_site[c] = rd.sites[c].to_numpy()
    insitu = dg.insitu_drivers_bin(per_site)
    if insitu is not None:
        per_site["test_insitu_drivers"] = insitu.astype(str).to_numpy()

    no_test = per_site["test_nse"].isna().sum()
    if no_test:
        notes.append(
            f"{no_test} site(s) without finite LSTM test metrics (too few test days): no class, left out of "
            "the correlations"
        )
    tick("correlations")
    attrs = [a for a in ATTRIBUTES if a in per_site and per_site[a].notna().sum() >= 3]
    corr = dg.correlation_table(per_site, ["test_nse", "test_kge", "test_r"], attrs, iqr_metrics=["test_nse"])
    share = dg.share_good_by_bins(per_site)

    tick("extremes, spikes, error decomposition, annual totals")
    split = preds["split"].values
    lstm = preds["lstm"].values
    ext, spk, ann, pooled, parts = [], [], [], [], []
    n_rec = preds["obs_n"].values if "obs_n" in preds else None
    if n_rec is None:
        notes.append(
            "predictions.nc has no obs_n (records behind each day; a run written before it was added): the "
            "partial-day diagnostics are left out — 'soilco2 daily evaluate RUN' adds it"
        )
    for i, s in enumerate(names):
        o = preds["obs"].values[i]
        spikes = dg.spike_mask(o)
        partial = None if n_rec is None else dg.partial_days(n_rec[i], np.isfinite(o))
        for codes, label in (((TEST,), "test"), ((TRAIN, VALIDATION), "train")):
            m = np.isin(split[i], codes)
            ext += [{"site": s, "split": label, **r} for r in dg.extremes_metrics(o[m], lstm[i][m])]
            spk += [{"site": s, "split": label, **r} for r in dg.spike_metrics(o[m], lstm[i][m], spikes[m])]
            if label == "test":
                row = {f"test_{k}": v for k, v in error_parts.error_decomposition(o[m], lstm[i][m]).items() if k != "n"}
                if partial is not None:
                    row |= {f"test_{k}": v for k, v in dg.partial_day_effect(o[m], lstm[i][m], partial[m]).items()}
                parts.append({"site": s, **row})
                ok = m & np.isfinite(o)
                labels = [dg.extreme_parts(o[ok]), np.where(spikes[ok], "spikes", "non_spikes")]
                if partial is not None:
                    labels.append(np.where(partial[ok], "partial_days", "full_days"))
                for part in labels:
                    pooled.append(pd.DataFrame({"site": s, "part": part, "obs": o[ok], "sim": lstm[i][ok]}))
        a = annual_totals.annual_totals(times, lstm[i])
        a = a[a["n_days"] > 0]
        observed = pd.Series(np.isfinite(o), index=times).groupby(times.year).sum()
        a["observed_days"] = a["year"].map(observed).fillna(0).astype(int)
        ann.append(a.assign(site=s))
    per_site = per_site.merge(pd.DataFrame(parts), on="site", how="left")
    annual = (
        pd.concat(ann, ignore_index=True)[
            ["site", "year", "n_days", "coverage", "scaled", "observed_days", "total_gc_m2_yr"]
        ]
        if ann
        else pd.DataFrame()
    )

    tick("SRDB matches")
    srdb = srdb_annual_points(data_root, notes)
    if srdb is None:
        srdb = pd.DataFrame({"record": [], "lat": [], "lon": [], "year": [], "rs_annual_gc_m2_yr": []}, dtype=float)
    matches = annual_totals.match_srdb(rd.sites, annual, srdb, max_km)
    pooled_days = (
        pd.concat(pooled, ignore_index=True) if pooled else pd.DataFrame({"site": [], "part": [], "obs": [], "sim": []})
    )
    return Diagnostics(
        per_site,
        corr,
        share,
        pd.DataFrame(ext),
        pd.DataFrame(spk),
        annual,
        matches,
        annual_totals.agreement(matches),
        summary_table(rd.metrics),
        notes,
        dg.pooled_parts(pooled_days),
        pooled_days,
        error_parts.error_parts_by_group(per_site),
    )
