"""S1 daily pipeline: config → run folder (train an LSTM ensemble, baselines, evaluate, predict).

Run folder (docs/contracts.md, "S1 daily run folder"): config.yaml, scalers.json,
checkpoints/member_<k>.pt (and checkpoints/sites/member_<k>.pt with per-site fine-tuning),
sites.parquet, metrics.parquet, summary.json, predictions.nc.
"""

from __future__ import annotations

import json
import shutil
import time as _time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from soilco2.config import StrictModel, dump_config, load_config
from soilco2.errors import UserError
from soilco2.metrics import bootstrap_ci
from soilco2.pipelines.daily_data import TARGET, TEST, TRAIN, VALIDATION, DailyArrays, build_arrays
from soilco2.pipelines.daily_data import site_loss_weights
from soilco2.pipelines.daily_inputs import DailyDataConfig, SplitConfig, load_daily_dataset
from soilco2.prep.daily_config import INSITU_NAMES

MODELS = ("lstm", "q10", "doy_climatology", "random_forest")
METRIC_NAMES = ("nse", "kge", "kge_2012", "r", "rmse", "bias")
# The daily paper (Smykalov et al. 2025), 82 COSORE sites, medians.
PAPER = {"median_test_nse": 0.02, "median_test_kge": 0.30, "median_train_nse": 0.54, "median_train_kge": 0.67,
         "good_sites": 26, "sites": 82}


class ModelConfig(StrictModel):
    hidden_size: int = Field(128, gt=0)
    dropout: float = Field(0.2, ge=0, lt=1)
    num_layers: int = Field(1, gt=0, le=4, description="stacked LSTM layers (dropout between them too)")
    linear_skip: Literal["none", "global", "static"] = Field(
        "none", description="linear path from the scaled dynamic drivers to the output: global = one weight "
        "vector, static = per-site weights from the static attributes (w0 + W1 @ x_static)")
    skip_drivers: list[str] | None = Field(None, min_length=1, description="dynamic features feeding the "
                                           "linear path (default: all)")
    input_to_head: bool = Field(False, description="the head also sees each day's embedded inputs "
                                "(a memory-free path beside the LSTM state)")
    static_inputs: list[str] | None = Field(None, description="static attributes fed to the LSTM (igbp = all "
                                            "IGBP columns); default all, [] none")

    @model_validator(mode="after")
    def _skip_drivers_need_skip(self):
        if self.skip_drivers is not None and self.linear_skip == "none":
            raise ValueError("skip_drivers given but linear_skip is 'none'")
        return self


class TrainingConfig(StrictModel):
    window_days: int = Field(30, gt=0, description="scored days per training window")
    warmup_days: int = Field(60, ge=0, description="unscored days before each window")
    precision: Literal["float32", "bfloat16"] = Field(
        "float32", description="bfloat16: training steps under CPU autocast (about twice as fast where the CPU "
        "has bfloat16 instructions, e.g. AVX512-BF16 or AMX); weights and predictions stay float32")
    warmup_gradient: bool = Field(True, description="backpropagate through the warm-up days; false: the warm-up "
                                  "runs without autograd (truncated backpropagation, about half the cost)")
    batch_size: int = Field(64, gt=0)
    batches_per_epoch: int = Field(40, gt=0)
    epochs: int = Field(30, gt=0)
    patience: int = Field(8, gt=0)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: decay lr to 0 over epochs")
    weight_decay: float = Field(0.0, ge=0)
    site_normalised_loss: bool = True
    site_sampling: Literal["days", "sqrt", "sites"] = Field(
        "days", description="how often a site's windows are drawn: in proportion to its training days (days), "
        "their square root (sqrt), or equally for every site (sites)")
    std_loss_weight: float = Field(0.0, ge=0, description="weight of the within-window std-matching term")
    recency_halflife_days: float | None = Field(
        None, gt=0, description="weight each training day by 2^(-(days before the site's training end) / this), "
        "normalised to a mean of 1 over the site's training days; null = equal weights")
    target_scaling: Literal["per_site", "per_site_mean", "global"] = Field(
        "per_site_mean", description="per_site: the LSTM predicts each site's target around its training mean, in "
        "units of its training std; per_site_mean: around its training mean only; global: as scaled")
    target_arcsinh: bool = Field(True, description="arcsinh on the target before min-max (the paper)")
    target_arcsinh_scale: float = Field(1.0, gt=0, description="µmol m-2 s-1: the target's transform is "
                                        "arcsinh(flux / this), log-like above it and linear below (1 = the paper)")
    site_anomalies: list[str] = Field(default_factory=list, description="drivers also given as departures "
                                      "from the site's training-period mean")
    input_noise: float = Field(0.0, ge=0, description="std of Gaussian noise added to the scaled dynamic inputs "
                               "(not the 0/1 availability flags) of every training window; 0 = none")
    trailing_means: dict[str, PositiveInt] = Field(
        default_factory=dict, description="driver -> days: the driver's mean over that many trailing days as an "
        "extra input (a memory longer than the training windows); {} = none")
    ensemble: int = Field(4, gt=0, description="members, seeds seed, seed+1, ...")
    seed: int = 0
    threads: int = Field(1, gt=0, le=64, description="torch threads; 1 is fastest on a shared CPU")
    average_last: int = Field(0, ge=0, description="without validation days: keep the mean weights of the last "
                              "that many epochs (stochastic weight averaging); 0 = the last epoch's")
    finetune_steps: int = Field(0, ge=0, description="after the all-site training, each site's own copy of the "
                                "member trains this many batches on the site's training windows; 0 = off")
    finetune_batch_size: int = Field(16, gt=0, description="windows per fine-tuning batch (one site)")
    finetune_lr: float = Field(1e-3, gt=0, description="learning rate of the per-site fine-tuning")
    finetune_dropout: float | None = Field(None, ge=0, lt=1, description="dropout of the fine-tuning stage; "
                                           "null = model.dropout")
    finetune_halflife_days: float | None = Field(None, gt=0, description="recency half-life of the fine-tuning "
                                                 "stage; null = recency_halflife_days")
    workers: int = Field(1, gt=0, le=64, description="ensemble members trained at once, one process each "
                         "(each with `threads` torch threads)")

    @property
    def no_grad_steps(self) -> int:
        """Leading steps of a training window that run without autograd (DailyLSTM.no_grad_steps)."""
        return 0 if self.warmup_gradient else self.warmup_days


