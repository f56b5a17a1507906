"""Climate quantities from monthly climatologies: extraterrestrial radiation (FAO-56), surface
shortwave from sunshine (Angström–Prescott) and potential evapotranspiration (Hargreaves 1975).
Used by the S1 report's site attributes and by the S3 covariates."""

from __future__ import annotations

import numpy as np


def extraterrestrial_radiation_mj_m2_day(lat_deg: float, doy: np.ndarray) -> np.ndarray:
    """Daily top-of-atmosphere shortwave Ra (MJ m-2 day-1), FAO-56 equations 21–25."""
    phi = np.deg2rad(lat_deg)
    doy = np.asarray(doy, dtype=float)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)
    delta = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    gsc = 0.0820  # MJ m-2 min-1
    ra = 24 * 60 / np.pi * gsc * dr * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
    return np.maximum(ra, 0.0)


_MID_MONTH_DOY = np.array([15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349])
_DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def pet_hargreaves_mm_yr(temp_c: np.ndarray, sun_pct: np.ndarray, lat_deg: float) -> float:
    """Annual potential evapotranspiration (mm/yr), Hargreaves (1975) radiation formula.

    PET = 0.0135 (T + 17.8) Rs per day, Rs in mm/day of evaporation (0.408 × MJ m-2 day-1).
    Rs comes from the extraterrestrial radiation at the site's latitude (FAO-56) and the
    Angström–Prescott relation Rs = (0.25 + 0.50 n/N) Ra with n/N the sunshine fraction.
    Inputs are 12 monthly means (temperature °C, sunshine % of possible).
    """
    return float(pet_hargreaves_monthly_mm(temp_c, sun_pct, lat_deg).sum(axis=-1))


def shortwave_mj_m2_day(sun_pct: np.ndarray, lat_deg) -> np.ndarray:
    """Monthly mean surface shortwave (MJ m-2 day-1), Angström–Prescott: Rs = (0.25 + 0.50 n/N) Ra.
    ``sun_pct`` (..., 12) % of possible sunshine; ``lat_deg`` broadcasts against its leading axes."""
    ra = extraterrestrial_radiation_mj_m2_day(np.asarray(lat_deg, float)[..., None], _MID_MONTH_DOY)
    return (0.25 + 0.50 * np.asarray(sun_pct, float) / 100.0) * ra


def pet_hargreaves_monthly_mm(temp_c: np.ndarray, sun_pct: np.ndarray, lat_deg) -> np.ndarray:
    """Monthly PET totals (mm), Hargreaves (1975) radiation formula, for (..., 12) inputs."""
    rs_mm_day = 0.408 * shortwave_mj_m2_day(sun_pct, lat_deg)
    pet_day = np.maximum(0.0135 * (np.asarray(temp_c, float) + 17.8) * rs_mm_day, 0.0)
    return pet_day * _DAYS_IN_MONTH
