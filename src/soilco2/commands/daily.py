"""CLI commands of the 'daily' group (S1): train, evaluate, predict, gapfill, tune (+ report, registered
from :mod:`soilco2.commands.daily_report` when that module defines it). Heavy imports happen
inside the commands so ``soilco2 --help`` stays fast."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from soilco2.commands import daily_report

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.callback()
def _group() -> None:
    """S1: daily multi-site LSTM on COSORE — train, evaluate, predict, gapfill, tune, report."""


def _print_summary(summary: dict, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", "split", "median NSE", "median KGE", "median r", "good"):
        table.add_column(col)
    for model, by_split in summary.get("models", {}).items():
        for split, d in by_split.items():
            table.add_row(
                model,
                split,
                f"{d['median_nse']:.3f}",
                f"{d['median_kge']:.3f}",
                f"{d['median_r']:.3f}",
                f"{d['n_good']}/{summary['sites']}",
            )
    console.print(table)
    paper = summary.get("paper")
    if paper:
        console.print(
            f"paper (82 sites): median test NSE {paper['median_test_nse']}, KGE {paper['median_test_kge']}; "
            f"{paper['good_sites']} good"
        )


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML config (see configs/daily.yaml)"),
    out: Path | None = typer.Option(None, help="run folder (default: <run_dir>/<name> from the config)"),
    quiet: bool = typer.Option(False, help="no progress bars"),
    resume: bool = typer.Option(
        False, help="continue the unfinished run of this config that a kill left behind (finished members kept)"
    ),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Train the LSTM ensemble and the baselines; write the run folder."""
    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.run import train_run
    from soilco2.parallel import probe_scheduler

    cfg = load_config(config, DailyConfig)
    if cfg.training.scheduler_address:  # refused in seconds, before the dataset is built
        probe_scheduler(cfg.training.scheduler_address, field="training.scheduler_address", file=config)
    run = train_run(cfg, out, show_progress=not quiet, resume=resume, replace=replace)
    import json

    _print_summary(json.loads((run / "summary.json").read_text()), f"run {run}")
    console.print(f"run folder: [bold]{run}[/]")


@app.command()
def evaluate(run: Path = typer.Argument(..., help="run folder written by 'soilco2 daily train'")) -> None:
    """Reload a run's scalers and checkpoints, predict again, re-score (rewrites its outputs)."""
    from soilco2.daily.run import evaluate_run

    _print_summary(evaluate_run(run), f"run {run}")


