"""The ``soilco2`` command line. Each pipeline's commands live in ``soilco2.commands.*``;
heavy imports (torch, sklearn) happen inside the commands, so ``soilco2 --help`` is fast."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from soilco2.commands import daily, data, subdaily
from soilco2.errors import UserError

app = typer.Typer(help="Soil respiration models from public data (COSORE, SRDB, grids).", no_args_is_help=True)
app.add_typer(data.app, name="data", help="Read, clean, account for and cache the input data.")
app.add_typer(daily.app, name="daily", help="S1: daily multi-site LSTM (COSORE).")
app.add_typer(subdaily.app, name="subdaily", help="S2: sub-daily knowledge-guided LSTM at one site.")
from soilco2.commands import global_  # noqa: E402  (S3; light module)
app.add_typer(global_.app, name="global", help="S3: global annual Rs/Rh/Ra maps from SRDB (quantile forests).")

err_console = Console(stderr=True)


def main() -> None:
    """Entry point: user errors become one red line and exit code 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except UserError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:  # raised by commands that choose their own exit code
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
