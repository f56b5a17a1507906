"""The report's section on the LSTM's predictive distribution: how often its central intervals
hold the observation (observed against nominal coverage, from the PIT values of predictions.nc),
the PIT histogram, and the distribution's scores per split (pooled days, median site)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from soilco2.daily.arrays import TEST, TRAIN, VALIDATION
from soilco2.daily.uncertainty.distribution import PIT, central_coverage

SPLITS = {"train": (TRAIN, VALIDATION), "test": (TEST,)}
SCORE_COLUMNS = {
    "coverage_50": "50 % interval coverage",
    "coverage_90": "90 % interval coverage",
    "width_50_umol_m2_s": "50 % width (µmol m⁻² s⁻¹)",
    "width_90_umol_m2_s": "90 % width (µmol m⁻² s⁻¹)",
    "crps_umol_m2_s": "CRPS (µmol m⁻² s⁻¹)",
    "interval_score_90_umol_m2_s": "90 % interval score (µmol m⁻² s⁻¹)",
}


def pit_by_split(preds: xr.Dataset) -> dict[str, np.ndarray]:
    if PIT not in preds:
        return {}
    pit, split = preds[PIT].values, preds["split"].values
    return {name: pit[np.isin(split, codes) & np.isfinite(pit)] for name, codes in SPLITS.items()}


def calibration_figure(preds: xr.Dataset) -> Figure | None:
    """Observed vs nominal coverage of the central 10–90 % intervals, and the PIT histogram, for
    training and test days; None when the run has no predictive distribution."""
    pits = pit_by_split(preds)
    if not pits:
        return None
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    left.plot([0, 1], [0, 1], color="0.6", lw=1, label="calibrated")
    colours = {"train": "#1b9e77", "test": "#d95f02"}
    for name, v in pits.items():
        cov = central_coverage(v)
        left.plot(cov["nominal"], cov["observed"], "o-", color=colours[name], label=f"{name} days (n = {v.size:,})")
        right.hist(v, bins=np.linspace(0, 1, 11), density=True, histtype="step", lw=1.6, color=colours[name],
                   label=f"{name} days")  # fmt: skip
    right.axhline(1.0, color="0.6", lw=1)
    left.set(xlabel="nominal coverage of the central interval", ylabel="observed coverage", xlim=(0, 1), ylim=(0, 1))
    right.set(xlabel="PIT (predictive CDF at the observation)", ylabel="density")
    left.legend(fontsize=8, loc="upper left")
    right.legend(fontsize=8, loc="upper center")
    fig.suptitle("Is the predictive distribution calibrated? (all sites' days pooled)", fontsize=11)
    fig.tight_layout()
    return fig


def scores_table(metrics: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """Per split: the scores of all days pooled, and the median over sites."""
    lstm = metrics[metrics["model"] == "lstm"]
    pooled = summary.get("distribution_pooled", {})
    rows = []
    for split in ("train", "test"):
        g = lstm[lstm["split"] == split]
        if split in pooled:
            rows.append({"split": split, "over": f"all days pooled ({pooled[split]['days']:,})",
                         **{v: pooled[split].get(k) for k, v in SCORE_COLUMNS.items()}})  # fmt: skip
        if len(g) and all(k in g for k in SCORE_COLUMNS):
            rows.append({"split": split, "over": f"median of {len(g)} sites",
                         **{v: float(g[k].median()) for k, v in SCORE_COLUMNS.items()}})  # fmt: skip
    return pd.DataFrame(rows)
