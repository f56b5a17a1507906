"""Adapter between the S1 dataset side (``soilco2.daily.dataset.build``, ``soilco2.daily.dataset.splits``)
and the daily pipeline: the config sections it owns and one way to get the dataset, also for a
COSORE folder other than the data root's (``soilco2 daily predict RUN --cosore DIR``)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from soilco2.daily.dataset.build import DailyDataConfig  # noqa: F401  (re-exported for the config)
from soilco2.daily.dataset.splits import SplitConfig  # noqa: F401
from soilco2.errors import UserError


def load_daily_dataset(
    cfg: DailyDataConfig, root=None, cosore_dir: str | Path | None = None, progress: bool = True
) -> xr.Dataset:
    """The daily dataset from the data root, or from ``cosore_dir`` (a COSORE-layout folder) with
    the grids of the data root."""
    from soilco2.daily.dataset.build import build_daily_dataset

    if cosore_dir is not None and not Path(cosore_dir).is_dir():
        raise UserError("COSORE folder not found", file=cosore_dir)
    ds = build_daily_dataset(cfg, root=root, cosore_dir=cosore_dir, progress=progress)
    if ds.sizes.get("site", 0) == 0:
        raise UserError(
            "no usable site (none with enough observed days and drivers)",
            file=cosore_dir or root or cfg.data_root or "data root",
        )
    return ds