class BaselineConfig(StrictModel):
    q10: bool = True
    doy_climatology: bool = True
    random_forest: bool = True
    doy_window_days: int = Field(15, ge=0, description="half-width of the circular day-of-year smoother")
    rf_trees: int = Field(200, gt=0)
    rf_min_samples_leaf: int = Field(5, gt=0)


class TuneConfig(StrictModel):
    hidden_size: list[int] = Field(default_factory=lambda: [64, 128, 256], min_length=1)
    dropout: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4], min_length=1)
    window_days: list[int] = Field(default_factory=lambda: [30, 90], min_length=1)
    seed: list[int] = Field(default_factory=lambda: [0], min_length=1)
    epochs: int | None = Field(None, gt=0, description="epochs per trial (default: training.epochs)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of each site's training days that trials "
                                "hold out for early stopping and scoring (also when split.val_fraction is 0)")
    scheduler_address: str | None = Field(None, description="Dask scheduler, e.g. tcp://host:8786; none = local")
    n_workers: int = Field(2, gt=0)

    @model_validator(mode="after")
    def _positive(self):
        if any(h <= 0 for h in self.hidden_size) or any(w <= 0 for w in self.window_days):
            raise ValueError("hidden_size and window_days values must be positive")
        if any(not 0 <= d < 1 for d in self.dropout):
            raise ValueError("dropout values must lie in [0, 1)")
        return self


class DailyRunDataConfig(DailyDataConfig):
    """The ``data:`` section as a run config checks it: an empty site list is an error here (so
    the message names ``data.sites_include``), not only when the dataset is built."""

    @field_validator("sites_include")
    @classmethod
    def _not_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(v) == 0:
            raise ValueError("empty site list (leave it out for all sites)")
        return v


class DailyConfig(StrictModel):
    name: str = "daily"
    run_dir: str = "runs"
    data: DailyRunDataConfig = Field(default_factory=DailyRunDataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)


def performance_class(nse: float, kge: float) -> str:
    """The daily paper's classes: good = NSE > 0.5 and KGE > 0.3; poor = NSE < 0 or KGE < 0 (or
    undefined); fair = everything between."""
    if not (np.isfinite(nse) and np.isfinite(kge)) or nse < 0 or kge < 0:
        return "poor"
    return "good" if nse > 0.5 and kge > 0.3 else "fair"


# ---------------------------------------------------------------- LSTM training and prediction
def _torch_setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    return torch


