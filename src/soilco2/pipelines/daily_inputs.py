"""Adapter between the S1 dataset side (``soilco2.prep.daily_dataset``, ``soilco2.prep.splits``)
and the daily pipeline: the config sections it owns and one way to get the dataset, also for a
COSORE folder other than the data root's (``soilco2 daily predict RUN --cosore DIR``)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from soilco2.errors import UserError
from soilco2.prep.daily_dataset import DailyDataConfig  # noqa: F401  (re-exported for the config)

from soilco2.prep.splits import SplitConfig  # noqa: F401


def load_daily_dataset(cfg: DailyDataConfig, root=None, cosore_dir: str | Path | None = None) -> xr.Dataset:
    """The daily dataset from the data root, or from ``cosore_dir`` (a COSORE-layout folder) with
    the grids of the data root."""
    from soilco2.prep.daily_dataset import build_daily_dataset

    if cosore_dir is None:
        ds = build_daily_dataset(cfg, root=root)
    else:
        ds = _build_from_cosore(cfg, Path(cosore_dir))
    if ds.sizes.get("site", 0) == 0:
        raise UserError("no usable site (none with enough observed days and drivers)",
                        file=cosore_dir or root or cfg.data_root or "data root")
    return ds


def _build_from_cosore(cfg: DailyDataConfig, cosore_dir: Path) -> xr.Dataset:
    from soilco2.paths import data_root
    from soilco2.prep.aggregate import daily_table
    from soilco2.prep.daily_dataset import assemble_daily_dataset
    from soilco2.sources import grids
    from soilco2.sources.cosore import cosore_root, list_datasets

    if not cosore_dir.is_dir():
        raise UserError("COSORE folder not found", file=cosore_dir)
    croot = cosore_root(cosore_dir)
    groot = data_root(cfg.data_root)
    meta = list_datasets(croot)
    if meta.empty or not meta.get("has_data", meta.iloc[:, 0:0]).any():
        raise UserError("no COSORE dataset with data in this folder", file=cosore_dir)
    table, _ = daily_table(croot, percentile_filter=cfg.percentile_filter, cache=False)
    if table.empty:
        raise UserError("no usable daily observations in this folder", file=cosore_dir)
    return assemble_daily_dataset(
        cfg, table, meta, root=groot,
        monthly_at=lambda lat, lon: grids.climatology_at(lat, lon, root=groot),
        site_attributes=lambda lat, lon: grids.site_attributes(lat, lon, root=groot))
