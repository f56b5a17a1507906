"""S1 beside neuralhydrology: the same 65 COSORE sites, inputs, statics and temporal split
(`soilco2 daily export`), one model per seed each (soilco2: one member of the default config,
with its per-site fine-tuning; neuralhydrology: `cudalstm` with the settings mapped in
`nh_config.yml`), one torch thread each, on this machine, one after the other; both scored with
soilco2's metrics on the same test days. Also the limit: `torch.nn.LSTM` forward + backward at our
shapes (timesteps per second, 1 and 2 threads) and our all-site training throughput as a share of it.

Needs the peer environment for neuralhydrology (its requirements beside torch==2.13.0):
    python3 -m venv .venv-peer && .venv-peer/bin/pip install torch==2.13.0 &&
    .venv-peer/bin/pip install -r benchmarks/requirements-peer.txt
Usage: .venv/bin/python benchmarks/peer_neuralhydrology.py [--seeds 0 1 2] [--work runs/peer_nh]
       [--out benchmarks/results/peer_neuralhydrology.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def lstm_limit(threads: int, batch: int, warmup: int, window: int, hidden: int, iters: int = 30) -> dict:
    """Timesteps per second of torch.nn.LSTM forward + backward: our pattern (warm-up steps without
    gradient, then the window with it) and every step with gradient."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm, head = torch.nn.LSTM(hidden, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], 1e-3)
    x = torch.randn(batch, warmup + window, hidden)
    out = {}
    for pattern in ("truncated", "full"):
        times = []
        for k in range(iters + 3):
            t = time.perf_counter()
            opt.zero_grad()
            if pattern == "truncated":
                with torch.no_grad():
                    _, state = lstm(x[:, :warmup])
                h, _ = lstm(x[:, warmup:], state)
            else:
                h, _ = lstm(x)
                h = h[:, warmup:]
            head(h).pow(2).mean().backward()
            opt.step()
            if k >= 3:  # the first calls warm up the allocator
                times.append(time.perf_counter() - t)
        out[pattern] = batch * (warmup + window) / float(np.median(times))
    return out


def _limit_child(args) -> None:
    print(json.dumps(lstm_limit(args.limit_child, args.batch, args.warmup, args.window, args.hidden)))


def run_ours(cfg, seed: int, finetune_at: tuple[int, ...] = ()) -> dict:
    """One member of the default config: all-site training (per-epoch test KGE from the loop's saved
    state, its evaluation time not counted), then per-site fine-tuning; scored on the test days.
    ``finetune_at``: epochs after which a fine-tuned copy is scored too, its time being the loop's
    until then plus its own fine-tuning (with a constant learning rate, the member a config with
    that many epochs trains)."""
    import torch

    from soilco2.daily.members import ensemble_predict, finetune_member, train_member
    from soilco2.daily.model import Member, new_model
    from soilco2.daily.outputs import score_predictions
    from soilco2.daily.run import prepare

    cfg = cfg.model_copy(deep=True)
    cfg.training.seed, cfg.training.ensemble, cfg.training.workers = seed, 1, 1
    ds, a, scaler = prepare(cfg)
    obs = ds["flux_umol_m2_s"].transpose("site", "time").sel(site=a.sites, time=a.time).values

    def medians(members, per_site: bool = False) -> dict:
        preds = ensemble_predict(members, a, scaler)
        m = score_predictions(obs, a.split, {"lstm": preds["lstm"]}, a.sites)
        t = m[(m["model"] == "lstm") & (m["split"] == "test")]
        out = {"median_test_kge": float(t["kge"].median()), "median_test_nse": float(t["nse"].median()),
               "median_test_r": float(t["r"].median()), "sites_scored": int(len(t))}  # fmt: skip
        if per_site:
            out["per_site"] = t[["site", "kge", "nse", "r"]].to_dict(orient="records")
        return out

    work = Path(f"/tmp/soilco2_peer_seed{seed}")
    work.mkdir(exist_ok=True)
    resume = work / "resume.pt"
    curve, eval_s = [], 0.0
    t0, c0 = time.perf_counter(), _cpu()

    def on_epoch(done, total, info):
        nonlocal eval_s
        te = time.perf_counter()
        model = new_model(a, cfg.model)
        model.load_state_dict(torch.load(resume, weights_only=True)["model"])
        model.eval()
        at = te - t0 - eval_s
        curve.append({"epoch": done, "seconds": at, **medians([Member(model, {})])})
        if done in finetune_at:  # what `epochs: done` would give: same windows, same fine-tuning seeds
            tf, rng_state = time.perf_counter(), torch.get_rng_state()
            member = finetune_member(model, a, cfg, seed, show_progress=False)
            spent = time.perf_counter() - tf
            torch.set_rng_state(rng_state)  # the fine-tuning seeds torch: the loop goes on as if uninterrupted
            curve.append({"epoch": f"{done} + fine-tuned", "seconds": at + spent, **medians([member])})
        eval_s += time.perf_counter() - te

    model, _ = train_member(a, cfg, seed, show_progress=False, on_epoch=on_epoch, resume_state=resume)
    loop_s = time.perf_counter() - t0 - eval_s
    t1 = time.perf_counter()
    member = finetune_member(model, a, cfg, seed, show_progress=False)
    finetune_s = time.perf_counter() - t1
    cpu = _cpu() - c0
    final = medians([member], per_site=True)
    tc = cfg.training
    steps = tc.epochs * tc.batches_per_epoch
    curve.append({"epoch": "fine-tuned", "seconds": loop_s + finetune_s,
                  **{k: v for k, v in final.items() if k != "per_site"}})  # fmt: skip
    return {
        "seed": seed,
        **final,
        "train_wall_seconds": loop_s + finetune_s,
        "train_cpu_seconds": cpu,  # includes the per-epoch evaluations (not separable per thread)
        "train_loop_seconds": loop_s,
        "finetune_seconds": finetune_s,
        "steps": steps,
        "finetune_steps": tc.finetune_steps * a.n_sites,
        "seconds_per_step": loop_s / steps,
        "timesteps_per_second": steps * tc.batch_size * (tc.warmup_days + tc.window_days) / loop_s,
        "curve": curve,
    }