def batch_sampler(a: DailyArrays, weights: np.ndarray, tc: TrainingConfig):
    """hydroDL-style sampling: each batch holds random (site, window) pairs, a window being
    ``warmup_days`` unscored days followed by ``window_days`` scored days inside the training
    period; returns ``batches(rng)`` for :func:`soilco2.training.train`."""
    torch = _torch_setup(tc.threads)
    W, L = tc.window_days, tc.window_days + tc.warmup_days
    S, T, F = a.x_dynamic.shape
    xpad = np.concatenate([np.zeros((S, L, F), np.float32), a.x_dynamic], axis=1)
    ypad = np.concatenate([np.full((S, L), np.nan, np.float32), a.y], axis=1)
    scored = np.concatenate([np.zeros((S, L), bool), a.split == TRAIN], axis=1)
    day_w = np.concatenate([np.zeros((S, L), np.float32), recency_weights(a, tc.recency_halflife_days)], axis=1)
    cand_site, cand_day = np.nonzero(a.split == TRAIN)
    if cand_site.size == 0:
        raise UserError("no observed training day in any site", field="split")
    train_end = a.train_end
    steps = np.arange(L)
    x_static = torch.from_numpy(a.x_static)
    if tc.input_noise > 0:  # noise on the drivers (not the 0/1 flags) of days inside the site's span
        noisy = np.array([not f.startswith("avail_") for f in a.dynamic_features])
        t = np.arange(-L, T)
        span = (t[None, :] >= a.start[:, None]) & (t[None, :] < a.stop[:, None])  # padded like xpad
    prob = None
    if tc.site_sampling != "days":  # each day's chance: the site's share / its number of training days
        n_days = np.bincount(cand_site, minlength=S)[cand_site].astype(float)
        prob = (np.sqrt(n_days) if tc.site_sampling == "sqrt" else np.ones_like(n_days)) / n_days
        prob /= prob.sum()

    def batches(rng: np.random.Generator):
        for _ in range(tc.batches_per_epoch):
            k = (rng.integers(0, cand_site.size, tc.batch_size) if prob is None
                 else rng.choice(cand_site.size, tc.batch_size, p=prob))
            s, d = cand_site[k], cand_day[k]
            end = np.minimum(d + 1 + rng.integers(0, W, tc.batch_size), train_end[s])
            idx = end[:, None] + steps[None, :]  # padded index of [end - L, end)
            w = np.where(scored[s[:, None], idx], weights[s][:, None] * day_w[s[:, None], idx], 0.0).astype(np.float32)
            w[:, : L - W] = 0.0
            x = xpad[s[:, None], idx]
            if tc.input_noise > 0:
                noise = rng.normal(0.0, tc.input_noise, (*idx.shape, int(noisy.sum()))).astype(np.float32)
                x[..., noisy] += noise * span[s[:, None], idx][..., None]
            yield ((torch.from_numpy(x), x_static[s]),
                   torch.from_numpy(ypad[s[:, None], idx]), torch.from_numpy(w))

    return batches


def recency_weights(a: DailyArrays, halflife_days: float | None) -> np.ndarray:
    """(site, time) loss weight of each training day: 2^(-age / halflife), age = days before the
    site's training end, scaled to a mean of 1 over the site's training days (the site's share of
    the loss is unchanged); 1 everywhere without a half-life."""
    if halflife_days is None:
        return np.ones(a.y.shape, np.float32)
    train = a.split == TRAIN
    age = np.where(train, a.train_end[:, None] - 1 - np.arange(a.y.shape[1])[None, :], 0)  # ≥ 0 on training days
    w = np.where(train, 2.0 ** (-age / halflife_days), 0.0)
    mean = w.sum(1, keepdims=True) / np.maximum(train.sum(1, keepdims=True), 1)
    return (w / np.where(mean > 0, mean, 1.0)).astype(np.float32)


def predict_scaled(model, a: DailyArrays, until: np.ndarray | None = None, chunk: int = 32) -> np.ndarray:
    """Each site's whole span in one pass (sites left-aligned and batched): ``(site, time)``
    scaled predictions, NaN outside the span (or after ``until``)."""
    import torch

    stop = a.stop if until is None else np.minimum(a.stop, until)
    out = np.full(a.y.shape, np.nan, np.float32)
    order = np.argsort(stop - a.start)
    model.eval()
    with torch.no_grad():
        for c in range(0, a.n_sites, chunk):
            sel = order[c : c + chunk]
            n = int((stop[sel] - a.start[sel]).max())
            if n <= 0:
                continue
            x = np.zeros((sel.size, n, a.x_dynamic.shape[2]), np.float32)
            for j, i in enumerate(sel):
                x[j, : stop[i] - a.start[i]] = a.x_dynamic[i, a.start[i] : stop[i]]
            pred = model(torch.from_numpy(x), torch.from_numpy(a.x_static[sel])).numpy()
            for j, i in enumerate(sel):
                out[i, a.start[i] : stop[i]] = pred[j, : stop[i] - a.start[i]]
    return out


def new_model(a: DailyArrays, mc: ModelConfig):
    from soilco2.models.lstm import DailyLSTM

    if mc.linear_skip == "none":
        return DailyLSTM(a.x_dynamic.shape[2], a.x_static.shape[1], mc.hidden_size, mc.dropout,
                         input_to_head=mc.input_to_head, num_layers=mc.num_layers)
    index = None
    if mc.skip_drivers is not None:
        unknown = [d for d in mc.skip_drivers if d not in a.dynamic_features]
        if unknown:
            raise UserError(f"not a dynamic feature: {', '.join(unknown)} (known: {', '.join(a.dynamic_features)})",
                            field="model.skip_drivers")
        index = [a.dynamic_features.index(d) for d in mc.skip_drivers]
    return DailyLSTM(a.x_dynamic.shape[2], a.x_static.shape[1], mc.hidden_size, mc.dropout,
                     linear_skip=mc.linear_skip, skip_index=index, input_to_head=mc.input_to_head,
                     num_layers=mc.num_layers)


