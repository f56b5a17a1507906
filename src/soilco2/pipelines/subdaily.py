"""S2 pipeline: config → run folder.

``run_mi(cfg)``  site table + lagged MI (table, peaks, proposed input design, figure).
``run(cfg)``     MI, then for each scenario (interpolation / extrapolation) the Q10 family and,
                 per past length of the sweep, the past/future LSTM, one-way LSTM and the MLPs
                 (hyperparameters searched once on validation), rain-pulse skill, outputs:

RUN/config.yaml, site_table_accounting.json, mi.parquet, mi_peaks.parquet, input_design.json,
scalers.json, search.parquet, sweep.parquet (scenario, model, past_hours, split, mse, nse, r,
rmse, kge, n), predictions.nc, rain_pulses.parquet, summary.json, figures/*.png, index.html.
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
from soilco2.mutual_info import mi_table, peak_lags, propose_input_design
from soilco2.pipelines.subdaily_config import Q10_MODELS, TORCH_MODELS, SubdailyConfig
from soilco2.prep import subdaily as prep

SCORES = ("mse", "nse", "r", "rmse", "kge")


def _steps(hours: float, interval: str) -> int:
    return int(round(pd.Timedelta(hours=hours) / pd.Timedelta(pd.tseries.frequencies.to_offset(interval))))


def run_mi(cfg: SubdailyConfig, out: Path | None = None, table: pd.DataFrame | None = None):
    """Site table + lagged MI; writes the MI outputs into ``out`` when given."""
    if table is None:
        table, acct = prep.load_site_table(cfg.site, cfg.data_root)
    else:
        acct = {}
    drivers = cfg.mi.drivers or [d for d in ("soil_temp_c", "swc_m3_m3", "precip_mm", "air_temp_c")
                                 if d in table and table[d].notna().any()]
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
        from soilco2.report.subdaily_html import plot_mi

        plot_mi(mi, out / "figures" / "mi_lags.png", title=cfg.site.name)
    return table, mi, peaks, design, acct


def _q10_predictions(table, win, labels, models) -> dict[str, np.ndarray]:
    from soilco2.models.q10 import Q10_FAMILY

    X = np.column_stack([table["soil_temp_c"].to_numpy(float)[win.row],
                         table["swc_m3_m3"].to_numpy(float)[win.row] if "swc_m3_m3" in table else
                         np.full(len(win.row), np.nan)])
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
    return [{"hidden": h, "lr": lr, **({} if d is None else {"dropout": d})}
            for h in cfg.search.hidden for lr in cfg.search.lr for d in drops]


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


def fit_torch(name, past, future, y, labels, *, hidden, lr, cfg: SubdailyConfig, seed: int, label: str = "",
              dropout: float | None = None):
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
    model = _build_model(name, past.shape[2], future.shape[2], past.shape[1], future.shape[1], hidden,
                         cfg.train.dropout if dropout is None else dropout)
    bs = cfg.train.batch_size

    def batches(rng):
        idx = rng.permutation(tr)[: bs * cfg.train.batches_per_epoch]
        for k in range(0, idx.size, bs):
            b = torch.from_numpy(idx[k:k + bs])
            yield (pt[b], ft[b]), yt[b], torch.ones(b.numel())

    def val_loss(m):
        b = torch.from_numpy(va)
        return float(masked_mse(m(pt[b], ft[b]), yt[b], torch.ones(b.numel())))

    res = train(model, batches, val_loss, epochs=cfg.train.epochs, lr=lr, weight_decay=cfg.train.weight_decay,
                patience=cfg.train.patience, seed=seed, label=label or name, show_progress=cfg.show_progress)
    return model, predict(model, pt, ft), res


def predict(model, pt, ft, chunk: int = 4096) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, pt.shape[0], chunk):
            out.append(model(pt[k:k + chunk], ft[k:k + chunk]).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _scores(obs, sim) -> dict:
    s = metrics.score(obs, sim, names=SCORES)
    return {k: s[k] for k in (*SCORES, "n")}


def _available(table: pd.DataFrame, d: str) -> bool:
    return d in table.columns and bool(table[d].notna().any())


def holdout_window(cfg: SubdailyConfig, table: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The extrapolation test window: configured, or the last wet ``holdout_months``."""
    if not cfg.scenarios.holdout_start:
        return prep.default_holdout(table, cfg.scenarios.holdout_months)
    start = pd.Timestamp(cfg.scenarios.holdout_start)
    end = (pd.Timestamp(cfg.scenarios.holdout_end) if cfg.scenarios.holdout_end
           else start + pd.DateOffset(months=cfg.scenarios.holdout_months))
    t0, t1 = table.index[0], table.index[-1]
    if end <= t0 or start >= t1:
        raise UserError(f"held-out window {start.date()} → {end.date()} lies outside the data "
                        f"({t0.date()} → {t1.date()})", field="scenarios.holdout_start")
    return start, end


