"""Training windows of the S1 LSTM: random (site, window) pairs with a warm-up (hydroDL-style
sampling) and recency weights of the training days."""

from __future__ import annotations

import numpy as np

from soilco2.daily.arrays import TRAIN, DailyArrays
from soilco2.daily.config import TrainingConfig
from soilco2.daily.model import torch_setup
from soilco2.errors import UserError


def batch_sampler(a: DailyArrays, weights: np.ndarray, tc: TrainingConfig):
    """hydroDL-style sampling: each batch holds random (site, window) pairs, a window being
    ``warmup_days`` unscored days followed by ``window_days`` scored days inside the training
    period; returns ``batches(rng)`` for :func:`soilco2.training.train`."""
    torch = torch_setup(tc.threads)
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
            k = (
                rng.integers(0, cand_site.size, tc.batch_size)
                if prob is None
                else rng.choice(cand_site.size, tc.batch_size, p=prob)
            )
            s, d = cand_site[k], cand_day[k]
            end = np.minimum(d + 1 + rng.integers(0, W, tc.batch_size), train_end[s])
            idx = end[:, None] + steps[None, :]  # padded index of [end - L, end)
            w = np.where(scored[s[:, None], idx], weights[s][:, None] * day_w[s[:, None], idx], 0.0).astype(np.float32)
            w[:, : L - W] = 0.0
            x = xpad[s[:, None], idx]
            if tc.input_noise > 0:
                noise = rng.normal(0.0, tc.input_noise, (*idx.shape, int(noisy.sum()))).astype(np.float32)
                x[..., noisy] += noise * span[s[:, None], idx][..., None]
            yield ((torch.from_numpy(x), x_static[s]), torch.from_numpy(ypad[s[:, None], idx]), torch.from_numpy(w))

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