def train_member(a: DailyArrays, cfg: DailyConfig, seed: int, *, checkpoint=None, show_progress=True,
                 label="lstm", epochs: int | None = None, on_epoch=None):
    """Train one ensemble member: early stopping on the validation days' loss, or, when the split
    has no validation days, all ``epochs`` with the last kept."""
    torch = _torch_setup(cfg.training.threads)
    from soilco2.models.lstm import weighted_masked_mse
    from soilco2.training import set_seed, train

    tc = cfg.training
    set_seed(seed)
    model = new_model(a, cfg.model)
    model.no_grad_steps = tc.no_grad_steps
    weights = site_loss_weights(a, tc.site_normalised_loss)
    val_w = torch.from_numpy(np.where(a.split == VALIDATION, weights[:, None], 0.0).astype(np.float32))
    y = torch.from_numpy(a.y)

    def val_loss(m) -> float:
        pred = torch.from_numpy(np.nan_to_num(predict_scaled(m, a, until=a.test_start)))
        return float(weighted_masked_mse(pred, y, val_w))

    has_val = bool((a.split == VALIDATION).any())
    result = train(model, batch_sampler(a, weights, tc), val_loss if has_val else None,
                   epochs=epochs or tc.epochs, lr=tc.lr, weight_decay=tc.weight_decay, patience=tc.patience,
                   seed=seed, loss_fn=loss_function(tc), checkpoint=checkpoint, label=label,
                   show_progress=show_progress, lr_schedule=tc.lr_schedule, on_epoch=on_epoch,
                   average_last=tc.average_last, precision=tc.precision)
    return model, result


def loss_function(tc: TrainingConfig):
    """The training loss: the weighted masked MSE, plus the std-matching term when configured."""
    from soilco2.models.lstm import mse_std_loss, weighted_masked_mse

    if tc.std_loss_weight > 0:
        from functools import partial

        return partial(mse_std_loss, std_weight=tc.std_loss_weight)
    return weighted_masked_mse


def site_checkpoint(checkpoint: Path) -> Path:
    """Where a member's per-site fine-tuned weights are kept: checkpoints/sites/member_<k>.pt."""
    return checkpoint.parent / "sites" / checkpoint.name


def fit_member(a: DailyArrays, cfg: DailyConfig, seed: int, *, checkpoint: Path | None = None,
               show_progress: bool = True, label: str = "lstm", on_epoch=None):
    """One ensemble member: the all-site training (:func:`train_member`), then, with
    ``training.finetune_steps``, each site's fine-tuned weights (saved beside the checkpoint).
    Returns (Member, TrainResult)."""
    model, result = train_member(a, cfg, seed, checkpoint=checkpoint, show_progress=show_progress, label=label,
                                 on_epoch=on_epoch)
    on_site = None
    if on_epoch is not None:  # a worker process: the sites go to the epoch display's info field
        def on_site(done, total):
            on_epoch(cfg.training.epochs, cfg.training.epochs, f"fine-tuned {done}/{total} sites")
    member = finetune_member(model, a, cfg, seed, checkpoint=checkpoint, on_site=on_site,
                             show_progress=show_progress and on_epoch is None, label=label)
    return member, result


def finetune_member(model, a: DailyArrays, cfg: DailyConfig, seed: int, *, checkpoint: Path | None = None,
                    on_site=None, show_progress: bool = False, label: str = "lstm"):
    """The second half of :func:`fit_member`: the trained all-site ``model`` with each site's
    fine-tuned weights (none when ``training.finetune_steps`` is 0), saved beside ``checkpoint``."""
    import torch

    from soilco2.pipelines.daily_finetune import Member, finetune_sites

    weights = site_loss_weights(a, cfg.training.site_normalised_loss)
    states = finetune_sites(model, a, cfg, seed, weights, on_site=on_site, show_progress=show_progress,
                            label=f"{label}: fine-tuning sites")
    if cfg.training.finetune_steps > 0 and checkpoint is not None:
        site_checkpoint(Path(checkpoint)).parent.mkdir(parents=True, exist_ok=True)
        torch.save(states, site_checkpoint(Path(checkpoint)))
    return Member(model, states)


def _member_job(a: DailyArrays, cfg_data: dict, seed: int, checkpoint: Path, label: str, queue):
    """One ensemble member in a worker process: its state dict, per-site states and training
    result; epoch progress goes to ``queue`` as (label, done, total, info)."""
    cfg = DailyConfig.model_validate(cfg_data)
    member, res = fit_member(a, cfg, seed, checkpoint=checkpoint, show_progress=False,
                             on_epoch=lambda done, total, info: queue.put((label, done, total, info)))
    return member.model.state_dict(), member.site_states, res


