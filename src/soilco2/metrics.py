"""Goodness-of-fit metrics, NaN-masked, and their per-site computation over long tables.

Every metric takes ``obs`` and ``sim`` arrays; pairs where either is NaN are dropped and fewer
than 2 valid pairs give NaN. ``kge_2009`` is Gupta et al. (2009) with the variability ratio
alpha = sigma_sim / sigma_obs; ``kge_2012`` is Kling et al. (2012) with the ratio of
coefficients of variation gamma = CV_sim / CV_obs. ``kge`` is the 2009 form (the one the
daily paper reports).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def _pairs(obs, sim) -> tuple[np.ndarray, np.ndarray]:
    o = np.asarray(obs, dtype=float).ravel()
    s = np.asarray(sim, dtype=float).ravel()
    if o.shape != s.shape:
        raise ValueError(f"obs and sim differ in length: {o.size} vs {s.size}")
    ok = np.isfinite(o) & np.isfinite(s)
    return o[ok], s[ok]


def _guard(fn: Callable[[np.ndarray, np.ndarray], float]) -> Callable[..., float]:
    def wrapped(obs, sim) -> float:
        o, s = _pairs(obs, sim)
        if o.size < 2:
            return float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(fn(o, s))

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


@_guard
def nse(o, s):
    """Nash–Sutcliffe efficiency: 1 - SSE / sum((o - mean(o))^2)."""
    denom = np.sum((o - o.mean()) ** 2)
    return 1.0 - np.sum((s - o) ** 2) / denom if denom > 0 else np.nan


@_guard
def pearson_r(o, s):
    """Pearson correlation coefficient."""
    # undefined for a constant series, also one that float32 round-off makes vary in its 7th digit
    if o.std() <= 1e-6 * abs(o.mean()) or s.std() <= 1e-6 * abs(s.mean()) or o.std() == 0 or s.std() == 0:
        return np.nan
    return np.corrcoef(o, s)[0, 1]


@_guard
def kge_2009(o, s):
    """Kling–Gupta efficiency, Gupta et al. 2009: 1 - sqrt((r-1)^2 + (alpha-1)^2 + (beta-1)^2)."""
    r = pearson_r(o, s)
    alpha = s.std() / o.std()
    beta = s.mean() / o.mean()
    return 1.0 - np.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2)


@_guard
def kge_2012(o, s):
    """Kling–Gupta efficiency, Kling et al. 2012: variability as the ratio of CVs (gamma)."""
    r = pearson_r(o, s)
    beta = s.mean() / o.mean()
    gamma = (s.std() / s.mean()) / (o.std() / o.mean())
    return 1.0 - np.sqrt((r - 1) ** 2 + (gamma - 1) ** 2 + (beta - 1) ** 2)


kge = kge_2009


@_guard
def mse(o, s):
    """Mean squared error."""
    return np.mean((s - o) ** 2)


@_guard
def rmse(o, s):
    """Root mean squared error."""
    return np.sqrt(np.mean((s - o) ** 2))


@_guard
def bias(o, s):
    """Mean error, sim - obs (positive = model too high)."""
    return np.mean(s - o)


METRICS: dict[str, Callable[..., float]] = {
    "nse": nse,
    "kge": kge_2009,
    "kge_2012": kge_2012,
    "r": pearson_r,
    "rmse": rmse,
    "mse": mse,
    "bias": bias,
}


def score(obs, sim, names: Sequence[str] = ("nse", "kge", "r", "rmse", "bias")) -> dict[str, float]:
    """All requested metrics plus the number of valid pairs ``n``."""
    o, s = _pairs(obs, sim)
    out = {name: METRICS[name](o, s) for name in names}
    out["n"] = int(o.size)
    return out


def score_by(
    table: pd.DataFrame,
    by: str | Sequence[str],
    obs: str = "obs",
    sim: str = "sim",
    names: Sequence[str] = ("nse", "kge", "r", "rmse", "bias"),
) -> pd.DataFrame:
    """Per-group metrics over a long table (e.g. ``by='site'`` or ``['site', 'split']``)."""
    rows = []
    keys = [by] if isinstance(by, str) else list(by)
    for key, grp in table.groupby(keys, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), **score(grp[obs].to_numpy(), grp[sim].to_numpy(), names)})
    cols = keys + list(names) + ["n"]
    return pd.DataFrame(rows, columns=cols)


def bootstrap_ci(
    values, stat: Callable[..., np.ndarray] = np.median, n_boot: int = 10_000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` (called as ``stat(draws, axis=1)``) over the finite
    ``values`` (e.g. per-site test metrics: how far a median over these sites moves with another
    draw of sites of the same kind). Fewer than 3 finite values give (NaN, NaN). Booleans give the
    interval of a share. The values are sorted first, so their order (a table's row order) does not
    change the interval; 10,000 draws because a median's bootstrap distribution is lumpy (with
    2,000 its 2.5 % point moved between neighbouring order statistics from seed to seed)."""
    v = np.asarray(values, dtype=float)
    v = np.sort(v[np.isfinite(v)])
    if v.size < 3:
        return (np.nan, np.nan)
    draws = np.random.default_rng(seed).choice(v, size=(n_boot, v.size), replace=True)
    boot = stat(draws, axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))
