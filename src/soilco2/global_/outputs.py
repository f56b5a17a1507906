"""Files of an S3 run folder: Parquet tables, accounting JSON, CF NetCDF maps, PNG maps, index.html."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.files import json_default
from soilco2.global_.config import LU2021_PG_C_YR
from soilco2.global_.figures import UNITS_LABEL, extra_figures, map_figure
from soilco2.global_.strata import stratum_label

NAMES = {
    "rs": "soil respiration (Rs)",
    "rh": "heterotrophic respiration (Rh)",
    "ra": "autotrophic (root) respiration, Ra = Rs - Rh",
}
UNITS = "g C m-2 yr-1"


def runs_word(cfg) -> str:
    """What one run is, for captions: an 80/20 split or a bootstrap draw."""
    return "bootstrap draws" if cfg.sampling == "climate_strata" else f"{cfg.train_fraction:.0%} training splits"


def write_tables(out: Path, tables, accounting, cv_metrics, cv_oof, totals, boot, cfg) -> None:
    pd.concat([tables["rs"], tables["rh"]], ignore_index=True).to_parquet(out / "training_table.parquet", index=False)
    (out / "accounting.json").write_text(json.dumps(accounting, indent=2, default=json_default))
    cv_metrics.to_parquet(out / "cv_metrics.parquet", index=False)
    cv_oof.to_parquet(out / "cv_predictions.parquet", index=False)
    totals.to_parquet(out / "totals.parquet", index=False)
    if not boot["scores"].empty:
        boot["scores"].to_parquet(out / "run_scores.parquet", index=False)
    if not boot["explain"].empty:  # mean over the explained runs, with their spread
        e = boot["explain"]
        imp = e[e["kind"] == "importance"].groupby(["flux", "covariate"])["value"].agg(["mean", "std", "count"])
        names = {"mean": "mse_rise_gc2_m4_yr2", "std": "mse_rise_sd_gc2_m4_yr2", "count": "runs"}
        imp = imp.rename(columns=names).reset_index()
        imp["rank"] = imp.groupby("flux")["mse_rise_gc2_m4_yr2"].rank(ascending=False).astype(int)
        imp.sort_values(["flux", "rank"]).to_parquet(out / "importance.parquet", index=False)
        pdp = e[e["kind"] == "partial_dependence"].groupby(["flux", "covariate", "x"])["value"].agg(["mean", "std"])
        pdp = pdp.rename(columns={"mean": "pred_gc_m2_yr", "std": "pred_sd_gc_m2_yr"}).reset_index()
        pdp.rename(columns={"x": "covariate_value"}).to_parquet(  # in the covariate's own unit (its name)
            out / "partial_dependence.parquet", index=False
        )
    strata = []
    for flux, w in boot["strata"].items():
        t = w.reset_index()
        t.insert(0, "flux", flux)
        t.insert(2, "label", [stratum_label(int(s), cfg.strata) for s in t["stratum"]])
        strata.append(t)
    if strata:
        pd.concat(strata, ignore_index=True).to_parquet(out / "strata.parquet", index=False)
    bins = [t.reset_index().assign(table=name) for name, t in boot["bins"].items()]
    if bins:  # record share vs area share per vegetation bin (Lu et al. 2021, Fig. S1)
        pd.concat(bins, ignore_index=True).to_parquet(out / "vegetation_bins.parquet", index=False)


def _full(values: np.ndarray, grid_shape, i, j) -> np.ndarray:
    a = np.full(grid_shape, np.nan, "f4")
    a[i, j] = values
    return a


def cell_stats(boot) -> dict[str, dict[str, np.ndarray]]:
    """Per mapped cell, :func:`~soilco2.global_.runs.cell_statistics` over the runs for
    Rs, Rh, Ra and the ratios Rh/Rs, Ra/Rs (computed once: the maps, the figures and the summary's
    area integrals of the per-cell spread all read them)."""
    from soilco2.global_.runs import cell_statistics

    draws = dict(boot["draws"])
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = draws["rs"]
        draws["rh_rs"] = np.where(rs > 0, draws["rh"] / rs, np.nan).astype("f4")
        draws["ra_rs"] = np.where(rs > 0, draws["ra"] / rs, np.nan).astype("f4")
    draws.pop("fraction", None)
    return {flux: cell_statistics(np.nan_to_num(d) if flux not in NAMES else d) for flux, d in draws.items()}


def map_arrays(grid: pd.DataFrame, cells: pd.DataFrame, stats: dict, boot, cfg) -> dict:
    """Full-grid (lat, lon) arrays: <q>_mean / _median / _sd / _mad / _cv_pct / _p05 / _p95 over
    the runs for Rs, Rh, Ra and the ratios Rh/Rs, Ra/Rs (``stats``: :func:`cell_stats`);
    <flux>_qrf_qNN the forests' quantiles."""
    from soilco2.models.forest import quantile_name

    shape, i, j = grid.attrs["shape"], cells["i"].to_numpy(), cells["j"].to_numpy()
    arrays = {}
    for flux, st in stats.items():
        label = NAMES.get(flux, {"rh_rs": "ratio Rh/Rs", "ra_rs": "ratio Ra/Rs"}.get(flux, flux))
        units = UNITS if flux in NAMES else "1"
        for name, v in st.items():
            what = "of the forest mean" if name in ("p05", "p95") else ""
            arrays[f"{flux}_{name}"] = (
                _full(v, shape, i, j),
                f"{label}, {name} over {cfg.n_bootstrap} runs {what}".strip(),
                "percent" if name == "cv_pct" else units,
            )
    for flux, qs in boot["qrf"].items():
        for k, q in enumerate(cfg.quantiles):
            arrays[f"{flux}_qrf_{quantile_name(q)}"] = (
                _full(qs[k], shape, i, j),
                f"{NAMES[flux]}, forest conditional quantile {q:g} (mean over runs)",
                UNITS,
            )
    from soilco2.global_.intervals import widen

    qs = list(cfg.quantiles)
    for flux, c in boot.get("interval_correction", {}).items():
        if flux not in boot["qrf"] or not np.isfinite(c):
            continue
        lo, hi = widen(boot["qrf"][flux][qs.index(0.05)], boot["qrf"][flux][qs.index(0.95)], c)
        for name, v, what in (("q05", lo, "5th"), ("q95", hi, "95th")):
            arrays[f"{flux}_{name}_calibrated"] = (
                _full(v, shape, i, j),
                f"{NAMES[flux]}, {what} percentile for a location without records: the forests' quantile "
                f"conformalized under grouped CV (log factor {c:+.3f})",
                UNITS,
            )
    return arrays


