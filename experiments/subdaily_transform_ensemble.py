"""S2: target transform × past length × seed ensemble for one torch model, scored on validation.

The evidence behind ``train.target_transform`` and ``train.ensemble`` in configs/subdaily_wkg.yaml:
for each transform and past length, ``--seeds`` single-seed fits of the model (extrapolation
scenario, the config's inputs and hyperparameters), then the ensemble mean of the first k seeds.
Choose on the *validation* MSE (flux units, comparable across transforms); test is shown beside.

    .venv/bin/python experiments/subdaily_transform_ensemble.py --transforms log none arcsinh \\
        --hours 84 24 --seeds 0 1 2 3 4          # ~7 min on one core

Writes experiments/results/subdaily_transform_ensemble.json (one row per single seed and per ensemble).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2 import metrics
from soilco2.config import load_config
from soilco2.subdaily import data as prep
from soilco2.subdaily import run as S
from soilco2.subdaily.config import SubdailyConfig

ROOT = Path(__file__).resolve().parents[1]


def _scores(obs, p, labels) -> dict:
    out = {}
    for split, code in (("val", prep.VAL), ("test", prep.TEST)):
        s = metrics.score(obs[labels == code], p[labels == code], names=("mse", "nse", "r"))
        out.update({f"{split}_{k}": round(float(s[k]), 4) for k in ("mse", "nse", "r")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default=str(ROOT / "configs" / "subdaily_wkg.yaml"))
    ap.add_argument("--model", default="pastfuture_lstm")
    ap.add_argument("--transforms", nargs="+", default=["log", "none", "arcsinh"])
    ap.add_argument("--hours", nargs="+", type=float, default=[84.0, 24.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--result", default=str(ROOT / "experiments" / "results" / "subdaily_transform_ensemble.json"))
    args = ap.parse_args()
    cfg = load_config(args.config, SubdailyConfig).model_copy(update={"show_progress": False})
    table, acct = prep.load_site_table(cfg.site, cfg.data_root)
    past_d, future_d, _, _ = S.resolve_inputs(cfg, table)
    interval = acct.get("interval") or prep.native_interval(pd.Series(table.index))
    win, _ = prep.make_windows(
        table,
        past_d,
        future_d,
        S._steps(max(cfg.sweep.past_hours), interval),
        S._steps(cfg.inputs.future_hours, interval),
    )
    labels, hold = S.scenario_labels(cfg, "extrapolation", table, win)
    rows = []
    for tf in args.transforms:
        sc = prep.Scaler.fit(
            table,
            win.row[labels == prep.TRAIN],
            sorted(set(past_d) | set(future_d)),
            win.target[labels == prep.TRAIN],
            tf,
        )
        past_s = sc.drivers(win.past, win.past_drivers).astype(np.float32)
        fut_s = sc.drivers(win.future, win.future_drivers).astype(np.float32)
        y_s = sc.y(win.target)
        for hours in args.hours:
            P = S._steps(hours, interval)
            members = []
            for seed in args.seeds:
                t0 = time.perf_counter()
                _, z, res = S.fit_torch(
                    args.model, past_s[:, -P:], fut_s, y_s, labels, cfg=cfg, seed=seed, hidden=args.hidden, lr=args.lr
                )
                members.append(sc.flux(z))
                row = {
                    "transform": tf,
                    "past_hours": hours,
                    "seeds": [seed],
                    "best_epoch": res.best_epoch,
                    "seconds": round(time.perf_counter() - t0, 1),
                    **_scores(win.target, members[-1], labels),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            for k in range(2, len(members) + 1):
                row = {
                    "transform": tf,
                    "past_hours": hours,
                    "seeds": args.seeds[:k],
                    **_scores(win.target, np.mean(members[:k], axis=0), labels),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = {
        "config": str(Path(args.config).resolve().relative_to(ROOT))
        if Path(args.config).resolve().is_relative_to(ROOT)
        else args.config,
        "model": args.model,
        "hidden": args.hidden,
        "lr": args.lr,
        "scenario": "extrapolation",
        "holdout": hold,
        "rule": "choose on val_mse (flux units); test for information",
        "rows": rows,
    }
    Path(args.result).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
