"""Assemble RUN/report/: index.html (self-contained), figures/*.png, tables/*.{parquet,csv},
diagnostics.json."""

from __future__ import annotations

import base64
import html
import json
import subprocess
import time
from pathlib import Path

import pandas as pd
import yaml

from soilco2.daily.annual_totals import site_level_matches
from soilco2.daily.report import figures as F
from soilco2.daily.report.analysis import Diagnostics, RunData, analyse, find_key, load_run
from soilco2.daily.report.calibration import calibration_figure, scores_table
from soilco2.daily.report.diagnostics import MIN_DAYS_FOR_SKILL
from soilco2.daily.report.findings import findings
from soilco2.report.html import Section, figure_html, page, png_bytes, table_html

DATA_VERSIONS = {
    "COSORE": "github.com/bpbond/cosore inst/extdata, commit 02f32e8 (2021 state, close to release 0.7); CC BY 4.0",
    "SRDB": "github.com/bpbond/srdb srdb-data.csv, commit ddeee84 (2022-10-09, v5)",
    "BIOME4 climatology": "github.com/jedokaplan/BIOME4 BIOME4_inputdata.nc, commit 4ad9dff (0.5°)",
    "Land fraction": "fractional_land.0.5-deg.nc (SRDB repository)",
}
PER_SITE_COLUMNS = [
    "site",
    "class",
    "test_nse",
    "test_kge",
    "test_r",
    "test_nse_level_removed",
    "test_level_share",
    "test_amplitude_share",
    "test_timing_share",
    "test_alpha",
    "test_beta",
    "test_insitu_drivers",
    "n_obs_days",
    "n_test_days",
    "acf_1",
    "acf_182",
    "acf_365",
    "summer_minus_winter_umol_m2_s",
    "mean_flux_umol_m2_s",
    "lat",
    "lon",
    "igbp",
    "mat_c",
    "map_mm",
    "pet_mm_yr",
    "aridity_pet_p",
    "soc_mg_ha",
]

DISPLAY_NAMES = {
    "test_nse": "test NSE",
    "test_kge": "test KGE",
    "test_r": "test r",
    "test_nse_level_removed": "test NSE, level removed",
    "test_level_share": "MSE share: level",
    "test_amplitude_share": "MSE share: amplitude",
    "test_timing_share": "MSE share: timing",
    "test_alpha": "α (σs/σo)",
    "test_beta": "β (μs/μo)",
    "test_insitu_drivers": "in-situ drivers (test days)",
    "n_obs_days": "observed days",
    "n_test_days": "test days",
    "acf_1": "ACF 1 d",
    "acf_182": "ACF 182 d",
    "acf_365": "ACF 365 d",
    "summer_minus_winter_umol_m2_s": "summer − winter (µmol m⁻² s⁻¹)",
    "mean_flux_umol_m2_s": "mean flux (µmol m⁻² s⁻¹)",
    "lat": "lat (°N)",
    "lon": "lon (°E)",
    "igbp": "IGBP",
    "mat_c": "MAT (°C)",
    "map_mm": "MAP (mm)",
    "pet_mm_yr": "PET (mm yr⁻¹)",
    "aridity_pet_p": "PET/P",
    "soc_mg_ha": "SOC (Mg C ha⁻¹)",
}