def common_site_medians(ours: list[dict], nh: list[dict]) -> dict:
    """Per seed, the medians over the sites both scored (neuralhydrology needs seq_length days of
    drivers before a test day, so it cannot score sites whose test days lack them)."""
    out = {"sites": [], "soilco2": {"kge": [], "nse": []}, "neuralhydrology": {"kge": [], "nse": []}}
    for o, n in zip(ours, nh, strict=True):
        per = {"soilco2": {p["site"]: p for p in o.get("per_site", [])},
               "neuralhydrology": {p["site"]: p for p in n.get("per_site", [])}}  # fmt: skip
        common = sorted(per["soilco2"].keys() & per["neuralhydrology"].keys())
        out["sites"].append(len(common))
        for name, rows in per.items():
            for m in ("kge", "nse"):
                out[name][m].append(float(np.median([rows[s][m] for s in common])) if common else None)
    return out


def _time_to(curve: list[dict], kge: float) -> float | None:
    for p in sorted(curve, key=lambda p: p["seconds"]):
        if p["median_test_kge"] >= kge:
            return p["seconds"]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "daily.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--work", default=str(ROOT / "runs" / "peer_nh"))
    ap.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    ap.add_argument("--out", default=str(HERE / "results" / "peer_neuralhydrology.json"))
    ap.add_argument(
        "--finetune-at",
        type=int,
        nargs="*",
        default=[10, 15, 20],
        help="epochs after which a fine-tuned copy is scored (learning curve of the whole method)",
    )
    ap.add_argument("--limit-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=90, help=argparse.SUPPRESS)
    ap.add_argument("--window", type=int, default=90, help=argparse.SUPPRESS)
    ap.add_argument("--hidden", type=int, default=64, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.limit_child:
        return _limit_child(args)

    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.export import export_neuralhydrology

    cfg = load_config(args.config, DailyConfig)
    tc = cfg.training
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    export = work / "export"
    if not (export / "nh_config.yml").is_file():
        export_neuralhydrology(args.config, export, progress=False, replace=True)
    shape = ["--batch", str(tc.batch_size), "--warmup", str(tc.warmup_days), "--window", str(tc.window_days),
             "--hidden", str(cfg.model.hidden_size)]  # fmt: skip
    limit = {}
    for threads in (1, 2):
        res = subprocess.run([sys.executable, __file__, "--limit-child", str(threads), *shape],
                             capture_output=True, text=True, check=True)  # fmt: skip
        limit[threads] = json.loads(res.stdout.strip().splitlines()[-1])
    ours, nh = [], []
    for seed in args.seeds:
        ours.append(run_ours(cfg, seed, tuple(args.finetune_at)))
        (work / f"ours_seed{seed}.json").write_text(json.dumps(ours[-1], indent=1, default=str))
        out = work / f"nh_seed{seed}.json"
        env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        t, c = time.perf_counter(), _cpu()
        subprocess.run([args.peer_python, str(HERE / "peer_nh_train.py"), str(export), str(work / f"nh_seed{seed}"),
                        "--seed", str(seed), "--epochs", str(tc.epochs), "--out", str(out)], check=True, env=env)  # fmt: skip
        r = json.loads(out.read_text())
        r["process_wall_seconds"], r["process_cpu_seconds"] = time.perf_counter() - t, _cpu() - c
        nh.append(r)

    def side(rows: list[dict]) -> dict:
        keys = ("median_test_kge", "median_test_nse", "train_wall_seconds", "train_cpu_seconds", "seconds_per_step")
        return {"seeds": [r["seed"] for r in rows], "per_seed": rows} | {
            k: {"per_seed": [r[k] for r in rows], "median": float(np.median([r[k] for r in rows]))} for k in keys
        }

    s_ours, s_nh = side(ours), side(nh)
    nh_final = s_nh["median_test_kge"]["median"]
    to_skill_ours = [_time_to(r["curve"], nh_final) for r in ours]
    to_skill_nh = [r["train_wall_seconds"] for r in nh]
    ok = [t for t in to_skill_ours if t is not None]
    ours_tps = float(np.median([r["timesteps_per_second"] for r in ours]))
    pattern = "truncated" if tc.no_grad_steps else "full"  # the limit at our own gradient pattern
    result = {
        "soilco2": s_ours,
        "neuralhydrology": s_nh,
        "common_sites": common_site_medians(ours, nh),
        "speed_ratio": float(np.median(to_skill_nh) / np.median(ok)) if len(ok) == len(ours) else None,
        "time_to_nh_final_kge_seconds": {"soilco2": to_skill_ours, "neuralhydrology": to_skill_nh},
        "step_ratio": s_nh["seconds_per_step"]["median"] / s_ours["seconds_per_step"]["median"],
        "limit_timesteps_per_second": limit[1][pattern],
        "limit_pattern": f"{pattern} (1 thread; 'full' backpropagates through the warm-up, as training.warmup_gradient: true)",
        "limit_timesteps_per_second_by_threads": limit,
        "our_timesteps_per_second": ours_tps,
        "share_of_limit": ours_tps / limit[1][pattern],
        "settings_that_differ": [
            d
            for d in (
                "ensemble: soilco2's default averages 4 members; here one member per seed on each side",
                "per-site fine-tuning (40 batches of 16 per site): soilco2 only (nh has none); counted in its time",
                "per-site target scaling (mean-centred per site): soilco2 only; nh scales the target globally",
                "loss: soilco2 weights each site's squared errors by its variance, nh's NSE loss divides by the "
                "site's target SD (squared) per sample: close, not identical",
                "recency weighting of training days (365-day half-life): soilco2 only",
                "sampling: both draw windows in proportion to a site's training days; a soilco2 window ends up to "
                "window_days after the drawn day (a window's days scored together), nh scores the predict_last_n days "
                "ending on it",
                f"warm-up: soilco2's first {tc.no_grad_steps} steps run without gradient; nh backpropagates through all "
                f"{tc.warmup_days + tc.window_days}"
                if tc.no_grad_steps
                else None,
                "inputs: nh re-scales soilco2's already scaled inputs (z-score of z-scores, no effect on skill)",
            )
            if d
        ],
        "mapping": {
            "hidden_size": cfg.model.hidden_size,
            "dropout": f"{cfg.model.dropout} (nh output_dropout)",
            "seq_length": tc.warmup_days + tc.window_days,
            "predict_last_n": tc.window_days,
            "batch_size": tc.batch_size,
            "epochs x updates": f"{tc.epochs} x {tc.batches_per_epoch}",
            "learning_rate": tc.lr,
            "threads": 1,
        },  # fmt: skip
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "device": "CPU, 1 torch thread each"},
        "command": ".venv/bin/python benchmarks/peer_neuralhydrology.py",
    }
    Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(
        json.dumps({k: v for k, v in result.items() if k not in ("soilco2", "neuralhydrology")}, indent=1, default=str)
    )


if __name__ == "__main__":
    main()