def write_maps(path: Path, grid: pd.DataFrame, cells: pd.DataFrame, boot, cfg, maps: dict, record_years=None) -> None:
    """``maps``: the output of :func:`map_arrays` (computed once, shared with the figures);
    ``record_years``: first and last mid-year of the training records (the maps' time bounds)."""
    import xarray as xr

    from soilco2 import cf
    from soilco2.sources.grids import cell_area_m2

    lat, lon = grid.attrs["lat"], grid.attrs["lon"]
    shape = grid.attrs["shape"]
    data = {}
    for name, (arr, long_name, units) in maps.items():
        flux, stat = name.split("_")[0], name.split("_", 1)[1]
        attrs = {"units": units, "long_name": long_name}
        if units == UNITS:
            # the spread (sd, mad) is not the quantity itself: no standard name there
            attrs = cf.carbon_flux_attrs(None if stat in ("sd", "mad") else flux, long_name)
            attrs["cell_methods"] = "time: mean"
        data[name] = (("lat", "lon"), arr, attrs)
    lf = _full(grid["land_fraction"].to_numpy(), shape, grid["i"], grid["j"])
    data["land_fraction"] = (
        ("lat", "lon"),
        np.nan_to_num(lf),
        {"units": "1", "long_name": "fraction of cell that is land", "standard_name": "land_area_fraction"},
    )
    data["cell_area"] = (
        ("lat", "lon"),
        np.broadcast_to(cell_area_m2(lat)[:, None], shape).astype("f8"),
        {"units": "m2", "long_name": "area of the 0.5 degree cell", "standard_name": "cell_area"},
    )
    if "cell_strata" in boot:
        strata = np.full(shape, -1, "i2")
        strata[cells["i"], cells["j"]] = boot["cell_strata"]
        values = np.unique(boot["cell_strata"]).astype("i2")
        data["stratum"] = (
            ("lat", "lon"),
            strata,
            {
                "long_name": "climate stratum (MAT class x MAP class), -1 not mapped",
                "flag_values": np.concatenate([[-1], values]).astype("i2"),
                "flag_meanings": " ".join(
                    ["not_mapped"] + [_flag_word(stratum_label(int(v), cfg.strata)) for v in values]
                ),
            },
        )
    for flux, n_out in boot.get("outside", {}).items():
        a = np.full(shape, -1, "i1")
        a[cells["i"], cells["j"]] = n_out
        data[f"{flux}_n_covariates_outside_training"] = (
            ("lat", "lon"),
            a,
            {
                "units": "1",
                "_FillValue": np.int8(-1),
                "long_name": f"number of covariates outside the min-max range of the {flux} training records "
                "(0: no extrapolation; missing: not mapped)",
            },
        )
    coords = {
        "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude of cell centre", "axis": "Y"}),
        "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude of cell centre", "axis": "X"}),
    }  # fmt: skip
    if record_years is not None:  # the period the SRDB records span (the climate is a long-term mean)
        first, last = int(np.floor(record_years[0])), int(np.ceil(record_years[1]))
        bounds = np.array([f"{first}-01-01", f"{last + 1}-01-01"], "datetime64[D]")
        coords["time"] = ((), bounds[0] + (bounds[1] - bounds[0]) // 2, {"standard_name": "time", "bounds": "time_bnds", "long_name": "middle of the years of the training records"})  # fmt: skip
        data["time_bnds"] = (("nv",), bounds, {})
    ds = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "title": "Annual soil respiration (Rs, Rh, Ra) at 0.5 degree from SRDB v5 with quantile forests",
            "source": "soilco2 global run: SRDB v5 (Jian et al. 2021), BIOME4 climatology, SOC 0-30 cm (Sanderman et al. 2017)",
            "method": f"quantile random forests, {cfg.n_bootstrap} runs, sampling {cfg.sampling}, Rh model "
            f"{cfg.rh_model} (after Lu et al. 2021, ERL 16 054048)",
            "comment": "climate covariates are a long-term monthly mean (BIOME4 inputs); the time bounds are the "
            "first and last mid-year of the SRDB training records",
            "n_bootstrap": cfg.n_bootstrap,
            "seed": cfg.seed,
        },
    )
    cf.write(ds, path, atomic=False)


