"""First-order conservative regridding between regular (rectilinear) latitude–longitude grids.

The area of overlap of two cells on the sphere is R² × Δsin(latitude) × Δlongitude, so the overlap
matrix of two lat/lon grids is the product of a latitude matrix (in sin latitude) and a longitude
matrix (in radians, with the 360° wrap). A target cell takes the mean of the source cells it
overlaps, weighted by overlap area × the source cell's weight (its land fraction for a flux per
m² of land); missing source cells carry no weight. What each target cell received (the source's
weighted area in it) comes back too, so Σ value × that area equals the source's own total: the
regridding conserves area-weighted totals exactly.
"""

from __future__ import annotations

import numpy as np

from soilco2.sources.grids import EARTH_AUTHALIC_RADIUS_M


def bounds_from_centres(centres: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(n, 2) cell edges halfway between ascending centres, the outer ones mirrored and clipped to
    ``lo``/``hi`` (±90 for latitude)."""
    c = np.asarray(centres, "f8")
    if c.size == 1:
        raise ValueError("one cell: its bounds are needed")
    mid = (c[1:] + c[:-1]) / 2
    edges = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    if lo is not None or hi is not None:
        edges = np.clip(edges, lo, hi)
    return np.stack([edges[:-1], edges[1:]], axis=1)


def _overlap(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(n_dst, n_src) lengths of overlap of 1-D intervals (each row: lower, upper)."""
    lo = np.maximum(dst[:, None, 0], src[None, :, 0])
    hi = np.minimum(dst[:, None, 1], src[None, :, 1])
    return np.clip(hi - lo, 0, None)


def lat_weights(src_bounds: np.ndarray, dst_bounds: np.ndarray) -> np.ndarray:
    s = np.sin(np.radians(np.sort(src_bounds, axis=1)))
    d = np.sin(np.radians(np.sort(dst_bounds, axis=1)))
    return _overlap(s, d)


def lon_weights(src_bounds: np.ndarray, dst_bounds: np.ndarray) -> np.ndarray:
    """Overlap in radians, any source convention (0–360, −180–180) against the target's: the
    source cells are tried shifted by −360°, 0 and +360°."""
    s = np.sort(src_bounds, axis=1)
    d = np.sort(dst_bounds, axis=1)
    return np.radians(sum(_overlap(s + shift, d) for shift in (-360.0, 0.0, 360.0)))


def regrid_conservative(
    values: np.ndarray,
    src_lat_bounds: np.ndarray,
    src_lon_bounds: np.ndarray,
    dst_lat_bounds: np.ndarray,
    dst_lon_bounds: np.ndarray,
    src_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (lat, lon) on the source grid → (mean on the target grid, NaN where no source
    cell with a value overlaps; the source's weighted area in each target cell, m²).

    ``src_weight`` (lat, lon, 0–1): the share of each source cell the value stands for (land
    fraction); 1 where omitted. Σ result × area over the target equals Σ values × weight × cell
    area over the source."""
    v = np.asarray(values, "f8")
    w = np.ones_like(v) if src_weight is None else np.nan_to_num(np.asarray(src_weight, "f8"))
    ok = np.isfinite(v) & (w > 0)
    wv = np.where(ok, w, 0.0)
    a = lat_weights(src_lat_bounds, dst_lat_bounds)  # (n_dst_lat, n_src_lat)
    b = lon_weights(src_lon_bounds, dst_lon_bounds)  # (n_dst_lon, n_src_lon)
    num = a @ (np.where(ok, v, 0.0) * wv) @ b.T
    den = a @ wv @ b.T
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(den > 0, num / den, np.nan)
    return mean, den * EARTH_AUTHALIC_RADIUS_M**2


def cell_areas(lat_bounds: np.ndarray, lon_bounds: np.ndarray) -> np.ndarray:
    """(lat, lon) cell areas (m²) from the cells' bounds."""
    dsin = np.abs(np.diff(np.sin(np.radians(lat_bounds)), axis=1))[:, 0]
    dlon = np.radians(np.abs(np.diff(lon_bounds, axis=1)))[:, 0]
    return EARTH_AUTHALIC_RADIUS_M**2 * dsin[:, None] * dlon[None, :]
