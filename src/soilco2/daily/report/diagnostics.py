"""Where and why a daily model works: data characteristics, climate attributes, correlations
between per-site skill and site properties, extremes and spikes, annual totals vs SRDB.

Series are on a regular daily axis with NaN for unobserved days. Every function is plain
numpy/pandas/scipy so it can be tested on synthetic series with known answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from soilco2.climate import pet_hargreaves_mm_yr
from soilco2.metrics import kge, nse, pearson_r

ACF_LAGS_DAYS = (1, 182, 365)
PAPER_GOOD_LAT_BAND = (30.0, 60.0)


# ---------------------------------------------------------------- data characteristics
def lagged_autocorr(values: np.ndarray, lag: int, min_pairs: int = 10) -> float:
    """Autocorrelation at ``lag`` days of a regular daily series with NaN gaps.

    Only pairs (t, t+lag) where both ends are observed count; the value is the Pearson
    correlation of those pairs (NaN when fewer than ``min_pairs`` pairs exist).
    """
    x = np.asarray(values, dtype=float)
    if lag <= 0 or lag >= x.size:
        return float("nan")
    a, b = x[:-lag], x[lag:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_pairs:
        return float("nan")
    a, b = a[ok], b[ok]
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def season_of(months: np.ndarray, lat: float) -> np.ndarray:
    """'summer' / 'winter' / '' per month, hemisphere-aware (JJA/DJF in the north, swapped south)."""
    months = np.asarray(months)
    jja, djf = np.isin(months, (6, 7, 8)), np.isin(months, (12, 1, 2))
    summer, winter = (jja, djf) if lat >= 0 else (djf, jja)
    out = np.full(months.shape, "", dtype=object)
    out[summer], out[winter] = "summer", "winter"
    return out


def summer_minus_winter(times: pd.DatetimeIndex, flux: np.ndarray, lat: float) -> float:
    """Mean observed flux in local summer minus mean in local winter (NaN if either is unobserved)."""
    flux = np.asarray(flux, dtype=float)
    season = season_of(pd.DatetimeIndex(times).month.to_numpy(), lat)
    obs = np.isfinite(flux)
    s, w = flux[obs & (season == "summer")], flux[obs & (season == "winter")]
    if s.size == 0 or w.size == 0:
        return float("nan")
    return float(s.mean() - w.mean())


def data_characteristics(obs: pd.DataFrame, lat: pd.Series) -> pd.DataFrame:
    """Per site: observed days, span, ACF at 1/182/365 days, summer−winter mean flux, mean, CV.

    ``obs`` is a (time × site) frame of daily observed flux (µmol m-2 s-1) on a regular axis.
    """
    rows = []
    for site in obs.columns:
        x = obs[site].to_numpy(dtype=float)
        seen = np.flatnonzero(np.isfinite(x))
        row = {"site": site, "n_obs_days": int(seen.size)}
        row["span_days"] = int(seen[-1] - seen[0] + 1) if seen.size else 0
        for lag in ACF_LAGS_DAYS:
            row[f"acf_{lag}"] = lagged_autocorr(x, lag)
        row["summer_minus_winter_umol_m2_s"] = summer_minus_winter(obs.index, x, float(lat[site]))
        mean = np.nanmean(x) if seen.size else np.nan
        row["mean_flux_umol_m2_s"] = float(mean)
        row["cv_flux"] = float(np.nanstd(x) / mean) if seen.size and mean else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- climate attributes
def climate_attributes(sites: pd.DataFrame, monthly: pd.DataFrame | None) -> pd.DataFrame:
    """Per site: MAT, MAP, PET (Hargreaves 1975), aridity PET/P, SOC, WHC, |lat|.

    ``sites`` is the run's sites table; ``monthly`` is a long table ``site, month, temp_c,
    prec_mm_month, sun_pct`` from the 0.5° climatology (None → PET and aridity are NaN).
    MAT/MAP come from the monthly table when given, else from ``sites``.
    """
    out = sites[["site", "lat", "lon"]].copy()
    out["abs_lat"] = out["lat"].abs()
    for col in ("elevation_m", "mat_c", "map_mm", "soc_mg_ha", "whc_mm"):
        out[col] = sites[col].to_numpy(dtype=float) if col in sites else np.nan
    out["pet_mm_yr"] = np.nan
    if monthly is not None and len(monthly):
        by_site = {s: g.sort_values("month") for s, g in monthly.groupby("site")}
        for i, row in out.iterrows():
            g = by_site.get(row["site"])
            if g is None or len(g) != 12 or not np.isfinite(g[["temp_c", "prec_mm_month"]].to_numpy()).all():
                continue  # no land cell in range: keep the run's own MAT/MAP, PET stays NaN
            out.loc[i, "mat_c"] = g["temp_c"].mean()
            out.loc[i, "map_mm"] = g["prec_mm_month"].sum()
            out.loc[i, "pet_mm_yr"] = pet_hargreaves_mm_yr(g["temp_c"], g["sun_pct"], row["lat"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["aridity_pet_p"] = out["pet_mm_yr"] / out["map_mm"].where(out["map_mm"] > 0)
    return out


# ---------------------------------------------------------------- what drives performance
def iqr_keep(values: np.ndarray, k: float = 1.5) -> np.ndarray:
    """Boolean mask of values inside [Q1 − k·IQR, Q3 + k·IQR] (Tukey's rule); NaN → False."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 4:
        return ok
    q1, q3 = np.percentile(v[ok], [25, 75])
    iqr = q3 - q1
    return ok & (v >= q1 - k * iqr) & (v <= q3 + k * iqr)


def correlation_table(
    table: pd.DataFrame,
    metrics: Sequence[str],
    attributes: Sequence[str],
    iqr_metrics: Sequence[str] = ("nse",),
) -> pd.DataFrame:
    """Pearson r and two-sided p between each metric and each attribute across sites.

    Rows: ``metric, attribute, outliers ('kept' | 'iqr_removed'), n, r, p``. For metrics in
    ``iqr_metrics`` a second row drops sites whose metric value is an IQR outlier (the paper's
    choice for NSE, whose long negative tail dominates r otherwise).
    """
    rows = []
    for m in metrics:
        variants = [("kept", np.isfinite(table[m].to_numpy(dtype=float)))]
        if m in iqr_metrics:
            variants.append(("iqr_removed", iqr_keep(table[m].to_numpy(dtype=float))))
        for label, keep in variants:
            for a in attributes:
                x = table[a].to_numpy(dtype=float)
                y = table[m].to_numpy(dtype=float)
                ok = keep & np.isfinite(x) & np.isfinite(y)
                r = p = np.nan
                if ok.sum() >= 3 and x[ok].std() > 0 and y[ok].std() > 0:
                    r, p = stats.pearsonr(x[ok], y[ok])
                rows.append(
                    {"metric": m, "attribute": a, "outliers": label, "n": int(ok.sum()), "r": float(r), "p": float(p)}
                )
    return pd.DataFrame(rows)


OBS_DAY_BINS = [0, 100, 200, 365, 730, np.inf]
OBS_DAY_LABELS = ["< 100", "100–200", "200–365", "365–730", "≥ 730"]


def observed_days_bin(n_obs_days: pd.Series) -> pd.Series:
    """Record-length bin of each site (OBS_DAY_LABELS)."""
    return pd.cut(n_obs_days, OBS_DAY_BINS, labels=OBS_DAY_LABELS, right=False)


INSITU_LABELS = ["soil T + moisture", "soil T", "soil moisture", "other sensors only", "none (climatology only)"]
INSITU_GROUPING = "in-situ drivers (test days)"


def insitu_drivers_bin(per_site: pd.DataFrame, split: str = "test", min_share: float = 0.5) -> pd.Series | None:
    """What a site's own sensors give on its ``split`` days: a driver counts when it is measured on at
    least ``min_share`` of them (``insitu_share_<driver>_<split>`` columns of the run's sites table; None when
    the table has none). Without any, the LSTM sees only the climatology and the statics."""
    cols = [c for c in per_site if c.startswith("insitu_share_") and c.endswith(f"_{split}")]
    if not cols:
        return None
    has = {
        c.removeprefix("insitu_share_").removesuffix(f"_{split}"): per_site[c].fillna(0).to_numpy() >= min_share
        for c in cols
    }
    no = np.zeros(len(per_site), bool)
    soil_t, swc = has.get("soil_temp_c", no), has.get("swc_m3_m3", no)
    other = np.any([v for k, v in has.items() if k not in ("soil_temp_c", "swc_m3_m3")] or [no], axis=0)
    label = np.select([soil_t & swc, soil_t, swc, other], INSITU_LABELS[:4], INSITU_LABELS[4])
    return pd.Series(pd.Categorical(label, categories=INSITU_LABELS), index=per_site.index)


def add_site_groupings(t: pd.DataFrame) -> list[str]:
    """Add the record-length and in-situ-driver bins that the run's tables allow; their column names."""
    names = []
    if "n_obs_days" in t:
        t["observed days"] = observed_days_bin(t["n_obs_days"])
        names.append("observed days")
    insitu = insitu_drivers_bin(t)
    if insitu is not None:
        t[INSITU_GROUPING] = insitu
        names.append(INSITU_GROUPING)
    return names


def share_good_by_bins(table: pd.DataFrame, cls: str = "class") -> pd.DataFrame:
    """Share of 'good' sites (and median test NSE/KGE where given) inside vs outside 30–60° |lat|,
    by MAT and MAP bins, by observed days (record length: the paper's main predictor of skill) and by
    the in-situ drivers measured on the test days."""
    t = table.copy()
    lo, hi = PAPER_GOOD_LAT_BAND
    t["latitude band"] = np.where((t["abs_lat"] >= lo) & (t["abs_lat"] <= hi), "30–60° (inside)", "outside 30–60°")
    t["MAT bin (°C)"] = pd.cut(
        t["mat_c"],
        [-np.inf, 0, 5, 10, 15, 20, np.inf],
        labels=["< 0", "0–5", "5–10", "10–15", "15–20", "≥ 20"],
        right=False,
    )
    t["MAP bin (mm)"] = pd.cut(
        t["map_mm"],
        [-np.inf, 250, 500, 1000, 1500, 2000, np.inf],
        labels=["< 250", "250–500", "500–1000", "1000–1500", "1500–2000", "≥ 2000"],
        right=False,
    )
    groupings = ["latitude band", "MAT bin (°C)", "MAP bin (mm)", *add_site_groupings(t)]
    medians = [c for c in ("test_nse", "test_kge") if c in t]
    rows = []
    for grouping in groupings:
        for b, g in t.groupby(grouping, observed=True, sort=True):
            n_good = int((g[cls] == "good").sum())
            rows.append(
                {
                    "grouping": grouping,
                    "bin": str(b),
                    "n_sites": len(g),
                    "n_good": n_good,
                    "share_good": n_good / len(g) if len(g) else np.nan,
                    **{f"median_{c}": float(g[c].median()) for c in medians},
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- extremes and spikes
MIN_DAYS_FOR_SKILL = 5  # NSE/KGE/r on fewer days are reported as NaN (the mean error is kept)


def _part_row(part: str, o: np.ndarray, s: np.ndarray, m: np.ndarray, min_n: int) -> dict:
    n = int(m.sum())
    skill = n >= min_n
    return {
        "part": part,
        "n": n,
        "nse": nse(o[m], s[m]) if skill else np.nan,
        "kge": kge(o[m], s[m]) if skill else np.nan,
        "r": pearson_r(o[m], s[m]) if skill else np.nan,
        "bias_umol_m2_s": float(np.mean(s[m] - o[m])) if n else np.nan,
    }


def extreme_parts(obs: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Label each day 'bottom_5pct' / 'middle_90pct' / 'top_5pct' by the quantiles of observed values ('' = NaN)."""
    o = np.asarray(obs, float)
    out = np.full(o.shape, "", dtype=object)
    ok = np.isfinite(o)
    if ok.sum() < 3:
        return out
    lo, hi = np.quantile(o[ok], [q, 1 - q])
    out[ok & (o <= lo)], out[ok & (o > lo) & (o < hi)], out[ok & (o >= hi)] = "bottom_5pct", "middle_90pct", "top_5pct"
    return out


def extremes_metrics(obs: np.ndarray, sim: np.ndarray, q: float = 0.05, min_n: int = MIN_DAYS_FOR_SKILL) -> list[dict]:
    """NSE/KGE/r/mean error on the bottom ``q``, middle, and top ``q`` of observed values."""
    o, s = np.asarray(obs, float), np.asarray(sim, float)
    keep = np.isfinite(o) & np.isfinite(s)
    o, s = o[keep], s[keep]
    if o.size < 3:
        return []
    parts = extreme_parts(o, q)
    return [_part_row(k, o, s, parts == k, min_n) for k in ("bottom_5pct", "middle_90pct", "top_5pct")]


def spike_mask(values: np.ndarray, window: int = 30, z: float = 3.0, min_periods: int = 10) -> np.ndarray:
    """Spikes of a regular daily series: |x − mean| > z·std in a centred ``window``-day window.

    The window's mean and std are taken over the observed days in it (the point included);
    windows with fewer than ``min_periods`` observed days flag nothing. NaN days are never spikes.
    """
    x = pd.Series(np.asarray(values, dtype=float))
    roll = x.rolling(window, center=True, min_periods=min_periods)
    mean, std = roll.mean(), roll.std(ddof=0)
    with np.errstate(invalid="ignore"):
        zscore = (x - mean) / std.where(std > 0)
    return (zscore.abs() > z).fillna(False).to_numpy(dtype=bool)


def spike_metrics(obs: np.ndarray, sim: np.ndarray, spikes: np.ndarray, min_n: int = MIN_DAYS_FOR_SKILL) -> list[dict]:
    """NSE/KGE/r/mean error on spike days vs non-spike days (skill NaN below ``min_n`` days)."""
    o, s = np.asarray(obs, float), np.asarray(sim, float)
    ok = np.isfinite(o) & np.isfinite(s)
    return [_part_row(part, o, s, m, min_n) for part, m in (("spikes", ok & spikes), ("non_spikes", ok & ~spikes))]


PARTIAL_DAY_FRACTION = 0.5  # a day with fewer records than this share of the site's median is "partial"


def partial_days(n_records: np.ndarray, observed: np.ndarray, fraction: float = PARTIAL_DAY_FRACTION) -> np.ndarray:
    """Observed days whose daily mean rests on fewer than ``fraction`` × the site's median number of
    records per observed day (a chamber that ran part of the day, a survey of fewer ports)."""
    n = np.asarray(n_records, float)
    ok = np.asarray(observed, bool) & (n > 0)
    if not ok.any():
        return np.zeros(n.shape, bool)
    return ok & (n < fraction * np.median(n[ok]))


def partial_day_effect(obs: np.ndarray, sim: np.ndarray, partial: np.ndarray, min_n: int = MIN_DAYS_FOR_SKILL) -> dict:
    """Share of the days that are partial, their share of the squared error, and NSE / KGE on the
    full days only (NaN below ``min_n`` full days)."""
    o, s = np.asarray(obs, float), np.asarray(sim, float)
    ok = np.isfinite(o) & np.isfinite(s)
    part, full = ok & partial, ok & ~partial
    se = (s - o) ** 2
    total = se[ok].sum()
    skill = full.sum() >= min_n and np.std(o[full]) > 0
    return {
        "partial_day_share": part.sum() / ok.sum() if ok.any() else np.nan,
        "partial_mse_share": se[part].sum() / total if total > 0 else np.nan,
        "nse_full_days": nse(o[full], s[full]) if skill else np.nan,
        "kge_full_days": kge(o[full], s[full]) if skill else np.nan,
    }


def pooled_parts(table: pd.DataFrame) -> pd.DataFrame:
    """Across sites: days, sites, mean observed/predicted, mean error and median ratio per ``part``.

    ``table``: one row per day with ``site, part, obs, sim`` (days of all sites pooled).
    """
    t = table[np.isfinite(table["obs"]) & np.isfinite(table["sim"]) & (table["part"] != "")]
    if t.empty:
        return pd.DataFrame(
            columns=[
                "part",
                "days",
                "sites",
                "mean_obs_umol_m2_s",
                "mean_pred_umol_m2_s",
                "mean_error_umol_m2_s",
                "median_ratio_pred_over_obs",
            ]
        )
    ratio = (t["sim"] / t["obs"]).where(t["obs"] > 0)
    return (
        t.assign(ratio=ratio, err=t["sim"] - t["obs"])
        .groupby("part", sort=False)
        .agg(
            days=("obs", "size"),
            sites=("site", "nunique"),
            mean_obs_umol_m2_s=("obs", "mean"),
            mean_pred_umol_m2_s=("sim", "mean"),
            mean_error_umol_m2_s=("err", "mean"),
            median_ratio_pred_over_obs=("ratio", "median"),
        )
        .reset_index()
    )