@app.command()
def predict(
    run: Path = typer.Argument(..., help="run folder written by 'soilco2 daily train'"),
    cosore: Path = typer.Option(..., "--cosore", help="folder in COSORE layout (datasets/<name>/...)"),
    out: Path | None = typer.Option(None, help="output folder (default RUN/predict/<folder name>)"),
    spots: Path | None = typer.Option(
        None, "--spots", help="CSV of spot measurements: date, flux_umol_m2_s[, site, soil_temp_c]"
    ),
    level: str = typer.Option(
        "auto", "--level", help="prior of each site's level: none, annual_map, srdb, spots (= none + spots), auto"
    ),
    global_run: Path | None = typer.Option(None, "--global-run", help="S3 run folder for --level annual_map"),
    radius_km: float = typer.Option(5.0, "--radius-km", help="SRDB records this close set the level (--level srdb)"),
    between_site_sd: float = typer.Option(
        0.65, "--between-site-sd", help="SD of a new site's log level around the LSTM's (measured, E22)"
    ),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Apply a trained run to other COSORE-layout datasets (new sites); score where observed. With
    --spots or --level, each site's level is set from an annual map, SRDB records or spot measurements."""
    import json

    from soilco2.daily.newsite.level import level_settings
    from soilco2.daily.run import predict_run

    settings = level_settings(level, spots, global_run, radius_km, between_site_sd)
    dest = predict_run(run, cosore, out, level=settings, replace=replace)
    _print_summary(json.loads((dest / "summary.json").read_text()), f"predictions in {dest}")


@app.command()
def site(
    run: Path = typer.Argument(..., help="run folder written by 'soilco2 daily train'"),
    drivers: Path = typer.Argument(
        ...,
        help="CSV: date and any of soil_temp_c, swc_m3_m3, air_temp_c, par_umol_m2_s, rh_pct (daily means), "
        "precip_mm (daily total)",
    ),
    lat: float = typer.Option(..., "--lat", help="site latitude, degrees north"),
    lon: float = typer.Option(..., "--lon", help="site longitude, degrees east"),
    out: Path = typer.Option(..., "--out", help="the CF-NetCDF to write (daily series and 5-95 % band)"),
    name: str = typer.Option("site", "--name", help="the site's name in the file"),
    elevation_m: float | None = typer.Option(
        None, "--elevation-m", help="site elevation (default: the other sites' median)"
    ),
    igbp: str | None = typer.Option(None, "--igbp", help="IGBP land cover code, e.g. DBF"),
    spots: Path | None = typer.Option(
        None, "--spots", help="CSV of spot measurements: date, flux_umol_m2_s (µmol CO2 m-2 s-1)"
    ),
    level: str = typer.Option(
        "auto", "--level", help="prior of the site's level: none, annual_map, srdb, spots (= none + spots), auto"
    ),
    global_run: Path | None = typer.Option(None, "--global-run", help="S3 run folder for --level annual_map"),
    radius_km: float = typer.Option(5.0, "--radius-km", help="SRDB records this close set the level (--level srdb)"),
    between_site_sd: float = typer.Option(
        0.65, "--between-site-sd", help="SD of a new site's log level around the LSTM's (measured, E22)"
    ),
) -> None:
    """A site without a COSORE folder: its coordinates and a daily driver table give the daily
    series with its 5-95 % band; --spots and --level set its level.

    The driver table has one row per day (local standard time): daily means in the units the column
    names say, precip_mm the day's total (mm); soil_temp_c_min/_max and air_temp_c_min/_max are
    accepted too. Missing columns and days come from the site's climatology. The LSTM reads the days
    before each prediction: give the drivers from a few months before the first day you need (the
    first days of the table have no memory).

    Spots: date and flux_umol_m2_s, one chamber reading or a day's mean; readings of one day are
    averaged and compared with that day's predicted daily mean (a midday reading on a warm day sits
    above the daily mean)."""
    from soilco2.daily.newsite.site import predict_site

    ds = predict_site(run, drivers, lat, lon, name=name, elevation_m=elevation_m, igbp=igbp, level=level,
                      spots=spots, global_run=global_run, radius_km=radius_km, between_site_sd=between_site_sd,
                      out=out)  # fmt: skip
    attrs = ds["lstm"].attrs
    extra = f", level x{attrs['level_factor']:.3f} ({attrs['level_source']})" if "level_factor" in attrs else ""
    typer.echo(f"{ds.sizes['time']} days written to {out}{extra}")


@app.command()
def gapfill(
    source: Path = typer.Argument(..., help="run or 'daily predict' folder (or its predictions.nc)"),
    out: Path | None = typer.Option(None, help="output folder (default <folder>/gapfill)"),
    neighbours: int = typer.Option(3, min=1, help="observed days on each side that anchor a filled day"),
) -> None:
    """Gap-filled daily series: observations, else the LSTM plus its residual kriged from nearby observed days."""
    import json

    from soilco2.daily.gapfill.run import gapfill_run

    dest = gapfill_run(source, out, neighbours=neighbours)
    s = json.loads((dest / "summary.json").read_text())
    console.print(
        f"{s['sites']} sites: {s['observed_days']:,} observed and {s['filled_days']:,} filled days; "
        f"residual e-folding time (median) {s['median_efolding_days']:.1f} days; "
        f"{s['site_years_with_total']} site-years with an annual total"
    )
    if s["sites_without_covariance"]:
        console.print(
            f"filled with the LSTM alone (no residual covariance: too few consecutive observed days, "
            f"or no fit): {', '.join(s['sites_without_covariance'])}"
        )
    console.print(f"outputs in [bold]{dest}[/]: gapfilled.nc, residual_covariance.parquet, annual_totals.parquet")


@app.command()
def tune(
    config: Path = typer.Argument(..., help="YAML config; its 'tune' section holds the grid"),
    out: Path | None = typer.Option(None, help="output folder (default <run_dir>/<name>-tune)"),
) -> None:
    """Grid search (hidden size, dropout, window, seed) scored on validation days, on Dask workers."""
    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.tune import tune_run
    from soilco2.parallel import probe_scheduler

    cfg = load_config(config, DailyConfig)
    if cfg.tune.scheduler_address:
        probe_scheduler(cfg.tune.scheduler_address, field="tune.scheduler_address", file=config)
    dest, best = tune_run(cfg, out)
    console.print(f"best trial: {best}")
    console.print(f"trials: [bold]{dest / 'trials.parquet'}[/], best config: [bold]{dest / 'best_config.yaml'}[/]")


if hasattr(daily_report, "report"):
    app.command("report")(daily_report.report)


@app.command()
def export(
    source: Path = typer.Argument(..., help="a daily config YAML or a run folder (its config.yaml)"),
    out: Path = typer.Argument(..., help="output folder (created; a folder soilco2 did not write is refused)"),
    fmt: str = typer.Option("neuralhydrology", "--format", help="neuralhydrology: its generic-dataset layout"),
    quiet: bool = typer.Option(False, help="no progress bars"),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Write the daily dataset, inputs and temporal split in another tool's format (neuralhydrology)."""
    from soilco2.daily.export import export_neuralhydrology
    from soilco2.errors import UserError

    if fmt != "neuralhydrology":
        raise UserError(f"unknown format {fmt!r} (known: neuralhydrology)", field="--format")
    folder = export_neuralhydrology(source, out, progress=not quiet, replace=replace)
    console.print(
        f"neuralhydrology dataset: [bold]{folder}[/] (time_series/, attributes/, sites.txt, periods.csv, nh_config.yml)"
    )
