"""Rain pulses (the Birch effect): rewetting events after a dry spell, and how well each model
reproduces the observed respiration peak that follows.

An event starts at the first interval with rain ≥ ``min_rain_mm`` (summed over the event's
first day) after ``dry_days`` with less than ``dry_max_mm`` in total. For each event: the
observed peak flux within ``window_hours`` after onset, and per model its peak in the same
window, the ratio model/observed and the timing error (model peak time − observed, hours).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def detect_events(
    precip_mm: pd.Series, *, dry_days: float = 7.0, dry_max_mm: float = 1.0, min_rain_mm: float = 5.0
) -> pd.DataFrame:
    """Onsets of rewetting events on a regular series: ``onset, rain_24h_mm, dry_before_mm``."""
    p = precip_mm.fillna(0.0)
    step = pd.Series(p.index).diff().dropna().mode().iloc[0]
    n_dry = int(round(pd.Timedelta(days=dry_days) / step))
    n_day = int(round(pd.Timedelta("1D") / step))
    before = p.rolling(n_dry, min_periods=n_dry).sum().shift(1)  # rain in the dry spell before t
    after = p[::-1].rolling(n_day, min_periods=1).sum()[::-1]  # rain in [t, t+1 day)
    cand = (p > 0) & (before < dry_max_mm) & (after >= min_rain_mm)
    rows, last = [], None
    for t in p.index[cand.to_numpy()]:
        if last is not None and t - last < pd.Timedelta(days=dry_days):
            continue
        rows.append({"onset": t, "rain_24h_mm": float(after.loc[t]), "dry_before_mm": float(before.loc[t])})
        last = t
    return pd.DataFrame(rows, columns=["onset", "rain_24h_mm", "dry_before_mm"])


def pulse_skill(
    events: pd.DataFrame, obs: pd.Series, sims: dict[str, pd.Series], *, window_hours: float = 48.0, min_obs: int = 6
) -> pd.DataFrame:
    """Long table: one row per (event, model) with observed and modelled peak, ratio, timing error."""
    rows = []
    for _, ev in events.iterrows():
        t0, t1 = ev["onset"], ev["onset"] + pd.Timedelta(hours=window_hours)
        o = obs.loc[t0:t1].dropna()
        if len(o) < min_obs:
            continue
        for name, sim in sims.items():
            s = sim.loc[t0:t1].dropna()
            if s.empty:
                continue
            rows.append(
                {
                    "onset": t0,
                    "rain_24h_mm": ev["rain_24h_mm"],
                    "model": name,
                    "obs_peak_umol_m2_s": float(o.max()),
                    "obs_peak_time": o.idxmax(),
                    "model_peak_umol_m2_s": float(s.max()),
                    "model_peak_time": s.idxmax(),
                    "peak_ratio": float(s.max() / o.max()) if o.max() > 0 else np.nan,
                    "timing_error_hours": (s.idxmax() - o.idxmax()) / pd.Timedelta("1h"),
                    "n_obs": int(len(o)),
                }
            )
    return pd.DataFrame(rows)
