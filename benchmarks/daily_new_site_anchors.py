"""The field's anchor at sites the model never saw: what a site PI does with k chamber readings and a
soil-temperature logger — a Q10 or Lloyd–Taylor curve fitted to the readings and run on the
logged temperature — scored exactly as ``daily_new_sites.py`` scores soilco2.

Sites, folds, days and draws are those of the leave-site-out benchmark: the default config's 5
seeded site folds, spots drawn from each site's first 80 % of observed days with the same random
generator keys (seed, site index in fold order, k, draw), scores on its last 20 %. The temperature
is the run's ``soil_temp_c`` (the site's sensor where it has one). Variants, for k = 1, 3, 6, 12:

- ``field_q10_free``: log-space least squares, Q10 bounded to 1..5 (one reading: Q10 = 2);
- ``field_q10_2``: Q10 = 2, the readings set R10;
- ``field_lloyd_taylor``: Lloyd & Taylor (1994), E0 free in 50..600 K (one reading: 308.56 K);
- ``field_hierarchical``: the Q10 curve with a prior on (log R10, ln Q10 / 10) from the other
  folds' sites (each fitted on its first 80 % of days), updated by the readings;
- ``field_spot_mean``: the readings' mean as a constant, the practice without a temperature logger.
At a site without a soil-temperature sensor on its test days (in-situ share < 0.5) every curve
variant is the spot mean (a PI there has no temperature to run a curve on); medians are also
given over the sensor sites alone (``*_sensor_sites``). Readings' scatter σ and the priors come
from the other folds' sites only. The 90 % band: the fit's parameter variance plus σ, log-normal.

    .venv/bin/python benchmarks/daily_new_site_anchors.py   # needs runs/daily (the temporal run)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from daily_new_sites import K_SPOTS, ROOT, score_site, summary, temporal_masks

VARIANTS = ("field_q10_free", "field_q10_2", "field_lloyd_taylor", "field_hierarchical", "field_spot_mean")
SENSOR_SHARE = 0.5


def site_table(run: Path, k_folds: int, split_seed: int) -> dict:
    """Per site in the leave-site-out benchmark's order: obs, soil_temp_c, fold, sensor."""
    import xarray as xr

    from soilco2.daily.dataset.splits import site_folds

    with xr.open_dataset(run / "predictions.nc") as ds:
        sites = ds["site"].values.astype(str)
        obs, temp = (ds[v].transpose("site", "time").values.astype(float) for v in ("obs", "soil_temp_c"))
    folds = site_folds(sites, k_folds, split_seed)
    order, fold = [], []
    for f, members in enumerate(folds):  # daily_new_sites.held_out_series: fold by fold, dataset order
        mine = [i for i, s in enumerate(sites) if s in set(members)]
        order += mine
        fold += [f] * len(mine)
    order = np.array(order)
    return {"site": sites[order], "obs": obs[order], "temp": temp[order], "fold": np.array(fold),
            "sensor": has_sensor(run, sites[order])}  # fmt: skip


def has_sensor(run: Path, sites) -> np.ndarray:
    """Sites whose soil temperature was measured on at least half their test days (the run's sites table)."""
    info = pd.read_parquet(run / "sites.parquet").set_index("site")
    col = next(c for c in ("insitu_share_soil_temp_c_test", "insitu_soil_temp_c_test") if c in info)  # older runs
    return info.loc[list(sites), col].fillna(0).to_numpy() >= SENSOR_SHARE


def fold_priors(t: dict, pool: np.ndarray) -> dict[int, dict]:
    """Per fold: σ of readings around a Q10 / Lloyd–Taylor curve and the Q10 prior, from the other
    folds' sensor sites fitted on their first 80 % of days."""
    from soilco2.daily.newsite.anchors import population_prior, site_fit

    fits = {c: [site_fit(c, t["temp"][i][pool[i]], t["obs"][i][pool[i]]) for i in range(len(t["site"]))]
            for c in ("q10", "lloyd_taylor")}  # fmt: skip
    out = {}
    for f in np.unique(t["fold"]):
        other = (t["fold"] != f) & t["sensor"]
        pri = {}
        for c in ("q10", "lloyd_taylor"):
            mean, cov, sigma = population_prior([fits[c][i] for i in np.flatnonzero(other) if fits[c][i]])
            pri[c] = {"mean": mean, "cov": cov, "sigma": sigma}
        devs = []  # a day's log deviation from its site's mean: the band around a constant
        for i in np.flatnonzero(t["fold"] != f):
            o = t["obs"][i][pool[i]]
            lo = np.log(o[o > 0])
            devs.append(lo - lo.mean())
        pri["spot_mean_sd"] = float(np.sqrt(np.mean(np.concatenate(devs) ** 2)))
        out[int(f)] = pri
    return out


