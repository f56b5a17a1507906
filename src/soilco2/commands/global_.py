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
    for col in ("flux", "n", "R2", "RMSE", "bias", "r", "5-95 % coverage"):
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
        )
    console.print(cv)


@app.command()
def run(
    config: Path = typer.Argument(..., help="YAML config (see configs/global.yaml)"),
    out: Path | None = typer.Option(None, help="run folder (default: out_dir from the config)"),
    quiet: bool = typer.Option(False, help="no progress bars"),
) -> None:
    """Train the forests, map Rs / Rh / Ra at 0.5 degree with uncertainty, total them; write the run folder."""
    import json

    from soilco2.config import load_config
    from soilco2.pipelines.global_ import run_global
    from soilco2.pipelines.global_config import GlobalConfig

    cfg = load_config(config, GlobalConfig)
    if out is not None:
        cfg.out_dir = str(out)
    folder = run_global(cfg, config_file=config, progress=not quiet)
    print_summary(json.loads((folder / "summary.json").read_text()))
    console.print(f"run folder: [bold]{folder}[/]")


@app.command()
def score(
    run_dir: Path = typer.Argument(..., help="run folder written by 'soilco2 global run'"),
    data_root: Path | None = typer.Option(None, "--data-root", help="data root holding benchmarks/landmodels"),
) -> None:
    """Score CASA-CLM, CORPSE and MIMICS Rh against the run's SRDB Rh records and its Rh map."""
    from rich.table import Table

    from soilco2.pipelines.global_landmodels import score_landmodels

    df = score_landmodels(run_dir, data_root)
    cols = {
        "model": "model",
        "total_pg_c_yr": "total Pg",
        "srdb_n": "SRDB n",
        "srdb_r": "SRDB r",
        "srdb_bias_gc_m2_yr": "SRDB bias",
        "srdb_median_ratio_model_over_obs": "SRDB ratio",
        "map_r_area_weighted": "map r",
        "map_bias_gc_m2_yr": "map bias",
        "map_model_total_pg_c_yr": "model Pg (shared cells)",
        "map_map_total_pg_c_yr": "S3 map Pg (shared cells)",
    }
    t = Table(
        title="process-model Rh vs the run's SRDB Rh records and its Rh map (g C m-2 yr-1; bias = model - reference)"
    )
    for label in cols.values():
        t.add_column(label, justify="right")
    for _, row in df.iterrows():
        t.add_row(*[f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in cols])
    console.print(t)
    from soilco2.pipelines.global_landmodels import compare_published_totals

    pub = compare_published_totals(run_dir, data_root)
    t = Table(title="global Rh, Pg C yr-1: published series (per-model means over 2000-2010) and this run")
    for label in ("source", "models", "median", "min", "max"):
        t.add_column(label, justify="right")
    for _, row in pub.iterrows():
        t.add_row(str(row["source"]), str(row["models"]), *(f"{row[c]:.1f}" for c in ("median", "min", "max")))
    console.print(t)
    console.print(
        f"written: {run_dir / 'landmodel_scores.parquet'}, {run_dir / 'landmodel_scores.json'}, "
        f"{run_dir / 'published_rh_totals.parquet'}"
    )
