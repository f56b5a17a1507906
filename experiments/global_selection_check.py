"""Does the selected predictor subset stay better on folds and forests it was not selected on?
(The best of 4,095 subsets ranked on one set of folds is optimistic: the winner's curse.)

Re-scores a few subsets per flux by grouped-CV RMSE with 100-tree forests on fold assignments
and forest seeds other than the selection's (seeds 1..N), and prints the mean and the spread.

Usage: .venv/bin/python experiments/global_selection_check.py [--selection runs/global_selection.parquet]
       [--seeds 5] [--out experiments/results/global_selection_check.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE.parent / "configs" / "global.yaml"))
    ap.add_argument("--selection", default=str(HERE.parent / "runs" / "global_selection.parquet"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import pandas as pd

    from soilco2.config import load_config
    from soilco2.global_.config import DEFAULT_COVARIATES, LANDCOVER_COVARIATES, GlobalConfig
    from soilco2.global_.covariates import location_groups
    from soilco2.global_.cv import grouped_folds
    from soilco2.global_.run import build_inputs
    from soilco2.global_.selection import chosen, score_subsets
    from soilco2.paths import data_root

    cfg = load_config(args.config, GlobalConfig).model_copy(update={"covariates": "auto"})
    _, tables, _ = build_inputs(cfg, data_root(cfg.data_root))
    sel = pd.read_parquet(args.selection)
    result = {}
    for flux, t in sel.groupby("flux", sort=False):
        name = "pairs" if flux == "rh" and cfg.rh_model == "fraction" else flux
        d = tables[name]
        subsets = {
            "best": chosen(t, "best"),
            "one_se": chosen(t, "one_se"),
            "default_seven": list(DEFAULT_COVARIATES),
            "all_candidates": list(cfg.selection.candidates),
            # the land-cover fractions: candidates too, left out of the 4,095 (17 candidates: 131,071 subsets)
            "best_plus_landcover": chosen(t, "best") + list(LANDCOVER_COVARIATES),
        }
        y = d["fraction" if name == "pairs" else "flux_gc_m2_yr"].to_numpy("f8")
        groups = location_groups(d["lat"], d["lon"], cfg.cv_group_deg)
        rows = {k: [] for k in subsets}
        for s in range(1, args.seeds + 1):
            folds = grouped_folds(groups, cfg.cv_folds, np.random.default_rng([s, 1234]))
            for label, cov in subsets.items():
                X = d[cov].to_numpy("f8")
                params = {"n_trees": 100, "min_samples_leaf": cfg.min_samples_leaf, "max_features": cfg.max_features,
                          "seed": 1000 + s}  # fmt: skip
                r = score_subsets({"X": X, "y": y, "folds": folds, "params": params}, [tuple(range(len(cov)))])[0]
                rows[label].append(r["rmse"])
        result[flux] = {
            label: {"covariates": subsets[label], "rmse_mean": float(np.mean(v)), "rmse_min": float(np.min(v)),
                    "rmse_max": float(np.max(v)), "per_seed": [float(x) for x in v]}
            for label, v in rows.items()
        }  # fmt: skip
        best = np.array(rows["best"])
        for label in ("default_seven", "one_se", "all_candidates", "best_plus_landcover"):
            result[flux][label]["seeds_where_best_is_lower"] = int(np.sum(best < np.array(rows[label])))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
