"""`soilco2 daily report RUN` — diagnostics and the self-contained HTML report of a daily run.

The daily CLI registers it with ``app.command("report")(report)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    run: Annotated[Path, typer.Argument(help="Daily run folder (written by 'soilco2 daily train').")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: RUN/report).")] = None,
    data_root: Annotated[
        Path | None, typer.Option(help="Shared data root (default: SOILCO2_DATA or ../shared/data).")
    ] = None,
    max_km: Annotated[float, typer.Option(help="SRDB matching radius (km).", min=0.0)] = 5.0,
) -> None:
    """Diagnostics (data length, seasonality, climate, extremes, annual totals vs SRDB) and RUN/report/index.html."""
    import time

    from rich.console import Console

    from soilco2.daily.report.build import build_report
    from soilco2.paths import data_root as resolve_data_root

    if data_root is not None:
        data_root = resolve_data_root(data_root)  # an explicit root must exist (UserError otherwise)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with console.status("report: loading run") as status:
        index = build_report(
            run, out=out, data_root=data_root, max_km=max_km, tick=lambda msg: status.update(f"report: {msg}")
        )
    console.print(f"[green]report written[/] {index} ({time.perf_counter() - t0:.1f} s)")
