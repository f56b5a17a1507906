"""CLI commands of 'soilco2 data srdb': summary and build (cleaned table + accounting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

DataRoot = Annotated[
    Path | None,
    typer.Option("--data-root", help="Data root holding srdb/ and grids/ (default: SOILCO2_DATA or ../shared/data)."),
]
All = Annotated[bool, typer.Option("--all", help="Keep manipulated records too (default: unmanipulated only).")]
DropDup = Annotated[bool, typer.Option("--drop-duplicates", help="Drop records flagged as duplicates (first kept).")]
DropQ = Annotated[
    list[str] | None,
    typer.Option("--drop-quality", help="Drop records with this SRDB Quality_flag code (repeatable, e.g. Q12)."),
]


@app.callback()
def _group() -> None:
    """SRDB v5 annual soil respiration: summary and cleaned table."""


def _load(data_root, all_, drop_duplicates, drop_quality):
    from rich.console import Console

    from soilco2.sources.srdb import load_srdb

    with Console(stderr=True).status("reading and checking SRDB (land fraction, climatology, duplicates)..."):
        return load_srdb(
            data_root,
            manipulated=all_,
            drop_duplicates=drop_duplicates,
            drop_quality_codes=tuple(drop_quality or ()),
            with_report=True,
        )


def _table(title: str, df, index_name: str | None = None):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    if index_name is not None:
        t.add_column(index_name)
    for c in df.columns:
        t.add_column(str(c), justify="right")
    for idx, row in df.iterrows():
        cells = [str(idx)] if index_name is not None else []
        cells += ["" if v != v else (f"{v:g}" if isinstance(v, float) else str(v)) for v in row.tolist()]
        t.add_row(*cells)
    return t


@app.command()
def summary(
    data_root: DataRoot = None,
    all_: All = False,
    drop_duplicates: DropDup = False,
    drop_quality: DropQ = None,
    by: Annotated[str, typer.Option(help="Group counts by this normalised column.")] = "biome",
) -> None:
    """Counts: raw/kept/dropped by reason, records by biome, flags."""
    import pandas as pd
    from rich.console import Console

    from soilco2.errors import UserError
    from soilco2.sources.srdb import biome_summary, flag_counts

    records, acc, report = _load(data_root, all_, drop_duplicates, drop_quality)
    if by not in records.columns:
        raise UserError(f"no column '{by}' in the cleaned SRDB table", field="--by")
    con = Console()
    row = acc.iloc[0]
    drops = {k.removeprefix("dropped_"): int(v) for k, v in row.items() if k.startswith("dropped_")}
    counts = pd.DataFrame(
        {
            "records": {
                "raw": int(row["raw"]),
                **{f"dropped: {k}": v for k, v in drops.items()},
                "kept": int(row["kept"]),
                "kept with Rs_annual": int(records["rs_annual_gc_m2_yr"].notna().sum()),
                "kept with Rh_annual": int(records["rh_annual_gc_m2_yr"].notna().sum()),
                "kept with coordinates": int((~records["flag_no_coords"]).sum()),
                "sites (distinct lat/lon)": int(records[["lat", "lon"]].dropna().drop_duplicates().shape[0]),
            }
        }
    )
    con.print(_table("SRDB accounting (raw = kept + dropped)", counts, "what"))
    con.print(_table(f"kept records by {by}", biome_summary(records, by), by))
    con.print(_table("flags on kept records (not dropped)", flag_counts(records).to_frame("records"), "flag"))
    changed = sum(len(v) for v in report["categorical_changes"].values())
    con.print(
        f"categorical labels normalised: {changed} distinct raw labels remapped "
        "(see srdb_categorical_changes.csv from 'build')"
    )
    if report["nonnumeric"]:  # text in a numeric column: counted per column, never a silent NaN
        bad = pd.Series(report["nonnumeric"], name="values").to_frame()
        con.print(_table("text in numeric columns, set to missing (values per column)", bad, "column"))


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    data_root: DataRoot = None,
    all_: All = False,
    drop_duplicates: DropDup = False,
    drop_quality: DropQ = None,
) -> None:
    """Write srdb.parquet, srdb_accounting.csv, srdb_flags.csv, srdb_categorical_changes.csv."""
    import pandas as pd
    from rich.console import Console

    from soilco2.errors import UserError
    from soilco2.sources.srdb import flag_counts

    records, acc, report = _load(data_root, all_, drop_duplicates, drop_quality)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder ({err.strerror})", file=out) from None
    records.to_parquet(out / "srdb.parquet", index=False)
    acc.to_csv(out / "srdb_accounting.csv", index=False)
    flag_counts(records).rename_axis("flag").to_frame("records").to_csv(out / "srdb_flags.csv")
    changes = [
        {"field": f, "raw_label": raw, "normalised": new}
        for f, m in report["categorical_changes"].items()
        for raw, new in m.items()
    ]
    pd.DataFrame(changes, columns=["field", "raw_label", "normalised"]).to_csv(
        out / "srdb_categorical_changes.csv", index=False
    )
    meta = {
        "options": {
            "manipulated": all_,
            "drop_duplicates": drop_duplicates,
            "drop_quality_codes": list(drop_quality or []),
        },
        "nonnumeric_set_to_nan": report["nonnumeric"],
        "units": {
            "rs_annual_gc_m2_yr": "g C m-2 yr-1",
            "rh_annual_gc_m2_yr": "g C m-2 yr-1",
            "ra_annual_gc_m2_yr": "g C m-2 yr-1",
            "lat": "degrees_north",
            "lon": "degrees_east",
            "grid_mat_c": "degC",
            "grid_map_mm": "mm yr-1",
        },
        "source": "SRDB v5 srdb-data.csv (github.com/bpbond/srdb; Jian et al. 2021 ESSD 13:255)",
    }
    (out / "srdb_build.json").write_text(json.dumps(meta, indent=2))
    row = acc.iloc[0]
    Console().print(
        f"wrote {out}/srdb.parquet ({int(row['kept'])} of {int(row['raw'])} records; "
        f"{int(row['raw']) - int(row['kept'])} dropped, by reason in srdb_accounting.csv)"
    )
