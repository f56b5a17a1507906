"""CLI commands of the 'subdaily' group (filled in by its pipeline)."""

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Commands of this group."""