def train_members(a: DailyArrays, cfg: DailyConfig, checkpoints: Path, *, show_progress: bool = True):
    """The ensemble's members (seeds seed, seed+1, ...), ``training.workers`` at a time in worker
    processes; the same models as one after another. Returns (Members, per-member history rows)."""
    n = cfg.training.ensemble
    labels = [f"member {k + 1}/{n}" for k in range(n)]
    paths = [checkpoints / f"member_{k}.pt" for k in range(n)]
    seeds = [cfg.training.seed + k for k in range(n)]
    workers = min(cfg.training.workers, n)
    if workers == 1:
        results = [fit_member(a, cfg, seeds[k], checkpoint=paths[k], show_progress=show_progress, label=labels[k])
                   for k in range(n)]
    else:
        results = _train_in_processes(a, cfg, seeds, paths, labels, workers, show_progress)
    history = [{"member": k, "best_epoch": res.best_epoch,
                "best_val_loss": res.best_val_loss if np.isfinite(res.best_val_loss) else None}
               for k, (_, res) in enumerate(results)]
    return [m for m, _ in results], history


def _train_in_processes(a, cfg, seeds, paths, labels, workers: int, show_progress: bool):
    import multiprocessing
    import queue as queue_lib
    from concurrent.futures import ProcessPoolExecutor, wait

    from soilco2.training import epoch_progress

    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    cfg_data = cfg.model_dump(mode="json")
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool, \
            epoch_progress(show_progress) as progress:
        updates = manager.Queue()
        tasks = {lab: progress.add_task(lab, total=cfg.training.epochs, info="waiting") for lab in labels}
        futures = [pool.submit(_member_job, a, cfg_data, s, p, lab, updates) for s, p, lab in zip(seeds, paths, labels)]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5)
            while True:
                try:
                    lab, done, total, info = updates.get_nowait()
                except queue_lib.Empty:
                    break
                progress.update(tasks[lab], completed=done, total=total, info=info)
        states = [f.result() for f in futures]
    from soilco2.pipelines.daily_finetune import Member

    results = []
    for state, site_states, res in states:
        model = new_model(a, cfg.model)
        model.load_state_dict(state)
        model.eval()
        results.append((Member(model, site_states), res))
    return results


def ensemble_predict(members, a: DailyArrays, scaler) -> dict[str, np.ndarray]:
    """Ensemble mean and 5–95 % band in µmol m-2 s-1 (Members back-transformed first)."""
    members = np.stack([a.to_flux(m.predict(a), scaler) for m in members])
    span = np.isfinite(members[0])
    band = np.full((2,) + members.shape[1:], np.nan)
    band[:, span] = np.quantile(members[:, span], [0.05, 0.95], axis=0)
    return {"lstm": members.mean(0), "lstm_p05": band[0], "lstm_p95": band[1]}


# ---------------------------------------------------------------- scoring and run-folder outputs
def score_predictions(obs: np.ndarray, split: np.ndarray, preds: dict[str, np.ndarray], sites: list[str],
                      splits: dict[str, tuple[int, ...]] | None = None) -> pd.DataFrame:
    """Long metrics table: site, model, split, metrics, n, class."""
    from soilco2.metrics import score

    splits = splits or {"train": (TRAIN, VALIDATION), "test": (TEST,)}
    rows = []
    for model in (m for m in MODELS if m in preds):
        for name, labels in splits.items():
            sel = np.isin(split, labels)
            for i, site in enumerate(sites):
                m = sel[i]
                if not m.any():  # e.g. training sites of a leave-site-out split have no test days
                    continue
                rows.append({"site": site, "model": model, "split": name,
                             **score(obs[i, m], preds[model][i, m], METRIC_NAMES)})
    table = pd.DataFrame(rows)
    table["class"] = [performance_class(n, k) for n, k in zip(table["nse"], table["kge"])]
    return table


def summarise(metrics: pd.DataFrame) -> dict:
    """Medians and means per model and split, the share of good sites, the paper's numbers, and 95 %
    bootstrap intervals over sites of the median NSE, KGE and the share of good sites."""
    out: dict = {"sites": int(metrics["site"].nunique()), "models": {}, "paper": PAPER}
    for (model, split), g in metrics.groupby(["model", "split"]):
        d = out["models"].setdefault(model, {}).setdefault(split, {})
        for k in ("nse", "kge", "kge_2012", "r", "rmse", "bias"):
            d[f"median_{k}"] = float(g[k].median())
            d[f"mean_{k}"] = float(g[k].mean())
        d["share_good"] = float((g["class"] == "good").mean())
        d["n_good"] = int((g["class"] == "good").sum())
        for k in ("nse", "kge"):
            d[f"median_{k}_ci95"] = list(bootstrap_ci(g[k]))
        d["share_good_ci95"] = list(bootstrap_ci(g["class"] == "good", np.mean))
    return out


