"""S2 pipeline: config → run folder.

``run_mi(cfg)``  site table + lagged MI (table, peaks, proposed input design, figure).
``run(cfg)``     MI, then for each scenario (interpolation / extrapolation) the Q10 family and,
                 per past length of the sweep, the past/future LSTM, one-way LSTM and the MLPs
                 (hyperparameters searched once on validation), rain-pulse skill, outputs:

RUN/config.yaml, site_table_accounting.json, mi.parquet, mi_peaks.parquet, input_design.json,
scalers.json, search.parquet, sweep.parquet (scenario, model, past_hours, split, mse_umol2_m4_s2, nse, r,
rmse_umol_m2_s, kge, n), predictions.nc, rain_pulses.parquet, summary.json, figures/*.png, index.html.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2 import metrics
from soilco2.config import dump_config
from soilco2.errors import UserError
from soilco2.subdaily import data as prep
from soilco2.subdaily.config import Q10_MODELS, TORCH_MODELS, SubdailyConfig
from soilco2.subdaily.inputs import resolve_inputs, scenario_labels
from soilco2.subdaily.mutual_info import mi_table, peak_lags, propose_input_design
from soilco2.subdaily.outputs import (
    headline_hours,
    headline_predictions,
    predictions_dataset,
    rain_pulse_table,
    run_summary,
    write_predictions,
)

SCORES = ("mse", "nse", "r", "rmse", "kge")
SWEEP_COLUMN_NAMES = {"mse": "mse_umol2_m4_s2", "rmse": "rmse_umol_m2_s"}  # units in the file's names


def _steps(hours: float, interval: str) -> int:
    return int(round(pd.Timedelta(hours=hours) / pd.Timedelta(pd.tseries.frequencies.to_offset(interval))))


def run_mi(cfg: SubdailyConfig, out: Path | None = None, table: pd.DataFrame | None = None):
    """Site table + lagged MI; writes the MI outputs into ``out`` when given."""
    if table is None:
        table, acct = prep.load_site_table(cfg.site, cfg.data_root)
    else:
        acct = {}
    drivers = cfg.mi.drivers or [
        d for d in ("soil_temp_c", "swc_m3_m3", "precip_mm", "air_temp_c") if d in table and table[d].notna().any()
    ]
    missing = [d for d in drivers if d not in table]
    if missing:
        raise UserError(f"MI driver(s) not in the site table: {', '.join(missing)}", field="mi.drivers")
    mi = mi_table(table, drivers, max_lag_hours=cfg.mi.max_lag_hours, bins=cfg.mi.bins)
    peaks = peak_lags(mi)
    design = propose_input_design(mi)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures").mkdir(exist_ok=True)
        mi.to_parquet(out / "mi.parquet")
        peaks.to_parquet(out / "mi_peaks.parquet")
        (out / "input_design.json").write_text(json.dumps(design, indent=2))
        (out / "site_table_accounting.json").write_text(json.dumps(acct, indent=2, default=str))
        from soilco2.subdaily.page import plot_mi

        plot_mi(mi, out / "figures" / "mi_lags.png", title=cfg.site.name)
    return table, mi, peaks, design, acct


def _q10_predictions(table, win, labels, models) -> dict[str, np.ndarray]:
    from soilco2.models.q10 import Q10_FAMILY

    X = np.column_stack(
        [
            table["soil_temp_c"].to_numpy(float)[win.row],
            table["swc_m3_m3"].to_numpy(float)[win.row] if "swc_m3_m3" in table else np.full(len(win.row), np.nan),
        ]
    )
    out = {}
    tr = labels == prep.TRAIN
    for name in models:
        est = Q10_FAMILY[name]()
        cols = 1 if est.n_features == 1 else 2
        if cols == 2 and not np.isfinite(X[:, 1]).any():
            continue
        try:
            est.fit(X[tr, :cols], win.target[tr])
        except ValueError:
            continue
        out[name] = est.predict(X[:, :cols])
    return out


def search_grid(cfg: SubdailyConfig) -> list[dict]:
    """Hyperparameter combinations (hidden × lr × dropout); dropout only when ``search.dropout`` is set."""
    drops = cfg.search.dropout or [None]
    return [
        {"hidden": h, "lr": lr, **({} if d is None else {"dropout": d})}
        for h in cfg.search.hidden
        for lr in cfg.search.lr
        for d in drops
    ]


def _build_model(name: str, n_past: int, n_future: int, P: int, F: int, hidden: int, dropout: float):
    from soilco2.models.mlp import WindowMLP
    from soilco2.models.pastfuture import OneWayLSTM, PastFutureLSTM

    if name == "pastfuture_lstm":
        return PastFutureLSTM(n_past, n_future, hidden, dropout)
    if name == "oneway_lstm":
        return OneWayLSTM(n_past, hidden, dropout)
    if name == "mlp_past":
        return WindowMLP(P * n_past, 0, 2 * hidden, dropout)
    if name == "mlp_pastfuture":
        return WindowMLP(P * n_past, F * n_future, 2 * hidden, dropout)
    raise ValueError(name)


def fit_torch(
    name,
    past,
    future,
    y,
    labels,
    *,
    hidden,
    lr,
    cfg: SubdailyConfig,
    seed: int,
    label: str = "",
    dropout: float | None = None,
):
    """Train one torch model on scaled windows; returns (model, predictions (scaled) for all samples, result)."""
    import torch

    from soilco2.training import masked_mse, train

    torch.set_num_threads(cfg.train.threads)
    pt, ft, yt = torch.from_numpy(past), torch.from_numpy(future), torch.from_numpy(y)
    tr = np.flatnonzero(labels == prep.TRAIN)
    va = np.flatnonzero(labels == prep.VAL)
    rng_val = np.random.default_rng(seed)
    if va.size > cfg.train.max_val_samples:
        va = np.sort(rng_val.choice(va, cfg.train.max_val_samples, replace=False))
    torch.manual_seed(seed)
    model = _build_model(
        name,
        past.shape[2],
        future.shape[2],
        past.shape[1],
        future.shape[1],
        hidden,
        cfg.train.dropout if dropout is None else dropout,
    )
    bs = cfg.train.batch_size

    def batches(rng):
        idx = rng.permutation(tr)[: bs * cfg.train.batches_per_epoch]
        for k in range(0, idx.size, bs):
            b = torch.from_numpy(idx[k : k + bs])
            yield (pt[b], ft[b]), yt[b], torch.ones(b.numel())

    def val_loss(m):
        b = torch.from_numpy(va)
        return float(masked_mse(m(pt[b], ft[b]), yt[b], torch.ones(b.numel())))

    res = train(
        model,
        batches,
        val_loss,
        epochs=cfg.train.epochs,
        lr=lr,
        weight_decay=cfg.train.weight_decay,
        patience=cfg.train.patience,
        seed=seed,
        label=label or name,
        show_progress=cfg.show_progress,
    )
    return model, predict(model, pt, ft), res


def predict(model, pt, ft, chunk: int = 4096) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, pt.shape[0], chunk):
            out.append(model(pt[k : k + chunk], ft[k : k + chunk]).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _scores(obs, sim) -> dict:
    s = metrics.score(obs, sim, names=SCORES)
    return {k: s[k] for k in (*SCORES, "n")}


def _sweep_fit(shared: tuple, task: tuple[float, str]) -> tuple[np.ndarray, int]:
    """One fit of the sweep (a Dask task): (scaled predictions of every window, best epoch)."""
    past_s, fut_s, y_s, labels, best_hp, cfg_data, interval, scenario = shared
    hours, name = task
    cfg = SubdailyConfig.model_validate(cfg_data)
    P = _steps(hours, interval)
    _, z, res = fit_torch(
        name, past_s[:, -P:], fut_s, y_s, labels, cfg=cfg, seed=cfg.seed,
        label=f"{scenario} {name} past={hours:g}h", **best_hp[name],
    )  # fmt: skip
    return z, res.best_epoch


def run(cfg: SubdailyConfig, out_dir: str | Path | None = None) -> dict:
    """The whole S2 run; returns the summary dict (also written to ``summary.json``)."""
    from rich.console import Console

    from soilco2.parallel import map_tasks

    console = Console(quiet=not cfg.show_progress)
    t_start = time.perf_counter()
    out = Path(out_dir or cfg.out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    dump_config(cfg, out / "config.yaml")
    table, mi, peaks, design, acct = run_mi(cfg, out)
    interval = acct.get("interval") or prep.native_interval(pd.Series(table.index))
    past_d, future_d, input_info, row_labels = resolve_inputs(cfg, table)
    for w in input_info["warnings"]:
        Console(stderr=True, soft_wrap=True).print(f"[yellow]warning:[/] {w}")
    P_max = _steps(max(cfg.sweep.past_hours + [cfg.search.past_hours, cfg.sweep.sample_past_hours or 0]), interval)
    F = _steps(cfg.inputs.future_hours, interval)
    win, drops = prep.make_windows(table, past_d, future_d, P_max, F)
    if len(win.time) < 50:
        raise UserError(
            f"only {len(win.time)} complete windows ({drops}); the site needs longer gap-free driver records",
            field="site",
        )
    torch_models = [m for m in cfg.models if m in TORCH_MODELS]
    q10_models = [m for m in cfg.models if m in Q10_MODELS]
    rows, search_rows, scalers, preds, split_labels, holdouts = [], [], {}, {}, {}, {}
    headline, ensembles = {}, {}  # scenario -> past hours; (scenario, model) -> ensemble-mean flux
    t_sweep = time.perf_counter()
    for scenario in cfg.scenarios.run:
        labels, hold = scenario_labels(cfg, scenario, table, win, row_labels)
        holdouts[scenario] = hold
        split_labels[scenario] = labels
        tr_rows = win.row[labels == prep.TRAIN]
        sc = prep.Scaler.fit(
            table,
            tr_rows,
            sorted(set(past_d) | set(future_d)),
            win.target[labels == prep.TRAIN],
            cfg.train.target_transform,
        )
        scalers[scenario] = sc.to_json()
        past_s = sc.drivers(win.past, win.past_drivers).astype(np.float32)
        fut_s = sc.drivers(win.future, win.future_drivers).astype(np.float32)
        y_s = sc.y(win.target)
        for name, p in _q10_predictions(table, win, labels, q10_models).items():
            preds[(scenario, name, 0.0)] = p
            for split, code in (("train", prep.TRAIN), ("test", prep.TEST)):
                rows.append(
                    {
                        "scenario": scenario,
                        "model": name,
                        "past_hours": np.nan,
                        "split": split,
                        "members": 1,
                        **_scores(win.target[labels == code], p[labels == code]),
                    }
                )
        # hyperparameter search on validation, at one past length
        Ps = _steps(cfg.search.past_hours, interval)
        best_hp = {}
        combos = search_grid(cfg)
        for name in torch_models:
            if len(combos) == 1 or (cfg.search.models is not None and name not in cfg.search.models):
                best_hp[name] = combos[0]  # nothing to choose: no search fit
                continue
            best = None
            for hp in combos:
                t0 = time.perf_counter()
                _, _, res = fit_torch(
                    name,
                    past_s[:, -Ps:],
                    fut_s,
                    y_s,
                    labels,
                    cfg=cfg,
                    seed=cfg.seed,
                    label=f"{scenario} {name} search " + " ".join(f"{k}={v:g}" for k, v in hp.items()),
                    **hp,
                )
                search_rows.append(
                    {
                        "scenario": scenario,
                        "model": name,
                        **hp,
                        "val_loss": res.best_val_loss,
                        "best_epoch": res.best_epoch,
                        "seconds": time.perf_counter() - t0,
                    }
                )
                if best is None or res.best_val_loss < best[0]:
                    best = (res.best_val_loss, hp)
            best_hp[name] = best[1]
        # the sweep: every (past length, model) fit is independent -> one Dask task each (no bars on workers)
        on_dask = cfg.sweep.n_workers > 1 or cfg.sweep.scheduler_address
        sweep_cfg = cfg.model_dump(mode="json") | ({"show_progress": False} if on_dask else {})
        tasks = [(float(hours), name) for hours in cfg.sweep.past_hours for name in torch_models]
        fits = map_tasks(
            _sweep_fit,
            (past_s, fut_s, y_s, labels, best_hp, sweep_cfg, interval, scenario),
            tasks,
            n_workers=cfg.sweep.n_workers,
            scheduler_address=cfg.sweep.scheduler_address,
            field="sweep.scheduler_address",
            label=f"{scenario}: sweep ({len(tasks)} fits)",
            progress=cfg.show_progress and cfg.sweep.n_workers > 1,
        )
        for (hours, name), (z, best_epoch) in zip(tasks, fits, strict=True):
            p = sc.flux(z)
            preds[(scenario, name, hours)] = p
            for split, code in (("train", prep.TRAIN), ("validation", prep.VAL), ("test", prep.TEST)):
                rows.append(
                    {
                        "scenario": scenario,
                        "model": name,
                        "past_hours": hours,
                        "split": split,
                        **_scores(win.target[labels == code], p[labels == code]),
                        "best_epoch": best_epoch,
                        "members": 1,
                        **best_hp[name],
                    }
                )
        # headline: the past length chosen on validation; its torch models become seed ensembles
        headline[scenario] = headline_hours(pd.DataFrame(rows), scenario)
        for name in torch_models if cfg.train.ensemble > 1 else []:
            P = _steps(headline[scenario], interval)
            members = [preds[(scenario, name, headline[scenario])]]
            for k in range(1, cfg.train.ensemble):
                _, z, _ = fit_torch(
                    name,
                    past_s[:, -P:],
                    fut_s,
                    y_s,
                    labels,
                    cfg=cfg,
                    seed=cfg.seed + k,
                    label=f"{scenario} {name} past={headline[scenario]:g}h member {k + 1}",
                    **best_hp[name],
                )
                members.append(sc.flux(z))
            p = np.mean(members, axis=0)
            ensembles[(scenario, name)] = p
            for split, code in (("train", prep.TRAIN), ("validation", prep.VAL), ("test", prep.TEST)):
                rows.append(
                    {
                        "scenario": scenario,
                        "model": name,
                        "past_hours": headline[scenario],
                        "split": split,
                        **_scores(win.target[labels == code], p[labels == code]),
                        "members": len(members),
                        **best_hp[name],
                    }
                )
        console.print(f"[green]{scenario} done[/] ({time.perf_counter() - t_sweep:.0f} s)")
    sweep_seconds = time.perf_counter() - t_sweep
    sweep = pd.DataFrame(rows)
    sweep.rename(columns=SWEEP_COLUMN_NAMES).to_parquet(out / "sweep.parquet")
    pd.DataFrame(search_rows).to_parquet(out / "search.parquet")
    (out / "scalers.json").write_text(json.dumps(scalers, indent=2))
    (out / "input_design.json").write_text(
        json.dumps(
            {
                "proposed_all_data": design,
                **input_info,
                "used": {"past": past_d, "future": future_d},
                "window_drops": drops,
            },
            indent=2,
            default=str,
        )
    )
    head_preds = headline_predictions(preds, ensembles, headline)
    ds = predictions_dataset(table, win, preds, head_preds, split_labels, cfg, headline)
    write_predictions(ds, out / "predictions.nc", prep.site_position(cfg.site, cfg.data_root))
    pulses = rain_pulse_table(table, win, head_preds, split_labels, cfg)
    pulses.to_parquet(out / "rain_pulses.parquet")
    summary = run_summary(
        cfg,
        sweep,
        peaks,
        headline,
        holdouts,
        sweep_seconds,
        time.perf_counter() - t_start,
        acct,
        drops,
        past_d,
        future_d,
        pulses,
    )
    summary["warnings"] = input_info["warnings"]
    summary["input_mode"] = input_info["mode"]
    if "interpolation" in holdouts:
        summary["interpolation_split"] = holdouts["interpolation"].get("split")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    from soilco2.subdaily.page import write_report

    write_report(out, table=table, mi=mi, sweep=sweep, ds=ds, pulses=pulses, summary=summary)
    return summary
