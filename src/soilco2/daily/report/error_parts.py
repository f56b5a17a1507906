"""Where a daily model's test error comes from: MSE split into level, amplitude and timing parts
per site, grouped, and the calibration oracles (the skill the same predictions would reach with
the test level, or a fitted line, known)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.daily.report.diagnostics import MIN_DAYS_FOR_SKILL, add_site_groupings
from soilco2.metrics import kge, nse


def error_decomposition(obs: np.ndarray, sim: np.ndarray, min_n: int = MIN_DAYS_FOR_SKILL) -> dict:
    """Where a site's squared error comes from (Murphy 1988; Gupta et al. 2009):
    MSE = (μs − μo)² [level] + (σs − σo)² [amplitude] + 2 σs σo (1 − r) [timing], population
    moments over the days where both are finite. Returns the three terms (in (µmol m⁻² s⁻¹)²), their shares of the MSE,
    α = σs/σo, β = μs/μo and the NSE with the level error removed (1 − (MSE − level)/σo²);
    NaN below ``min_n`` days or without observed variance."""
    m = np.isfinite(obs) & np.isfinite(sim)
    keys = (
        "mse_umol2_m4_s2",
        "level_umol2_m4_s2",
        "amplitude_umol2_m4_s2",
        "timing_umol2_m4_s2",
        "level_share",
        "amplitude_share",
        "timing_share",
        "alpha",
        "beta",
        "nse_level_removed",
    )
    o, s = np.asarray(obs, float)[m], np.asarray(sim, float)[m]
    if m.sum() < min_n or np.std(o) == 0:
        return dict.fromkeys(keys, np.nan) | {"n": int(m.sum())}
    so, ss = np.std(o), np.std(s)
    r = float(np.corrcoef(o, s)[0, 1]) if ss > 0 else 0.0
    level, amplitude, timing = (s.mean() - o.mean()) ** 2, (ss - so) ** 2, 2 * ss * so * (1 - r)
    mse = level + amplitude + timing  # equals mean((s − o)²) up to rounding
    share = (lambda x: x / mse) if mse > 0 else (lambda x: np.nan)
    return {
        "mse_umol2_m4_s2": mse,
        "level_umol2_m4_s2": level,
        "amplitude_umol2_m4_s2": amplitude,
        "timing_umol2_m4_s2": timing,
        "level_share": share(level),
        "amplitude_share": share(amplitude),
        "timing_share": share(timing),
        "alpha": ss / so,
        "beta": s.mean() / o.mean() if o.mean() != 0 else np.nan,
        "nse_level_removed": 1 - (mse - level) / so**2,
        "n": int(m.sum()),
    }


def error_parts_by_group(per_site: pd.DataFrame) -> pd.DataFrame:
    """Median shares of the test MSE (level / amplitude / timing, columns of
    :func:`error_decomposition` prefixed ``test_``), α, β and NSE with and without the level error,
    per class, observed-days bin and in-situ drivers on the test days."""
    t = per_site.dropna(subset=["test_level_share"]).copy()
    groupings = ["class", *add_site_groupings(t)]
    cols = [
        "test_level_share",
        "test_amplitude_share",
        "test_timing_share",
        "test_alpha",
        "test_beta",
        "test_nse",
        "test_nse_level_removed",
    ]
    rows = [{"grouping": "all sites", "group": "all", "n_sites": len(t), **t[cols].median().to_dict()}]
    for grouping in groupings:
        for b, g in t.groupby(grouping, observed=True, sort=True):
            rows.append({"grouping": grouping, "group": str(b), "n_sites": len(g), **g[cols].median().to_dict()})
    return pd.DataFrame(rows).rename(columns={c: f"median_{c.removeprefix('test_')}" for c in cols})


def calibration_oracles(
    obs: np.ndarray, sim: np.ndarray, split: np.ndarray, test_label: int = 2, min_n: int = 3
) -> dict:
    """What perfect calibration on the test days would give, keeping the model's day-to-day shape
    (diagnostic upper bounds, never a model): median over sites of the test NSE / KGE of ``sim``
    (``as is``), of ``sim`` shifted to the observed test mean (``level``), and of a least-squares
    line ``a + b·sim`` fitted on the test days themselves (``linear``: NSE = r², KGE = 1 − √((1−r)² + (1−r)²))."""
    rows = []
    for o_row, s_row, lab in zip(obs, sim, split):
        m = (lab == test_label) & np.isfinite(o_row) & np.isfinite(s_row)
        if m.sum() < min_n:
            continue
        o, s = o_row[m], s_row[m]
        shifted = s + (o.mean() - s.mean())
        fit = np.polyval(np.polyfit(s, o, 1), s) if np.std(s) > 0 else np.full_like(o, o.mean())
        rows.append(
            {
                "as_is_nse": nse(o, s),
                "as_is_kge": kge(o, s),
                "level_nse": nse(o, shifted),
                "level_kge": kge(o, shifted),
                "linear_nse": nse(o, fit),
                "linear_kge": kge(o, fit),
            }
        )
    table = pd.DataFrame(rows)
    return {k: float(np.nanmedian(table[k])) for k in table.columns} | {"sites": len(table)}