_VAR_ATTRS = {
    "obs": ("observed daily mean soil CO2 efflux (control Rs ports)", "umol m-2 s-1"),
    "lstm": ("LSTM ensemble mean daily soil CO2 efflux", "umol m-2 s-1"),
    "lstm_p05": ("LSTM ensemble 5th percentile", "umol m-2 s-1"),
    "lstm_p95": ("LSTM ensemble 95th percentile", "umol m-2 s-1"),
    "q10": ("per-site Q10 model on soil temperature (Levenberg-Marquardt)", "umol m-2 s-1"),
    "doy_climatology": ("per-site day-of-year climatology of training days", "umol m-2 s-1"),
    "random_forest": ("random forest on the daily features (all sites)", "umol m-2 s-1"),
    "soil_temp_c": ("soil temperature driver (in-situ or filled)", "degC"),
    "obs_n": ("flux records behind the observed daily mean (0: no observation)", "1"),
}


def predictions_dataset(ds: xr.Dataset, a: DailyArrays, preds: dict[str, np.ndarray]) -> xr.Dataset:
    """CF-NetCDF-ready dataset (site, time) of observations, predictions and split labels."""
    coords = {"site": a.sites, "time": a.time}
    out = xr.Dataset(coords=coords)
    obs = ds[TARGET].transpose("site", "time").values
    t = np.arange(a.time.size)
    in_span = (t[None, :] >= a.start[:, None]) & (t[None, :] < a.stop[:, None])
    out["obs"] = (("site", "time"), np.where(in_span, obs, np.nan).astype(np.float32))
    if "flux_n" in ds:  # how much of the day the observed mean covers (report: partial days)
        n = ds["flux_n"].transpose("site", "time").values
        out["obs_n"] = (("site", "time"), np.where(in_span & np.isfinite(obs), n, 0).astype(np.int32))
    for name, values in preds.items():
        out[name] = (("site", "time"), np.where(in_span, values, np.nan).astype(np.float32))
    if "soil_temp_c" in ds:
        out["soil_temp_c"] = (("site", "time"), np.where(in_span, ds["soil_temp_c"].transpose("site", "time").values,
                                                         np.nan).astype(np.float32))
    for name, (long_name, units) in _VAR_ATTRS.items():
        if name in out:
            out[name].attrs = {"long_name": long_name, "units": units}
    out["split"] = (("site", "time"), a.split.astype(np.int8))
    out["split"].attrs = {"long_name": "split of each observed day", "flag_values": np.array([-1, 0, 1, 2], np.int8),
                          "flag_meanings": "no_observation train validation test"}
    for c in ("lat", "lon"):
        if c in ds.coords:
            out.coords[c] = ("site", ds[c].values.astype(float))
    out["lat"].attrs = {"units": "degrees_north", "long_name": "latitude", "standard_name": "latitude"}
    out["lon"].attrs = {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude"}
    out["time"].attrs = {"long_name": "day (local standard time)", "standard_name": "time"}
    out["site"].attrs = {"long_name": "COSORE dataset name", "cf_role": "timeseries_id"}
    out.attrs = {"Conventions": "CF-1.8", "title": "soilco2 S1 daily soil respiration predictions",
                 "source": "soilco2 daily LSTM ensemble and baselines; data: COSORE (Bond-Lamberty et al. 2020)"}
    return out


def write_predictions(pred: xr.Dataset, path: Path) -> None:
    enc = {v: {"zlib": True, "complevel": 4} for v in pred.data_vars}
    enc["time"] = {"units": "days since 1970-01-01", "calendar": "standard", "dtype": "int32"}
    pred.to_netcdf(path, encoding=enc)


def sites_table(ds: xr.Dataset, a: DailyArrays) -> pd.DataFrame:
    """One row per site: position, attributes, day counts, first test day, and for each in-situ
    driver the share of the site's observed training / test days on which it was measured (or
    interpolated over a short gap) rather than filled: ``insitu_<driver>_train`` / ``_test``."""
    def pick(*names):
        for n in names:
            if n in ds.variables:
                return ds[n].values
        return np.full(a.n_sites, np.nan)

    test_start = [a.time[np.argmax(a.split[i] == TEST)] if (a.split[i] == TEST).any() else pd.NaT
                  for i in range(a.n_sites)]
    insitu = {}
    for name in sorted(f"avail_{d}" for d in INSITU_NAMES if f"avail_{d}" in ds.data_vars):  # not avail_era5
        avail = ds[name].transpose("site", "time").values > 0.5
        for label, codes in (("train", (TRAIN, VALIDATION)), ("test", (TEST,))):
            days = np.isin(a.split, codes)
            with np.errstate(invalid="ignore", divide="ignore"):
                insitu[f"insitu_{name.removeprefix('avail_')}_{label}"] = (avail & days).sum(1) / days.sum(1)
    return pd.DataFrame({
        "site": a.sites, "lat": pick("lat", "lat_deg").astype(float), "lon": pick("lon", "lon_deg").astype(float),
        "elevation_m": pick("elevation_m").astype(float), "igbp": pick("igbp").astype(str),
        "mat_c": pick("mat_c").astype(float), "map_mm": pick("map_mm").astype(float),
        "soc_mg_ha": pick("soc_mg_ha").astype(float), "whc_mm": pick("whc_mm").astype(float),
        "n_obs_days": (a.split >= 0).sum(1), "n_train_days": np.isin(a.split, (TRAIN, VALIDATION)).sum(1),
        "n_test_days": (a.split == TEST).sum(1), "test_start": pd.to_datetime(test_start), **insitu})


# ---------------------------------------------------------------- the run
def load_run_config(run: str | Path) -> DailyConfig:
    """The config a run folder was trained with; a folder from another config version is an error."""
    run = Path(run)
    if not run.is_dir():
        raise UserError("run folder not found", file=run)
    return load_config(run / "config.yaml", DailyConfig)


def prepare(cfg: DailyConfig, scaler=None, *, ds: xr.Dataset | None = None,
            cosore_dir=None, site_target: dict | None = None):
    """The dataset (built, or given), its model-ready arrays, and the scaler (FeatureScaler with
    ``.site_target``: the per-site target scaling as a dict, or None)."""
    if ds is None:
        ds = load_daily_dataset(cfg.data, cosore_dir=cosore_dir)
    how = {"per_site": True, "per_site_mean": "center", "global": False}[cfg.training.target_scaling]
    a, scaler, site = build_arrays(ds, split=cfg.split, warmup_days=cfg.training.warmup_days, scaler=scaler,
                                   site_scaling=(site_target or how) if how else False,
                                   anomalies=tuple(cfg.training.site_anomalies),
                                   trailing=cfg.training.trailing_means,
                                   target_arcsinh=cfg.training.target_arcsinh,
                                   target_arcsinh_scale=cfg.training.target_arcsinh_scale,
                                   static_inputs=cfg.model.static_inputs)
    scaler.site_target = site
    return ds, a, scaler


def finish_run(run: Path, cfg: DailyConfig, ds, a: DailyArrays, models, scalers, extra: dict) -> dict:
    """Baselines, metrics, summary and predictions for a run folder."""
    from soilco2.pipelines.daily_baselines import run_baselines

    preds = ensemble_predict(models, a, scalers)
    preds.update(run_baselines(ds, a, cfg.baselines, seed=cfg.training.seed))
    obs = ds[TARGET].transpose("site", "time").values
    metrics = score_predictions(obs, a.split, preds, a.sites)
    metrics.to_parquet(run / "metrics.parquet", index=False)
    summary = summarise(metrics) | extra
    (run / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    write_predictions(predictions_dataset(ds, a, preds), run / "predictions.nc")
    sites_table(ds, a).to_parquet(run / "sites.parquet", index=False)
    return summary


def check_window(a: DailyArrays, cfg: DailyConfig) -> list[str]:
    """Sites with fewer observed training days than one window: an error when the config names
    its sites, else listed in summary.json (their windows still hold every observed day)."""
    n_train = np.isin(a.split, (TRAIN, VALIDATION)).sum(1)
    short = [s for s, n in zip(a.sites, n_train) if n < cfg.training.window_days]
    if short and cfg.data.sites_include:
        raise UserError(f"site(s) with fewer observed training days than one window "
                        f"({cfg.training.window_days}): {', '.join(short)}", field="data.sites_include")
    return short


def train_run(cfg: DailyConfig, out: str | Path | None = None, *, show_progress: bool = True,
              ds: xr.Dataset | None = None) -> Path:
    """Train the ensemble and write the whole run folder; returns its path. ``ds`` replaces the
    dataset the config would build (tests, notebooks)."""
    final = Path(out) if out else Path(cfg.run_dir) / cfg.name
    if final.exists() and any(final.iterdir()) and not (final / "config.yaml").exists():
        raise UserError("output folder exists and is not a soilco2 run folder (no config.yaml); choose another",
                        file=final)
    # everything is written to <run>.partial and swapped in at the end, so a failed or interrupted
    # run never leaves a new config beside an older run's checkpoints
    run = final.with_name(final.name + ".partial")
    if run.exists():
        shutil.rmtree(run)
    t0 = _time.perf_counter()
    ds, a, scalers = prepare(cfg, ds=ds)
    short = check_window(a, cfg)
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    dump_config(cfg, run / "config.yaml")
    _save_scaler(scalers, run / "scalers.json")
    t1 = _time.perf_counter()
    models, history = train_members(a, cfg, run / "checkpoints", show_progress=show_progress)
    t2 = _time.perf_counter()
    extra = {"members": history, "prepare_seconds": t1 - t0, "train_seconds": t2 - t1, "short_sites": short,
             "dynamic_features": a.dynamic_features, "static_features": a.static_features}
    summary = finish_run(run, cfg, ds, a, models, scalers, extra)
    summary["total_seconds"] = _time.perf_counter() - t0
    (run / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    if final.exists():
        shutil.rmtree(final)
    run.rename(final)
    return final


def _save_scaler(scaler, path: Path) -> None:
    """The FeatureScaler's JSON plus, under 'site_target', the per-site target scaling."""
    path.write_text(json.dumps(scaler.to_dict() | {"site_target": scaler.site_target}, indent=1))


def _load_scaler(run: Path):
    """(FeatureScaler, per-site target scaling dict or None) of a run."""
    from soilco2.prep.transforms import FeatureScaler

    scaler = FeatureScaler.from_json(run / "scalers.json")
    return scaler, json.loads((run / "scalers.json").read_text()).get("site_target")


def load_members(run: Path, cfg: DailyConfig, a: DailyArrays) -> list:
    """Checkpoints of a run as Members (with their per-site fine-tuned weights, when the run has
    them); shape mismatches mean an incompatible run folder."""
    from soilco2.pipelines.daily_finetune import Member

    torch = _torch_setup(cfg.training.threads)
    files = sorted((run / "checkpoints").glob("member_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    if not files:
        raise UserError("no checkpoints/member_<k>.pt in the run folder", file=run)
    members = []
    for f in files:
        m = new_model(a, cfg.model)
        if cfg.training.finetune_steps > 0 and not site_checkpoint(f).is_file():
            raise UserError("the run's config fine-tunes per site (training.finetune_steps) but its per-site "
                            "weights are missing", file=site_checkpoint(f))
        try:
            m.load_state_dict(torch.load(f, weights_only=True))
            states = torch.load(site_checkpoint(f), weights_only=True) if site_checkpoint(f).is_file() else {}
            probe = new_model(a, cfg.model)
            for state in states.values():
                probe.load_state_dict(state)
        except (RuntimeError, KeyError, AttributeError) as err:
            raise UserError(f"checkpoint does not fit the run's config ({str(err).splitlines()[0]})", file=f) from None
        m.eval()
        members.append(Member(m, states))
    return members


def evaluate_run(run: str | Path, *, ds: xr.Dataset | None = None) -> dict:
    """Rebuild the dataset, reload scalers and checkpoints, re-score; rewrites the outputs."""
    run = Path(run)
    cfg = load_run_config(run)
    scalers, site = _load_scaler(run)
    ds, a, scalers = prepare(cfg, scalers, ds=ds, site_target=site)
    models = load_members(run, cfg, a)
    old = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    keep = {k: old[k] for k in ("members", "prepare_seconds", "train_seconds", "total_seconds", "short_sites")
            if k in old}
    return finish_run(run, cfg, ds, a, models, scalers,
                      keep | {"dynamic_features": a.dynamic_features, "static_features": a.static_features})


def predict_run(run: str | Path, cosore_dir: str | Path | None, out: str | Path | None = None, *,
                ds: xr.Dataset | None = None) -> Path:
    """Apply a trained run to the datasets of another COSORE-layout directory (new sites): writes
    predictions.nc and, where there are observations, metrics.parquet (split 'all' = every
    observed day, and train/test on the same temporal split)."""
    run = Path(run)
    cfg = load_run_config(run)
    scalers, site = _load_scaler(run)
    if cosore_dir is not None:  # every site of the new folder, whatever the run's site selection
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"sites_include": None, "sites_exclude": []})})
    ds, a, scalers = prepare(cfg, scalers, ds=ds, cosore_dir=cosore_dir, site_target=site)
    models = load_members(run, cfg, a)
    t0 = _time.perf_counter()
    preds = ensemble_predict(models, a, scalers)
    seconds = _time.perf_counter() - t0
    dest = Path(out) if out else run / "predict" / (Path(cosore_dir).resolve().name if cosore_dir else "dataset")
    dest.mkdir(parents=True, exist_ok=True)
    obs = ds[TARGET].transpose("site", "time").values
    splits = {"all": (TRAIN, VALIDATION, TEST), "train": (TRAIN, VALIDATION), "test": (TEST,)}
    metrics = score_predictions(obs, a.split, preds, a.sites, splits)
    metrics.to_parquet(dest / "metrics.parquet", index=False)
    write_predictions(predictions_dataset(ds, a, preds), dest / "predictions.nc")
    sites_table(ds, a).to_parquet(dest / "sites.parquet", index=False)
    summary = summarise(metrics) | {"predict_seconds": seconds, "run": str(run), "cosore": str(cosore_dir)}
    (dest / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return dest