def resolve_inputs(cfg: SubdailyConfig, table: pd.DataFrame) -> tuple[list[str], list[str], dict, np.ndarray | None]:
    """Past / future drivers of the models → (past, future, info, interval labels or None).

    Explicit lists: every listed driver must exist at the site (else UserError). ``auto``: the
    candidates the site lacks are dropped with a warning (``info['warnings']``); the branches come
    from :func:`propose_input_design` on the lagged MI computed with every scenario's *test* fluxes
    masked (extrapolation hold-out window; interpolation test intervals, drawn over the flux
    intervals by :func:`prep.interval_labels`, which then also define the interpolation split).
    """
    inp, site = cfg.inputs, cfg.site.name
    avail = [c for c in table.columns if not c.startswith("flux") and _available(table, c)
             and pd.api.types.is_float_dtype(table[c])]
    for field, val in (("inputs.past", inp.past), ("inputs.future", inp.future)):
        if val != "auto":
            missing = [d for d in val if not _available(table, d)]
            if missing:
                raise UserError(f"input driver(s) {', '.join(missing)} in {field} not available at site '{site}' "
                                f"(available: {', '.join(avail)}); set '{field.split('.')[1]}: auto' to use what "
                                "the site has", field=field)
    info: dict = {"mode": {"past": "auto" if inp.past == "auto" else "explicit",
                           "future": "auto" if inp.future == "auto" else "explicit"}, "warnings": [], "notes": []}
    if inp.past != "auto" and inp.future != "auto":
        return list(inp.past), list(inp.future), info, None
    pool = list(inp.candidates) if inp.past == "auto" else list(inp.past)
    if "soil_temp_c" not in pool:
        pool.insert(0, "soil_temp_c")  # the models and the Q10 baselines need it
    dropped = [d for d in pool if not _available(table, d)]
    pool = [d for d in pool if d not in dropped]
    if dropped:
        info["warnings"].append(f"input(s) {', '.join(dropped)} not available at site '{site}': dropped from "
                                "the model inputs (inputs: auto)")
    info["dropped_unavailable"] = dropped
    # the design sees no test flux of any scenario
    test = np.zeros(len(table), bool)
    row_labels = None
    if "interpolation" in cfg.scenarios.run:
        row_labels = prep.interval_labels(table["flux_umol_m2_s"].notna().to_numpy(), cfg.seed)
        test |= row_labels == prep.TEST
    if "extrapolation" in cfg.scenarios.run:
        start, end = holdout_window(cfg, table)
        test |= (table.index >= start) & (table.index < end)
    masked = table.copy()
    masked.loc[test, "flux_umol_m2_s"] = np.nan
    design_mi = mi_table(masked, pool, max_lag_hours=cfg.mi.max_lag_hours, bins=cfg.mi.bins)
    design = propose_input_design(design_mi)
    info["design_on_non_test"] = {**design, "masked_test_intervals": int(test.sum()),
                                  "mi_peak_lag_hours": {r.driver: r.peak_lag_hours for r in peak_lags(design_mi).itertuples()}}
    past = [d for d in pool if d in design["past"]] if inp.past == "auto" else list(inp.past)
    if "soil_temp_c" not in past:
        past.insert(0, "soil_temp_c")
    future = [d for d in design["future"] if d in pool] if inp.future == "auto" else list(inp.future)
    if not future:
        future = ["soil_temp_c"]
        info["notes"].append("the MI helper put no driver in the future branch; soil_temp_c used "
                             "(the past/future LSTM needs one; the one-way LSTM is the no-future model)")
    return past, future, info, row_labels


