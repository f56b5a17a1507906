"""Temperature-response models of soil respiration, fitted by Levenberg–Marquardt.

scikit-learn style: parameters in ``__init__``, learned values end in ``_``. ``X`` has soil
temperature (°C) in column 0 and, for the moisture models, volumetric soil water content
(m3 m-3) in column 1; a DataFrame's first columns are taken in that order.

- :class:`Q10`           R = R10 * Q10 ** ((T - 10) / 10)
- :class:`Q10Moisture`   R = R10 * Q10 ** ((T - 10) / 10) * SWC ** c
- :class:`Q10Logistic`   R = R10 * Q10 ** ((T - 10) / 10) / (1 + exp(a - b * SWC))
- :class:`LloydTaylor`   R = R10 * exp(E0 * (1 / (283.15 - T0) - 1 / (T + 273.15 - T0))), T0 = 227.13 K
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from sklearn.base import BaseEstimator, RegressorMixin


def _as_2d(X) -> np.ndarray:
    arr = np.asarray(X, dtype=float)
    return arr[:, None] if arr.ndim == 1 else arr


class _LMRegressor(RegressorMixin, BaseEstimator):
    """Least-squares fit of ``_f(theta, X)`` by Levenberg–Marquardt (MINPACK via scipy)."""

    param_names: tuple[str, ...] = ()
    n_features: int = 1

    def _f(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y):
        X = _as_2d(X)[:, : self.n_features]
        y = np.asarray(y, dtype=float).ravel()
        ok = np.isfinite(y) & np.all(np.isfinite(X), axis=1)
        X, y = X[ok], y[ok]
        if y.size <= len(self.param_names):
            raise ValueError(f"{type(self).__name__}: {y.size} valid samples, need more than {len(self.param_names)}")
        theta0 = self._initial(X, y)

        def residual(theta):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                r = self._f(theta, X) - y
            return np.where(np.isfinite(r), r, 1e6)

        res = least_squares(residual, theta0, method="lm", max_nfev=5000 * len(theta0))
        self.params_ = dict(zip(self.param_names, map(float, res.x)))
        self.theta_ = res.x
        self.converged_ = bool(res.success)
        self.n_samples_ = int(y.size)
        return self

    def predict(self, X):
        X = _as_2d(X)[:, : self.n_features]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._f(self.theta_, X)


def _q10_guess(T: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """R10 and Q10 from a log-linear fit on positive fluxes (a robust LM start)."""
    pos = y > 0
    if pos.sum() >= 3 and np.ptp(T[pos]) > 0:
        slope, icpt = np.polyfit(T[pos], np.log(y[pos]), 1)
        q10 = float(np.clip(np.exp(10 * slope), 1.01, 10))
        r10 = float(np.exp(icpt + 10 * slope))
        return max(r10, 1e-3), q10
    return max(float(np.nanmean(y)), 1e-3), 2.0


class Q10(_LMRegressor):
    param_names = ("r10", "q10")

    def _f(self, th, X):
        return th[0] * th[1] ** ((X[:, 0] - 10.0) / 10.0)

    def _initial(self, X, y):
        return np.array(_q10_guess(X[:, 0], y))


class Q10Moisture(_LMRegressor):
    param_names = ("r10", "q10", "c")
    n_features = 2

    def _f(self, th, X):
        return th[0] * th[1] ** ((X[:, 0] - 10.0) / 10.0) * np.clip(X[:, 1], 1e-6, None) ** th[2]

    def _initial(self, X, y):
        r10, q10 = _q10_guess(X[:, 0], y)
        return np.array([r10, q10, 0.1])


class Q10Logistic(_LMRegressor):
    param_names = ("r10", "q10", "a", "b")
    n_features = 2

    def _f(self, th, X):
        return th[0] * th[1] ** ((X[:, 0] - 10.0) / 10.0) / (1.0 + np.exp(th[2] - th[3] * X[:, 1]))

    def _initial(self, X, y):
        r10, q10 = _q10_guess(X[:, 0], y)
        mid = float(np.nanmedian(X[:, 1])) or 0.1
        b = 10.0 / max(float(np.nanstd(X[:, 1])), 1e-3)
        return np.array([2 * r10, q10, b * mid, b])


class LloydTaylor(_LMRegressor):
    param_names = ("r10", "e0")
    T0 = 227.13

    def _f(self, th, X):
        return th[0] * np.exp(th[1] * (1.0 / (283.15 - self.T0) - 1.0 / (X[:, 0] + 273.15 - self.T0)))

    def _initial(self, X, y):
        r10, _ = _q10_guess(X[:, 0], y)
        return np.array([r10, 308.56])


Q10_FAMILY: dict[str, type[_LMRegressor]] = {
    "q10": Q10,
    "q10_swc_power": Q10Moisture,
    "q10_swc_logistic": Q10Logistic,
    "lloyd_taylor": LloydTaylor,
}
