"""neuralhydrology's side of benchmarks/peer_neuralhydrology.py, run in the peer environment
(`benchmarks/requirements-peer.txt`): train its `cudalstm` on a soilco2 export, one seed, on CPU
with one thread; predict the test period with its own tester; score with soilco2's metrics on the
same test days; report wall and CPU seconds, steps and the per-epoch test KGE (learning curve,
from the weights saved after each epoch; evaluation time not counted).

Usage (from the orchestrator): PYTHONPATH=src .venv-peer/bin/python benchmarks/peer_nh_train.py
       EXPORT_DIR WORK_DIR --seed 0 --epochs N --out result.json
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _periods_pickles(export: Path, work: Path) -> dict:
    """neuralhydrology reads per-basin periods from pickles: written here, from periods.csv."""
    from soilco2.daily.export import nh_periods

    cols = [f"{w}_{e}" for w in ("train", "validation", "test") for e in ("start", "end")]
    periods = pd.read_csv(export / "periods.csv", parse_dates=cols)
    out = {}
    for which in ("train", "validation", "test"):
        p = work / f"periods_{which}.p"
        d = nh_periods(periods, which)
        if not d:  # no validation slice: nh still wants a file
            d = nh_periods(periods, "test")
        with p.open("wb") as fp:
            pickle.dump(d, fp)
        out[which] = p
    return out


def _score(results: dict, target: str) -> pd.DataFrame:
    from soilco2.metrics import score

    rows = []
    for site, res in results.items():
        xr_ = res["1D"]["xr"]
        obs = xr_[f"{target}_obs"].values.reshape(-1)
        sim = xr_[f"{target}_sim"].values.reshape(-1)
        ok = np.isfinite(obs) & np.isfinite(sim)
        if ok.sum() > 1:
            rows.append({"site": site, **score(obs[ok], sim[ok], ("nse", "kge", "r"))})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export")
    ap.add_argument("work")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from neuralhydrology.evaluation import get_tester
    from neuralhydrology.training.basetrainer import BaseTrainer
    from neuralhydrology.utils.config import Config

    export, work = Path(args.export).resolve(), Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cfg_dict = yaml.safe_load((export / "nh_config.yml").read_text())
    pickles = _periods_pickles(export, work)
    cfg_dict.update(
        seed=args.seed,
        epochs=args.epochs,
        data_dir=str(export),
        run_dir=str(work / "run"),
        train_basin_file=str(export / "sites.txt"),
        validation_basin_file=str(export / "sites.txt"),
        test_basin_file=str(export / "sites.txt"),
        per_basin_train_periods_file=str(pickles["train"]),
        per_basin_validation_periods_file=str(pickles["validation"]),
        per_basin_test_periods_file=str(pickles["test"]),
        save_weights_every=1,
        metrics=[],
    )
    cfg_dict.pop("validate_every", None)  # no validation during training
    cfg_file = work / "config.yml"
    cfg_file.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
    cfg = Config(cfg_file)
    t_start, c0 = time.time(), _cpu_seconds()
    trainer = BaseTrainer(cfg=cfg)
    trainer.initialize_training()
    setup_s = time.time() - t_start
    trainer.train_and_validate()
    wall, cpu = time.time() - t_start, _cpu_seconds() - c0
    steps_per_epoch = min(cfg.max_updates_per_epoch or len(trainer.loader), len(trainer.loader))
    run_dir = Path(cfg.run_dir)
    weights = sorted(run_dir.glob("model_epoch*.pt"))
    # every test day with its full seq_length of history (training's predict_last_n would load only
    # seq_length - predict_last_n days before the period and skip its first days)
    cfg.update_config({"predict_last_n": 1})
    tester = get_tester(cfg=cfg, run_dir=run_dir, period="test", init_model=True)
    target = cfg_dict["target_variables"][0]
    curve = []
    for k, w in enumerate(weights, start=1):
        s = _score(tester.evaluate(epoch=k, save_results=False, metrics=[]), target)
        curve.append(
            {
                "epoch": k,
                "seconds": w.stat().st_mtime - t_start - setup_s,  # training loop time until these weights were saved
                "median_test_kge": float(s["kge"].median()),
                "median_test_nse": float(s["nse"].median()),
            }
        )
    final = _score(tester.evaluate(epoch=len(weights), save_results=False, metrics=[]), target)
    result = {
        "seed": args.seed,
        "epochs": args.epochs,
        "steps": int(steps_per_epoch * args.epochs),
        "batch_size": int(cfg.batch_size),
        "seq_length": int(cfg.seq_length),
        "setup_seconds": setup_s,
        "train_loop_seconds": wall - setup_s,
        "train_wall_seconds": wall - setup_s,  # the loop, as soilco2's (data preparation apart on both sides)
        "train_cpu_seconds": cpu,  # includes the setup
        "seconds_per_step": (wall - setup_s) / (steps_per_epoch * args.epochs),
        "median_test_kge": float(final["kge"].median()),
        "median_test_nse": float(final["nse"].median()),
        "median_test_r": float(final["r"].median()),
        "sites_scored": int(len(final)),
        "per_site": final[["site", "kge", "nse", "r"]].to_dict(orient="records"),
        "curve": curve,
    }
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
