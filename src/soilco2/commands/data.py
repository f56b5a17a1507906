"""``soilco2 data ...``: summary, build and download of the input data.

COSORE commands live here; SRDB commands live in ``soilco2.commands.srdb`` and are registered
below as ``soilco2 data srdb ...``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from soilco2.commands import srdb

app = typer.Typer(no_args_is_help=True)
app.add_typer(srdb.app, name="srdb", help="SRDB v5 annual soil respiration (summary, cleaned table).")

DRIVERS = ("soil_temp_c", "swc_m3_m3", "air_temp_c", "par_umol_m2_s", "rh_pct", "precip_mm")
_SHORT = {
    "soil_temp_c": "Ts",
    "swc_m3_m3": "SWC",
    "air_temp_c": "Ta",
    "par_umol_m2_s": "PAR",
    "rh_pct": "RH",
    "precip_mm": "P",
}


@app.callback()
def _group() -> None:
    """Read, clean, account for and cache the input data (COSORE, SRDB)."""


def summary_table(root=None, *, percentile_filter: bool = True, progress: bool = True):
    """One row per COSORE dataset: metadata, records raw/kept, days, date range, drivers present."""
    import pandas as pd

    from soilco2.prep.cosore_records import daily_table
    from soilco2.sources.cosore import list_datasets

    meta = list_datasets(root)
    daily, acc = daily_table(root, percentile_filter=percentile_filter, progress=progress)
    stats = pd.DataFrame(columns=["days", "first_date", "last_date", "drivers"])
    if len(daily):  # none when no dataset has a usable record (the accounting says why)
        g = daily.groupby("dataset")
        dates = pd.to_datetime(daily["date"]).groupby(daily["dataset"])
        stats = pd.DataFrame(
            {
                "days": g.size(),
                "first_date": dates.min().dt.date.astype(str),
                "last_date": dates.max().dt.date.astype(str),
            }
        )
        have = pd.DataFrame({d: g[d].apply(lambda s: bool(s.notna().any())) for d in DRIVERS if d in daily.columns})
        stats["drivers"] = [" ".join(_SHORT[d] for d in have.columns if have.loc[k, d]) for k in stats.index]
    out = (
        meta[["dataset", "site_name", "igbp", "lat", "lon", "has_data"]]
        .merge(acc[["dataset", "status", "raw", "kept"]], on="dataset", how="left")
        .merge(stats, left_on="dataset", right_index=True, how="left")
    )
    out["days"] = out["days"].fillna(0).astype(int)
    out[["first_date", "last_date", "drivers"]] = out[["first_date", "last_date", "drivers"]].fillna("")
    return out, acc


def _show(caught) -> None:
    """Warnings recorded during a step, one line each on stderr (after the step's own output)."""
    import warnings

    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _write_table(df, path: Path) -> None:
    from soilco2.errors import UserError

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        raise UserError("output must end in .csv or .parquet", file=path, field="--out")


@app.command()
def summary(
    root: Path | None = typer.Option(
        None,
        "--data-root",
        "--root",
        help="data root or a COSORE folder (default: the data root; --root: the old name).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the table to this .csv or .parquet file."),
    no_percentile_filter: bool = typer.Option(
        False, "--no-percentile-filter", help="Skip the per-IGBP 1st/99th percentile filter."
    ),
) -> None:
    """Print one row per COSORE dataset: site, IGBP, lat/lon, records raw/kept, days, dates, drivers."""
    import warnings

    from rich.console import Console
    from rich.table import Table

    from soilco2.errors import UserError

    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise UserError("output must end in .csv or .parquet", file=out, field="--out")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, acc = summary_table(root, percentile_filter=not no_percentile_filter)
    console = Console() if Console().is_terminal else Console(width=200)
    view = Table(title="COSORE datasets", show_lines=False, header_style="bold")
    for col, just in (
        ("dataset", "left"),
        ("site", "left"),
        ("IGBP", "left"),
        ("lat", "right"),
        ("lon", "right"),
        ("raw", "right"),
        ("kept", "right"),
        ("days", "right"),
        ("from", "left"),
        ("to", "left"),
        ("drivers", "left"),
    ):
        view.add_column(col, justify=just, overflow="fold")
    for r in table.itertuples():
        status = "" if r.status == "ok" else f" [{r.status}]"
        view.add_row(
            r.dataset + status,
            str(r.site_name)[:28],
            str(r.igbp),
            f"{r.lat:.2f}",
            f"{r.lon:.2f}",
            f"{int(r.raw):,}" if r.raw == r.raw else "-",
            f"{int(r.kept):,}" if r.kept == r.kept else "-",
            f"{r.days:,}",
            r.first_date,
            r.last_date,
            r.drivers,
        )
    console.print(view)
    n_data = int(table["has_data"].sum())
    console.print(
        f"{len(table)} datasets seen, {n_data} with data, {int((acc['status'] == 'error').sum())} skipped "
        f"for errors; records raw {int(acc['raw'].sum()):,}, kept {int(acc['kept'].sum()):,}; "
        f"site-days {int(table['days'].sum()):,}. Drivers: Ts soil temp, SWC soil moisture, Ta air temp, "
        f"PAR, RH, P precipitation."
    )
    _show(caught)
    if out:
        _write_table(table, out)
        console.print(f"wrote {out}")


@app.command()
def build(
    root: Path | None = typer.Option(
        None,
        "--data-root",
        "--root",
        help="data root or a COSORE folder (default: the data root; --root: the old name).",
    ),
    out: Path = typer.Option(Path("build/cosore"), "--out", help="Output folder."),
    no_percentile_filter: bool = typer.Option(
        False, "--no-percentile-filter", help="Skip the per-IGBP 1st/99th percentile filter."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild even when a cached table exists."),
    replace: bool = typer.Option(
        False, "--replace", help="replace a finished run of the same kind at the output (and everything in it)"
    ),
) -> None:
    """Write the cleaned COSORE daily table and the accounting report (Parquet and CSV)."""
    import time
    import warnings

    from rich.console import Console

    from soilco2.files import run_folder, write_manifest
    from soilco2.prep.cosore_records import daily_table
    from soilco2.sources.cosore import list_datasets

    console = Console()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        daily, acc = daily_table(root, percentile_filter=not no_percentile_filter, cache=not no_cache)
    meta = list_datasets(root)
    with run_folder(out, "cosore_build", replace=replace) as tmp:
        for name, df in (("cosore_daily", daily), ("cosore_accounting", acc), ("cosore_sites", meta)):
            df.to_parquet(tmp / f"{name}.parquet", index=False)
            df.to_csv(tmp / f"{name}.csv", index=False)
        write_manifest(tmp, ["cosore_daily.parquet", "cosore_accounting.parquet"], kind="cosore_build")
    dropped = [c for c in acc.columns if c.startswith("dropped_")]
    closes = bool((acc["raw"] == acc["kept"] + acc[dropped].sum(axis=1)).all())
    console.print(
        f"COSORE: {len(acc)} datasets ({int((acc['status'] == 'ok').sum())} ok, "
        f"{int((acc['status'] == 'no_data').sum())} without data, {int((acc['status'] == 'error').sum())} "
        f"skipped); {int(acc['raw'].sum()):,} records raw, {int(acc['kept'].sum()):,} kept; "
        f"{len(daily):,} site-days; accounting closes: {closes}; {time.perf_counter() - t0:.1f} s"
    )
    for c in dropped:
        console.print(f"  {c}: {int(acc[c].sum()):,}")
    _show(caught)
    console.print(f"wrote {out}/cosore_daily.(parquet|csv), cosore_accounting.*, cosore_sites.*")


@app.command()
def download(
    source: str = typer.Argument(..., help="cosore | srdb | grids | benchmarks | all"),
    dest: Path | None = typer.Option(None, "--dest", help="Data root to download into (default: the data root)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Mirror of raw.githubusercontent.com."),
) -> None:
    """Download COSORE, SRDB, the global grids and the process-model benchmarks from their GitHub repositories (checksummed, cached)."""
    from rich.console import Console

    from soilco2.errors import UserError
    from soilco2.sources.download import download as fetch_source
    from soilco2.sources.download import sources

    names = list(sources()) if source == "all" else [source]
    for name in names:
        if name not in sources():
            raise UserError(f"unknown source {name!r}; choose cosore, srdb, grids, benchmarks or all", field="source")
    console = Console()
    for name in names:
        counts = fetch_source(name, dest, base_url=base_url)
        console.print(
            f"{name}: {counts['downloaded']} files downloaded, {counts['cached']} already present (checksums ok)"
        )
