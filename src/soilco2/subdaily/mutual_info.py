"""Lagged mutual information between soil respiration and its drivers (Jiang et al. 2022).

Lag convention (the issue's): ``lag_hours = tau`` pairs the flux at ``t`` with the driver at
``t - tau``. Positive tau = the driver's *past*; negative tau = the driver's *future*. A peak
at a negative lag means the flux shares most information with the *future* driver, i.e.
respiration **leads** the driver (the clockwise diel hysteresis the paper found at US-Hn1).
``lead_hours = -lag_hours`` is reported beside it (positive = respiration leads).

The estimator is the plug-in (fixed-binning) estimate with 50 equal-width bins per dimension,
in nats. For precipitation only pairs with non-zero rain enter (the paper's choice); with few
such pairs the plug-in estimate is biased upward (``n_pairs`` says how many), so compare a
driver's MI across lags rather than MI values across drivers.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

N_BINS = 50
RAIN_DRIVERS = ("precip_mm",)


def mutual_information(x, y, bins: int = N_BINS) -> float:
    """Plug-in MI (nats) from a ``bins`` × ``bins`` histogram over the finite pairs."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    joint, _, _ = np.histogram2d(x, y, bins=bins)
    pxy = joint / joint.sum()
    px = pxy.sum(axis=1, keepdims=True)
    py = pxy.sum(axis=0, keepdims=True)
    nz = pxy > 0
    return float(np.sum(pxy[nz] * np.log(pxy[nz] / (px @ py)[nz])))


def lagged_mi(
    target: np.ndarray,
    driver: np.ndarray,
    lags: Iterable[int],
    *,
    nonzero_only: bool = False,
    bins: int = N_BINS,
) -> np.ndarray:
    """MI between ``target[t]`` and ``driver[t - lag]`` for each lag (in steps) on a regular grid."""
    target = np.asarray(target, dtype=float)
    driver = np.asarray(driver, dtype=float)
    n = target.size
    out = []
    for lag in lags:
        shifted = np.full(n, np.nan)
        if lag >= 0:
            shifted[lag:] = driver[: n - lag]
        else:
            shifted[:lag] = driver[-lag:]
        if nonzero_only:
            shifted = np.where(shifted > 0, shifted, np.nan)
        out.append(mutual_information(target, shifted, bins=bins))
    return np.array(out)


def mi_table(
    table: pd.DataFrame,
    drivers: Iterable[str],
    *,
    target: str = "flux_umol_m2_s",
    max_lag_hours: float = 24.0,
    bins: int = N_BINS,
    rain_drivers: Iterable[str] = RAIN_DRIVERS,
) -> pd.DataFrame:
    """Long table ``driver, lag_hours, lead_hours, lag_steps, mi_nats, n_pairs`` on ``table``'s regular grid."""
    step_h = _step_hours(table.index)
    max_steps = int(round(max_lag_hours / step_h))
    lags = list(range(-max_steps, max_steps + 1))
    rows = []
    y = table[target].to_numpy(dtype=float)
    for drv in drivers:
        x = table[drv].to_numpy(dtype=float)
        nonzero = drv in set(rain_drivers)
        mi = lagged_mi(y, x, lags, nonzero_only=nonzero, bins=bins)
        usable = np.isfinite(x) & ((x > 0) if nonzero else True)
        for lag, val in zip(lags, mi):
            shifted = np.roll(usable, lag)  # usable[t - lag] at t
            if lag > 0:
                shifted[:lag] = False
            elif lag < 0:
                shifted[lag:] = False
            n_pairs = int((shifted & np.isfinite(y)).sum())
            rows.append(
                {
                    "driver": drv,
                    "lag_hours": lag * step_h,
                    "lead_hours": -lag * step_h,
                    "lag_steps": lag,
                    "mi_nats": val,
                    "nonzero_only": nonzero,
                    "n_pairs": n_pairs,
                }
            )
    return pd.DataFrame(rows)


def peak_lags(mi: pd.DataFrame) -> pd.DataFrame:
    """One row per driver: the lag of peak MI, its MI, and MI at lag 0."""
    rows = []
    for drv, grp in mi.groupby("driver", sort=False):
        g = grp.dropna(subset=["mi_nats"])
        if g.empty:
            rows.append({"driver": drv, "peak_lag_hours": np.nan, "peak_mi_nats": np.nan, "mi_lag0_nats": np.nan})
            continue
        best = g.loc[g["mi_nats"].idxmax()]
        at0 = g.loc[g["lag_steps"] == 0, "mi_nats"]
        rows.append(
            {
                "driver": drv,
                "peak_lag_hours": float(best["lag_hours"]),
                "peak_lead_hours": float(-best["lag_hours"]),
                "peak_mi_nats": float(best["mi_nats"]),
                "mi_lag0_nats": float(at0.iloc[0]) if len(at0) else np.nan,
                "mi_future_mean_nats": float(g.loc[g["lag_steps"] < 0, "mi_nats"].mean()),
                "mi_past_mean_nats": float(g.loc[g["lag_steps"] > 0, "mi_nats"].mean()),
            }
        )
    return pd.DataFrame(rows)


def propose_input_design(mi: pd.DataFrame, *, min_ratio: float = 1.0) -> dict[str, list[str]]:
    """Which drivers feed the past branch and which the future branch.

    Every driver enters the past branch. A driver also enters the future branch when it
    shares at least as much information with the flux in its future as in its past
    (mean MI over negative lags ≥ ``min_ratio`` × mean MI over positive lags) or its MI
    peaks at a negative lag. Precipitation stays past-only (future rain is not a
    known driver at forecast time).
    """
    peaks = peak_lags(mi)
    past, future = [], []
    for _, row in peaks.iterrows():
        drv = row["driver"]
        if not np.isfinite(row["peak_mi_nats"]):
            continue
        past.append(drv)
        if drv in RAIN_DRIVERS:
            continue
        if row["peak_lag_hours"] < 0 or row["mi_future_mean_nats"] >= min_ratio * row["mi_past_mean_nats"]:
            future.append(drv)
    return {"past": past, "future": future}


def _step_hours(index: pd.Index) -> float:
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise ValueError("mi_table needs a regular DatetimeIndex")
    step = pd.Series(index).diff().dropna().mode().iloc[0]
    return step / pd.Timedelta("1h")
