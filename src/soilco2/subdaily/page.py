"""S2 figures (PNG) and a self-contained HTML page for a sub-daily run folder."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {
    "pastfuture_lstm": "tab:red",
    "oneway_lstm": "tab:blue",
    "mlp_past": "tab:cyan",
    "mlp_pastfuture": "tab:orange",
    "q10": "tab:gray",
    "q10_swc_power": "tab:olive",
    "q10_swc_logistic": "tab:green",
    "lloyd_taylor": "tab:purple",
}


def plot_mi(mi: pd.DataFrame, path: Path, title: str = "") -> None:
    drivers = list(dict.fromkeys(mi["driver"]))
    fig, axes = plt.subplots(1, len(drivers), figsize=(3.6 * len(drivers), 3.2), squeeze=False)
    for ax, drv in zip(axes[0], drivers):
        g = mi[mi.driver == drv]
        ax.plot(g["lag_hours"], g["mi_nats"], "-o", ms=2)
        if g["mi_nats"].notna().any():
            best = g.loc[g["mi_nats"].idxmax()]
            ax.axvline(best["lag_hours"], color="r", ls="--", lw=1)
            ax.set_title(
                f"{drv}: peak at {best['lag_hours']:+g} h" + (" (rain>0)" if g["nonzero_only"].iloc[0] else ""),
                fontsize=9,
            )
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("lag τ (h): driver at t−τ  (τ<0 = driver's future)")
        ax.set_ylabel("MI (nats, 50 bins)")
    fig.suptitle(f"{title} lagged mutual information with soil respiration", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(sweep: pd.DataFrame, path: Path) -> None:
    test = sweep[(sweep.split == "test") & (sweep["members"].fillna(1) == 1)]  # single seeds, as the paper's Fig. 4
    scen = list(dict.fromkeys(test["scenario"]))
    fig, axes = plt.subplots(len(scen), 3, figsize=(12, 3.3 * len(scen)), squeeze=False)
    for i, s in enumerate(scen):
        t = test[test.scenario == s]
        for j, metric in enumerate(("mse", "nse", "r")):
            ax = axes[i, j]
            for m, g in t.groupby("model"):
                if g["past_hours"].notna().any():
                    g = g.sort_values("past_hours")
                    ax.plot(g["past_hours"], g[metric], "-o", color=COLORS.get(m), label=m)
                else:
                    ax.axhline(g[metric].iloc[0], color=COLORS.get(m), ls=":", label=m)
            ax.set_xscale("log")
            hours = sorted(t["past_hours"].dropna().unique())
            ax.set_xticks(hours, [f"{h:g}" for h in hours])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_title(f"{s}: test {metric.upper()}", fontsize=9)
            ax.set_xlabel("past window (h), future 24 h")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_test_series(
    ds, scenario: str, path: Path, models=("pastfuture_lstm", "oneway_lstm", "q10_swc_logistic")
) -> None:
    i = list(ds["scenario"].values).index(scenario)
    split = ds["split"].values[i]
    test = split == 2
    if not test.any():
        return
    t = pd.DatetimeIndex(ds["time"].values)
    lo, hi = np.flatnonzero(test)[[0, -1]]
    sl = slice(lo, hi + 1)
    fig, ax = plt.subplots(figsize=(12, 3.5))
    ax.plot(t[sl], ds["obs"].values[sl], "k.", ms=2, label="observed")
    for m in models:
        if m in ds:
            v = np.where(test, ds[m].values[i], np.nan)
            ax.plot(t[sl], v[sl], "-", lw=0.8, color=COLORS.get(m), label=m)
    ax.set_ylabel("Rs (µmol m⁻² s⁻¹)")
    ax.set_title(f"{scenario}: test samples", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pulses(ds, pulses: pd.DataFrame, scenario: str, path: Path, n_events: int = 2) -> None:
    if pulses is None or pulses.empty:
        return
    p = pulses[pulses.scenario == scenario]
    if p.empty:
        return
    ev = p.sort_values(["onset_split", "rain_24h_mm"], ascending=False).drop_duplicates("onset").head(n_events)
    i = list(ds["scenario"].values).index(scenario)
    t = pd.DatetimeIndex(ds["time"].values)
    fig, axes = plt.subplots(1, len(ev), figsize=(6 * len(ev), 3.3), squeeze=False)
    for ax, (_, e) in zip(axes[0], ev.iterrows()):
        sel = (t >= e.onset - pd.Timedelta("24h")) & (t <= e.onset + pd.Timedelta("72h"))
        ax.plot(t[sel], ds["obs"].values[sel], "k.-", ms=3, lw=0.5, label="observed")
        for m in p.model.unique():
            ax.plot(t[sel], ds[m].values[i][sel], "-", lw=1, color=COLORS.get(m), label=m)
        if "precip_mm" in ds:
            ax2 = ax.twinx()
            ax2.bar(t[sel], ds["precip_mm"].values[sel], width=0.03, color="tab:blue", alpha=0.3)
            ax2.set_ylabel("rain (mm)")
        ax.axvline(e.onset, color="b", ls="--", lw=0.8)
        ax.set_title(
            f"rain pulse {e.onset:%Y-%m-%d %H:%M}, {e.rain_24h_mm:.1f} mm/24 h "
            f"({'test' if e.onset_split == 2 else 'train/val'})",
            fontsize=9,
        )
        ax.tick_params(axis="x", labelsize=7)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _img(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" style="max-width:100%"><figcaption>{path.name}</figcaption></figure>'


def write_report(out: Path, *, table, mi, sweep, ds, pulses, summary) -> Path:
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    plot_sweep(sweep, figs / "sweep.png")
    for s in ds["scenario"].values:
        plot_test_series(ds, str(s), figs / f"test_series_{s}.png")
        plot_pulses(ds, pulses, str(s), figs / f"rain_pulses_{s}.png")
    test = sweep[sweep.split == "test"].drop(columns=["split"]).round(3)
    pulse_tab = (
        ""
        if pulses is None or pulses.empty
        else pulses.groupby(["scenario", "model"])[["peak_ratio", "timing_error_hours"]].median().round(2).to_html()
    )
    peaks = mi.groupby("driver").apply(
        lambda g: g.loc[g.mi_nats.idxmax(), ["lag_hours", "mi_nats"]] if g.mi_nats.notna().any() else None,
        include_groups=False,
    )
    parts = [
        f"<h1>soilco2 S2 — {html.escape(str(summary.get('site')))}</h1>",
        "<p>Sub-daily knowledge-guided LSTM (past drivers read forward, next 24 h of soil temperature read "
        "backward) against one-way LSTM, MLPs and Q10 models. Lag τ pairs flux(t) with driver(t−τ); "
        "τ&lt;0 is the driver's future.</p>",
        *(
            [
                (
                    "<div style='background:#fff3cd;padding:6px'><b>Warnings</b><ul>"
                    + "".join(f"<li>{html.escape(w)}</li>" for w in summary["warnings"])
                    + "</ul></div>"
                )
            ]
            if summary.get("warnings")
            else []
        ),
        "<h2>Summary</h2><pre>"
        + html.escape(json.dumps({k: summary[k] for k in summary if k not in ("window_drops",)}, indent=1, default=str))
        + "</pre>",
        "<h2>Mutual information</h2>",
        _img(figs / "mi_lags.png"),
        peaks.to_html() if len(peaks) else "",
        "<h2>Sweep (test split)</h2>",
        _img(figs / "sweep.png"),
        test.to_html(index=False),
    ]
    for s in ds["scenario"].values:
        parts += [f"<h2>{s}</h2>", _img(figs / f"test_series_{s}.png"), _img(figs / f"rain_pulses_{s}.png")]
    parts += ["<h2>Rain pulses (medians over events)</h2>", pulse_tab]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>soilco2 S2</title><style>body{font-family:sans-serif;"
        "max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 5px}</style></head><body>" + "\n".join(parts) + "</body></html>"
    )
    path = out / "index.html"
    path.write_text(page)
    return path
