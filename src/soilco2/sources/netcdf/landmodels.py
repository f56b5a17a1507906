"""Published process-model Rh series for benchmarking (``<data root>/benchmarks``). The gridded
soil models in ``landmodels/`` are read like any model file (:mod:`soilco2.sources.netcdf.fields`,
named in ``configs/global_benchmark.yaml``).

- Published global annual Rh series (Pg C yr-1): CMIP6 ESMs (``rh_global_1980-2015.csv``, g yr-1),
  ISIMIP2a models (``rh_changes/all_annual_global_rh.csv``, g yr-1), Hashimoto et al. 2015 and
  Tang et al. 2020 (``*_rh.txt``, digitised, Pg C yr-1). ``CMIP6_global_RH.csv`` is left out: its
  "kg/yr" values are ~12× the same models' totals in ``rh_global_1980-2015.csv`` (apparently sums
  of monthly rates), see :func:`cmip6_kg_file_ratio`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import source_dir
from soilco2.sources.grids import G_PER_PG


def benchmarks_dir(root: str | Path | None = None) -> Path:
    """``<data root>/benchmarks`` (or ``root`` itself when it is that folder)."""
    return source_dir("benchmarks", root, label="process-model benchmarks")


def published_global_rh(root: str | Path | None = None) -> pd.DataFrame:
    """Tidy global annual Rh series: ``source``, ``model``, ``member`` (CMIP6 ensemble member, else
    empty), ``year``, ``rh_pg_c_yr``."""
    base = benchmarks_dir(root)
    parts = []
    f = base / "landmodels" / "rh_global_1980-2015.csv"
    cm = read_csv_columns(f, ["year", "model", "units", "value"])
    if set(cm["units"]) != {"g yr-1"}:
        raise UserError(f"unexpected units {sorted(set(cm['units']))}", file=f, field="units")
    parts.append(
        pd.DataFrame(
            {
                "source": "CMIP6",
                "model": cm["model"],
                "member": cm.get("ensemble", ""),
                "year": cm["year"],
                "rh_pg_c_yr": cm["value"] / G_PER_PG,
            }
        )
    )
    f = base / "rh_changes" / "all_annual_global_rh.csv"
    isi = read_csv_columns(f, ["year"]).melt(id_vars="year", var_name="model", value_name="g_yr")
    parts.append(
        pd.DataFrame(
            {"source": "ISIMIP2a", "model": isi["model"], "year": isi["year"], "rh_pg_c_yr": isi["g_yr"] / G_PER_PG}
        )
    )
    for name, label in (("hashimoto2015_rh.txt", "Hashimoto et al. 2015"), ("tang2020_rh.txt", "Tang et al. 2020")):
        f = base / "landmodels" / name
        if not f.is_file():
            raise UserError("published Rh series not found", file=f)
        t = pd.read_csv(f, comment="#", header=None, names=["year", "rh_pg_c_yr"])
        parts.append(
            pd.DataFrame(
                {"source": label, "model": label, "year": t["year"].round().astype(int), "rh_pg_c_yr": t["rh_pg_c_yr"]}
            )
        )
    return pd.concat(parts, ignore_index=True).fillna({"member": ""})


def cmip6_kg_file_ratio(root: str | Path | None = None) -> pd.Series:
    """Per model, median over common years of ``CMIP6_global_RH.csv`` (as kg yr-1) / the same
    model's total in ``rh_global_1980-2015.csv`` — the reason the first file is not used."""
    base = benchmarks_dir(root) / "landmodels"
    kg = read_csv_columns(base / "CMIP6_global_RH.csv", ["year", "model", "global_value"])
    g = read_csv_columns(base / "rh_global_1980-2015.csv", ["year", "model", "value"])
    kg = kg.groupby(["model", "year"])["global_value"].mean() * 1e3  # kg -> g
    g = g.groupby(["model", "year"])["value"].mean()
    both = pd.concat([kg.rename("kg_file_g"), g.rename("g_file")], axis=1).dropna()
    return (both["kg_file_g"] / both["g_file"]).groupby(level="model").median()


def read_csv_columns(path: Path, need: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise UserError("file not found", file=path)
    df = pd.read_csv(path)
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise UserError("missing column(s) " + ", ".join(missing), file=path, field=missing[0])
    return df
