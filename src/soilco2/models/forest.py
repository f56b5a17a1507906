"""Quantile random forest (Meinshausen 2006) for annual fluxes: a thin sklearn-style wrapper
around ``quantile_forest.RandomForestQuantileRegressor``.

``predict`` gives the conditional mean; ``predict_quantiles`` the conditional quantiles
(columns in the order of ``quantiles``); ``predict_table`` both, as named columns
(``mean``, ``q05``, ``q50``, ``q95`` …).

Every leaf keeps all its training records (``max_samples_leaf=None``): quantile-forest's default
keeps one record a leaf, drawn with Python's global ``random`` module, which any other thread of
the process (a Dask worker's) also draws from — so the same seed gave other forests. Kept whole,
a fit is a pure function of its data and seed, and the mean is the forest's mean (decision E23).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def quantile_name(q: float) -> str:
    """0.05 -> 'q05', 0.5 -> 'q50', 0.975 -> 'q97.5'."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:g}"


class QuantileForest:
    """Quantile regression forest with fixed quantiles (default 5 %, 50 %, 95 %)."""

    def __init__(
        self,
        n_trees: int = 200,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        *,
        min_samples_leaf: int = 5,
        max_features: float | str = 1.0,
        seed: int = 0,
        n_jobs: int = 1,
    ):
        self.n_trees = n_trees
        self.quantiles = tuple(float(q) for q in quantiles)
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.seed = seed
        self.n_jobs = n_jobs
        self.model_ = None

    def fit(self, X, y, sample_weight=None) -> QuantileForest:
        from quantile_forest import RandomForestQuantileRegressor

        X = np.asarray(X, dtype="f8")
        y = np.asarray(y, dtype="f8")
        if X.ndim != 2 or len(X) != len(y) or len(y) < 2:
            raise ValueError(f"need a 2-D X and a y of the same length (got {X.shape}, {y.shape})")
        self.model_ = RandomForestQuantileRegressor(
            n_estimators=self.n_trees,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            max_samples_leaf=None,  # all records a leaf: no draw from the global random module
            random_state=self.seed,
            n_jobs=self.n_jobs,
        ).fit(X, y, sample_weight=sample_weight)
        return self

    def _check(self):
        if self.model_ is None:
            raise RuntimeError("QuantileForest is not fitted")
        return self.model_

    def predict(self, X) -> np.ndarray:
        """Conditional mean (mean of the training targets that share the leaves)."""
        return np.asarray(self._check().predict(np.asarray(X, "f8"), quantiles="mean"), dtype="f8")

    def predict_quantiles(self, X) -> np.ndarray:
        """(n, len(quantiles)) conditional quantiles."""
        out = self._check().predict(np.asarray(X, "f8"), quantiles=list(self.quantiles))
        return np.asarray(out, dtype="f8").reshape(len(X), len(self.quantiles))

    def predict_table(self, X) -> pd.DataFrame:
        q = self.predict_quantiles(X)
        cols = {"mean": self.predict(X)}
        cols.update({quantile_name(p): q[:, k] for k, p in enumerate(self.quantiles)})
        return pd.DataFrame(cols)

    @property
    def feature_importances_(self) -> np.ndarray:
        return self._check().feature_importances_
