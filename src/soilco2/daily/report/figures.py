"""Report figures (matplotlib, Agg, offline). Each function returns a Figure; the map uses the
0.5° land-fraction grid as its background (no tiles, no downloaded coastlines)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

CLASS_COLORS = {"good": "#1b9e77", "fair": "#e6ab02", "poor": "#d95f02"}
CLASSES = ("good", "fair", "poor")
FLUX_LABEL = "soil CO$_2$ efflux (µmol m$^{-2}$ s$^{-1}$)"
ATTR_LABELS = {
    "n_obs_days": "observed days",
    "acf_1": "ACF lag 1 d (smoothness)",
    "acf_182": "ACF lag 182 d (seasonality)",
    "acf_365": "ACF lag 365 d (cyclicity)",
    "summer_minus_winter_umol_m2_s": "summer − winter flux (µmol m⁻² s⁻¹)",
    "mean_flux_umol_m2_s": "mean flux (µmol m⁻² s⁻¹)",
    "cv_flux": "CV of flux",
    "abs_lat": "|latitude| (°)",
    "elevation_m": "elevation (m)",
    "mat_c": "MAT (°C)",
    "map_mm": "MAP (mm yr⁻¹)",
    "pet_mm_yr": "PET (mm yr⁻¹)",
    "aridity_pet_p": "aridity PET/P",
    "soc_mg_ha": "SOC 0–30 cm (Mg C ha⁻¹)",
    "whc_mm": "WHC (mm)",
}
METRIC_LABELS = {"test_nse": "test NSE", "test_kge": "test KGE", "test_r": "test r"}
CLIP_LOW = -1.0  # metrics below are drawn at the axis floor as open triangles

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "figure.dpi": 100})


def _legend_classes(ax, **kw) -> None:
    handles = [Line2D([], [], marker="o", ls="", color=CLASS_COLORS[c], label=c) for c in CLASSES]
    ax.legend(handles=handles, title="test class", **kw)


def _clipped_scatter(ax, x, y, colors, low: float = CLIP_LOW) -> None:
    """Scatter with values below ``low`` drawn at ``low`` as downward triangles."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    clip = y < low
    ax.scatter(x[~clip], y[~clip], c=np.asarray(colors)[~clip], s=22, edgecolor="k", linewidth=0.3)
    if clip.any():
        ax.scatter(
            x[clip],
            np.full(clip.sum(), low),
            c=np.asarray(colors)[clip],
            marker="v",
            s=26,
            edgecolor="k",
            linewidth=0.3,
        )
    ax.set_ylim(low - 0.08, 1.02)
    ax.axhline(0, color="0.6", lw=0.6)


def _colors(classes) -> list[str]:
    return [CLASS_COLORS.get(c, "0.5") for c in classes]


def site_map(per_site: pd.DataFrame, land: xr.DataArray | None) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 5.2))
    if land is not None:
        lat, lon = land["lat"].values, land["lon"].values
        img = land.values[::-1] if lat[0] < lat[-1] else land.values  # north-up rows
        dlat, dlon = abs(lat[1] - lat[0]) / 2, abs(lon[1] - lon[0]) / 2
        ax.imshow(
            img,
            cmap="Greys",
            vmin=0,
            vmax=2.2,
            interpolation="nearest",
            extent=(lon.min() - dlon, lon.max() + dlon, lat.min() - dlat, lat.max() + dlat),
        )
    for k, c in enumerate(reversed(CLASSES)):  # good drawn last, on top of clustered sites
        s = per_site[per_site["class"] == c]
        ax.scatter(
            s["lon"],
            s["lat"],
            c=CLASS_COLORS[c],
            s=34,
            edgecolor="k",
            linewidth=0.5,
            alpha=0.9,
            label=f"{c} ({len(s)})",
            zorder=3 + k,
        )
    handles, labels = ax.get_legend_handles_labels()
    ax.set(
        xlim=(-180, 180),
        ylim=(-60, 85),
        xlabel="longitude (°E)",
        ylabel="latitude (°N)",
        title="Sites by LSTM test performance class (background: 0.5° land fraction)",
    )
    for y in (30, 60):
        ax.axhline(y, color="0.4", ls=":", lw=0.8)
    ax.set_aspect("equal")
    ax.legend(handles[::-1], labels[::-1], loc="lower left", title="test class")
    fig.tight_layout()
    return fig


