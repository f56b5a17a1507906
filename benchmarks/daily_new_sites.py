"""S1 at sites the model never saw: the LSTM's day-to-day shape from leave-site-out folds, the level
from what a site PI has — the S3 annual map at the site's cell, SRDB records within 5 km, k spot
measurements — and how much each is worth.

Every site is predicted by the fold (5 folds of 13 sites, the default config) that held it out.
Each site's days follow the temporal 80/20 split of the default run: spot measurements are drawn
from the first 80 % of its observed days, the scores are on the last 20 % (the temporal-split
LSTM's test days, so the two compare day for day) and spots are never scored.

Level sources and how they are used (soilco2.daily.newsite.level; one factor k per site on the
LSTM series, normal in log space):
- ``none``: the LSTM as it comes (its level from the static attributes);
- ``annual_map``: Rs at the site's 0.5° cell from S3 forests that never trained on an SRDB record
  within 5 km of any of the fold's sites (20 vegetation-binned 80 % runs of configs/global.yaml),
  either replacing the LSTM's level (``rescale``) or combined with it by precision (``combine``);
- ``srdb``: the mean annual Rs of the SRDB records within 5 km (years matched where possible),
  used the same two ways; a site without a record keeps the LSTM's level (counted);
- ``spots`` (k = 1, 3, 6, 12; 20 random draws each): the conjugate update of a prior — the LSTM's
  level (``spots``) or the combined map level (``annual_map+spots``) — or the plain mean of the
  spots' log ratios (``spots_mean``).
- ``spots_temp`` and ``spots_amp`` (k spots): the spots set more than a level — a Bayesian
  regression of log(obs / LSTM) on [1, T − 10] (level and temperature sensitivity: the LSTM's
  anomalies with a spot-fitted temperature correction) or on [1, log ŷ] (level and amplitude),
  its prior the other folds' sites' own fits;
- the field's anchors (``field_*``, benchmarks/daily_new_site_anchors.py): a Q10 or Lloyd–Taylor
  curve fitted to the same spots and run on the site's soil temperature.
Every SD and bias the update needs (the LSTM's level error, the map's and SRDB's, the day-to-day
scatter of log(obs / LSTM) and its autocorrelation, with which spots close in time count as fewer:
E26) is measured on the other folds' sites (their first 80 % of days), and
where two uses compete the one chosen for a fold is the better on the other folds' sites
(``selected``): nothing is tuned on a held-out site's days. The 90 % band is log-normal around the
levelled series with SD √(σ_level² + σ_day²) (the regressions: their parameter variance + σ²).

    .venv/bin/python benchmarks/daily_new_sites.py     # trains the 5 folds and the temporal run if missing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
K_SPOTS = (1, 3, 6, 12)
Z90 = 1.6449  # two-sided 90 % normal interval


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def train_folds(base, k: int) -> tuple[list[Path], Path, dict]:
    """The temporal run of ``base`` and its leave-site-out fold runs, each trained when missing
    (the temporal run first, so its wall time is the default training's on a quiet machine)."""
    from soilco2.daily.run import train_run

    seconds = {}
    temporal = Path(base.run_dir) / base.name
    if not (temporal / "predictions.nc").is_file():
        t0 = time.perf_counter()
        temporal = train_run(base, show_progress=True, replace=True)
        seconds["temporal"] = round(time.perf_counter() - t0, 1)
    runs = []
    for fold in range(k):
        cfg = base.model_copy(
            update={
                "name": f"{base.name}_lso_fold{fold}",
                "split": base.split.model_copy(update={"mode": "leave_site_out", "k_folds": k, "fold": fold}),
            }
        )
        run = Path(cfg.run_dir) / cfg.name
        if not (run / "predictions.nc").is_file():
            t0 = time.perf_counter()
            run = train_run(cfg, show_progress=True, replace=True)
            seconds[f"fold{fold}"] = round(time.perf_counter() - t0, 1)
            print(f"fold {fold}: {seconds[f'fold{fold}']} s", flush=True)
        runs.append(run)
    return runs, temporal, seconds


def held_out_series(runs: list[Path]) -> dict[str, np.ndarray]:
    """Per site, from the fold that held it out: obs, lstm, its 5/95 % band, lat, lon, fold."""
    import xarray as xr

    from soilco2.daily.arrays import TEST

    parts = []
    for fold, run in enumerate(runs):
        with xr.open_dataset(run / "predictions.nc") as ds:
            test = (ds["split"] == TEST).any("time").values  # the held-out sites
            keep = ds.isel(site=np.flatnonzero(test))[["obs", "lstm", "soil_temp_c"]].load()
            keep = keep.assign_coords(fold=("site", np.full(keep.sizes["site"], fold)))
            parts.append(keep)
    ds = xr.concat(parts, "site")
    out = {v: ds[v].transpose("site", "time").values.astype(float) for v in ("obs", "lstm", "soil_temp_c")}
    out |= {"site": ds["site"].values.astype(str), "lat": ds["lat"].values, "lon": ds["lon"].values,
            "fold": ds["fold"].values, "time": pd.DatetimeIndex(ds["time"].values)}  # fmt: skip
    return out


def temporal_masks(obs: np.ndarray, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(pool, scored): the first ``train_fraction`` of each site's observed days and the rest — the
    rule of soilco2.daily.dataset.splits.temporal_split."""
    seen = np.isfinite(obs)
    rank = np.cumsum(seen, axis=1)
    n_train = np.floor(train_fraction * seen.sum(axis=1, keepdims=True) + 1e-9)
    pool = seen & (rank <= n_train)
    return pool, seen & ~pool


def map_levels(s: dict, radius_km: float, n_runs: int, seed: int = 0) -> pd.DataFrame:
    """Per site: S3 annual Rs (µmol m⁻² s⁻¹) at its cell, mean and SD over ``n_runs`` forests
    trained without the SRDB records within ``radius_km`` of the fold's sites."""
    from sklearn.ensemble import RandomForestRegressor

    from soilco2.config import load_config
    from soilco2.daily.newsite.level import GC_M2_YR_PER_UMOL_M2_S
    from soilco2.global_.bins import split_run
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import build_inputs, land_area_m2
    from soilco2.global_.runs import prepare
    from soilco2.paths import data_root
    from soilco2.sources.grids import haversine_km

    gcfg = load_config(ROOT / "configs" / "global.yaml", GlobalConfig)
    grid, tables, _ = build_inputs(gcfg, data_root(gcfg.data_root))
    cells = grid[grid["complete"]].reset_index(drop=True)
    data, _ = prepare(tables, cells, gcfg, land_area_m2(cells))
    d, records = data["rs"], tables["rs"]
    rows = []
    for fold in np.unique(s["fold"]):
        idx = np.flatnonzero(s["fold"] == fold)
        near = np.zeros(len(records), bool)
        cell = []
        for i in idx:
            near |= (
                haversine_km(s["lat"][i], s["lon"][i], records["lat"].to_numpy(), records["lon"].to_numpy())
                <= radius_km
            )
            dist = haversine_km(s["lat"][i], s["lon"][i], cells["lat"].to_numpy(), cells["lon"].to_numpy())
            cell.append(int(np.argmin(dist)) if dist.min() <= 40 else -1)  # within the site's 0.5° cell
        keep = np.flatnonzero(~near)
        p = d["p"][keep] / d["p"][keep].sum()
        X = d["Xc"][[c for c in cell if c >= 0]]
        preds = []
        for b in range(n_runs):
            train, _ = split_run(p, np.random.default_rng([seed, int(fold), b]), gcfg.train_fraction)
            rf = RandomForestRegressor(gcfg.n_trees, min_samples_leaf=gcfg.min_samples_leaf,
                                       max_features=gcfg.max_features, random_state=b, n_jobs=1)  # fmt: skip
            preds.append(rf.fit(d["X"][keep[train]], d["y"][keep[train]]).predict(X) if len(X) else [])
        preds = np.asarray(preds) / GC_M2_YR_PER_UMOL_M2_S
        j = 0
        for i, c in zip(idx, cell, strict=True):
            mean = sd = np.nan
            if c >= 0:
                mean, sd, j = float(preds[:, j].mean()), float(preds[:, j].std(ddof=1)), j + 1
            rows.append(
                {"site": s["site"][i], "map_umol": mean, "map_sd_umol": sd, "records_withheld": int(near.sum())}
            )
        print(f"annual map, fold {fold}: {near.sum()} SRDB records within {radius_km} km withheld", flush=True)
    return pd.DataFrame(rows).set_index("site").loc[s["site"]]


def srdb_levels(s: dict, radius_km: float) -> pd.DataFrame:
    """Per site: mean annual Rs of the SRDB records within ``radius_km`` (µmol m⁻² s⁻¹), NaN without."""
    from soilco2.daily.newsite.level import srdb_level, srdb_rs_records
    from soilco2.errors import UserError

    records = srdb_rs_records()
    rows = []
    for i, site in enumerate(s["site"]):
        span = np.isfinite(s["lstm"][i])
        years = sorted(set(s["time"][span].year))
        try:
            level, sd, n = srdb_level(records, float(s["lat"][i]), float(s["lon"][i]), radius_km, years)
        except UserError:
            level, sd, n = np.nan, np.nan, 0
        rows.append({"site": site, "srdb_umol": level, "srdb_sd_umol": sd, "srdb_n": n})
    return pd.DataFrame(rows).set_index("site")


def level_errors(s: dict, pool: np.ndarray, levels: pd.DataFrame) -> pd.DataFrame:
    """Per site, on its first 80 % of days: the log factor that makes the LSTM's mean match the
    observed mean (``true``), each source's log factor minus it, and the day-to-day SD of
    log(obs / LSTM) around the site's own level."""
    rows = []
    for i, site in enumerate(s["site"]):
        o, m = s["obs"][i], s["lstm"][i]
        ok = pool[i] & np.isfinite(m) & (m > 0) & (o > 0)
        true = np.log(o[ok].mean() / m[ok].mean())
        span_mean = np.nanmean(m)
        r = np.log(o[ok] / m[ok])
        rows.append(
            {
                "site": site,
                "true": true,
                "lstm_err": -true,
                "map_err": np.log(levels.loc[site, "map_umol"] / span_mean) - true,
                "srdb_err": np.log(levels.loc[site, "srdb_umol"] / span_mean) - true,
                "day_sd": float(np.std(r - r.mean())),
                "n_day": int(ok.sum()),
            }
        )
    return pd.DataFrame(rows).set_index("site")


def calibrate(err: pd.DataFrame) -> dict:
    """Bias and SD of each level source's log error, and the pooled day-to-day SD (other folds' sites)."""
    out = {}
    for src in ("lstm", "map", "srdb"):
        e = err[f"{src}_err"].dropna()
        out[src] = {"bias": float(e.mean()), "sd": float(e.std(ddof=1)), "sites": int(len(e))}
    out["day_sd"] = float(np.sqrt(np.average(err["day_sd"] ** 2, weights=err["n_day"])))
    return out


def site_prior(source: str, use: str, site: str, span_mean: float, levels: pd.DataFrame, cal: dict):
    """A site's level before spots (a Level): the LSTM's own, bias-corrected (``lstm``), or a
    source's — alone, bias-corrected (``rescale``), or joined with the LSTM's by precision
    (``combine``); a site the source does not cover keeps the LSTM's."""
    from soilco2.daily.newsite.level import Level, combine

    lstm = Level(-cal["lstm"]["bias"], cal["lstm"]["sd"], "lstm")  # log k_lstm = 0, minus its bias
    if source == "lstm":
        return lstm
    key = {"annual_map": "map", "srdb": "srdb"}[source]
    level = levels.loc[site, f"{key}_umol"]
    if not np.isfinite(level) or level <= 0:
        return lstm
    own = Level(float(np.log(level / span_mean) - cal[key]["bias"]), cal[key]["sd"], source)
    return own if use == "rescale" else combine(lstm, own)


def levelled(s: dict, i: int, prior, spots: np.ndarray | None, cal: dict, how: str = "bayes") -> dict:
    """The site's series and 90 % band after its level (``prior`` None: the raw LSTM, its level's
    SD from the other folds) and the ``spots`` (conjugate update, or their plain mean)."""
    from soilco2.daily.newsite.level import SERIES_FLOOR, Level, apply_level, update

    m = s["lstm"][i]
    level = prior if prior is not None else Level(0.0, cal["lstm"]["sd"], "none")
    if spots is not None and len(spots):
        y = s["obs"][i, spots]
        if how == "mean":
            ratio = np.log(y / np.maximum(m[spots], SERIES_FLOOR)).mean()
            level = Level(float(ratio), cal["day_sd"] / np.sqrt(len(spots)), "spots", len(spots))
        else:
            level = update(level, m, spots, y, cal["day_sd"], cal["spot_acf"])
    series = apply_level({"lstm": m}, level)["lstm"]
    # the band of this benchmark: log-normal with the level's and a day's SD (leave-site-out runs have
    # no calibration table, so not the run's predictive distribution)
    half = Z90 * np.hypot(level.sd, cal["day_sd"])
    return {"lstm": series, "lstm_p05": series * np.exp(-half), "lstm_p95": series * np.exp(half)}


REGRESSIONS = ("spots_temp", "spots_amp")
# what `daily site` and `daily predict --spots` use (soilco2.daily.newsite.level.site_levels)
CHOSEN = "spots: the conjugate update of the site's level (the prior of --level), spots counted by their autocorrelation"  # the spots set more than a level


def regression_features(kind: str, m: np.ndarray, temp: np.ndarray) -> np.ndarray:
    """Features of log(obs / LSTM): level and temperature sensitivity [1, T − 10] (``spots_temp``)
    or level and amplitude [1, log ŷ − mean log ŷ] (``spots_amp``: log y = a + b log ŷ)."""
    from soilco2.daily.newsite.level import SERIES_FLOOR

    if kind == "spots_temp":
        return np.column_stack([np.ones_like(temp), temp - 10.0])
    lm = np.log(np.maximum(m, SERIES_FLOOR))
    return np.column_stack([np.ones_like(lm), lm - np.nanmean(lm)])


def regression_priors(s: dict, pool: np.ndarray) -> dict[str, list]:
    """Per site and kind: (β, residual SD) of log(obs / LSTM) on its features over its first 80 %
    of days (None with fewer than 30 days); the priors of a fold are the other folds' sites'."""
    from soilco2.daily.newsite.level import SERIES_FLOOR

    out = {k: [] for k in REGRESSIONS}
    for i in range(len(s["site"])):
        m, o = s["lstm"][i], s["obs"][i]
        ok = pool[i] & np.isfinite(m) & (o > 0) & np.isfinite(s["soil_temp_c"][i])
        r = np.log(o[ok] / np.maximum(m[ok], SERIES_FLOOR))
        for kind in REGRESSIONS:
            X = regression_features(kind, m, s["soil_temp_c"][i])[ok]
            if ok.sum() < 30 or np.ptp(X[:, 1]) <= 0:
                out[kind].append(None)
                continue
            beta = np.linalg.lstsq(X, r, rcond=None)[0]
            out[kind].append((beta, float(np.std(r - X @ beta, ddof=2))))
    return out


def regression_prior(fits: list, sites: np.ndarray) -> dict:
    b = np.array([fits[i][0] for i in sites if fits[i] is not None])
    sig = np.sqrt(np.mean([fits[i][1] ** 2 for i in sites if fits[i] is not None]))
    return {"mean": b.mean(axis=0), "cov": np.cov(b.T), "sigma": float(sig)}


def regression_levelled(s: dict, i: int, kind: str, spots: np.ndarray, prior: dict) -> dict:
    """The Bayesian regression of log(obs / LSTM) on the spots, prior from the other folds' sites."""
    from soilco2.daily.newsite.anchors import bayes_linear
    from soilco2.daily.newsite.level import SERIES_FLOOR

    m = s["lstm"][i]
    X = regression_features(kind, m, s["soil_temp_c"][i])
    y = np.log(s["obs"][i, spots] / np.maximum(m[spots], SERIES_FLOOR))
    beta, cov = bayes_linear(X[spots], y, prior["mean"], prior["cov"], prior["sigma"])
    mu = X @ beta
    half = Z90 * np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X) + prior["sigma"] ** 2)
    series = np.maximum(m, SERIES_FLOOR) * np.exp(mu)
    return {"lstm": series, "lstm_p05": series * np.exp(-half), "lstm_p95": series * np.exp(half)}


