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
        t.add_row(f.upper(), f"{a['mean']:.1f} [{a['p2.5']:.1f}, {a['p97.5']:.1f}]",
                  f"{b['mean']:.1f} [{b['p2.5']:.1f}, {b['p97.5']:.1f}]", f"{summary['lu2021_pg_c_yr'][f]:.1f}")
    console.print(t)
    cv = Table(title="grouped CV (no location in two folds)")
    for col in ("flux", "n", "R2", "RMSE", "bias", "r", "5-95 % coverage"):
        cv.add_column(col, justify="right")
    for row in summary["cv"]:
        cv.add_row(row["flux"].upper(), str(row["n"]), f"{row['r2']:.3f}", f"{row['rmse_gc_m2_yr']:.0f}",
                   f"{row['bias_gc_m2_yr']:.0f}", f"{row['r']:.3f}", f"{row['coverage_90']:.3f}")
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
