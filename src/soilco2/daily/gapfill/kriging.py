"""Gap-filling a daily soil-respiration record (S1): the observation where there is one, elsewhere
the LSTM plus its residual kriged from the observed days around the gap.

A daily model's errors persist for days (a level that drifts between years, a wet spell the
drivers miss), so the residual ``e = obs - model`` of the days around a gap says more about the
gap than the model alone. The residual is modelled as a persistent signal plus day-to-day noise:
covariance ``C(0) = sill + nugget`` and ``C(d) = sill * phi**d`` for a lag of ``d >= 1`` days,
fitted per site to the empirical autocorrelation of its residuals (lags 1..``max_lag``). Each
unobserved day gets the simple-kriging (zero-mean) estimate from the ``neighbours`` nearest
observed days on each side, and its standard error; far from any observation the correction
decays to 0 and the fill is the model's.

Numerics only (numpy, scipy); :mod:`soilco2.daily.gapfill.run` reads and writes run files.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

OBSERVED, FILLED, NO_VALUE = 0, 1, -1  # gapfill_source flags


@dataclass(frozen=True)
class ResidualCovariance:
    """``C(0) = sill + nugget``, ``C(d) = sill * phi**d`` (d ≥ 1 days); units of the residual squared."""

    sill: float
    nugget: float
    phi: float
    n_pairs: int  # lag-1 pairs of observed days behind the fit

    @property
    def efolding_days(self) -> float:
        return float(-1.0 / np.log(self.phi)) if 0 < self.phi < 1 else (np.inf if self.phi >= 1 else 0.0)


def residual_autocorrelation(resid: np.ndarray, max_lag: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Variance, lag-1..max_lag autocorrelation and pair counts of a daily series with gaps (NaN);
    the mean is removed first. Lags without pairs have autocorrelation NaN. Every lag is normalised
    by the one overall variance (the usual ACF estimator, consistent with one covariance function),
    not by its own pairs as :func:`soilco2.daily.report.diagnostics.lagged_autocorr`'s Pearson r is."""
    e = np.asarray(resid, dtype=float)
    e = e - np.nanmean(e)
    var = float(np.nanmean(e**2))
    rho, n = np.full(max_lag, np.nan), np.zeros(max_lag, dtype=int)
    for k in range(1, max_lag + 1):
        prod = e[:-k] * e[k:]
        ok = np.isfinite(prod)
        n[k - 1] = int(ok.sum())
        if n[k - 1] and var > 0:
            rho[k - 1] = prod[ok].mean() / var
    return var, rho, n


def fit_residual_covariance(resid: np.ndarray, max_lag: int = 15, min_pairs: int = 30) -> ResidualCovariance | None:
    """Fit ``rho(d) = c * phi**d`` (c = sill / (sill + nugget)) to the residuals' autocorrelation,
    each lag weighted by its number of pairs. ``None`` when fewer than ``min_pairs`` lag-1 pairs,
    fewer than three lags with pairs (too little to say how long an error persists) or no convergence."""
    if np.isfinite(resid).sum() < 2:
        return None
    var, rho, n = residual_autocorrelation(resid, max_lag)
    lags = np.flatnonzero(n > 0)
    if n[0] < min_pairs or lags.size < 3 or not var > 0:
        return None
    d = lags + 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # parameter covariance unused
            (c, phi), _ = curve_fit(
                lambda x, c, p: c * p**x,
                d,
                rho[lags],
                p0=(0.5, 0.8),
                sigma=1 / np.sqrt(n[lags]),
                bounds=([0.0, 0.0], [1.0, 0.999]),
            )
    except (RuntimeError, ValueError):  # no convergence: treated as too little to fit
        return None
    return ResidualCovariance(sill=float(c * var), nugget=float((1 - c) * var), phi=float(phi), n_pairs=int(n[0]))


