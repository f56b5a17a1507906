"""Area-weighted comparison of a model map with a reference map, and ILAMB's scores for a
time-mean field (Collier et al. 2018, J. Adv. Model. Earth Syst. 10, 2731–2754; ILAMB's bias
methodology, method "Collier2018"):

- bias score: relative error ε(x) = |m̄(x) − r̄(x)| / |r̄(x)| (the reference has no time
  dimension, so the bias is relative to the reference mean rather than to its temporal SD),
  score map s(x) = exp(−ε(x)), scalar S_bias = area-weighted mean of s;
- spatial distribution score: σ = σ_m / σ_r (area-weighted spatial SDs) and R the area-weighted
  spatial correlation, S_dist = 2 (1 + R) / (σ + 1/σ)²;
- overall: ILAMB's weighted mean of the scores that exist for time-mean maps — bias (weight 1)
  and spatial distribution (weight 1); its RMSE, seasonal-cycle and interannual-variability
  scores need a time series.
"""

from __future__ import annotations

import numpy as np

FLAT = 1e-6  # a spatial SD below this share of the mean is a constant field stored in float32


def _wmean(w: np.ndarray, v: np.ndarray) -> float:
    return float(np.sum(w * v) / np.sum(w))


def compare_maps(ref: np.ndarray, model: np.ndarray, weight: np.ndarray) -> dict:
    """Over cells where both maps have a value and ``weight`` (area) > 0: cells, area-weighted r,
    bias (model − reference), RMSE, the ILAMB bias, spatial-distribution and overall scores."""
    ok = np.isfinite(ref) & np.isfinite(model) & np.isfinite(weight) & (weight > 0)
    if ok.sum() < 3:
        return {"cells": int(ok.sum())}
    w, r, m = weight[ok], ref[ok], model[ok]
    mr, mm = _wmean(w, r), _wmean(w, m)
    sr, sm = np.sqrt(_wmean(w, (r - mr) ** 2)), np.sqrt(_wmean(w, (m - mm) ** 2))
    sr, sm = (0.0 if sd <= FLAT * abs(mean) else sd for sd, mean in ((sr, mr), (sm, mm)))  # float32 round-off
    corr = _wmean(w, (r - mr) * (m - mm)) / (sr * sm) if sr > 0 and sm > 0 else np.nan  # undefined for a flat map
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.where(r != 0, np.abs(m - r) / np.abs(r), np.inf)
    bias_score = _wmean(w, np.exp(-eps))
    sigma = sm / sr if sr > 0 else np.nan
    spatial = 2 * (1 + corr) / (sigma + 1 / sigma) ** 2 if sigma > 0 else 0.0
    return {
        "cells": int(ok.sum()),
        "r": float(corr),
        "bias_gc_m2_yr": mm - mr,
        "rmse_gc_m2_yr": float(np.sqrt(_wmean(w, (m - r) ** 2))),
        "sd_ratio": float(sigma),
        "bias_score": float(bias_score),
        "spatial_score": float(spatial),
        "overall_score": float((bias_score + spatial) / 2),
    }
