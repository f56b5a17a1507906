"""Where a training epoch of the S1 LSTM spends its time (default config, real data, one torch
thread): batch sampling, the input layer, the LSTM forward, dropout + head, the loss, the backward
pass, gradient clipping, the Adam step — and the per-site fine-tuning (setup vs steps). Beside it,
torch.nn.LSTM alone at the same shapes (the limit of any trainer here).

Usage: .venv/bin/python benchmarks/daily_epoch_profile.py [--config configs/daily.yaml] [--batches 100]
       [--out benchmarks/results/daily_epoch_profile.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("sampling", "input_layer", "lstm_forward", "dropout_head", "loss", "backward", "clip", "adam_step")


def profile_steps(model, batches, loss_fn, torch) -> tuple[dict[str, float], int]:
    """Seconds per part over the ``batches`` iterator but its first (allocator warm-up), the forward
    taken apart as DailyLSTM.forward runs it (checked against the model's own forward)."""
    from torch import nn

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    spent = dict.fromkeys(PARTS, 0.0)
    model.train()
    n = -1
    while True:
        t = [time.perf_counter()]
        batch = next(batches, None)
        if batch is None:
            return spent, n
        n += 1
        (x, s), y, w = batch
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        static = s[:, None, :].expand(-1, x.shape[1], -1)
        h = torch.relu(model.input_layer(torch.cat([x, static], dim=-1)))
        t.append(time.perf_counter())
        out, _ = model.lstm(h)
        t.append(time.perf_counter())
        pred = model.head(model.dropout(out)).squeeze(-1)
        t.append(time.perf_counter())
        loss = loss_fn(pred, y, w)
        t.append(time.perf_counter())
        loss.backward()
        t.append(time.perf_counter())
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t.append(time.perf_counter())
        opt.step()
        float(loss.detach())
        t.append(time.perf_counter())
        if n == 0:  # the pieces are the model's forward (dropout off to compare)
            model.eval()
            with torch.no_grad():
                whole = model(x, s)
                parts = model.head(model.lstm(torch.relu(model.input_layer(torch.cat([x, static], -1))))[0]).squeeze(-1)
            assert torch.allclose(whole, parts, atol=1e-5), "the profile's forward drifted from DailyLSTM.forward"
            model.train()
            continue
        for part, a, b in zip(PARTS, t[:-1], t[1:], strict=True):
            spent[part] += b - a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "daily.yaml"))
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--finetune-sites", type=int, default=10)
    ap.add_argument("--out", default=str(HERE / "results" / "daily_epoch_profile.json"))
    args = ap.parse_args()

    from soilco2.config import load_config
    from soilco2.daily.arrays import TRAIN, site_loss_weights
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.finetune import finetune_sites
    from soilco2.daily.model import loss_function, new_model, torch_setup
    from soilco2.daily.run import prepare
    from soilco2.daily.sampling import batch_sampler

    cfg = load_config(args.config, DailyConfig)
    tc = cfg.training
    torch = torch_setup(1)
    _, a, _ = prepare(cfg)
    weights = site_loss_weights(a, tc.site_normalised_loss)
    torch.manual_seed(0)
    model = new_model(a, cfg.model)
    model.no_grad_steps = tc.no_grad_steps
    if tc.no_grad_steps:
        raise SystemExit("the profile takes the forward apart for warmup_gradient: true (the default)")
    sample = batch_sampler(a, weights, tc.model_copy(update={"batches_per_epoch": args.batches + 1}))
    spent, steps = profile_steps(model, iter(sample(np.random.default_rng(0))), loss_function(tc), torch)
    step_s = sum(spent.values()) / steps

    # torch.nn.LSTM alone at the same shapes and gradient pattern (input already embedded)
    lstm, head = (
        torch.nn.LSTM(cfg.model.hidden_size, cfg.model.hidden_size, batch_first=True),
        torch.nn.Linear(cfg.model.hidden_size, 1),
    )
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], 1e-3)
    xs = torch.randn(tc.batch_size, tc.warmup_days + tc.window_days, cfg.model.hidden_size)
    times = []
    for k in range(33):
        t = time.perf_counter()
        opt.zero_grad()
        head(lstm(xs)[0][:, tc.warmup_days :]).pow(2).mean().backward()
        opt.step()
        if k >= 3:
            times.append(time.perf_counter() - t)
    limit_step = float(np.median(times))

    # fine-tuning: the whole per-site stage on a few sites, and its steps alone
    sites = [i for i in range(a.n_sites) if (a.split[i] == TRAIN).any()][: args.finetune_sites]
    t = time.perf_counter()
    for i in sites:  # as finetune_sites runs each site: copy, sampler, steps
        finetune_sites(model, a.site_view(i), cfg, 0, weights[i : i + 1])
    ft_per_site = (time.perf_counter() - t) / len(sites)
    ft = tc.model_copy(update={"batch_size": tc.finetune_batch_size, "batches_per_epoch": tc.finetune_steps})
    i = sites[0]
    ft_batches = iter(batch_sampler(a.site_view(i), weights[i : i + 1], ft)(np.random.default_rng(1)))
    ft_spent, ft_steps = profile_steps(copy.deepcopy(model), ft_batches, loss_function(tc), torch)
    ft_step_s = sum(ft_spent.values()) / ft_steps

    timesteps = tc.batch_size * (tc.warmup_days + tc.window_days)
    result = {
        "shapes": {
            "batch": tc.batch_size,
            "warmup_days": tc.warmup_days,
            "window_days": tc.window_days,
            "hidden": cfg.model.hidden_size,
            "n_dynamic": int(a.x_dynamic.shape[2]),
            "n_static": int(a.x_static.shape[1]),
        },  # fmt: skip
        "all_site_step": {
            "seconds_per_step": step_s,
            "share": {p: spent[p] / (step_s * steps) for p in PARTS},
            "ms_per_step": {p: 1000 * spent[p] / steps for p in PARTS},
            "timesteps_per_second": timesteps / step_s,
        },
        "lstm_alone": {"seconds_per_step": limit_step, "timesteps_per_second": timesteps / limit_step},
        "share_of_lstm_alone": limit_step / step_s,
        "epoch_seconds": step_s * tc.batches_per_epoch,
        "finetune": {
            "seconds_per_site": ft_per_site,
            "seconds_per_step": ft_step_s,
            "steps_per_site": tc.finetune_steps,
            "setup_share": max(0.0, 1 - tc.finetune_steps * ft_step_s / ft_per_site),
            "sites_timed": len(sites),
        },
        "member_estimate_seconds": {
            "all_site": step_s * tc.batches_per_epoch * tc.epochs,
            "finetune": ft_per_site * int((a.split == TRAIN).any(axis=1).sum()),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch_threads": 1},
        "command": ".venv/bin/python benchmarks/daily_epoch_profile.py",
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