def krige_residuals(
    obs_days: np.ndarray, obs_resid: np.ndarray, target_days: np.ndarray, cov: ResidualCovariance, neighbours: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Simple-kriging estimate and standard error of the residual on ``target_days`` (not observed)
    from the ``neighbours`` nearest observed days before and after each (sorted ``obs_days``).
    The standard error is that of a day's observed mean (signal and noise), given the neighbours."""
    obs_days = np.asarray(obs_days)
    target_days = np.asarray(target_days)
    if obs_days.size == 0 or target_days.size == 0:
        sd = np.full(target_days.size, np.sqrt(cov.sill + cov.nugget))
        return np.zeros(target_days.size), sd
    pos = np.searchsorted(obs_days, target_days)
    idx = pos[:, None] + np.arange(-neighbours, neighbours)[None, :]
    ok = (idx >= 0) & (idx < obs_days.size)
    idx = np.clip(idx, 0, obs_days.size - 1)
    s = obs_days[idx].astype(float)
    m = idx.shape[1]
    eye = np.eye(m)
    big = cov.sill * cov.phi ** np.abs(s[:, :, None] - s[:, None, :]) + (cov.nugget + 1e-9 * cov.sill) * eye
    big = np.where(ok[:, :, None] & ok[:, None, :], big, eye)  # an absent neighbour: weight 0
    small = np.where(ok, cov.sill * cov.phi ** np.abs(target_days[:, None] - s), 0.0)
    lam = np.linalg.solve(big, small[..., None])[..., 0]
    est = (lam * np.where(ok, np.asarray(obs_resid, dtype=float)[idx], 0.0)).sum(1)
    var = cov.sill + cov.nugget - (lam * small).sum(1)
    return est, np.sqrt(np.clip(var, 0.0, None))


def fill_series(
    obs: np.ndarray, model: np.ndarray, cov: ResidualCovariance | None, neighbours: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One site's daily series → (filled, correction, standard error, source flag).

    Observed days keep the observation (source 0, correction 0, standard error NaN); days with a
    model value and no observation get model + kriged residual (source 1); days with neither stay
    NaN (source −1). Without a covariance (``None``) the fill is the model, standard error NaN."""
    obs = np.asarray(obs, dtype=float)
    model = np.asarray(model, dtype=float)
    days = np.arange(obs.size)
    observed = np.isfinite(obs)
    target = ~observed & np.isfinite(model)
    correction = np.zeros(obs.size)
    se = np.full(obs.size, np.nan)
    if cov is not None and target.any():
        anchor = observed & np.isfinite(model)
        est, sd = krige_residuals(days[anchor], (obs - model)[anchor], days[target], cov, neighbours)
        correction[target], se[target] = est, sd
    filled = np.where(observed, obs, np.where(target, model + correction, np.nan))
    source = np.where(observed, OBSERVED, np.where(target, FILLED, NO_VALUE)).astype(np.int8)
    return filled, correction, se, source


def filled_interval(filled, model, se, cov: ResidualCovariance | None, q05, q95) -> tuple[np.ndarray, np.ndarray]:
    """The 90 % bounds of filled days: the LSTM's calibrated 5–95 % band (``q05``, ``q95`` around
    ``model``) carried to the filled value and scaled by the share of the residual's SD the
    kriging leaves, se / √(sill + nugget): narrow beside an observation, the band itself far from
    any (the kriging's own variance comes from training residuals and is too small there).
    Bounds never below 0."""
    if cov is None:
        share = np.ones_like(np.asarray(filled, float))
    else:
        share = np.clip(np.asarray(se, float) / np.sqrt(cov.sill + cov.nugget), 0.0, 1.0)
    lo = np.maximum(filled - share * np.maximum(model - q05, 0.0), 0.0)
    hi = filled + share * np.maximum(q95 - model, 0.0)
    return lo, hi


def linear_interpolation(obs: np.ndarray) -> np.ndarray:
    """Observations linearly interpolated across gaps, held constant beyond the first and last
    observed day (the naive fill the benchmark compares with); all-NaN stays NaN."""
    obs = np.asarray(obs, dtype=float)
    ok = np.isfinite(obs)
    if not ok.any():
        return obs.copy()
    days = np.arange(obs.size)
    return np.interp(days, days[ok], obs[ok])
