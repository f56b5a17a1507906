"""S2 figures (PNG) and a self-contained HTML page for a sub-daily run folder."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from soilco2.report.html import Section, figure_html, page, table_html  # noqa: E402

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
    fig, axes = plt.subplots(1, len(drivers), figsize=(4.0 * len(drivers), 3.4), squeeze=False, constrained_layout=True)
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
        ax.set_xlabel("lag τ (h), driver at t − τ")
        ax.set_ylabel("mutual information (nats)")
    fig.suptitle(f"{title} lagged mutual information with soil respiration (τ < 0: the driver's future)", fontsize=10)
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
    fig = test_series_figure(ds, scenario, models)
    if fig is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)


def test_series_figure(ds, scenario: str, models=("pastfuture_lstm", "oneway_lstm", "q10_swc_logistic")):
    """Observed dots and each model's line over the test samples of ``scenario`` (None: no test)."""
    i = list(ds["scenario"].values).index(scenario)
    split = ds["split"].values[i]
    test = split == 2
    if not test.any():
        return None
    t = pd.DatetimeIndex(ds["time"].values)
    lo, hi = np.flatnonzero(test)[[0, -1]]
    sl = slice(lo, hi + 1)
    fig, ax = plt.subplots(figsize=(12, 3.5))
    ax.plot(t[sl], ds["obs"].values[sl], "k.", ms=2, label="observed")
    for m in models:
        if m in ds:
            v = np.where(test, ds[m].values[i], np.nan)[sl]
            ok = np.isfinite(v)  # samples every few steps: join them, not the empty steps between
            ax.plot(t[sl][ok], v[ok], "-", lw=0.8, color=COLORS.get(m), label=m)
    ax.set_ylabel("Rs (µmol m⁻² s⁻¹)")
    ax.set_xlabel("local standard time")
    ax.set_title(f"{scenario}: test samples", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


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
            v = ds[m].values[i][sel]
            ok = np.isfinite(v)
            ax.plot(t[sel][ok], v[ok], "-", lw=1, color=COLORS.get(m), label=m)
        ax.set_ylabel("Rs (µmol m⁻² s⁻¹)")
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


CAPTIONS = {
    "mi_lags.png": "Lagged mutual information between each candidate driver and soil respiration on the "
    "non-test samples; the dashed line marks the peak lag that chose the driver's branch.",
    "sweep.png": "Test skill of each model against the length of the past window (single seeds; the "
    "dotted lines are the Q10 models, which use no past window).",
}


def _caption(name: str) -> str:
    if name in CAPTIONS:
        return CAPTIONS[name]
    stem = name.removesuffix(".png")
    if stem.startswith("test_series_"):
        return (f"{stem.removeprefix('test_series_')} scenario: observed (dots) and predicted soil respiration over "
                "the test samples, for the headline models.")  # fmt: skip
    if stem.startswith("rain_pulses_"):
        return (f"{stem.removeprefix('rain_pulses_')} scenario: the largest rain pulses, 24 h before to 72 h after "
                "the onset (dashed), with the rain (bars, right axis).")  # fmt: skip
    return stem.replace("_", " ")


def _img(path: Path) -> str:
    if not path.is_file():
        return ""
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return figure_html(uri, html.escape(_caption(path.name)), alt=path.stem.replace("_", " "))


def skill_table(summary: dict, scenarios) -> pd.DataFrame:
    """Scenario x model test skill of the headline predictions (from the run summary)."""
    rows = []
    for s in scenarios:
        for m, r in summary.get(str(s), {}).items():
            rows.append({"scenario": str(s), "model": m, "test_samples": r.get("n"), "nse": r.get("nse"),
                         "kge": r.get("kge"), "r": r.get("r"), "mse_umol2_m4_s2": r.get("mse"),
                         "past_hours": r.get("past_hours"), "members": r.get("members")})  # fmt: skip
    return pd.DataFrame(rows)


def facts_table(summary: dict) -> pd.DataFrame:
    """The run's settings and timings as (item, value) rows, numbers rounded."""
    h = summary.get("holdout", {})
    facts = {
        "site": summary.get("site"),
        "COSORE dataset": summary.get("dataset"),
        "past drivers": ", ".join(summary.get("inputs", {}).get("past", [])),
        "future drivers": ", ".join(summary.get("inputs", {}).get("future", [])),
        "future window (h)": summary.get("inputs", {}).get("future_hours"),
        "target transform": summary.get("target_transform"),
        "headline past window (h)": ", ".join(f"{k}: {v:g}" for k, v in summary.get("headline_past_hours", {}).items()),
        "extrapolation test from": h.get("holdout_start"),
        "MI peak lag (h)": ", ".join(f"{k}: {v:+g}" for k, v in summary.get("mi_peak_lag_hours", {}).items()),
        "sweep time (s)": round(summary.get("sweep_seconds", float("nan"))),
        "total time (s)": round(summary.get("total_seconds", float("nan"))),
    }
    return pd.DataFrame({"item": list(facts), "value": [str(v) if v is not None else "–" for v in facts.values()]})


def write_report(out: Path, *, table, mi, sweep, ds, pulses, summary) -> Path:
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    plot_sweep(sweep, figs / "sweep.png")
    for s in ds["scenario"].values:
        plot_test_series(ds, str(s), figs / f"test_series_{s}.png")
        plot_pulses(ds, pulses, str(s), figs / f"rain_pulses_{s}.png")
    test = (
        sweep[sweep.split == "test"]
        .drop(columns=["split"])
        .rename(columns={"mse": "mse_umol2_m4_s2", "rmse": "rmse_umol_m2_s"})
    )
    peaks = mi.groupby("driver").apply(
        lambda g: g.loc[g.mi_nats.idxmax(), ["lag_hours", "mi_nats"]] if g.mi_nats.notna().any() else None,
        include_groups=False,
    )
    warn = (
        '<div class="note"><b>Warnings</b><ul>'
        + "".join(f"<li>{html.escape(w)}</li>" for w in summary["warnings"])
        + "</ul></div>"
        if summary.get("warnings")
        else ""
    )
    sections = [
        Section(
            "Summary",
            warn + table_html(skill_table(summary, ds["scenario"].values), digits=3) + table_html(facts_table(summary)),
            "summary",
        ),  # fmt: skip
        Section(
            "Mutual information",
            _img(figs / "mi_lags.png") + (table_html(peaks.reset_index(), digits=3) if len(peaks) else ""),
            "mi",
        ),  # fmt: skip
        Section("Sweep (test split)", _img(figs / "sweep.png") + table_html(test, digits=3), "sweep"),
    ]
    for s in ds["scenario"].values:
        sections.append(Section(f"{s} scenario", _img(figs / f"test_series_{s}.png") + _img(figs / f"rain_pulses_{s}.png"), f"scenario-{s}"))  # fmt: skip
    if pulses is not None and not pulses.empty:
        med = pulses.groupby(["scenario", "model"])[["peak_ratio", "timing_error_hours"]].median().reset_index()
        sections.append(Section("Rain pulses (medians over events)", table_html(med, digits=2), "pulses"))
    intro = (
        "<p>Sub-daily knowledge-guided LSTM (past drivers read forward, next 24 h of soil temperature read "
        "backward) against one-way LSTM, MLPs and Q10 models. Lag τ pairs flux(t) with driver(t−τ); "
        "τ&lt;0 is the driver's future.</p>"
    )
    path = out / "index.html"
    path.write_text(page(f"soilco2 S2 — {summary.get('site')}", intro, sections))
    return path
