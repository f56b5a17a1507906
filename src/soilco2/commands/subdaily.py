"""CLI commands of the 'subdaily' group (S2): lagged mutual information and the full run."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """S2: sub-daily knowledge-guided LSTM at one site (MI input design, sweep, Q10 baselines)."""


def _load(config: Path):
    from soilco2.config import load_config
    from soilco2.subdaily.config import SubdailyConfig

    return load_config(config, SubdailyConfig)


@contextmanager
def _config_errors(config: Path):
    """Errors the pipeline raises about a config field name no file: name the config file."""
    from soilco2.errors import UserError

    try:
        yield
    except UserError as err:
        if err.file is None and err.field:
            raise UserError(err.detail, file=config, field=err.field) from None
        raise


@app.command("mi")
def mi_command(
    config: Path = typer.Argument(..., help="S2 YAML config (e.g. configs/subdaily_wkg.yaml)"),
    out: Path = typer.Option(None, "--out", help="output folder (default: <out_dir>/mi)"),
) -> None:
    """Lagged mutual information (−24 h..+24 h, 50 bins) between Rs and each driver; proposes the input design."""
    from rich.console import Console
    from rich.table import Table

    from soilco2.subdaily.run import run_mi

    cfg = _load(config)
    out = out or Path(cfg.out_dir) / "mi"
    with _config_errors(config):
        _, _, peaks, design, _ = run_mi(cfg, out)
    table = Table(title=f"{cfg.site.name}: peak MI lag (τ<0: driver's future, respiration leads)")
    for col in ("driver", "peak τ (h)", "peak MI (nats)", "MI at τ=0"):
        table.add_column(col)
    for r in peaks.itertuples():
        table.add_row(r.driver, f"{r.peak_lag_hours:+g}", f"{r.peak_mi_nats:.3f}", f"{r.mi_lag0_nats:.3f}")
    console = Console()
    console.print(table)
    console.print(f"proposed inputs: past={design['past']} future={design['future']}")
    console.print(f"written to {out}")


@app.command("run")
def run_command(
    config: Path = typer.Argument(..., help="S2 YAML config (e.g. configs/subdaily_wkg.yaml)"),
    out: Path = typer.Option(None, "--out", help="run folder (default: out_dir of the config)"),
) -> None:
    """MI, hyperparameter search, sweep of past lengths, both scenarios, rain pulses → run folder + HTML."""
    from rich.console import Console

    from soilco2.parallel import probe_scheduler
    from soilco2.subdaily.run import run

    cfg = _load(config)
    if cfg.sweep.scheduler_address:  # refused in seconds, before the series is read
        probe_scheduler(cfg.sweep.scheduler_address, field="sweep.scheduler_address", file=config)
    with _config_errors(config):
        summary = run(cfg, out)
    console = Console()
    for s in cfg.scenarios.run:
        for m, v in sorted(summary.get(s, {}).items()):
            console.print(f"{s:13s} {m:18s} r={v['r']:.3f} NSE={v['nse']:.3f} MSE={v['mse']:.4f}")
    console.print(f"run folder: {out or cfg.out_dir} (index.html)")