def _flag_word(label: str) -> str:
    """A stratum label as one flag_meanings word."""
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_") or "stratum"


def _strata_html(boot, cfg) -> str:
    from soilco2.report.html import table_html

    parts = []
    for flux, w in boot["strata"].items():
        t = w.reset_index()
        t.insert(1, "label", [stratum_label(int(sid), cfg.strata) for sid in t["stratum"]])
        parts.append(f"<h3>{flux.upper()}</h3>" + table_html(t, digits=3))
    for name, t in boot["bins"].items():
        parts.append(
            f"<h3>{name.upper()}: record share vs share of vegetated area</h3>" + table_html(t.reset_index(), digits=3)
        )
    return "".join(parts)


def write_figures_and_html(
    out: Path, cells, grid, boot, totals, cv_metrics, cv_oof, summary, accounting, cfg, maps: dict
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from soilco2.report.html import Section, figure_html, page, png_data_uri, table_html

    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    arrays = {k: v[0] for k, v in maps.items()}
    for flux in ("rs", "rh", "ra"):
        arrays[f"{flux}_width"] = arrays[f"{flux}_p95"] - arrays[f"{flux}_p05"]
    figs = {
        "maps_median": (
            map_figure(
                arrays,
                ["rs_median", "rh_median", "ra_median"],
                [f"{NAMES[f]}: median of runs" for f in ("rs", "rh", "ra")],
                "viridis",
            ),
            f"Median over the {cfg.n_bootstrap} runs ({runs_word(cfg)}) of each run's forest-mean map.",
        ),
        "maps_interval": (
            map_figure(
                arrays,
                ["rs_width", "rh_width", "ra_width"],
                [f"{NAMES[f]}: p95 - p05 of draws" for f in ("rs", "rh", "ra")],
                "magma",
            ),
            f"Width of the 5-95 % range of the runs' maps ({runs_word(cfg)}): the sampling uncertainty of the map.",
        ),
    }
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), constrained_layout=True)
    for ax, f in zip(axes, ("rs", "rh", "ra")):
        both = np.concatenate([totals[f"{f}_pg_c_yr"], totals[f"{f}_from_q50_pg_c_yr"].dropna()])
        bins = np.histogram_bin_edges(both, bins=min(30, max(6, len(totals) // 2)))
        ax.hist(totals[f"{f}_pg_c_yr"], bins=bins, color="#4c72b0", alpha=0.8, label="forest mean")
        ax.hist(totals[f"{f}_from_q50_pg_c_yr"].dropna(), bins=bins, color="#999999", alpha=0.8, label="forest median")
        ax.axvline(LU2021_PG_C_YR[f], color="#d95f02", lw=2, label="Lu et al. 2021")
        ax.set_xlabel(f"{f.upper()} global total (Pg C yr⁻¹)")
        ax.set_ylabel("runs")
        ax.legend(fontsize=8)
    figs["totals"] = (
        fig,
        f"Global totals of each run ({runs_word(cfg)}), from its forest-mean map (blue) and "
        "forest-median map (grey); orange: Lu et al. 2021.",
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
    for ax, f in zip(axes, ("rs", "rh")):
        d = cv_oof[cv_oof["flux"] == f]
        ax.scatter(d["obs_gc_m2_yr"], d["pred_mean_gc_m2_yr"], s=5, alpha=0.4)
        top = float(np.nanmax(d[["obs_gc_m2_yr", "pred_mean_gc_m2_yr"]].to_numpy()))
        ax.plot([0, top], [0, top], "k--", lw=1)
        ax.set_xlabel(f"observed {f.upper()} ({UNITS_LABEL})")
        ax.set_ylabel(f"out-of-fold forest mean ({UNITS_LABEL})")
    figs["cv_scatter"] = (fig, f"Grouped {cfg.cv_folds}-fold CV: no {cfg.cv_group_deg:g} degree cell is in two folds.")
    figs.update(extra_figures(out, plt))
    body = {}
    for name, (fig, caption) in figs.items():
        fig.savefig(figdir / f"{name}.png", dpi=90)
        body[name] = figure_html(png_data_uri(fig, dpi=90), caption, name)
        plt.close(fig)
    tot = pd.DataFrame(
        [
            {"flux": f, "map": m, **summary[key][f], "lu2021": LU2021_PG_C_YR[f]}
            for f in ("rs", "rh", "ra")
            for m, key in (("forest mean", "totals_pg_c_yr"), ("forest median", "totals_from_q50_pg_c_yr"))
        ]
    )
    acc = pd.DataFrame([accounting["rs"], accounting["rh"]])
    stats = pd.DataFrame([{"flux": f, **v} for f, v in summary["total_statistics_pg_c_yr"].items()])
    pp = summary.get("paper_protocol") or {}
    protocol = pd.DataFrame(
        [{"flux": f, "protocol": "paper: random 80/20 runs (median)", **v} for f, v in pp.items()]
        + [{"flux": r["flux"], "protocol": "grouped CV (no 0.5° cell on both sides)", **r} for r in summary["cv"]]
    )
    tables = {n: pd.read_parquet(out / f"{n}.parquet") for n in ("importance", "ecosystem_totals")
              if (out / f"{n}.parquet").is_file()}  # fmt: skip
    sections = [
        Section("Global totals (Pg C/yr)", table_html(tot, digits=2) + table_html(stats, digits=2) + body["totals"]
                + body.get("convergence", ""), "totals"),
        Section("Maps", body["maps_median"] + body["maps_interval"] + body.get("profiles", ""), "maps"),
        Section("Skill: grouped CV and the paper's protocol", table_html(protocol, digits=3) + body["cv_scatter"], "cv"),
        Section("Predictors", _predictors_html(out, summary), "predictors"),
        Section("What drives the map", (table_html(tables["importance"], digits=1) if "importance" in tables else "")
                + body.get("partial_dependence", ""), "explain"),
        Section("Per ecosystem (IGBP)", table_html(tables["ecosystem_totals"], digits=2)
                if "ecosystem_totals" in tables else "<p>no land cover in this run</p>", "ecosystems"),
        Section("Training records", table_html(acc, digits=0), "records"),
        Section("Sampling: vegetation bins or climate strata", _strata_html(boot, cfg), "strata"),
    ]  # fmt: skip
    if (out / "years.parquet").is_file():
        sections.insert(2, Section("Year by year", _years_html(out, summary, plt), "years"))
    ext = summary["extrapolated_land_area_share"]
    intro = (
        f"<p>{cfg.n_bootstrap} runs (sampling: {cfg.sampling}; Rh model: {cfg.rh_model}), {cfg.n_trees} trees per "
        f"forest, seed {cfg.seed}. Mapped land area {summary['mapped_land_area_m2']:.3g} m².</p>"
        f'<p class="note">Land area with at least one covariate outside the training range: '
        f"{ext['rs']:.1%} for Rs, {ext['rh']:.1%} for Rh (the forests extrapolate there; see "
        f"<code>*_n_covariates_outside_training</code> in maps.nc). Ra &lt; 0 in "
        f"{summary['ra_negative_cell_share']:.1%} of mapped cells.</p>"
    )
    (out / "index.html").write_text(page("soilco2 S3: global annual soil respiration", intro, sections))


def _years_html(out: Path, summary: dict, plt) -> str:
    """The interannual series from the climate file: yearly means ± 2 SD over the year runs, trends."""
    from soilco2.report.html import figure_html, png_data_uri, table_html

    y = pd.read_parquet(out / "years.parquet")
    inter = summary["interannual"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for flux in ("rs", "rh", "ra"):
        m, sd = y[f"{flux}_pg_c_yr_mean"], y[f"{flux}_pg_c_yr_std"].fillna(0)
        ax.plot(y["year"], m, marker="o", label=flux.upper())
        ax.fill_between(y["year"], m - 2 * sd, m + 2 * sd, alpha=0.2)
    ax.set(xlabel="year", ylabel="Pg C/yr")
    ax.legend()
    fig.tight_layout()
    uri = png_data_uri(fig)
    plt.close(fig)
    rows = pd.DataFrame(
        [{"flux": f, "slope Pg C/yr per yr": inter[f]["slope_per_year"], "95 % low": inter[f]["slope_ci95"][0],
          "95 % high": inter[f]["slope_ci95"][1], "p": inter[f]["p_value"]} for f in ("rs", "rh", "ra")
         if "slope_ci95" in inter[f]]
    )  # fmt: skip
    caption = f"climate {Path(inter['file']).name}, {inter['runs']} runs mapped every year (band: ± 2 SD over them)"
    return figure_html(uri, caption, "interannual series") + (table_html(rows, digits=3) if len(rows) else "")


def _predictors_html(out: Path, summary: dict) -> str:
    """The predictors of each forest and, after a selection, its ten best subsets per flux."""
    from soilco2.report.html import table_html

    picked = summary["selected_covariates"]
    html = "".join(f"<p>{f}: <code>{', '.join(v)}</code></p>" for f, v in picked.items())
    sel = summary.get("selection")
    if not sel:
        return html + "<p>Given in the config (no selection in this run).</p>"
    t = pd.read_parquet(out / "selection.parquet")
    cols = ["flux", "rank", "covariates", "n_covariates", "rmse", "rmse_se", "r2"]
    notes = " ".join(
        f"{f}: {sel[f]['subsets']} subsets, {sel[f]['within_one_se']} within one SE of the best." for f in ("rs", "rh")
    )
    return (
        html + f'<p class="note">Every subset of {len(sel["candidates"])} candidates ranked by grouped-CV RMSE '
        f"(rule: {sel['rule']}; {sel['n_trees']} trees per forest). {notes} "
        "Rh's RMSE is that of the Rh/Rs fraction with the fraction model.</p>"
        + table_html(t[t["rank"] <= 10][cols], digits=3)
    )
