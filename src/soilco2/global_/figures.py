"""Figures of an S3 run's page: maps with lat/lon axes, convergence, latitude profiles, partial dependence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

UNITS_LABEL = "g C m⁻² yr⁻¹"


def map_figure(arrays: dict, keys: list[str], titles: list[str], cmap: str, vmax: float | None = None):
    """One global map per key, stacked, with lat/lon axes and a colour bar in g C m⁻² yr⁻¹."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.6 * len(keys)), constrained_layout=True)
    for ax, k, title in zip(np.atleast_1d(axes), keys, titles):
        a = arrays[k]
        top = vmax if vmax is not None else np.nanpercentile(a, 99)
        im = ax.imshow(a, origin="lower", extent=(-180, 180, -90, 90), cmap=cmap, vmin=min(0, np.nanmin(a)), vmax=top)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(-180, 181, 60))
        ax.set_yticks(range(-90, 91, 30))
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        fig.colorbar(im, ax=ax, shrink=0.8, label=UNITS_LABEL)
    return fig


def extra_figures(out: Path, plt) -> dict:
    """Convergence of the totals, latitudinal profiles and partial dependence, from the run's tables."""
    figs = {}
    if (out / "convergence.parquet").is_file():
        c = pd.read_parquet(out / "convergence.parquet")
        fig, axes = plt.subplots(1, 3, figsize=(11, 3), constrained_layout=True)
        for ax, f in zip(axes, ("rs", "rh", "ra")):
            m, sd = c[f"{f}_running_mean_pg_c_yr"], c[f"{f}_running_sd_pg_c_yr"]
            ax.plot(c["n_runs"], m, color="#4c72b0")
            ax.fill_between(c["n_runs"], m - sd, m + sd, color="#4c72b0", alpha=0.2)
            ax.set_xlabel("runs")
            ax.set_ylabel(f"{f.upper()} total (Pg C/yr)")
        figs["convergence"] = (fig, "Running mean (line) and SD (band) of the global totals after n runs.")
    if (out / "latitude_profiles.parquet").is_file():
        p = pd.read_parquet(out / "latitude_profiles.parquet")
        fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
        for f, col in (("rs", "#4c72b0"), ("rh", "#dd8452"), ("ra", "#55a868")):
            ax.plot(p["lat"], p[f"{f}_pg_c_yr"], color=col, label=f.upper())
            ax.fill_between(
                p["lat"],
                p[f"{f}_pg_c_yr"] - p[f"{f}_pg_c_yr_sd"],
                p[f"{f}_pg_c_yr"] + p[f"{f}_pg_c_yr_sd"],
                color=col,
                alpha=0.2,
            )
        ax.set_xlabel("latitude (0.5° bands)")
        ax.set_ylabel("Pg C/yr per band")
        ax.legend()
        figs["profiles"] = (fig, "Latitudinal profiles: totals per 0.5° band, mean ± SD over runs.")
    if (out / "partial_dependence.parquet").is_file():
        figs["partial_dependence"] = (
            _partial_dependence_fig(pd.read_parquet(out / "partial_dependence.parquet"), plt),
            "Partial dependence: the mean predicted flux with one predictor set to each value, averaged over "
            "the explained runs; each flux shows only its own predictors.",
        )
    return figs


def _partial_dependence_fig(d: pd.DataFrame, plt, per_row: int = 4):
    """One panel per (flux, predictor) the flux's forest uses, four to a row, labelled with units."""
    from soilco2.report.html import header_label

    panels = [(f, cov) for f in ("rs", "rh") for cov in dict.fromkeys(d.loc[d["flux"] == f, "covariate"])]
    rows = max(1, -(-len(panels) // per_row))
    fig, axes = plt.subplots(rows, per_row, figsize=(11, 2.7 * rows), constrained_layout=True, squeeze=False)
    for ax, (f, cov) in zip(axes.flat, panels):
        g = d[(d["flux"] == f) & (d["covariate"] == cov)]
        ax.plot(g["covariate_value"], g["pred_gc_m2_yr"], color="#4c72b0" if f == "rs" else "#dd8452")
        ax.set_title(f"{f.upper()}: {cov}", fontsize=9)
        ax.set_xlabel(header_label(cov), fontsize=8)
        ax.set_ylabel(f"{f.upper()} ({UNITS_LABEL})", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)  # no empty panels
    return fig