def score_site(obs: np.ndarray, pred: np.ndarray, lo: np.ndarray, hi: np.ndarray, days: np.ndarray) -> dict:
    from soilco2.daily.outputs import performance_class
    from soilco2.metrics import score

    ok = days & np.isfinite(pred) & np.isfinite(obs)
    out = score(obs[ok], pred[ok], ("nse", "kge", "r", "bias"))
    out["good"] = performance_class(out["nse"], out["kge"]) == "good"
    out["covered"] = float(np.mean((obs[ok] >= lo[ok]) & (obs[ok] <= hi[ok]))) if ok.any() else np.nan
    return out


def summary(rows: pd.DataFrame) -> dict:
    """Medians over sites (per draw, then the median and range over draws)."""
    per_draw = rows.groupby("draw").agg(
        median_nse=("nse", "median"),
        median_kge=("kge", "median"),
        median_r=("r", "median"),
        median_bias=("bias", "median"),
        share_good=("good", "mean"),
        coverage_90=("covered", "median"),
        sites=("site", "nunique"),
    )
    out = {c: round(float(per_draw[c].median()), 4) for c in per_draw.columns if c != "sites"}
    out["sites"] = int(per_draw["sites"].max())
    if len(per_draw) > 1:
        out["draws"] = len(per_draw)
        out["median_kge_range"] = [
            round(float(per_draw["median_kge"].min()), 4),
            round(float(per_draw["median_kge"].max()), 4),
        ]
        out["median_nse_range"] = [
            round(float(per_draw["median_nse"].min()), 4),
            round(float(per_draw["median_nse"].max()), 4),
        ]
    return out