def pick_example_sites(per_site: pd.DataFrame, k: int = 3) -> list[tuple[str, str]]:
    """Up to ``k`` sites per class: those closest to the class's median test NSE."""
    out = []
    for c in CLASSES:
        g = per_site[per_site["class"] == c].dropna(subset=["test_nse"])
        g = g.assign(_d=(g["test_nse"] - g["test_nse"].median()).abs()).sort_values(["_d", "site"])
        out += [(s, c) for s in g["site"].head(k)]
    return out


def _test_span(split: np.ndarray, times: pd.DatetimeIndex):
    idx = np.flatnonzero(split == 2)
    return (times[idx[0]], times[idx[-1]]) if idx.size else None


def series_panels(preds: xr.Dataset, examples: list[tuple[str, str]], per_site: pd.DataFrame) -> Figure:
    n = max(len(examples), 1)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.9 * n + 0.6), squeeze=False)
    times = pd.DatetimeIndex(preds["time"].values)
    m = per_site.set_index("site")
    has_band = "lstm_q05" in preds and "lstm_q95" in preds
    for ax, (site, c) in zip(axes[:, 0], examples):
        p = preds.sel(site=site)
        lstm, obs = p["lstm"].values, p["obs"].values
        live = np.isfinite(lstm) | np.isfinite(obs)
        if live.any():
            lo, hi = np.flatnonzero(live)[[0, -1]]
            sl = slice(lo, hi + 1)
        else:
            sl = slice(None)
        t = times[sl]
        span = _test_span(p["split"].values, times)
        if span:
            ax.axvspan(*span, color="0.88", zorder=0, label="test period")
        if has_band:
            ax.fill_between(
                t,
                p["lstm_q05"].values[sl],
                p["lstm_q95"].values[sl],
                color="#7570b3",
                alpha=0.25,
                lw=0,
                label="90 % predictive interval",
            )
        ax.plot(t, obs[sl], ".", ms=2.2, color="k", label="observed")
        ax.plot(t, lstm[sl], "-", lw=0.9, color="#7570b3", label="LSTM")
        r = m.loc[site]
        ax.set_title(
            f"{site} — {c}: test NSE {r['test_nse']:.2f}, KGE {r['test_kge']:.2f}",
            color=CLASS_COLORS[c],
            loc="left",
            fontsize=9,
        )
        ax.set_ylabel("µmol m⁻² s⁻¹")
    axes[0, 0].legend(loc="upper right", ncol=4, fontsize=8)
    fig.suptitle("Observed vs predicted daily soil CO$_2$ efflux (test period shaded)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    return fig


def temperature_response(preds: xr.Dataset, examples: list[tuple[str, str]]) -> Figure:
    ncol = 3
    nrow = max(1, int(np.ceil(len(examples) / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(10, 2.9 * nrow + 0.5), squeeze=False)
    for ax, (site, c) in zip(axes.ravel(), examples):
        p = preds.sel(site=site)
        ts = p["soil_temp_c"].values if "soil_temp_c" in p else np.full(p["obs"].size, np.nan)
        seen = np.isfinite(p["obs"].values)
        ax.scatter(ts[seen], p["lstm"].values[seen], s=4, color="#7570b3", alpha=0.35, lw=0, label="LSTM")
        ax.scatter(ts[seen], p["obs"].values[seen], s=3, color="k", alpha=0.55, lw=0, label="observed")
        ax.set_title(f"{site} ({c})", color=CLASS_COLORS[c], fontsize=8.5)
        ax.set_xlabel("soil temperature (°C)")
        ax.set_ylabel("µmol m⁻² s⁻¹")
    for ax in axes.ravel()[len(examples) :]:
        ax.set_visible(False)
    axes[0, 0].legend(loc="upper left", fontsize=8, markerscale=3)
    fig.suptitle("Soil temperature vs flux on observed days (observed and predicted)", fontsize=11)
    fig.tight_layout()
    return fig


def metrics_vs_obs_days(per_site: pd.DataFrame) -> Figure:
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.3), sharey=True)
    colors = _colors(per_site["class"])
    for ax, m in zip(axes, ("test_nse", "test_kge", "test_r")):
        _clipped_scatter(ax, per_site["n_obs_days"], per_site[m], colors)
        ax.set(xlabel="number of observed days", title=METRIC_LABELS[m])
    axes[0].set_ylabel(f"metric (values < {CLIP_LOW:g} drawn as ▼)")
    _legend_classes(axes[2], loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def metrics_vs_attributes(per_site: pd.DataFrame, corr: pd.DataFrame, metric: str = "test_kge") -> Figure:
    attrs = [a for a in ATTR_LABELS if a in per_site and per_site[a].notna().sum() >= 3]
    ncol = 4
    nrow = int(np.ceil(len(attrs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(10, 2.7 * nrow + 0.4), sharey=True, squeeze=False)
    colors = _colors(per_site["class"])
    c = corr[(corr["metric"] == metric) & (corr["outliers"] == "kept")].set_index("attribute")
    c_iqr = corr[(corr["metric"] == metric) & (corr["outliers"] == "iqr_removed")].set_index("attribute")
    for ax, a in zip(axes.ravel(), attrs):
        _clipped_scatter(ax, per_site[a], per_site[metric], colors)
        ax.set_xlabel(ATTR_LABELS[a], fontsize=8)
        if a in c.index and np.isfinite(c.loc[a, "r"]):
            title = f"r = {c.loc[a, 'r']:.2f}, p = {c.loc[a, 'p']:.2g}"
            bold = c.loc[a, "p"] < 0.05
            if a in c_iqr.index and np.isfinite(c_iqr.loc[a, "r"]):
                title += f"\nIQR-cleaned r = {c_iqr.loc[a, 'r']:.2f}, p = {c_iqr.loc[a, 'p']:.2g}"
                bold = bold or c_iqr.loc[a, "p"] < 0.05
            ax.set_title(title, fontsize=8, fontweight="bold" if bold else "normal")
    for ax in axes.ravel()[len(attrs) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(METRIC_LABELS[metric])
    fig.suptitle(f"{METRIC_LABELS[metric]} vs site attributes and data characteristics (bold: p < 0.05)", fontsize=11)
    fig.tight_layout()
    return fig


def correlation_heatmap(corr: pd.DataFrame) -> Figure:
    rows = [("test_nse", "kept"), ("test_nse", "iqr_removed"), ("test_kge", "kept"), ("test_r", "kept")]
    attrs = [a for a in ATTR_LABELS if a in set(corr["attribute"])]
    r = np.full((len(rows), len(attrs)), np.nan)
    p = np.full_like(r, np.nan)
    idx = corr.set_index(["metric", "outliers", "attribute"])
    for i, (m, o) in enumerate(rows):
        for j, a in enumerate(attrs):
            if (m, o, a) in idx.index:
                r[i, j], p[i, j] = idx.loc[(m, o, a), "r"], idx.loc[(m, o, a), "p"]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    im = ax.imshow(r, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            if np.isfinite(r[i, j]):
                star = "**" if p[i, j] < 0.01 else "*" if p[i, j] < 0.05 else ""
                ax.text(j, i, f"{r[i, j]:.2f}{star}", ha="center", va="center", fontsize=7.5)
    ax.set_xticks(range(len(attrs)), [ATTR_LABELS[a] for a in attrs], rotation=40, ha="right", fontsize=7.5)
    ax.set_yticks(
        range(len(rows)),
        [f"{METRIC_LABELS[m]}{' (IQR outliers removed)' if o != 'kept' else ''}" for m, o in rows],
        fontsize=8,
    )
    fig.colorbar(im, ax=ax, label="Pearson r", shrink=0.9)
    ax.set_title("Pearson r between test metrics and site attributes (* p < 0.05, ** p < 0.01)")
    fig.tight_layout()
    return fig


def _boxes(ax, groups: dict[str, np.ndarray], title: str, ylabel: str) -> None:
    data = [np.clip(v[np.isfinite(v)], CLIP_LOW, None) for v in groups.values()]
    ax.boxplot(
        data,
        tick_labels=[f"{k}\n(n={len(d)} sites)" for k, d in zip(groups, data)],
        showfliers=True,
        flierprops={"markersize": 3},
    )
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_ylim(CLIP_LOW - 0.08, 1.02)
    ax.set(title=title, ylabel=ylabel)


PART_LABELS = {
    "bottom_5pct": "bottom\n5 %",
    "middle_90pct": "middle\n90 %",
    "top_5pct": "top\n5 %",
    "spikes": "spikes",
    "non_spikes": "non-\nspikes",
}


def extremes_and_spikes(ext: pd.DataFrame, pooled_days: pd.DataFrame) -> Figure:
    """Per-site NSE/KGE on the extreme parts; pooled daily errors by part; spike days obs vs predicted."""
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.9))
    e = ext[ext["split"] == "test"] if len(ext) else ext
    extremes = ("bottom_5pct", "middle_90pct", "top_5pct")
    for k, metric in enumerate(("nse", "kge")):
        _boxes(
            axes[k],
            {
                PART_LABELS[p]: e.loc[e["part"] == p, metric].to_numpy(float) if len(e) else np.array([])
                for p in extremes
            },
            f"extremes: per-site {metric.upper()}",
            f"{metric.upper()} (clipped at {CLIP_LOW:g})",
        )
        axes[k].tick_params(axis="x", labelsize=7.5)
    ax = axes[2]
    parts = [p for p in (*extremes, "spikes", "non_spikes")]
    err = [
        ((g := pooled_days[pooled_days["part"] == p])["sim"] - g["obs"]).to_numpy(float)
        if len(pooled_days)
        else np.array([])
        for p in parts
    ]
    ax.boxplot(
        [v[np.isfinite(v)] for v in err],
        tick_labels=[f"{PART_LABELS[p]}\n({len(v)} d)" for p, v in zip(parts, err)],
        showfliers=False,
    )
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set(title="all test days pooled", ylabel="predicted − observed (µmol m⁻² s⁻¹)")
    ax.tick_params(axis="x", labelsize=7)
    ax = axes[3]
    if len(pooled_days):
        sp = pooled_days[pooled_days["part"] == "spikes"]
        ns = pooled_days[pooled_days["part"] == "non_spikes"]
        ax.scatter(ns["obs"], ns["sim"], s=3, color="0.6", alpha=0.4, lw=0, label="other days")
        ax.scatter(sp["obs"], sp["sim"], s=22, color="#d95f02", edgecolor="k", lw=0.4, label=f"spikes ({len(sp)})")
        hi = float(np.nanmax(pooled_days[["obs", "sim"]].to_numpy(float))) * 1.05
        ax.plot([0, hi], [0, hi], "k--", lw=0.7)
        ax.set(
            xlim=(min(0, float(np.nanmin(pooled_days["obs"]))), hi),
            ylim=(min(0, float(np.nanmin(pooled_days["sim"]))), hi),
        )
        ax.legend(loc="upper left", fontsize=7.5, markerscale=1.5)
    ax.set(title="spike days (|z| > 3, 30 d)", xlabel="observed (µmol m⁻² s⁻¹)", ylabel="predicted (µmol m⁻² s⁻¹)")
    fig.suptitle("Test period: extremes of the observed distribution and spikes", fontsize=10)
    fig.tight_layout()
    return fig


def mat_map_scatter(per_site: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    for c in CLASSES:
        s = per_site[per_site["class"] == c]
        ax.scatter(
            s["mat_c"], s["map_mm"], c=CLASS_COLORS[c], s=40, edgecolor="k", linewidth=0.5, label=f"{c} ({len(s)})"
        )
    ax.set(
        xlabel="mean annual temperature, MAT (°C)",
        ylabel="mean annual precipitation, MAP (mm yr⁻¹)",
        title="Climate space of the sites, by test class",
    )
    ax.legend(title="test class")
    fig.tight_layout()
    return fig


def annual_vs_srdb(matches: pd.DataFrame, per_site: pd.DataFrame) -> Figure:
    """Left: one point per site (median of nearby SRDB records vs mean predicted year).
    Right: same-calendar-year record pairs."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    same = matches[matches["same_year"].astype(bool)] if len(matches) else matches
    panels = (
        (axes[0], per_site, "per site (median of SRDB records)", "o"),
        (axes[1], same, "same calendar year (record pairs)", "s"),
    )
    for ax, t, title, marker in panels:
        if len(t):
            ax.scatter(
                t["srdb_rs_gc_m2_yr"],
                t["pred_rs_gc_m2_yr"],
                s=34,
                marker=marker,
                edgecolor="k",
                linewidth=0.5,
                alpha=0.8,
            )
            hi = float(np.nanmax(t[["srdb_rs_gc_m2_yr", "pred_rs_gc_m2_yr"]].to_numpy(float))) * 1.08
            ax.plot([0, hi], [0, hi], "k--", lw=0.8, label="1:1")
            ax.set(xlim=(0, hi), ylim=(0, hi))
            ax.legend(loc="upper left")
            o, p = t["srdb_rs_gc_m2_yr"].to_numpy(float), t["pred_rs_gc_m2_yr"].to_numpy(float)
            r = np.corrcoef(o, p)[0, 1] if len(t) > 2 else np.nan
            ax.text(
                0.97,
                0.04,
                f"r = {r:.2f}\nbias = {np.mean(p - o):+.0f} g C m⁻² yr⁻¹\nmedian ratio = {np.median(p / o):.2f}",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8.5,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"},
            )
        else:
            ax.text(0.5, 0.5, "no match", ha="center", va="center", transform=ax.transAxes)
        ax.set(
            xlabel="SRDB annual Rs (g C m⁻² yr⁻¹)",
            ylabel="LSTM annual total (g C m⁻² yr⁻¹)",
            title=f"{title}, n = {len(t)}",
        )
    fig.tight_layout()
    return fig


def error_parts(per_site: pd.DataFrame) -> Figure:
    """Per site (sorted by test NSE): the test MSE's shares from level, amplitude and timing; and
    test NSE as predicted vs with the level error removed."""
    t = per_site.dropna(subset=["test_level_share"]).sort_values("test_nse")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    x, bottom = np.arange(len(t)), np.zeros(len(t))
    for col, label, color in (
        ("test_level_share", "level (μs − μo)²", "#d95f02"),
        ("test_amplitude_share", "amplitude (σs − σo)²", "#7570b3"),
        ("test_timing_share", "timing 2σsσo(1 − r)", "#1b9e77"),
    ):
        ax.bar(x, t[col], bottom=bottom, color=color, width=0.85, label=label)
        bottom += t[col].to_numpy()
    ax.set(
        xlim=(-0.6, len(t) - 0.4), ylim=(0, 1), ylabel="share of test MSE", xlabel="sites, by test NSE (lowest left)"
    )
    ax.set_xticks([])
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    _clipped_scatter(ax2, np.clip(t["test_nse"], CLIP_LOW, None), t["test_nse_level_removed"], _colors(t["class"]))
    ax2.plot([CLIP_LOW, 1], [CLIP_LOW, 1], color="0.6", lw=0.6)
    ax2.set(xlim=(CLIP_LOW - 0.08, 1.02), xlabel="test NSE (values < −1 at −1)", ylabel="test NSE, level error removed")
    _legend_classes(ax2, loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig
