"""The field's anchor at a new site: a temperature-response curve fitted to a few chamber readings
and run on the site's logged soil temperature.

Both curves are straight lines in log space, so every fit here is a linear regression of log R on
one feature x(T) with Gaussian residuals of SD σ (readings scatter multiplicatively):

- Q10: log R = log R10 + b·(T − 10), Q10 = exp(10 b);
- Lloyd & Taylor (1994): log R = log R10 + E0·g(T), g(T) = 1/(283.15 − T0) − 1/(T + 273.15 − T0),
  T0 = 227.13 K (so the intercept is again the rate at 10 °C).

Fits: ``free`` (least squares, the slope bounded: Q10 in 1..5, E0 in 50..600 K; one reading or no
spread of temperature leaves the slope at its fixed value), ``fixed`` (slope given, e.g. Q10 = 2:
the readings set the level only) and ``hierarchical`` (the Bayesian regression with a prior on
(log R10, slope) from other sites' fits: the readings move it as far as their number allows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

T0_K, TREF_K = 227.13, 283.15
SLOPE_BOUNDS = {"q10": (np.log(1.0) / 10, np.log(5.0) / 10), "lloyd_taylor": (50.0, 600.0)}
FIXED_SLOPE = {"q10": np.log(2.0) / 10, "lloyd_taylor": 308.56}  # Q10 = 2; Lloyd & Taylor's E0
MIN_SPREAD_C = 1.0  # readings closer in temperature cannot fit a slope


def feature(curve: str, temp_c: np.ndarray) -> np.ndarray:
    t = np.asarray(temp_c, float)
    if curve == "q10":
        return t - 10.0
    if curve == "lloyd_taylor":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t + 273.15 > T0_K + 1, 1 / (TREF_K - T0_K) - 1 / (t + 273.15 - T0_K), np.nan)
    raise ValueError(f"unknown curve {curve!r} (q10 | lloyd_taylor)")


@dataclass(frozen=True)
class CurveFit:
    """log R = intercept + slope·x(T); ``cov`` the 2×2 covariance of (intercept, slope); ``sigma``
    a reading's scatter around the curve (log units)."""

    curve: str
    intercept: float
    slope: float
    cov: np.ndarray
    sigma: float
    n: int
    how: str

    def log_mean_var(self, temp_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The curve's log rate at ``temp_c`` and the variance of that from the parameters."""
        x = feature(self.curve, temp_c)
        mu = self.intercept + self.slope * x
        c = self.cov
        return mu, c[0, 0] + 2 * x * c[0, 1] + x**2 * c[1, 1]

    def predict(self, temp_c: np.ndarray, z: float = 1.6449) -> dict[str, np.ndarray]:
        """Median rate and the central band (z: 1.6449 for 90 %) of a day, readings' scatter included."""
        mu, var = self.log_mean_var(temp_c)
        half = z * np.sqrt(var + self.sigma**2)
        return {"rate": np.exp(mu), "lo": np.exp(mu - half), "hi": np.exp(mu + half)}

    def params(self) -> dict[str, float]:
        """R10 (µmol m⁻² s⁻¹) and Q10 or E0 (K), with SDs (the slope's SD 0 when it was fixed)."""
        out = {"r10": float(np.exp(self.intercept)), "log_r10_sd": float(np.sqrt(self.cov[0, 0]))}
        sd = float(np.sqrt(max(self.cov[1, 1], 0.0)))
        if self.curve == "q10":
            out |= {"q10": float(np.exp(10 * self.slope)), "log_q10_sd": 10 * sd}
        else:
            out |= {"e0_k": float(self.slope), "e0_sd_k": sd}
        return out


def _usable(curve: str, temp_c, flux) -> tuple[np.ndarray, np.ndarray]:
    x, y = feature(curve, temp_c), np.asarray(flux, float)
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    return x[ok], np.log(y[ok])


def fit_fixed(curve: str, temp_c, flux, sigma: float, slope: float | None = None) -> CurveFit:
    """The slope given (default Q10 = 2 / Lloyd–Taylor's E0): the readings set the level."""
    slope = FIXED_SLOPE[curve] if slope is None else slope
    x, ly = _usable(curve, temp_c, flux)
    if not len(x):
        raise ValueError("no reading with a temperature and a positive flux")
    a = float(np.mean(ly - slope * x))
    return CurveFit(curve, a, float(slope), np.diag([sigma**2 / len(x), 0.0]), sigma, len(x), "fixed")


def fit_free(curve: str, temp_c, flux, sigma: float) -> CurveFit:
    """Least squares in log space, the slope bounded (the field's practice); the slope stays fixed
    with one reading or readings within ``MIN_SPREAD_C`` of each other."""
    x, ly = _usable(curve, temp_c, flux)
    spread = np.ptp(np.asarray(temp_c, float)[np.isfinite(temp_c)]) if len(x) else 0.0
    if len(x) < 2 or spread < MIN_SPREAD_C:
        return fit_fixed(curve, temp_c, flux, sigma)
    lo, hi = SLOPE_BOUNDS[curve]
    xm = x.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.clip(np.sum((x - xm) * (ly - ly.mean())) / sxx, lo, hi))
    a = float(ly.mean() - slope * xm)
    var_b = sigma**2 / sxx
    cov = np.array([[sigma**2 / len(x) + xm**2 * var_b, -xm * var_b], [-xm * var_b, var_b]])
    return CurveFit(curve, a, slope, cov, sigma, len(x), "free")


def fit_hierarchical(curve: str, temp_c, flux, sigma: float, prior_mean, prior_cov) -> CurveFit:
    """The Bayesian linear regression: prior N(``prior_mean``, ``prior_cov``) on (intercept, slope)
    from other sites, readings with scatter ``sigma``; no reading gives the prior back."""
    x, ly = _usable(curve, temp_c, flux)
    mean, post = bayes_linear(np.column_stack([np.ones_like(x), x]), ly, prior_mean, prior_cov, sigma)
    return CurveFit(curve, float(mean[0]), float(mean[1]), post, sigma, len(x), "hierarchical")


def bayes_linear(X: np.ndarray, y: np.ndarray, prior_mean, prior_cov, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of β in y = Xβ + ε, ε ~ N(0, σ²), β ~ N(prior_mean, prior_cov)."""
    m0, p0 = np.asarray(prior_mean, float), np.linalg.inv(np.asarray(prior_cov, float))
    post = np.linalg.inv(p0 + X.T @ X / sigma**2)
    return post @ (p0 @ m0 + X.T @ y / sigma**2), post


def site_fit(curve: str, temp_c, flux) -> tuple[float, float, float] | None:
    """(intercept, slope, residual SD) of one site's unbounded log-space fit over many days (for
    the priors and σ); None with fewer than 30 days or less than 5 °C of spread."""
    x, ly = _usable(curve, temp_c, flux)
    if len(x) < 30 or np.ptp(np.asarray(temp_c, float)[np.isfinite(temp_c)]) < 5:
        return None
    b, a = np.polyfit(x, ly, 1)
    return float(a), float(b), float(np.std(ly - (a + b * x), ddof=2))


def population_prior(fits: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and covariance of (intercept, slope) over sites' fits, and the pooled residual SD."""
    ab = np.array([f[:2] for f in fits])
    return ab.mean(axis=0), np.cov(ab.T), float(np.sqrt(np.mean([f[2] ** 2 for f in fits])))


def run_prior(run, curve: str = "q10") -> tuple[np.ndarray, np.ndarray, float]:
    """Prior mean and covariance of (intercept, slope) and a reading's scatter σ, from each of the
    run's sites fitted on its training days (observed flux, the run's soil temperature)."""
    from pathlib import Path

    import xarray as xr

    with xr.open_dataset(Path(run) / "predictions.nc") as ds:
        obs, temp, split = (ds[v].transpose("site", "time").values for v in ("obs", "soil_temp_c", "split"))
    fits = [site_fit(curve, temp[i][split[i] == 0], obs[i][split[i] == 0]) for i in range(obs.shape[0])]
    fits = [f for f in fits if f]
    if len(fits) < 2:
        raise ValueError("fewer than two of the run's sites have 30 training days over 5 °C to fit a curve on")
    return population_prior(fits)


def anchor_variables(run, temp_c: np.ndarray, spot_temp_c, spot_flux, curve: str = "q10") -> dict:
    """The field's anchor beside the LSTM in ``daily site``: the curve fitted to the spots (free, as
    the benchmark's best anchor) on ``temp_c``, with its 5-95 % band and parameters as attributes."""
    _, _, sigma = run_prior(run, curve)
    fit = fit_free(curve, spot_temp_c, spot_flux, sigma)
    p = fit.predict(temp_c)
    attrs = {
        "units": "umol m-2 s-1",
        "curve": curve,
        "fit": fit.how,
        "n_readings": fit.n,
        "reading_log_sd": round(sigma, 4),
        **{k: round(v, 4) for k, v in fit.params().items()},
    }
    label = {"q10": "Q10", "lloyd_taylor": "Lloyd-Taylor"}[curve]
    return {
        "anchor": (
            p["rate"],
            attrs
            | {
                "long_name": f"{label} curve fitted to the spots (log space, slope bounded), "
                "run on the soil temperature: the field's practice"
            },
        ),  # fmt: skip
        "anchor_q05": (p["lo"], {"units": "umol m-2 s-1", "long_name": "5th percentile of the anchor"}),
        "anchor_q95": (p["hi"], {"units": "umol m-2 s-1", "long_name": "95th percentile of the anchor"}),
    }