def evaluate(s: dict, pool, scored, levels: pd.DataFrame, draws: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Every site under every variant; calibration and choices from the other folds' sites."""
    from soilco2.daily.newsite.level import spot_error

    err = level_errors(s, pool, levels)
    cals = {f: calibrate(err[s["fold"] != f]) for f in np.unique(s["fold"])}
    for f, cal in cals.items():  # spots close in time share their deviation (as daily site / predict count them)
        other = s["fold"] != f
        cal["spot_acf"] = spot_error(s["obs"][other], s["lstm"][other], pool[other])["spot_acf"]
    fits = regression_priors(s, pool)
    reg = {f: {kind: regression_prior(fits[kind], np.flatnonzero(s["fold"] != f)) for kind in REGRESSIONS}
           for f in np.unique(s["fold"])}  # fmt: skip
    variants = [("none", "none", None, 0)]
    variants += [(f"{src}_{use}", src, use, 0) for src in ("annual_map", "srdb") for use in ("rescale", "combine")]
    for k in K_SPOTS:
        variants += [("spots", "lstm", "bayes", k), ("annual_map+spots", "annual_map", "bayes", k),
                     ("spots_mean", "lstm", "mean", k)] + [(kind, "lstm", kind, k) for kind in REGRESSIONS]  # fmt: skip
    rows = []
    for i, site in enumerate(s["site"]):
        cal = cals[s["fold"][i]]
        span_mean = float(np.nanmean(s["lstm"][i]))
        # spot days: observed with a positive flux (the anchors' rule too, so both draw the same days)
        candidates = np.flatnonzero(pool[i] & np.isfinite(s["lstm"][i]) & (s["obs"][i] > 0))
        for name, src, use, k in variants:
            combine_use = "combine" if name == "annual_map+spots" else use
            prior = site_prior(src, combine_use, site, span_mean, levels, cal) if src != "none" else None
            n_draws = draws if k else 1
            for d in range(n_draws):
                spots = None
                if k:
                    rng = np.random.default_rng([seed, i, k, d])
                    spots = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
                if use in REGRESSIONS:
                    p = regression_levelled(s, i, use, spots, reg[s["fold"][i]][use])
                else:
                    p = levelled(s, i, prior, spots, cal, "mean" if use == "mean" else "bayes")
                fallback = src in ("annual_map", "srdb") and not np.isfinite(
                    levels.loc[site, {"annual_map": "map_umol", "srdb": "srdb_umol"}[src]]
                )
                rows.append({"variant": name, "k": k, "draw": d, "site": site, "fold": int(s["fold"][i]),
                             "fallback": fallback, **score_site(s["obs"][i], p["lstm"], p["lstm_p05"], p["lstm_p95"], scored[i])})  # fmt: skip
    reg_json = {int(f): {k: {"mean": [round(float(x), 4) for x in v["mean"]], "sd": [round(float(x), 4) for x in
                                np.sqrt(np.diag(v["cov"]))], "sigma": round(v["sigma"], 4)} for k, v in r.items()}
                for f, r in reg.items()}  # fmt: skip
    cal_json = {int(f): {k: v for k, v in c.items() if k != "spot_acf"}
                | {"spot_acf_at_1_7_30_60_days": [round(float(c["spot_acf"][d]), 3) for d in (1, 7, 30, 60)],
                   "regressions": reg_json[int(f)]} for f, c in cals.items()}  # fmt: skip
    return pd.DataFrame(rows), cal_json


def select(rows: pd.DataFrame, options: list[str], k: int) -> pd.DataFrame:
    """Per fold, the rows of the option with the higher median KGE on the other folds' sites."""
    out, chosen = [], {}
    sub = rows[(rows["k"] == k) & rows["variant"].isin(options)]
    for f in sorted(sub["fold"].unique()):
        other = sub[sub["fold"] != f].groupby("variant")["kge"].median()
        best = other.idxmax()
        chosen[int(f)] = best
        out.append(sub[(sub["fold"] == f) & (sub["variant"] == best)])
    table = pd.concat(out)
    table.attrs["chosen"] = chosen
    return table


def figure(results: dict, temporal_kge: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, metric in zip(axes, ("median_kge", "median_nse"), strict=True):
        for name, style in (("spots", "o-"), ("annual_map+spots", "s-"), ("spots_mean", "^--")):
            ks = [0, *K_SPOTS]
            base = results["none"] if name != "annual_map+spots" else results["annual_map_combine"]
            ys = [base[metric]] + [results[f"{name}_k{k}"][metric] for k in K_SPOTS]
            ax.plot(ks, ys, style, label=name)
        if metric == "median_kge":
            ax.axhline(temporal_kge, color="k", lw=0.8, ls=":", label="temporal-split LSTM")
        ax.set_xlabel("spot measurements k")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_xticks([0, *K_SPOTS])
    axes[0].legend(fontsize=8)
    fig.suptitle("Leave-site-out skill vs number of spot measurements (65 sites, test days)", fontsize=10)
    fig.savefig(path)
    plt.close(fig)


def field_anchors(s: dict, pool, scored, temporal: Path, draws: int, seed: int) -> pd.DataFrame:
    """The field's anchors (benchmarks/daily_new_site_anchors.py) on these sites, days and draws."""
    from daily_new_site_anchors import evaluate as evaluate_anchors
    from daily_new_site_anchors import fold_priors, has_sensor

    t = {"site": s["site"], "obs": s["obs"], "temp": s["soil_temp_c"], "fold": s["fold"],
         "sensor": has_sensor(temporal, s["site"])}  # fmt: skip
    return evaluate_anchors(t, pool, scored, fold_priors(t, pool), draws, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "daily.yaml")
    ap.add_argument("--k-folds", type=int, default=5)
    ap.add_argument("--draws", type=int, default=20, help="random spot draws per site and k")
    ap.add_argument("--map-runs", type=int, default=20, help="S3 forests per fold for the annual-map level")
    ap.add_argument("--radius-km", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "daily_new_sites.json")
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig

    base = load_config(args.config, DailyConfig)
    runs, temporal, train_seconds = train_folds(base, args.k_folds)
    s = held_out_series(runs)
    pool, scored = temporal_masks(s["obs"], base.split.train_fraction)
    levels = map_levels(s, args.radius_km, args.map_runs).join(srdb_levels(s, args.radius_km))
    rows, cals = evaluate(s, pool, scored, levels, args.draws, base.training.seed)
    anchor_rows = field_anchors(s, pool, scored, temporal, args.draws, base.training.seed)

    results = {}
    for name, g in rows.groupby(["variant", "k"]):
        results[f"{name[0]}_k{name[1]}" if name[1] else name[0]] = summary(g)
    from daily_new_site_anchors import results_of

    results |= results_of(anchor_rows)
    chosen = {}
    for label, options, k in [("annual_map", ["annual_map_rescale", "annual_map_combine"], 0),
                              ("srdb", ["srdb_rescale", "srdb_combine"], 0)] + [
                             (f"spots_k{k}", ["spots", "annual_map+spots", "spots_mean", *REGRESSIONS], k)
                             for k in K_SPOTS]:  # fmt: skip
        picked = select(rows, options, k)
        results[f"selected_{label}"] = summary(picked)
        chosen[label] = picked.attrs["chosen"]

    import xarray as xr

    with xr.open_dataset(temporal / "predictions.nc") as ds:
        t = ds[["obs", "lstm"]].sel(site=list(s["site"])).transpose("site", "time").load()
    assert np.array_equal(pd.DatetimeIndex(t["time"].values), s["time"])
    tscores = [score_site(t["obs"].values[i], t["lstm"].values[i], t["lstm"].values[i], t["lstm"].values[i], scored[i])
               for i in range(len(s["site"]))]  # fmt: skip
    temporal_ref = {
        "run": _rel(temporal),
        "median_kge": round(float(np.median([r["kge"] for r in tscores])), 4),
        "median_nse": round(float(np.median([r["nse"] for r in tscores])), 4),
        "share_good": round(float(np.mean([r["good"] for r in tscores])), 4),
    }
    # the statics-only level scored on every observed day (the earlier leave-site-out figure)
    every = [score_site(s["obs"][i], s["lstm"][i], s["lstm"][i], s["lstm"][i], np.isfinite(s["obs"][i]))
             for i in range(len(s["site"]))]  # fmt: skip
    out_dir = args.out.parent
    figure(results, temporal_ref["median_kge"], out_dir / "daily_new_sites.png")
    result = {
        "scored_days": "each held-out site's last 20 % of observed days (the temporal split's test days); "
        "spots drawn from its first 80 %",
        "results": results,
        "chosen_per_fold": chosen,
        "chosen": CHOSEN,
        "temporal_split_same_sites": temporal_ref,
        "none_all_days": {
            "median_kge": round(float(np.median([r["kge"] for r in every])), 4),
            "median_nse": round(float(np.median([r["nse"] for r in every])), 4),
        },  # fmt: skip
        "calibration_per_fold": cals,
        "sources": {
            "annual_map_sites": int(np.isfinite(levels["map_umol"]).sum()),
            "srdb_sites": int((levels["srdb_n"] > 0).sum()),
            "srdb_records_median": float(levels.loc[levels["srdb_n"] > 0, "srdb_n"].median()),
            "map_runs_per_fold": args.map_runs,
            "radius_km": args.radius_km,
        },
        "sites": len(s["site"]),
        "draws": args.draws,
        "fold_runs": [_rel(r) for r in runs],
        "train_seconds": train_seconds,
        "figure": _rel(out_dir / "daily_new_sites.png"),
        "command": ".venv/bin/python benchmarks/daily_new_sites.py",
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    per_site = rows.groupby(["variant", "k", "site"])[["nse", "kge", "r", "bias", "covered"]].median().reset_index()
    per_site.to_csv(ROOT / "runs" / "daily_new_sites_per_site.csv", index=False)
    print(json.dumps({k: result[k] for k in ("results", "temporal_split_same_sites", "none_all_days")}, indent=1))


if __name__ == "__main__":
    main()
