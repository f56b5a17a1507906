"""The ``soilco2`` command line. Each pipeline's commands live in ``soilco2.commands.*``;
heavy imports (torch, sklearn) happen inside the commands, so ``soilco2 --help`` is fast.

Every way a command can end is decided here, not left to typer's defaults (which change between
its versions): a user error or a usage error is one line on stderr and exit code 2; an interrupt
(Ctrl-C, SIGTERM) is one line and exit code 130 (143 for SIGTERM), after the command's cleanup
ran; a missing optional dependency (PyTorch) is one line naming the extra to install.
"""

from __future__ import annotations

import os
import signal
import sys

if not sys.stdout.isatty():  # a log or a pipe: whole tables, not rich's 80 columns (set before any Console)
    os.environ.setdefault("COLUMNS", "200")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from soilco2.commands import daily, data, global_, subdaily  # noqa: E402
from soilco2.errors import UserError  # noqa: E402

app = typer.Typer(
    help="Soil respiration models from public data (COSORE, SRDB, grids).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data", help="Read, clean, account for and cache the input data.")
app.add_typer(daily.app, name="daily", help="S1: daily multi-site LSTM (COSORE).")
app.add_typer(subdaily.app, name="subdaily", help="S2: sub-daily knowledge-guided LSTM at one site.")
app.add_typer(global_.app, name="global", help="S3: global annual Rs/Rh/Ra maps from SRDB (quantile forests).")

# One example per command, shown at the end of its --help (the suite checks that each names real options).
EXAMPLES = {
    "data summary": "soilco2 data summary --out sites.csv",
    "data build": "soilco2 data build --out build/cosore",
    "data download": "soilco2 data download cosore",
    "data srdb summary": "soilco2 data srdb summary --by biome",
    "data srdb build": "soilco2 data srdb build --out build/srdb.parquet",
    "daily train": "soilco2 daily train configs/daily_tiny.yaml --out runs/daily-tiny",
    "daily evaluate": "soilco2 daily evaluate runs/daily-tiny",
    "daily predict": "soilco2 daily predict runs/daily-tiny --cosore my_cosore_copy --spots spots.csv",
    "daily site": "soilco2 daily site runs/daily-tiny drivers.csv --lat 42.54 --lon -72.17 --out site.nc",
    "daily gapfill": "soilco2 daily gapfill runs/daily-tiny",
    "daily tune": "soilco2 daily tune configs/daily_tiny.yaml",
    "daily report": "soilco2 daily report runs/daily-tiny",
    "daily export": "soilco2 daily export configs/daily_tiny.yaml runs/nh-export",
    "subdaily mi": "soilco2 subdaily mi configs/subdaily_wkg.yaml",
    "subdaily run": "soilco2 subdaily run configs/subdaily_wkg.yaml",
    "global run": "soilco2 global run configs/global_tiny.yaml",
    "global benchmark": "soilco2 global benchmark runs/global --config configs/global_benchmark.yaml",
}


def _reflow(doc: str) -> str:
    """A docstring's paragraphs each as one line (the terminal wraps them; typer would keep the breaks)."""
    import inspect

    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


def _add_examples(group: typer.Typer, path: str = "") -> None:
    for info in group.registered_commands:
        name = f"{path}{info.name or info.callback.__name__.replace('_', '-')}"
        if name in EXAMPLES:
            info.epilog = f"Example:  {EXAMPLES[name]}"
        if info.help is None and info.callback.__doc__:
            info.help = _reflow(info.callback.__doc__)
    for sub in group.registered_groups:
        _add_examples(sub.typer_instance, f"{path}{sub.name} ")


_add_examples(app)


def _version(value: bool) -> None:
    if value:
        from soilco2 import __version__

        typer.echo(f"soilco2 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and stop"
    ),
) -> None:
    """Soil respiration models from public data (COSORE, SRDB, grids): S1 daily LSTM, S2 sub-daily
    knowledge-guided LSTM, S3 annual global quantile forests."""


err_console = Console(stderr=True, soft_wrap=True, highlight=False)
DL_EXTRA = "pip install 'soilco2[dl]' (PyTorch 2.13.0, installed first: pip install torch==2.13.0)"


class Interrupted(BaseException):
    """Raised by the signal handlers: not an ``Exception`` and not a ``KeyboardInterrupt``, so no
    library (click, typer, dask) turns it into another exit code on its way out; ``finally``
    blocks and context managers still run."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.exit_code = 128 + signum
        self.name = signal.Signals(signum).name


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def _error(message: str, code: int) -> None:
    from rich.text import Text

    err_console.print(Text("error: ", style="bold red") + Text(message))
    sys.exit(code)


def _usage_error(exc: Exception) -> None:
    """click/typer usage errors of any version, by their shared interface (format_message, ctx)."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # ``soilco2`` or ``soilco2 daily`` alone: the help
        ctx = getattr(exc, "ctx", None)
        print(ctx.get_help() if ctx is not None else exc.format_message())
        sys.exit(0)
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = " ".join(str(exc.format_message()).split())  # one line
    _error(f"{message}{hint}", 2)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each (``warning: ...``), without the source line Python adds."""
    from rich.text import Text

    err_console.print(Text("warning: ", style="yellow") + Text(" ".join(str(message).split())))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map every ending to one line and an exit code."""
    import warnings

    warnings.showwarning = _show_warning
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        result = app(args=argv, standalone_mode=False, prog_name="soilco2")
    except UserError as err:
        _error(str(err), 2)
    except Interrupted as stop:
        _error(f"interrupted ({stop.name}); nothing of the unfinished step was kept", stop.exit_code)
    except KeyboardInterrupt:
        _error("interrupted", 130)
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "torch":
            raise
        _error(f"this command needs PyTorch, which is not installed: {DL_EXTRA}", 2)
    except MemoryError:
        _error("out of memory; make the config smaller (model size, ensemble, workers)", 2)
    except OSError as err:  # an output the tool could not write (full disk, read-only folder)
        where = f"{err.filename}: " if err.filename else ""
        _error(f"{where}{err.strerror or err.__class__.__name__}", 2)
    except Exception as exc:
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            _usage_error(exc)
        if type(exc).__name__ == "Abort":
            _error("aborted", 1)
        raise
    # without standalone mode typer returns the code of a ``typer.Exit`` (and, in some versions,
    # 130 for an interrupt it caught itself)
    if isinstance(result, int) and not isinstance(result, bool) and result != 0:
        if result == 130:
            _error("interrupted", 130)
        sys.exit(result)


if __name__ == "__main__":
    main()