def predict(variant: str, temp: np.ndarray, t_spot, y_spot, pri: dict, sensor: bool) -> dict:
    from soilco2.daily.newsite import anchors as A

    if variant == "field_spot_mean" or not sensor:
        level = float(np.mean(y_spot))
        half = 1.6449 * pri["spot_mean_sd"] * np.sqrt(1 + 1 / len(y_spot))
        ones = np.ones_like(temp)
        return {"rate": level * ones, "lo": level * np.exp(-half) * ones, "hi": level * np.exp(half) * ones}
    q, lt = pri["q10"], pri["lloyd_taylor"]
    fit = {
        "field_q10_free": lambda: A.fit_free("q10", t_spot, y_spot, q["sigma"]),
        "field_q10_2": lambda: A.fit_fixed("q10", t_spot, y_spot, q["sigma"]),
        "field_lloyd_taylor": lambda: A.fit_free("lloyd_taylor", t_spot, y_spot, lt["sigma"]),
        "field_hierarchical": lambda: A.fit_hierarchical("q10", t_spot, y_spot, q["sigma"], q["mean"], q["cov"]),
    }[variant]()
    return fit.predict(temp)


def evaluate(t: dict, pool, scored, priors: dict, draws: int, seed: int) -> pd.DataFrame:
    rows = []
    for i, site in enumerate(t["site"]):
        pri = priors[int(t["fold"][i])]
        candidates = np.flatnonzero(pool[i] & (t["obs"][i] > 0))
        for k in K_SPOTS:
            for d in range(draws):
                spots = np.random.default_rng([seed, i, k, d]).choice(candidates, size=min(k, len(candidates)),
                                                                       replace=False)  # fmt: skip
                for v in VARIANTS:
                    p = predict(v, t["temp"][i], t["temp"][i][spots], t["obs"][i][spots], pri, bool(t["sensor"][i]))
                    rows.append({"variant": v, "k": k, "draw": d, "site": site, "sensor": bool(t["sensor"][i]),
                                 **score_site(t["obs"][i], p["rate"], p["lo"], p["hi"], scored[i])})  # fmt: skip
    return pd.DataFrame(rows)


def _finite(x):
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return None if isinstance(x, float) and not np.isfinite(x) else x


def results_of(rows: pd.DataFrame) -> dict:
    out = {}
    for (v, k), g in rows.groupby(["variant", "k"]):
        res = summary(g)
        sensor = summary(g[g["sensor"]])
        res |= {f"{m}_sensor_sites": sensor[m] for m in ("median_kge", "median_nse", "median_r")}
        res["sensor_sites"] = int(g.loc[g["sensor"], "site"].nunique())
        out[f"{v}_k{k}"] = {m: _finite(x) for m, x in res.items()}
    return out  # r and KGE of a constant (the spot mean) are undefined: None, and left out of medians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "daily.yaml")
    ap.add_argument("--k-folds", type=int, default=5)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "daily_new_sites.json")
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig

    base = load_config(args.config, DailyConfig)
    t = site_table(Path(base.run_dir) / base.name, args.k_folds, base.split.seed)
    pool, scored = temporal_masks(t["obs"], base.split.train_fraction)
    priors = fold_priors(t, pool)
    rows = evaluate(t, pool, scored, priors, args.draws, base.training.seed)
    results = results_of(rows)
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {"results": {}}
    doc["results"] = {k: v for k, v in doc["results"].items() if not k.startswith("field_")} | results
    doc["field_anchors"] = {
        "what": __doc__.split("\n\n")[1].replace("\n", " "),
        "sensor_sites": int(t["sensor"].sum()),
        "priors_per_fold": {
            f: {
                "q10_prior_q10": round(float(np.exp(10 * p["q10"]["mean"][1])), 3),
                "q10_prior_log_r10": round(float(p["q10"]["mean"][0]), 3),
                "q10_sigma": round(p["q10"]["sigma"], 3),
                "lloyd_taylor_sigma": round(p["lloyd_taylor"]["sigma"], 3),
            }
            for f, p in priors.items()
        },  # fmt: skip
        "command": ".venv/bin/python benchmarks/daily_new_site_anchors.py",
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    per_site = rows.groupby(["variant", "k", "site"])[["nse", "kge", "r", "covered"]].median().reset_index()
    per_site.to_csv(ROOT / "runs" / "daily_new_site_anchors_per_site.csv", index=False)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
