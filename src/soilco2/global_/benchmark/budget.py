"""The series that are not gridded, and the carbon budget (Lu et al. 2021, Table 1).

- Published global Rh (CMIP6 ESMs, ISIMIP2a models, Hashimoto et al. 2015, Tang et al. 2020):
  each model's mean over the chosen years against the run's Rh interval (2.5–97.5 % of runs).
- ISIMIP2a Rh at 165 FLUXNET sites against SRDB Rh records: a record pairs with a site when it
  lies within ``site_radius_km`` of it and its study mid-year (rounded down) is a model year; the
  model's value of that year is compared.
- Budget: total autotrophic respiration TAR = GPP − NPP, above-ground AR = TAR − Ra (Ra here is
  root respiration, Rs − Rh), NEP = NPP − Rh, NBP = NEP − fire. Each interval is interval
  arithmetic over the cited ranges and the run's 2.5–97.5 % interval (the worst cases combined:
  bounds, not confidence intervals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.global_.benchmark.config import BenchmarkConfig


def published_totals(summary: dict, root, cfg: BenchmarkConfig) -> pd.DataFrame:
    """One row per published model: its mean Rh over ``cfg.published_years`` and whether it lies
    in the run's Rh interval."""
    from soilco2.sources.netcdf.landmodels import published_global_rh

    pub = published_global_rh(root)
    y0, y1 = cfg.published_years
    pub = pub[pub["year"].between(y0, y1)]
    out = pub.groupby(["source", "model"], as_index=False)["rh_pg_c_yr"].mean()
    rh = summary["totals_pg_c_yr"]["rh"]
    out["ours_low"], out["ours_high"] = rh["p2.5"], rh["p97.5"]
    out["within_our_interval"] = out["rh_pg_c_yr"].between(rh["p2.5"], rh["p97.5"])
    out.insert(0, "years", f"{y0}-{y1}")
    return out


def srdb_rh_records(root) -> pd.DataFrame:
    """Unmanipulated SRDB records with an annual Rh, coordinates on land and a study mid-year."""
    from soilco2.sources.srdb import load_srdb

    rec, _ = load_srdb(root)
    keep = rec["rh_annual_gc_m2_yr"].notna() & rec["lat"].notna() & rec["study_midyear"].notna()
    for flag in ("flag_no_coords", "flag_in_sea"):
        if flag in rec:
            keep &= ~rec[flag].fillna(False).astype(bool)
    return rec.loc[keep, ["lat", "lon", "rh_annual_gc_m2_yr", "study_midyear"]].reset_index(drop=True)


def isimip_sites(root, cfg: BenchmarkConfig) -> pd.DataFrame:
    """Per ISIMIP2a model: record pairs, sites, r, bias, RMSE and median model ÷ SRDB."""
    from soilco2.global_.benchmark.scores import score_records
    from soilco2.sources.grids import haversine_km
    from soilco2.sources.netcdf.landmodels import benchmarks_dir, read_csv_columns

    path = benchmarks_dir(root) / "rh_changes" / "all_annual_site_rh.csv"
    sites = read_csv_columns(path, ["site", "lat", "lon", "model"])
    years = [c for c in sites.columns if c.isdigit()]
    rec = srdb_rh_records(root)
    loc = sites.drop_duplicates("site")[["site", "lat", "lon"]].reset_index(drop=True)
    d = haversine_km(
        loc["lat"].to_numpy()[:, None],
        loc["lon"].to_numpy()[:, None],
        rec["lat"].to_numpy()[None],
        rec["lon"].to_numpy()[None],
    )
    si, ri = np.nonzero(d <= cfg.site_radius_km)
    pairs = pd.DataFrame(
        {
            "site": loc["site"].to_numpy()[si],
            "year": np.floor(rec["study_midyear"].to_numpy()[ri]).astype(int).astype(str),
            "obs": rec["rh_annual_gc_m2_yr"].to_numpy()[ri],
            "distance_km": d[si, ri],
        }
    )
    pairs = pairs[pairs["year"].isin(years)]
    long = sites.melt(id_vars=["site", "lat", "lon", "model"], value_vars=years, var_name="year", value_name="sim")
    joined = pairs.merge(long[["site", "model", "year", "sim"]], on=["site", "year"])
    rows = []
    for model, g in joined.groupby("model"):
        s = score_records(g["sim"].to_numpy("f8"), g["obs"].to_numpy("f8"))
        rows.append({"model": model, "sites": int(g["site"].nunique()), **s})
    out = pd.DataFrame(rows)
    out.attrs["rule"] = (
        f"SRDB Rh records within {cfg.site_radius_km:g} km of a site, study mid-year {years[0]}-{years[-1]}"
    )
    return out


def budget_table(summary: dict, cfg: BenchmarkConfig) -> pd.DataFrame:
    """name, value, low, high (Pg C/yr) and where each comes from."""
    tot = summary["totals_pg_c_yr"]
    rows = {k: (c.value, c.low, c.high, c.source) for k, c in cfg.budget.items()}
    for f, label in (("rs", "soil respiration"), ("rh", "heterotrophic"), ("ra", "root respiration")):
        rows[f] = (tot[f]["mean"], tot[f]["p2.5"], tot[f]["p97.5"], f"this run, {label} (2.5-97.5 % of runs)")

    def minus(a, b, src):
        va, la, ha, _ = rows[a]
        vb, lb, hb, _ = rows[b]
        return (va - vb, la - hb, ha - lb, src)

    rows["total_autotrophic_respiration"] = minus("gpp", "npp", "GPP - NPP")
    rows["aboveground_autotrophic_respiration"] = minus("total_autotrophic_respiration", "ra", "TAR - Ra")
    rows["nep"] = minus("npp", "rh", "NPP - Rh")
    rows["nbp"] = minus("nep", "fire", "NEP - fire")
    return pd.DataFrame(
        [{"name": k, "value": v, "low": lo, "high": hi, "source": s} for k, (v, lo, hi, s) in rows.items()]
    )
