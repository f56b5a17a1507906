"""Gap handling for in-situ daily drivers on a ``(site, time)`` grid.

1. Short gaps (≤ ``max_gap_days`` missing days between two observed days) are linearly
   interpolated (the daily paper's choice); those days count as available.
2. Every other missing day inside a site's span (long gaps, days before the sensor's first or
   after its last value, sensors a site never had) is *filled* from a reference and flagged with
   availability 0:

   =================  =========================================================================
   driver             fill
   =================  =========================================================================
   soil/air temp      climatology air temperature + the site's mean offset (sensor − climatology)
   ``*_min``/``_max`` the filled daily mean + the site's mean (stat − mean) difference
   swc                the site's mean SWC; ``swc_fill_m3_m3`` (0.25) for sites without a sensor
   PAR                Angström estimate 2.06 × (0.25 + 0.5 × sunshine) × TOA shortwave × site ratio
   shortwave          the same Angström estimate in W m-2 (ERA5 ``sw_w_m2``) × site ratio
   RH                 the site's mean; 70 % for sites without a sensor
   precipitation      climatology daily precipitation × site ratio (observed / climatology)
   =================  =========================================================================

   With ``data.era5_role: fill`` a site's daily ERA5 values (where it has them) replace the
   climatology in these references: air temperature for the temperatures, precipitation, shortwave
   × 2.06 for PAR, relative humidity + the site's mean offset for RH.

   Offsets and ratios use only the first ``fill_fraction`` of each sensor's observed days, so
   the test period (the last 20 % under the default split) never informs a fill.
"""

from __future__ import annotations

import numpy as np

# W m-2 shortwave -> umol m-2 s-1 PAR: 45 % of shortwave is PAR, 4.57 umol J-1
PAR_PER_SW = 0.45 * 4.57
RH_FILL_PCT = 70.0


def interpolate_short_gaps(x: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of interior NaN runs of length ≤ ``max_gap`` along the last axis.

    Returns (filled copy, mask of values that are observed or interpolated)."""
    x = np.array(x, float, copy=True)
    avail = np.isfinite(x)
    if max_gap <= 0:
        return x, avail
    cols = np.arange(x.shape[-1])
    for i in range(x.shape[0]):
        obs = np.flatnonzero(avail[i])
        if len(obs) < 2:
            continue
        gap = np.diff(obs) - 1  # missing days between consecutive observations
        short = (gap > 0) & (gap <= max_gap)
        if not short.any():
            continue
        interp = np.interp(cols, obs, x[i, obs])
        for a, b in zip(obs[:-1][short], obs[1:][short]):
            x[i, a + 1 : b] = interp[a + 1 : b]
            avail[i, a + 1 : b] = True
    return x, avail


def _early_mask(observed: np.ndarray, fraction: float) -> np.ndarray:
    """Per row, the first ``ceil(fraction × n)`` observed cells."""
    rank = np.cumsum(observed, axis=1)
    n = observed.sum(axis=1, keepdims=True)
    keep = np.ceil(fraction * n)
    return observed & (rank <= keep)


def _row_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    num = np.where(mask, values, 0.0).sum(axis=1)
    den = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def fill_driver(
    name: str,
    x: np.ndarray,
    observed: np.ndarray,
    ref: dict[str, np.ndarray],
    *,
    fill_fraction: float,
    swc_fill: float,
    base_filled: np.ndarray | None = None,
) -> np.ndarray:
    """Fill the non-available cells of ``x`` (see module docstring). ``observed`` marks the
    measured days (not interpolated ones); ``ref`` holds ``clim_temp_c``, ``clim_precip_mm_day``,
    ``clim_sun_pct``, ``toa_sw_w_m2`` arrays of the same shape, and optionally daily weather
    ``weather_temp_c``, ``weather_precip_mm``, ``weather_sw_w_m2``, ``weather_rh_pct`` (NaN where a
    site has none) that replaces the climatology where given."""
    early = _early_mask(observed, fill_fraction)
    if name.endswith(("_min", "_max")) and base_filled is not None:
        offset = np.nan_to_num(_row_mean(x - base_filled, early))
        fill = base_filled + offset[:, None]
    elif name.startswith(("soil_temp_c", "air_temp_c")):
        reference = _weather_or(ref, "weather_temp_c", ref["clim_temp_c"])
        offset = np.nan_to_num(_row_mean(x - reference, early))
        fill = reference + offset[:, None]
    elif name == "swc_m3_m3":
        fill = np.broadcast_to(np.nan_to_num(_row_mean(x, early), nan=swc_fill)[:, None], x.shape)
    elif name == "rh_pct":
        mean = np.broadcast_to(np.nan_to_num(_row_mean(x, early), nan=RH_FILL_PCT)[:, None], x.shape)
        weather = ref.get("weather_rh_pct")
        if weather is not None:  # weather + the site's mean offset (0 without a sensor)
            offset = np.nan_to_num(_row_mean(x - weather, early))
            mean = np.where(np.isfinite(weather), np.clip(weather + offset[:, None], 0, 100), mean)
        fill = mean
    elif name == "par_umol_m2_s":
        est = PAR_PER_SW * _weather_or(ref, "weather_sw_w_m2", _angstrom_sw(ref))
        fill = est * _ratio(x, est, early)[:, None]
    elif name == "sw_w_m2":
        est = _angstrom_sw(ref)
        fill = est * _ratio(x, est, early)[:, None]
    elif name == "precip_mm":
        reference = _weather_or(ref, "weather_precip_mm", ref["clim_precip_mm_day"])
        fill = reference * _ratio(x, reference, early)[:, None]
    else:  # unknown driver: site mean, else 0
        fill = np.broadcast_to(np.nan_to_num(_row_mean(x, early), nan=0.0)[:, None], x.shape)
    return np.where(np.isfinite(x), x, fill)


def _angstrom_sw(ref: dict[str, np.ndarray]) -> np.ndarray:
    """Ångström shortwave estimate (W m-2) from the climatology's sunshine and TOA shortwave."""
    return (0.25 + 0.5 * ref["clim_sun_pct"] / 100.0) * ref["toa_sw_w_m2"]


def _weather_or(ref: dict[str, np.ndarray], key: str, default: np.ndarray) -> np.ndarray:
    """Daily weather (``ref[key]``, e.g. ERA5 with ``data.era5_role: fill``) where given, else ``default``."""
    weather = ref.get(key)
    return default if weather is None else np.where(np.isfinite(weather), weather, default)


def _ratio(x: np.ndarray, est: np.ndarray, mask: np.ndarray) -> np.ndarray:
    obs_mean, est_mean = _row_mean(x, mask), _row_mean(est, mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(est_mean > 0, obs_mean / est_mean, np.nan)
    return np.clip(np.nan_to_num(ratio, nan=1.0), 0.2, 5.0)
