"""``soilco2 global benchmark``: score model files against an S3 run and write one folder —
Parquet and JSON tables, the models on the run's grid with their differences (CF-NetCDF), figures
and one HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.files import run_folder, write_json, write_parquet
from soilco2.global_.benchmark.config import BenchmarkConfig

SCORE_COLUMNS = ["bias_score", "spatial_score", "overall_score"]


def run_benchmark(
    run: str | Path, cfg: BenchmarkConfig, out: str | Path | None = None, progress: bool = True, replace: bool = False
) -> Path:
    from soilco2.global_.benchmark import budget
    from soilco2.global_.benchmark.scores import load_run, read_models, score_models
    from soilco2.paths import data_root

    maps = load_run(run)
    if not cfg.models:
        from soilco2.errors import UserError

        raise UserError("no model files: give them as arguments or in --config", field="models")
    root = data_root(cfg.data_root) if any("{data_root}" in m.path for m in cfg.models) else None
    out = Path(out) if out is not None else maps.folder / "benchmark"
    models = read_models(cfg, root, progress)
    res = score_models(maps, models, cfg)
    extra_root = (root or _optional_root(cfg)) if cfg.series else None
    if cfg.series and extra_root is None:
        res["notes"] = ["published and site series skipped: no data root (set data_root or SOILCO2_DATA)"]
    if extra_root is not None:
        res["published"] = budget.published_totals(maps.summary, extra_root, cfg)
        res["isimip_sites"] = budget.isimip_sites(extra_root, cfg)
    res["budget"] = budget.budget_table(maps.summary, cfg)
    with run_folder(out, "global-benchmark", replace=replace) as tmp:
        _write(tmp, maps, res, cfg, progress)
    return out


def _optional_root(cfg: BenchmarkConfig):
    """The data root for the published and site series, when there is one."""
    from soilco2.errors import UserError
    from soilco2.paths import data_root

    try:
        return data_root(cfg.data_root)
    except UserError:
        return None


def result_json(res: dict) -> dict:
    """Per model (and flux): the headline numbers; and the budget."""
    models = {}
    for _, r in res["scores"].iterrows():
        key = r["model"] if (res["scores"]["model"] == r["model"]).sum() == 1 else f"{r['model']}_{r['flux']}"
        models[key] = {
            "flux": r["flux"],
            "total_pg_c_yr": r["total_pg_c_yr"],
            "srdb_n": r.get("srdb_n"),
            "srdb_r": r.get("srdb_r"),
            "srdb_rmse": r.get("srdb_rmse_gc_m2_yr"),
            "map_r": r.get("map_r"),
            **{c: r.get(c) for c in SCORE_COLUMNS},
        }
    b = res["budget"].set_index("name")
    return {
        "models": models,
        "budget": {k: {"value": v["value"], "low": v["low"], "high": v["high"]} for k, v in b.iterrows()},
        "notes": res.get("notes", []),
    }


def _write(out: Path, maps, res: dict, cfg: BenchmarkConfig, progress: bool) -> None:
    from soilco2.config import dump_config

    dump_config(cfg, out / "benchmark.yaml")
    for name in ("scores", "profiles", "ecosystems", "published", "isimip_sites", "budget"):
        if name in res and not res[name].empty:
            write_parquet(res[name], out / f"{name}.parquet", index=False)
    write_json(out / "scores.json", result_json(res), indent=2)
    _write_grids(out / "models_on_run_grid.nc", maps, res["grids"])
    if cfg.figures:
        write_page(out, maps, res)


def _write_grids(path: Path, maps, grids: dict) -> None:
    import xarray as xr

    from soilco2 import cf

    data = {}
    for (name, flux), g in grids.items():
        data[f"{name}_{flux}"] = (("lat", "lon"), g.astype("f4"), cf.carbon_flux_attrs(flux, f"{name} {flux}"))
        data[f"{name}_{flux}_minus_ours"] = (
            ("lat", "lon"),
            (g - maps.mean[flux]).astype("f4"),
            cf.carbon_flux_attrs(None, f"{name} {flux} minus the run's mean {flux} map"),
        )
    ds = xr.Dataset(
        data,
        coords={
            "lat": ("lat", maps.lat, {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", maps.lon, {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        },
    )
    cf.write(ds, path, title="Process models regridded conservatively onto the S3 run's grid")


def _score_table_html(scores: pd.DataFrame) -> str:
    """Models × scores, each score cell coloured from red (0) to green (1) as on ILAMB's pages."""
    import html as h

    from matplotlib import colormaps

    cmap = colormaps["RdYlGn"]
    cols = [
        ("model", "model"),
        ("flux", "flux"),
        ("total_pg_c_yr", "total Pg C/yr"),
        ("srdb_n", "SRDB n"),
        ("srdb_r", "SRDB r"),
        ("srdb_rmse_gc_m2_yr", "SRDB RMSE"),
        ("srdb_median_ratio", "model ÷ SRDB"),
        ("map_r", "map r"),
        ("map_bias_gc_m2_yr", "map bias"),
        ("map_rmse_gc_m2_yr", "map RMSE"),
        ("bias_score", "bias score"),
        ("spatial_score", "spatial score"),
        ("overall_score", "overall"),
    ]
    cols = [(c, label) for c, label in cols if c in scores]
    head = "".join(f"<th>{label}</th>" for _, label in cols)
    body = []
    for _, r in scores.iterrows():
        cells = []
        for c, _ in cols:
            v = r[c]
            if c in SCORE_COLUMNS and np.isfinite(v):
                rgb = ",".join(str(int(255 * x)) for x in cmap(float(v))[:3])
                cells.append(f'<td style="background:rgb({rgb})">{v:.2f}</td>')
            elif isinstance(v, float | np.floating):
                cells.append(f"<td>{v:.3g}</td>")
            else:
                cells.append(f'<td class="txt">{h.escape(str(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="tablewrap"><table id="scores"><tr>{head}</tr>{"".join(body)}</table></div>'


def write_page(out: Path, maps, res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from soilco2.files import write_text_atomic
    from soilco2.report.html import Section, figure_html, page, png_data_uri, table_html

    sections = [
        Section(
            "Scores",
            '<p class="note">SRDB: the run\'s training records, each against the model cell that holds it. '
            "Map: area-weighted over the land cells both have; ILAMB bias score = mean of exp(-|bias|/ref), "
            "spatial score = 2(1+R)/(σ+1/σ)², overall = their mean (Collier et al. 2018).</p>"
            + _score_table_html(res["scores"]),
            "scores",
        )
    ]
    grids = res["grids"]
    if grids:
        n = len(grids)
        fig, axes = plt.subplots(n, 1, figsize=(9, 3.6 * n), squeeze=False)
        for ax, ((name, flux), g) in zip(axes[:, 0], grids.items(), strict=True):
            d = g - maps.mean[flux]
            lim = float(np.nanpercentile(np.abs(d), 98)) if np.isfinite(d).any() else 1.0
            im = ax.pcolormesh(maps.lon, maps.lat, d, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
            ax.set_title(f"{name} {flux} minus this run")
            ax.set(xlabel="longitude (°E)", ylabel="latitude (°N)")
            fig.colorbar(im, ax=ax, shrink=0.8, label="g C m⁻² yr⁻¹")
        fig.tight_layout()
        uri = png_data_uri(fig)
        plt.close(fig)
        sections.append(
            Section("Difference maps", figure_html(uri, "model minus the run's mean map", "differences"), "maps")
        )
    prof = res["profiles"]
    if not prof.empty:
        fluxes = list(dict.fromkeys(prof[prof["source"] != "ours"]["flux"]))
        fig, axes = plt.subplots(1, len(fluxes), figsize=(4.5 * len(fluxes), 4), squeeze=False)
        for ax, flux in zip(axes[0], fluxes, strict=True):
            for src, g in prof[prof["flux"] == flux].groupby("source"):
                ax.plot(
                    g["pg_c_yr"],
                    g["lat"],
                    lw=2.2 if src == "ours" else 1,
                    label=src,
                    color="k" if src == "ours" else None,
                )
                if src == "ours" and "pg_c_yr_sd" in g:
                    ax.fill_betweenx(
                        g["lat"], g["pg_c_yr"] - 2 * g["pg_c_yr_sd"], g["pg_c_yr"] + 2 * g["pg_c_yr_sd"], color="0.8"
                    )
            ax.set(title=flux.upper(), xlabel="Pg C/yr per 0.5° band", ylabel="latitude")
            ax.legend(fontsize=7)
        fig.tight_layout()
        uri = png_data_uri(fig)
        plt.close(fig)
        sections.append(
            Section(
                "Latitude profiles",
                figure_html(uri, "per 0.5° band; grey: this run ± 2 SD over runs", "profiles"),
                "profiles",
            )
        )
    if not res["ecosystems"].empty:
        sections.append(Section("Per ecosystem (IGBP), Pg C/yr", table_html(res["ecosystems"], digits=2), "ecosystems"))
    if "published" in res:
        sections.append(
            Section("Published global Rh (not gridded)", table_html(res["published"], digits=1), "published")
        )
        s = res["isimip_sites"]
        sections.append(
            Section(
                "ISIMIP2a site Rh vs SRDB Rh", f"<p>{s.attrs.get('rule', '')}</p>" + table_html(s, digits=2), "sites"
            )
        )
    sections.append(Section("Global carbon budget, Pg C/yr", table_html(res["budget"], digits=1), "budget"))
    intro = f"<p>Process models against the S3 run <code>{maps.folder.name}</code>.</p>" + "".join(
        f'<p class="note">{n}</p>' for n in res.get("notes", [])
    )
    write_text_atomic(out / "index.html", page("soilco2 S3: process-model benchmark", intro, sections))