def scenario_labels(cfg: SubdailyConfig, scenario: str, table: pd.DataFrame, win,
                    row_labels: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    if scenario == "interpolation":
        if row_labels is not None:  # inputs: auto — the split the input design was made on
            return row_labels[win.row], {"split": "per_interval"}
        return prep.split_interpolation(len(win.time), cfg.seed), {"split": "per_sample"}
    start, end = holdout_window(cfg, table)
    return prep.split_extrapolation(win.time, start, end, cfg.seed), {"holdout_start": str(start),
                                                                       "holdout_end": str(end)}


def run(cfg: SubdailyConfig, out_dir: str | Path | None = None) -> dict:
    """The whole S2 run; returns the summary dict (also written to ``summary.json``)."""
    from rich.console import Console

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
        raise UserError(f"only {len(win.time)} complete windows ({drops}); the site needs longer gap-free "
                        "driver records", field="site")
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
        sc = prep.Scaler.fit(table, tr_rows, sorted(set(past_d) | set(future_d)), win.target[labels == prep.TRAIN],
                             cfg.train.target_transform)
        scalers[scenario] = sc.to_json()
        past_s = sc.drivers(win.past, win.past_drivers).astype(np.float32)
        fut_s = sc.drivers(win.future, win.future_drivers).astype(np.float32)
        y_s = sc.y(win.target)
        for name, p in _q10_predictions(table, win, labels, q10_models).items():
            preds[(scenario, name, 0.0)] = p
            for split, code in (("train", prep.TRAIN), ("test", prep.TEST)):
                rows.append({"scenario": scenario, "model": name, "past_hours": np.nan, "split": split, "members": 1,
                             **_scores(win.target[labels == code], p[labels == code])})
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
                _, _, res = fit_torch(name, past_s[:, -Ps:], fut_s, y_s, labels, cfg=cfg, seed=cfg.seed,
                                      label=f"{scenario} {name} search " + " ".join(f"{k}={v:g}" for k, v in hp.items()), **hp)
                search_rows.append({"scenario": scenario, "model": name, **hp, "val_loss": res.best_val_loss,
                                    "best_epoch": res.best_epoch, "seconds": time.perf_counter() - t0})
                if best is None or res.best_val_loss < best[0]:
                    best = (res.best_val_loss, hp)
            best_hp[name] = best[1]
        for hours in cfg.sweep.past_hours:
            P = _steps(hours, interval)
            for name in torch_models:
                model, z, res = fit_torch(name, past_s[:, -P:], fut_s, y_s, labels, cfg=cfg, seed=cfg.seed,
                                          label=f"{scenario} {name} past={hours:g}h", **best_hp[name])
                p = sc.flux(z)
                preds[(scenario, name, float(hours))] = p
                for split, code in (("train", prep.TRAIN), ("validation", prep.VAL), ("test", prep.TEST)):
                    rows.append({"scenario": scenario, "model": name, "past_hours": float(hours), "split": split,
                                 **_scores(win.target[labels == code], p[labels == code]),
                                 "best_epoch": res.best_epoch, "members": 1, **best_hp[name]})
        # headline: the past length chosen on validation; its torch models become seed ensembles
        headline[scenario] = _headline_hours(pd.DataFrame(rows), scenario)
        for name in torch_models if cfg.train.ensemble > 1 else []:
            P = _steps(headline[scenario], interval)
            members = [preds[(scenario, name, headline[scenario])]]
            for k in range(1, cfg.train.ensemble):
                _, z, _ = fit_torch(name, past_s[:, -P:], fut_s, y_s, labels, cfg=cfg, seed=cfg.seed + k,
                                    label=f"{scenario} {name} past={headline[scenario]:g}h member {k + 1}",
                                    **best_hp[name])
                members.append(sc.flux(z))
            p = np.mean(members, axis=0)
            ensembles[(scenario, name)] = p
            for split, code in (("train", prep.TRAIN), ("validation", prep.VAL), ("test", prep.TEST)):
                rows.append({"scenario": scenario, "model": name, "past_hours": headline[scenario], "split": split,
                             **_scores(win.target[labels == code], p[labels == code]),
                             "members": len(members), **best_hp[name]})
        console.print(f"[green]{scenario} done[/] ({time.perf_counter() - t_sweep:.0f} s)")
    sweep_seconds = time.perf_counter() - t_sweep
    sweep = pd.DataFrame(rows)
    sweep.to_parquet(out / "sweep.parquet")
    pd.DataFrame(search_rows).to_parquet(out / "search.parquet")
    (out / "scalers.json").write_text(json.dumps(scalers, indent=2))
    (out / "input_design.json").write_text(json.dumps({"proposed_all_data": design, **input_info,
                                                       "used": {"past": past_d, "future": future_d},
                                                       "window_drops": drops}, indent=2, default=str))
    head_preds = _headline_predictions(preds, ensembles, headline)
    ds = _predictions_dataset(table, win, preds, head_preds, split_labels, cfg, headline)
    ds.to_netcdf(out / "predictions.nc")
    pulses = _pulses(table, win, head_preds, split_labels, cfg)
    pulses.to_parquet(out / "rain_pulses.parquet")
    summary = _summary(cfg, sweep, peaks, headline, holdouts, sweep_seconds, time.perf_counter() - t_start,
                       acct, drops, past_d, future_d, pulses)
    summary["warnings"] = input_info["warnings"]
    summary["input_mode"] = input_info["mode"]
    if "interpolation" in holdouts:
        summary["interpolation_split"] = holdouts["interpolation"].get("split")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    from soilco2.report.subdaily_html import write_report

    write_report(out, table=table, mi=mi, sweep=sweep, ds=ds, pulses=pulses, summary=summary)
    return summary


def _headline_hours(sweep: pd.DataFrame, scenario: str) -> float:
    """The past length whose single-seed past/future LSTM has the lowest *validation* MSE."""
    v = sweep[(sweep.scenario == scenario) & (sweep.split == "validation") & (sweep.members == 1)]
    if (v.model == "pastfuture_lstm").any():
        v = v[v.model == "pastfuture_lstm"]
    return float(v.loc[v["mse"].idxmin(), "past_hours"]) if len(v) else float("nan")


def _headline_predictions(preds, ensembles, headline) -> dict[tuple[str, str], np.ndarray]:
    """(scenario, model) -> the prediction reported: Q10 fits, torch models at the headline length
    (their seed ensemble when ``train.ensemble`` > 1)."""
    out = {}
    for (s, m, h), p in preds.items():
        if h == 0.0 or h == headline.get(s):
            out[(s, m)] = ensembles.get((s, m), p)
    return out


def _predictions_dataset(table, win, preds, head_preds, split_labels, cfg, headline):
    import xarray as xr

    time_index = table.index
    n = len(time_index)
    scen = list(cfg.scenarios.run)
    obs = table["flux_umol_m2_s"].to_numpy(float)
    data = {"obs": (("time",), obs, {"units": "umol m-2 s-1", "long_name": "observed soil respiration (control Rs ports mean)"}),
            "soil_temp_c": (("time",), table["soil_temp_c"].to_numpy(float), {"units": "degC", "long_name": "soil temperature"})}
    if "precip_mm" in table:
        data["precip_mm"] = (("time",), table["precip_mm"].to_numpy(float), {"units": "mm", "long_name": "precipitation per interval"})
    split = np.full((len(scen), n), -1, np.int8)
    for i, s in enumerate(scen):
        split[i, win.row] = split_labels[s]
    data["split"] = (("scenario", "time"), split, {"long_name": "sample split: 0 train, 1 validation, 2 test, -1 not a sample"})
    models = sorted({k[1] for k in preds})
    for m in models:
        arr = np.full((len(scen), n), np.nan, np.float32)
        for i, s in enumerate(scen):
            if (s, m) in head_preds:
                arr[i, win.row] = head_preds[(s, m)]
        data[m] = (("scenario", "time"), arr, {"units": "umol m-2 s-1", "long_name": f"{m} prediction (torch models "
                                                f"at the headline past length, mean of {cfg.train.ensemble} seed(s))"})
    hours = [float(h) for h in cfg.sweep.past_hours]
    for m in [m for m in models if m in TORCH_MODELS]:
        arr = np.full((len(scen), len(hours), n), np.nan, np.float32)
        for i, s in enumerate(scen):
            for j, h in enumerate(hours):
                if (s, m, h) in preds:
                    arr[i, j, win.row] = preds[(s, m, h)]
        data[f"{m}_sweep"] = (("scenario", "past_hours", "time"), arr,
                              {"units": "umol m-2 s-1", "long_name": f"{m} prediction per past length"})
    ds = xr.Dataset(data, coords={"time": ("time", time_index.values, {"long_name": "interval start, local standard time"}),
                                  "scenario": ("scenario", np.array(scen, dtype=object)),
                                  "past_hours": ("past_hours", np.array(hours), {"units": "h"})})
    ds.attrs.update(title=f"soilco2 S2 sub-daily predictions: {cfg.site.name}", Conventions="CF-1.8",
                    headline_past_hours=json.dumps(headline))
    return ds


def _pulses(table, win, head_preds, split_labels, cfg) -> pd.DataFrame:
    from soilco2.rain_pulses import detect_events, pulse_skill

    if "precip_mm" not in table:
        return pd.DataFrame()
    pc = cfg.rain_pulses
    events = detect_events(table["precip_mm"], dry_days=pc.dry_days, dry_max_mm=pc.dry_max_mm,
                           min_rain_mm=pc.min_rain_mm)
    obs = table["flux_umol_m2_s"]
    parts = []
    for s in cfg.scenarios.run:
        sims = {m: pd.Series(p, index=win.time) for (sc, m), p in head_preds.items() if sc == s}
        res = pulse_skill(events, obs, sims, window_hours=pc.window_hours)
        if len(res):
            lab = pd.Series(split_labels[s], index=win.time)
            res["onset_split"] = [int(lab.loc[t:t + pd.Timedelta(hours=pc.window_hours)].max())
                                  if len(lab.loc[t:t + pd.Timedelta(hours=pc.window_hours)]) else -1 for t in res.onset]
            res.insert(0, "scenario", s)
            parts.append(res)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _summary(cfg, sweep, peaks, headline, holdouts, sweep_seconds, total_seconds, acct, drops, past_d, future_d,
             pulses) -> dict:
    test = sweep[sweep.split == "test"]
    out = {"site": cfg.site.name, "dataset": cfg.site.dataset, "inputs": {"past": past_d, "future": future_d,
           "future_hours": cfg.inputs.future_hours}, "target_transform": cfg.train.target_transform,
           "headline_past_hours": headline, "holdout": holdouts.get("extrapolation", {}),
           "window_drops": drops}
    for s in cfg.scenarios.run:
        t = test[test.scenario == s]
        res = {}
        for m, g in t.groupby("model"):
            g = g if g["past_hours"].isna().all() else g[g.past_hours == headline[s]]
            members = g["members"].fillna(1).astype(int)
            row = g.loc[members.idxmax()]  # the seed ensemble where there is one
            torch_model = not pd.isna(row["past_hours"])
            res[m] = {"r": row["r"], "nse": row["nse"], "mse": row["mse"], "kge": row["kge"], "n": int(row["n"]),
                      "past_hours": float(row["past_hours"]) if torch_model else None,
                      "members": int(members.max()) if torch_model else None}
            if members.max() > 1:  # the single seed that chose the past length, for comparison
                one = g[g["members"] == 1].iloc[0]
                res[m]["single_seed"] = {"r": one["r"], "nse": one["nse"], "mse": one["mse"], "kge": one["kge"]}
        out[s] = res
        q = t[t.model.isin(Q10_MODELS)]
        out[f"best_q10_r_{s}"] = float(q["r"].max()) if len(q) else None
    out["mi_peak_lag_hours"] = {r.driver: r.peak_lag_hours for r in peaks.itertuples()}
    out["mi_lag_convention"] = "lag_hours = tau pairs flux(t) with driver(t - tau); negative = driver's future (respiration leads)"
    out["sweep_seconds"] = sweep_seconds
    out["total_seconds"] = total_seconds
    if len(pulses):
        scen = "extrapolation" if "extrapolation" in set(pulses.scenario) else pulses.scenario.iloc[-1]
        ex = pulses[(pulses.scenario == scen) & (pulses.onset_split == prep.TEST)]
        out["rain_pulses"] = {"scenario": scen, "events": "onsets whose 48 h window holds test samples",
                              "n_events": int(ex.onset.nunique()),
                              "median_peak_ratio": ex.groupby("model")["peak_ratio"].median().to_dict(),
                              "median_abs_timing_error_hours": ex.assign(a=ex.timing_error_hours.abs())
                              .groupby("model")["a"].median().to_dict()}
    return out
