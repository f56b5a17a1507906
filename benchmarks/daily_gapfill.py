"""How well does `soilco2 daily gapfill` fill a gap? Artificial gaps in the test period of a run.

    .venv/bin/python benchmarks/daily_gapfill.py runs/daily   # -> benchmarks/results/daily_gapfill.json

For each gap length L, each site's test period is cut into consecutive blocks of L calendar days
and each block in turn is hidden; its observed days are then filled by
- the LSTM alone (the run's ensemble mean; so L does not change it, and its median NSE over all
  blocks is the run's median test NSE),
- the LSTM plus the residual kriged from every other observed day (training days and the test days
  outside the block) — what `gapfill` does, with each site's residual covariance fitted on its
  training days only,
- the observations linearly interpolated across the block (held flat past the last observed day).
Nothing here has seen a hidden day: the LSTM was trained on training days, the covariance fitted
on training days, and a block's own observations are not among its neighbours. Scores are per
site over all its observed test days, then the median over sites (KGE: over the sites where it is
defined).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from soilco2.daily.arrays import TEST, TRAIN
from soilco2.daily.gapfill.kriging import (
    ResidualCovariance,
    filled_interval,
    fit_residual_covariance,
    krige_residuals,
    linear_interpolation,
)
from soilco2.daily.gapfill.run import read_predictions
from soilco2.metrics import kge_2009, nse, rmse

GAP_DAYS = (1, 3, 7, 15, 30, 60)
Z90 = 1.6449  # two-sided 90 % normal interval


def site_blocks(
    obs: np.ndarray,
    model: np.ndarray,
    split: np.ndarray,
    cov: ResidualCovariance | None,
    L: int,
    neighbours: int = 3,
    band: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict | None:
    """Fill every observed test day of one site with its block of L days hidden."""
    observed = np.flatnonzero(np.isfinite(obs) & np.isfinite(model))
    test = np.flatnonzero((split == TEST) & np.isfinite(obs) & np.isfinite(model))
    if test.size < 5:
        return None
    kriged, interp, se = np.empty(test.size), np.empty(test.size), np.full(test.size, np.nan)
    block = (test - test[0]) // L
    for b in np.unique(block):
        hidden = test[block == b]
        keep = observed[~np.isin(observed, np.arange(test[0] + b * L, test[0] + (b + 1) * L))]
        at = block == b
        if cov is None:
            kriged[at] = model[hidden]
        else:
            est, sd = krige_residuals(keep, (obs - model)[keep], hidden, cov, neighbours)
            kriged[at], se[at] = model[hidden] + est, sd
        masked = obs.copy()
        masked[hidden] = np.nan
        interp[at] = linear_interpolation(masked)[hidden]
    out = {"obs": obs[test], "lstm": model[test], "kriged": kriged, "interpolated": interp, "se": se}
    if band is not None:  # the gap-filled 90 % interval: the LSTM's calibrated band, scaled by the kriging
        out["lo"], out["hi"] = filled_interval(kriged, model[test], se, cov, band[0][test], band[1][test])
    return out


def main(run: str) -> None:
    t0 = time.perf_counter()
    pred, path = read_predictions(Path(run))
    obs = pred["obs"].transpose("site", "time").values.astype(float)
    model = pred["lstm"].transpose("site", "time").values.astype(float)
    split = pred["split"].transpose("site", "time").values
    result = {"run": str(run), "predictions": str(path), "gap_days": {}}
    covs = [
        fit_residual_covariance(np.where(split[i] == TRAIN, obs[i] - model[i], np.nan)) for i in range(obs.shape[0])
    ]
    has_band = "lstm_q05" in pred
    bands = [(pred["lstm_q05"].values[i], pred["lstm_q95"].values[i]) if has_band else None for i in range(len(obs))]
    for L in GAP_DAYS:
        per_site = [
            r
            for i in range(obs.shape[0])
            if (r := site_blocks(obs[i], model[i], split[i], covs[i], L, band=bands[i])) is not None
        ]
        row = {"sites": len(per_site)}
        for method in ("lstm", "kriged", "interpolated"):
            kge = np.array([kge_2009(r["obs"], r[method]) for r in per_site])
            row[method] = {  # KGE is undefined where a fill is flat over all test days (interpolation at long gaps)
                "median_nse": round(float(np.median([nse(r["obs"], r[method]) for r in per_site])), 4),
                "median_kge": round(float(np.nanmedian(kge)), 4),
                "sites_kge_undefined": int(np.isnan(kge).sum()),
                "median_rmse_umol_m2_s": round(float(np.median([rmse(r["obs"], r[method]) for r in per_site])), 4),
            }
        better = lambda a, b: float(np.mean([rmse(r["obs"], r[a]) < rmse(r["obs"], r[b]) for r in per_site]))
        row["share_sites_kriged_better_than_lstm"] = round(better("kriged", "lstm"), 4)
        row["share_sites_kriged_better_than_interpolated"] = round(better("kriged", "interpolated"), 4)
        inside = np.concatenate(
            [np.abs(r["obs"] - r["kriged"]) <= Z90 * r["se"] for r in per_site if np.isfinite(r["se"]).all()]
        )
        row["kriged_90pct_interval_coverage"] = round(float(inside.mean()), 4)
        if has_band:  # what `daily gapfill` writes (flux_gapfilled_q05 / _q95)
            inside = np.concatenate([(r["obs"] >= r["lo"]) & (r["obs"] <= r["hi"]) for r in per_site])
            row["coverage_90"] = round(float(inside.mean()), 4)
            row["median_site_coverage_90"] = round(
                float(np.median([np.mean((r["obs"] >= r["lo"]) & (r["obs"] <= r["hi"])) for r in per_site])), 4
            )
        result["gap_days"][str(L)] = row
        print(
            f"gaps of {L:>2} d: median NSE  LSTM {row['lstm']['median_nse']:.3f}  kriged {row['kriged']['median_nse']:.3f}"
            f"  interpolated {row['interpolated']['median_nse']:.3f};  kriged beats LSTM at "
            f"{row['share_sites_kriged_better_than_lstm']:.0%}, interpolation at "
            f"{row['share_sites_kriged_better_than_interpolated']:.0%} of sites; 90 % interval covers "
            f"{row['kriged_90pct_interval_coverage']:.0%} (normal), {row.get('coverage_90', float('nan')):.0%} (calibrated band)"
        )
    result["seconds"] = round(time.perf_counter() - t0, 1)
    dest = Path(__file__).parent / "results" / "daily_gapfill.json"
    dest.write_text(json.dumps(result, indent=1))
    print(f"{result['seconds']} s -> {dest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/daily")
