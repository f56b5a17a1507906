"""CLI commands of the 'global' group (S3): annual global Rs / Rh / Ra maps from SRDB with
quantile forests. Heavy imports happen inside the commands so ``soilco2 --help`` stays fast."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.callback()
def _group() -> None:
    """S3: global annual soil respiration (SRDB, quantile forests, area-weighted bootstrap)."""


def print_summary(summary: dict) -> None:
    from rich.table import Table

    t = Table(title="global totals (Pg C/yr): mean [2.5-97.5 % of draws]")
    for col in ("flux", "from forest mean", "from forest median", "Lu et al. 2021"):
        t.add_column(col, justify="right")
    for f in ("rs", "rh", "ra"):
        a, b = summary["totals_pg_c_yr"][f], summary["totals_from_q50_pg_c_yr"][f]
        t.add_row(
            f.upper(),
            f"{a['mean']:.1f} [{a['p2.5']:.1f}, {a['p97.5']:.1f}]",
            f"{b['mean']:.1f} [{b['p2.5']:.1f}, {b['p97.5']:.1f}]",
            f"{summary['lu2021_pg_c_yr'][f]:.1f}",
        )
    console.print(t)
    cv = Table(title="grouped CV (no location in two folds)")
    for col in ("flux", "n", "R2", "RMSE", "bias", "r", "5-95 % coverage", "calibrated"):
        cv.add_column(col, justify="right")
    for row in summary["cv"]:
        cv.add_row(
            row["flux"].upper(),
            str(row["n"]),
            f"{row['r2']:.3f}",
            f"{row['rmse_gc_m2_yr']:.0f}",
            f"{row['bias_gc_m2_yr']:.0f}",
            f"{row['r']:.3f}",
            f"{row['coverage_90']:.3f}",
            f"{row.get('coverage_90_calibrated', float('nan')):.3f}",
        )
    console.print(cv)


@app.command()
def run(
    config: Path = typer.Argument(..., help="YAML config (see configs/global.yaml)"),
    out: Path | None = typer.Option(None, help="run folder (default: out_dir from the config)"),
    quiet: bool = typer.Option(False, help="no progress bars"),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Train the forests, map Rs / Rh / Ra at 0.5 degree with uncertainty, total them; write the run folder."""
    import json

    from soilco2.config import load_config
    from soilco2.global_.config import GlobalConfig
    from soilco2.global_.run import run_global

    cfg = load_config(config, GlobalConfig)
    if out is not None:
        cfg.out_dir = str(out)
    folder = run_global(cfg, config_file=config, progress=not quiet, replace=replace)
    print_summary(json.loads((folder / "summary.json").read_text()))
    console.print(f"run folder: [bold]{folder}[/]")


@app.command()
def benchmark(
    run_dir: Path = typer.Argument(..., help="run folder written by 'soilco2 global run'"),
    models: list[Path] = typer.Argument(
        None, help="model NetCDF files (rs / rh / ra found by name or CF standard name)"
    ),
    config: Path | None = typer.Option(None, "--config", help="benchmark YAML (models with names, variables, units)"),
    flux: list[str] = typer.Option(None, "--flux", help="with model files: read only these fluxes"),
    units: str | None = typer.Option(
        None, "--units", help="with model files: units, when the files' attribute is wrong"
    ),
    period: tuple[int, int] | None = typer.Option(None, "--period", help="years averaged, e.g. --period 2000 2010"),
    out: Path | None = typer.Option(None, help="output folder (default: RUN_DIR/benchmark)"),
    quiet: bool = typer.Option(False, help="no progress bars"),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Score process models' Rs / Rh / Ra (any regular-grid CF-NetCDF) against SRDB and the run's maps
    (ILAMB bias and spatial scores), by latitude and ecosystem; published totals; the budget table."""
    from rich.table import Table

    from soilco2.config import load_config, validate
    from soilco2.global_.benchmark.config import BenchmarkConfig
    from soilco2.global_.benchmark.run import run_benchmark

    cfg = load_config(config, BenchmarkConfig) if config else BenchmarkConfig()
    extra = []
    for p in models or []:
        spec = {"name": p.stem.replace(" ", "_")[:60] or "model", "path": str(p)}
        if flux:
            spec["fluxes"] = list(flux)
        if units:
            spec["units"] = {f: units for f in (flux or ["rs", "rh", "ra"])}
        extra.append(spec)
    update = {"models": [m.model_dump() for m in cfg.models] + extra}
    if period is not None:
        update["period"] = list(period)
    cfg = validate(cfg.model_dump() | update, BenchmarkConfig, file=config or "<command line>")
    folder = run_benchmark(run_dir, cfg, out, progress=not quiet, replace=replace)
    import pandas as pd

    scores = pd.read_parquet(folder / "scores.parquet")
    t = Table(title="process models vs SRDB records and the run's maps (g C m-2 yr-1; bias = model - reference)")
    cols = [
        "model",
        "flux",
        "total_pg_c_yr",
        "srdb_n",
        "srdb_r",
        "map_r",
        "bias_score",
        "spatial_score",
        "overall_score",
    ]
    cols = [c for c in cols if c in scores]
    for c in cols:
        t.add_column(c, justify="right")
    for _, row in scores.iterrows():
        t.add_row(*[f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in cols])
    console.print(t)
    console.print(f"benchmark folder: [bold]{folder}[/] (index.html, scores.parquet, budget.parquet, ...)")