def git_commit() -> str:
    """The soilco2 checkout's commit (+ '-dirty'), or 'unknown' outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return sha.stdout.strip()[:12] + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _land(data_root, notes: list[str]):
    try:
        from soilco2.sources.grids import land_fraction

        return land_fraction(data_root)
    except Exception as err:  # noqa: BLE001 — the map still works without its background
        notes.append(f"map drawn without land background ({err.__class__.__name__}: {err})")
        return None


def _write_tables(d: Diagnostics, out: Path) -> dict[str, str]:
    tables = {
        "per_site": d.per_site,
        "correlations": d.correlations,
        "share_good": d.share_good,
        "extremes": d.extremes,
        "spikes": d.spikes,
        "pooled_parts": d.pooled_parts,
        "annual_totals": d.annual,
        "srdb_matches": d.srdb_matches,
        "error_parts": d.error_parts,
        "summary": d.summary,
    }
    (out / "tables").mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, t in tables.items():
        t.to_parquet(out / "tables" / f"{name}.parquet", index=False)
        t.to_csv(out / "tables" / f"{name}.csv", index=False)
        paths[name] = f"tables/{name}.csv"
    return paths


def _agreement_table(a: dict) -> pd.DataFrame:
    if not a.get("n_records"):
        return pd.DataFrame({"comparison": ["no SRDB record within range"]})
    labels = {
        "sites": "per site (median of nearby records vs mean predicted year)",
        "same_year": "same calendar year (record vs that year's total)",
        "records": "all record pairs",
    }
    return pd.DataFrame(
        [
            {
                "comparison": lab,
                "n": a[f"{k}_n"],
                "r": a[f"{k}_r"],
                "bias (g C m⁻² yr⁻¹)": a[f"{k}_bias_gc_m2_yr"],
                "RMSE (g C m⁻² yr⁻¹)": a[f"{k}_rmse_gc_m2_yr"],
                "median ratio predicted/SRDB": a[f"{k}_median_ratio_pred_over_srdb"],
            }
            for k, lab in labels.items()
        ]
    )


def _median_parts(t: pd.DataFrame) -> pd.DataFrame:
    if t.empty:
        return t
    t = t[t["split"] == "test"]
    return (
        t.groupby("part", sort=False)
        .agg(
            sites=("site", "nunique"),
            sites_with_skill=("nse", "count"),
            days=("n", "sum"),
            median_nse=("nse", "median"),
            median_kge=("kge", "median"),
            median_bias_umol_m2_s=("bias_umol_m2_s", "median"),
        )
        .reset_index()
    )


def build_report(run: Path, out: Path | None = None, data_root=None, max_km: float = 5.0, tick=None) -> Path:
    """Compute all diagnostics for ``run`` and write ``RUN/report`` (or ``out``); returns index.html."""
    t0 = time.perf_counter()
    tick = tick or (lambda _m: None)
    rd: RunData = load_run(run)
    out = Path(out) if out else Path(run) / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    d = analyse(rd, data_root=data_root, max_km=max_km, tick=tick)
    table_paths = _write_tables(d, out)

    tick("figures")
    import matplotlib.pyplot as plt

    examples = F.pick_example_sites(d.per_site)
    figs = [
        (
            "site_map",
            F.site_map(d.per_site, _land(data_root, d.notes)),
            "Sites coloured by LSTM test class (good: NSE > 0.5 and KGE > 0.3; poor: NSE < 0 or KGE < 0). "
            "Dotted lines: 30° and 60° N.",
        ),
        ("mat_map", F.mat_map_scatter(d.per_site), "Mean annual temperature and precipitation (0.5° climatology)."),
        (
            "series",
            F.series_panels(rd.preds, examples, d.per_site),
            "Three good, three fair and three poor sites (those nearest their class's median test NSE). "
            "Grey: test period; band: the 90 % predictive interval (5th–95th percentile) when the run has one.",
        ),
        (
            "temperature_response",
            F.temperature_response(rd.preds, examples),
            "Soil temperature (run's driver) vs observed and predicted flux on observed days.",
        ),
        ("metrics_vs_obs_days", F.metrics_vs_obs_days(d.per_site), "Test metrics vs the number of observed days."),
        (
            "correlations",
            F.correlation_heatmap(d.correlations),
            "Pearson r between each test metric and each attribute.",
        ),
        (
            "metrics_vs_attributes_kge",
            F.metrics_vs_attributes(d.per_site, d.correlations, "test_kge"),
            "Test KGE vs every attribute and data characteristic.",
        ),
        (
            "metrics_vs_attributes_nse",
            F.metrics_vs_attributes(d.per_site, d.correlations, "test_nse"),
            "Test NSE vs every attribute (r over all sites; IQR-cleaned r in the table).",
        ),
        (
            "extremes_spikes",
            F.extremes_and_spikes(d.extremes, d.pooled_days),
            "Per-site test NSE and KGE on the bottom 5 %, middle 90 % and top 5 % of observed values (sites with "
            f"≥ {MIN_DAYS_FOR_SKILL} days in the part); daily errors of all sites' test days by part; observed vs "
            "predicted on spike days (|z| > 3 in a centred 30-day window).",
        ),
        (
            "error_parts",
            F.error_parts(d.per_site),
            "Left: each site's test MSE split into level, amplitude and timing (Murphy 1988; Gupta et al. 2009). "
            "Right: test NSE as predicted vs with the level error removed (the prediction shifted to the observed "
            "test mean).",
        ),
        (
            "annual_vs_srdb",
            F.annual_vs_srdb(d.srdb_matches, site_level_matches(d.srdb_matches)),
            f"Annual totals integrated from the daily LSTM prediction vs SRDB annual Rs within {max_km:g} km.",
        ),
    ]
    calib = calibration_figure(rd.preds)
    if calib is not None:
        figs.append(("calibration", calib, "Left: share of days whose observation lies in the central interval of "
                     "each nominal level (the 1:1 line is a calibrated distribution). Right: PIT histogram (flat "
                     "when calibrated; a U shape means too narrow, a hump too wide)."))  # fmt: skip
    uris = {}
    for name, fig, _cap in figs:
        png = png_bytes(fig, dpi=100)
        (out / "figures" / f"{name}.png").write_bytes(png)
        uris[name] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        plt.close(fig)
    fig_html = {name: figure_html(uris[name], html.escape(cap), name) for name, _f, cap in figs}

    tick("HTML")
    per_site = d.per_site[[c for c in PER_SITE_COLUMNS if c in d.per_site]].sort_values("test_nse", ascending=False)
    summ = d.summary
    paper_rows = ["paper" if m.startswith("paper") else "" for m in summ["model"]]
    corr_sig = d.correlations[d.correlations["p"] < 0.05].sort_values("p")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in d.notes)
    seed, members = find_key(rd.config, "seed"), find_key(rd.config, "ensemble")
    prov = pd.DataFrame(
        {
            "item": ["run folder", "soilco2 commit (report)", "seed", "generated (UTC)", "report seconds"]
            + list(DATA_VERSIONS),
            "value": [
                str(Path(run).resolve()),
                git_commit(),
                f"{seed} (ensemble members: {members})",
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                f"{time.perf_counter() - t0:.1f} (before writing the page)",
            ]
            + list(DATA_VERSIONS.values()),
        }
    )
    for k in ("git_commit", "commit", "soilco2_commit"):
        if k in rd.summary:
            prov.loc[len(prov)] = ["soilco2 commit (training run)", str(rd.summary[k])]
    agree = _agreement_table(d.srdb_agreement)
    ann_cov = (
        d.annual.assign(complete=d.annual["total_gc_m2_yr"].notna())
        .groupby("site")
        .agg(
            years=("year", "count"),
            complete_years=("complete", "sum"),
            median_total_gc_m2_yr=("total_gc_m2_yr", "median"),
        )
        .reset_index()
        if len(d.annual)
        else pd.DataFrame()
    )
    sections = [
        Section(
            "Summary",
            findings(d)
            + notes
            + table_html(summ, row_class=paper_rows)
            + "<p>Medians across sites per model and split (baselines on the same split and metrics); the shaded "
            "rows are the daily paper's published numbers (Smykalov, Bond-Lamberty, Vargas &amp; Li 2025).</p>",
            "summary",
        ),
        Section(
            "Where the model works",
            fig_html["site_map"]
            + fig_html["mat_map"]
            + "<h3>Share of good sites (and median test NSE/KGE) by latitude band, MAT, MAP, observed days and the "
            "in-situ drivers on the test days</h3>" + table_html(d.share_good),
            "where",
        ),
        Section("Example sites", fig_html["series"] + fig_html["temperature_response"], "examples"),
        Section(
            "Predictive distribution",
            (fig_html["calibration"] + table_html(scores_table(rd.metrics, rd.summary)) if calib is not None else "")
            + "<p>The band is the LSTM's predictive distribution: split-conformal in log space around each ensemble "
            "member, calibrated on the last days of each site's training period that a second ensemble of the same "
            "recipe did not train on; the members pooled as a mixture; every quantile positive.</p>",
            "distribution",
        ),
        Section(
            "What drives performance",
            fig_html["metrics_vs_obs_days"]
            + fig_html["correlations"]
            + fig_html["metrics_vs_attributes_kge"]
            + fig_html["metrics_vs_attributes_nse"]
            + f"<h3>Significant correlations (p &lt; 0.05), {len(corr_sig)} of {len(d.correlations)}</h3>"
            + table_html(corr_sig, table_id="corr-table", sortable=True)
            + f"<p>Full table: <code>{table_paths['correlations']}</code>.</p>",
            "drivers",
        ),
        Section(
            "Why the test error: level, amplitude, timing",
            fig_html["error_parts"]
            + "<h3>Medians by class, observed days and in-situ drivers on the test days</h3>"
            + table_html(d.error_parts)
            + "<p>MSE = (μs − μo)² + (σs − σo)² + 2 σs σo (1 − r) on each site's test days (population moments); "
            "α = σs/σo, β = μs/μo; 'NSE level removed' = 1 − (MSE − level term)/σo².</p>",
            "errors",
        ),
        Section(
            "Extremes and pulses",
            fig_html["extremes_spikes"]
            + "<h3>Medians across sites (test period)</h3>"
            + table_html(_median_parts(d.extremes))
            + table_html(_median_parts(d.spikes))
            + f"<p>NSE, KGE and r need at least {MIN_DAYS_FOR_SKILL} days in a part (else NaN; the mean error is "
            "kept).</p><h3>All sites' test days pooled</h3>" + table_html(d.pooled_parts),
            "extremes",
        ),
        Section(
            "Across scales: annual totals vs SRDB",
            fig_html["annual_vs_srdb"]
            + table_html(agree)
            + table_html(d.srdb_matches, scroll=True, digits=1)
            + "<h3>Predicted annual totals per site (calendar years)</h3>"
            + table_html(ann_cov, scroll=True, digits=0),
            "scales",
        ),
        Section(
            f"Per-site table ({len(per_site)} sites, click a header to sort)",
            table_html(
                per_site.rename(columns=DISPLAY_NAMES),
                table_id="site-table",
                sortable=True,
                class_column="class",
                scroll=True,
            ),
            "sites",
        ),
        Section(
            "Methods and provenance",
            _methods(max_km)
            + table_html(prov, digits=1)
            + "<h3>Run configuration</h3><pre>"
            + html.escape(yaml.safe_dump(rd.config, sort_keys=False))
            + "</pre>",
            "provenance",
        ),
    ]
    index = out / "index.html"
    title = f"Daily soil respiration report — {Path(run).resolve().name}"
    intro = (
        f"<p>{len(per_site)} sites; LSTM test metrics per site with the daily paper's diagnostics. Tables: "
        "<code>tables/*.csv|parquet</code>; figures: <code>figures/*.png</code>.</p>"
    )
    index.write_text(page(title, intro, sections), encoding="utf-8")
    elapsed = time.perf_counter() - t0
    (out / "diagnostics.json").write_text(
        json.dumps(
            {
                "srdb_agreement": d.srdb_agreement,
                "notes": d.notes,
                "n_sites": int(len(per_site)),
                "examples": examples,
                "report_seconds": round(elapsed, 2),
                "summary": json.loads(d.summary.to_json(orient="records")),
            },
            indent=2,
            default=str,
        )
    )
    return index


def _methods(max_km: float) -> str:
    items = [
        "Daily series on a regular axis; autocorrelation at lag k = Pearson r of all pairs (t, t+k) where both days "
        "are observed (≥ 10 pairs). Lags 1 d (smoothness), 182 d (seasonality), 365 d (cyclicity).",
        "Summer − winter: mean observed flux in JJA minus DJF (north), DJF minus JJA (south).",
        "PET: Hargreaves (1975) radiation form, PET = 0.0135 (T + 17.8) Rs, with Rs from FAO-56 extraterrestrial "
        "radiation at the site latitude and Angström–Prescott (0.25 + 0.50 n/N) using the BIOME4 sunshine "
        "fraction; monthly BIOME4 0.5° climatology. Aridity = PET / MAP.",
        "Correlations: Pearson r and two-sided p across sites; NSE also after removing sites whose NSE is outside "
        "[Q1 − 1.5 IQR, Q3 + 1.5 IQR].",
        "Extremes: quantiles of observed test values per site (≤ 5 %, middle, ≥ 95 %). Spikes: |x − mean| > 3 sd in a "
        "centred 30-day window of observed days (≥ 10 observed days in the window) over the whole observed series.",
        "Annual totals: daily LSTM prediction × 12.011e-6 × 86400 g C m⁻² per day, summed per calendar year; a year "
        "with 90–99 % of its days predicted is scaled up from its daily mean (flag 'scaled'); sparser years have no "
        f"total. SRDB: unmanipulated records with Rs_annual within {max_km:g} km (great circle); the same calendar "
        "year as the study mid-year when predicted, otherwise the mean of the site's complete years.",
        "Classes (daily paper): good = test NSE > 0.5 and KGE > 0.3; poor = NSE < 0 or KGE < 0; fair otherwise.",
    ]
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
