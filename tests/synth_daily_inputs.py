"""Synthetic inputs for the S1 daily dataset builder: a daily table, site metadata, a monthly
climatology and static attributes with known values (shared by the daily dataset tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def monthly_at(lat, lon):
    """Synthetic climatology: 10 ± 10 °C peaking in July, 60 mm/month, 50 % sunshine."""
    n, m = len(lat), np.arange(1, 13)
    return pd.DataFrame(
        {
            "point": np.repeat(np.arange(n), 12),
            "month": np.tile(m, n),
            "temp_c": np.tile(10 + 10 * np.cos(2 * np.pi * (m - 7) / 12), n),
            "prec_mm_month": 60.0,
            "sun_pct": 50.0,
        }
    )


def site_attributes(lat, lon):
    n = len(lat)
    return pd.DataFrame(
        {
            "mat_c": np.full(n, 10.0),
            "map_mm": np.full(n, 720.0),
            "soc_mg_ha": np.arange(n) + 50.0,
            "whc_mm": np.full(n, 150.0),
        }
    )


def synthetic(n_days=400):
    d = pd.date_range("2015-01-01", periods=n_days)
    t = 10 + 8 * np.sin(2 * np.pi * d.day_of_year / 365)
    a = pd.DataFrame(
        {
            "dataset": "A",
            "date": d,
            "flux_umol_m2_s": np.exp(0.07 * t),
            "flux_n": 48,
            "soil_temp_c": t,
            "soil_temp_c_min": t - 2,
            "soil_temp_c_max": t + 2,
            "swc_m3_m3": 0.30,
            "precip_mm": 2.0,
        }
    )
    a.loc[100:102, "soil_temp_c"] = np.nan  # 3-day gap: interpolated
    a.loc[200:249, "soil_temp_c"] = np.nan  # 50-day gap: filled
    b = a.assign(dataset="B", soil_temp_c=np.nan, swc_m3_m3=np.nan)  # B never had soil sensors
    b = b.iloc[50:]
    c = a.assign(dataset="C").iloc[:10]  # too short
    meta = pd.DataFrame(
        {
            "dataset": ["A", "B", "C"],
            "lat": [45.0, -20.0, 10.0],
            "lon": [0.0, 20.0, 30.0],
            "elevation_m": [100.0, np.nan, 5.0],
            "igbp": ["GRA", "Deciduous broadleaf forest", "x"],
        }
    )
    return pd.concat([a, b, c], ignore_index=True), meta
