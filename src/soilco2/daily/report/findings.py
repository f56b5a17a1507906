"""The "Findings" paragraph of the S1 report: what the diagnostics say, in sentences with their
figures."""

from __future__ import annotations

import html

import numpy as np

from soilco2.daily.report.analysis import PAPER, Diagnostics
from soilco2.daily.report.diagnostics import INSITU_GROUPING, PARTIAL_DAY_FRACTION
from soilco2.metrics import bootstrap_ci


def findings(d: Diagnostics) -> str:
    """A few sentences computed from the numbers (no hand-written claims)."""
    s, c = d.summary, d.correlations
    lstm = s[(s["model"] == "lstm") & (s["split"] == "test")]
    items = []
    if len(lstm):
        r = lstm.iloc[0]
        ci = {k: bootstrap_ci(d.per_site[f"test_{k}"]) for k in ("nse", "kge")}
        items.append(
            f"LSTM median test NSE {r.median_nse:.2f} (95 % bootstrap interval over sites {ci['nse'][0]:.2f}–"
            f"{ci['nse'][1]:.2f}), KGE {r.median_kge:.2f} ({ci['kge'][0]:.2f}–{ci['kge'][1]:.2f}); "
            f"{int(r.n_good)} of {int(r.n_sites)} sites good ({r.share_good:.0%}). Paper: NSE "
            f"{PAPER['test']['median_nse']:.2f}, KGE {PAPER['test']['median_kge']:.2f}, {PAPER['n_good']} of "
            f"{PAPER['n_sites']} good."
        )
    for attr, label in (
        ("n_obs_days", "data length"),
        ("acf_365", "cyclicity (ACF 365 d)"),
        ("acf_182", "seasonality (ACF 182 d)"),
        ("acf_1", "smoothness (ACF 1 d)"),
    ):
        for metric, outl in (("test_nse", "iqr_removed"), ("test_kge", "kept")):
            row = c[(c.metric == metric) & (c.attribute == attr) & (c.outliers == outl)]
            if len(row) and np.isfinite(row.iloc[0].r):
                rr = row.iloc[0]
                sig = "significant" if rr.p < 0.05 else "not significant"
                items.append(
                    f"{label} vs {metric.replace('test_', 'test ').upper().replace('TEST ', 'test ')}"
                    f"{' (IQR outliers removed)' if outl != 'kept' else ''}: r = {rr.r:.2f}, p = {rr.p:.2g} "
                    f"(n = {rr.n}, {sig})."
                )
    lat = d.share_good[d.share_good["grouping"] == "latitude band"]
    if len(lat):
        items.append(
            "Share good by latitude band: "
            + "; ".join(
                f"{b}: {g} of {n} ({sh:.0%})"
                for b, g, n, sh in zip(lat["bin"], lat["n_good"], lat["n_sites"], lat["share_good"])
            )
            + "."
        )
    for grouping, label in (
        ("observed days", "By observed days"),
        (INSITU_GROUPING, "By the in-situ drivers measured on the test days"),
    ):
        g = d.share_good[d.share_good["grouping"] == grouping]
        if len(g) and "median_test_kge" in g:
            items.append(
                f"{label}: "
                + "; ".join(
                    f"{b}: {n} sites, median test NSE {ns:.2f} / KGE {k:.2f}, {sh:.0%} good"
                    for b, n, ns, k, sh in zip(
                        g["bin"], g["n_sites"], g["median_test_nse"], g["median_test_kge"], g["share_good"]
                    )
                )
                + "."
            )
    parts = d.error_parts
    if len(parts) and parts.iloc[0].n_sites > 0:
        p = parts.iloc[0]
        items.append(
            f"Test error by source (median share of each site's test MSE, {int(p.n_sites)} sites): level "
            f"{p.median_level_share:.0%}, amplitude {p.median_amplitude_share:.0%}, timing "
            f"{p.median_timing_share:.0%}; median α {p.median_alpha:.2f}, β {p.median_beta:.2f}; median test "
            f"NSE {p.median_nse:.2f}, {p.median_nse_level_removed:.2f} with the level error removed."
        )
    items += partial_day_finding(d)
    a = d.srdb_agreement
    if a.get("n_records"):
        items.append(
            f"Annual totals vs SRDB within range: {a['n_sites']} sites, {a['n_records']} records "
            f"({a['n_same_year']} in a predicted year). Per site (median of its records): "
            f"r = {a['sites_r']:.2f}, bias {a['sites_bias_gc_m2_yr']:+.0f} g C m⁻² yr⁻¹, median ratio "
            f"predicted/SRDB {a['sites_median_ratio_pred_over_srdb']:.2f}."
        )
    return "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>"


def partial_day_finding(d: Diagnostics) -> list[str]:
    """How much of the test error falls on partial days (fewer records than half the site's median)."""
    t, pooled = d.per_site, d.pooled_days
    if "test_partial_mse_share" not in t or not len(pooled):
        return []
    days = pooled[pooled["part"].isin(["partial_days", "full_days"])]
    se = (days["sim"] - days["obs"]) ** 2
    partial = days["part"] == "partial_days"
    heavy = t[t["test_partial_mse_share"] > 0.5]
    se_share = se[partial].sum() / se.sum() if se.sum() > 0 else np.nan
    return [
        f"Partial days (fewer flux records than {PARTIAL_DAY_FRACTION:.0%} of the site's median per observed "
        f"day): {partial.mean():.0%} of all sites' test days, {se_share:.0%} of their pooled squared error; "
        + (
            f"they carry more than half of the test MSE at {len(heavy)} site(s), {(heavy['class'] == 'poor').sum()} "
            f"of them poor ({', '.join(heavy['site'])}). "
            if len(heavy)
            else "they carry more than half of the test MSE at no site. "
        )
        + f"On full days only the median test NSE is "
        f"{t['test_nse_full_days'].median():.2f} and KGE {t['test_kge_full_days'].median():.2f} (a diagnostic: "
        "every score above uses all observed days)."
    ]
