"""S3 predictive intervals that hold what they say: Rh as the joint draw of Rs and the Rh/Rs
fraction (not the product of two forests' quantiles), and conformalized quantile regression
(Romano et al. 2019) in log space under grouped cross-validation.

A record's conformity score is ``max(log q05 - log y, log y - log q95)``; the interval
``[q05 e^-c, q95 e^c]`` with ``c`` the ⌈0.9 (n + 1)⌉-th smallest score of n held-out records holds
a new record with probability ≥ 0.9 when records are exchangeable (grouped CV keeps whole 0.5°
locations apart, so the check is of new locations). The interval stays positive by construction.
Its coverage is checked nested: each fold's records get the correction of the other folds."""

from __future__ import annotations

import numpy as np

# quantiles of each forest behind the joint draw of Rh = Rs x fraction (equal-probability nodes)
JOINT_GRID = tuple(np.round(np.arange(0.025, 1.0, 0.05), 3).tolist())
FLOOR_GC_M2_YR = 1.0  # log space floor of annual fluxes


def product_quantiles(q_rs: np.ndarray, q_fraction: np.ndarray, levels) -> np.ndarray:
    """(n, len(levels)) quantiles of Rs x fraction from each forest's ``JOINT_GRID`` quantiles
    (n, G), the two drawn independently given the covariates."""
    n = len(q_rs)
    out = np.empty((n, len(levels)))
    for a in range(0, n, 4096):  # 4096 x G² products at a time
        prod = (q_rs[a : a + 4096, :, None] * q_fraction[a : a + 4096, None, :]).reshape(len(q_rs[a : a + 4096]), -1)
        out[a : a + 4096] = np.quantile(prod, levels, axis=1).T
    return out


def conformity(obs, lo, hi) -> np.ndarray:
    """Log-space CQR scores (positive: the observation is outside the interval)."""
    f = FLOOR_GC_M2_YR
    y = np.log(np.maximum(obs, f))
    return np.maximum(np.log(np.maximum(lo, f)) - y, y - np.log(np.maximum(hi, f)))


def correction(scores: np.ndarray, coverage: float = 0.9) -> float:
    """The split-conformal correction: the ⌈coverage (n + 1)⌉-th smallest score (inf if beyond n)."""
    s = np.sort(scores[np.isfinite(scores)])
    k = int(np.ceil(coverage * (s.size + 1)))
    return float(s[k - 1]) if 0 < k <= s.size else float("inf")


def widen(lo, hi, c: float) -> tuple[np.ndarray, np.ndarray]:
    """``[lo e^-c, hi e^c]``; a negative ``c`` narrows, never past the interval's geometric centre."""
    lo, hi = np.asarray(lo, "f8"), np.asarray(hi, "f8")
    new_lo, new_hi = lo * np.exp(-c), hi * np.exp(c)
    crossed = new_lo > new_hi
    centre = np.sqrt(np.maximum(lo, 0) * np.maximum(hi, 0))
    return np.where(crossed, centre, new_lo), np.where(crossed, centre, new_hi)


def nested_coverage(
    folds: np.ndarray, obs, lo, hi, coverage: float = 0.9
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Each fold's records widened by the correction of the other folds: (their coverage, the
    correction from all records — the one the maps get —, the nested lower and upper bounds)."""
    scores = conformity(obs, lo, hi)
    lo_c, hi_c = np.full(len(obs), np.nan), np.full(len(obs), np.nan)
    for f in np.unique(folds):
        test = folds == f
        lo_c[test], hi_c[test] = widen(lo[test], hi[test], correction(scores[~test], coverage))
    covered = float(np.mean((obs >= lo_c) & (obs <= hi_c)))
    return covered, correction(scores, coverage), lo_c, hi_c
