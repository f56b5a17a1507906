"""Where the S3 map stands: latitudinal profiles and per-ecosystem (IGBP) totals with their spread
over runs (Lu et al. 2021, Tables S2–S5), the convergence of the global totals with the number of
runs, and where SRDB's own ecosystem label disagrees with the MODIS class of the record's cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.global_.runs import convergence
from soilco2.sources.landcover import IGBP, NAMES

PG = 1e15  # g per Pg


def _per_run_sums(draws: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(run, group) sums: ``draws`` (run, cell) g C m-2 yr-1 times ``weights`` (cell, group) m²."""
    return np.asarray(draws, "f8") @ weights / PG


def latitude_profiles(draws: dict, cells: pd.DataFrame, area_m2: np.ndarray, band_deg: float = 0.5) -> pd.DataFrame:
    """Per latitude band: total (Pg C/yr) and area-weighted mean flux (g C m-2 yr-1) of Rs, Rh, Ra,
    as the mean over runs with the SD over runs."""
    band = np.floor(cells["lat"].to_numpy() / band_deg) * band_deg + band_deg / 2
    bands, idx = np.unique(band, return_inverse=True)
    w = np.zeros((len(cells), len(bands)))
    w[np.arange(len(cells)), idx] = area_m2
    area = w.sum(0)
    out = pd.DataFrame({"lat": bands, "land_area_m2": area})
    for flux in ("rs", "rh", "ra"):
        tot = _per_run_sums(draws[flux], w)
        out[f"{flux}_pg_c_yr"] = tot.mean(0)
        out[f"{flux}_pg_c_yr_sd"] = tot.std(0, ddof=1) if len(tot) > 1 else 0.0
        out[f"{flux}_gc_m2_yr"] = out[f"{flux}_pg_c_yr"] * PG / np.maximum(area, 1.0)
    return out


def ecosystem_totals(draws: dict, cells: pd.DataFrame, area_m2: np.ndarray) -> pd.DataFrame:
    """Per IGBP class (area = cell land area × the class's fraction of the cell): area, total and
    mean flux of Rs, Rh, Ra over runs with SD and CV % (SD / mean × 100)."""
    classes = [c for c in IGBP if c != "WAT" and f"lc_{c}" in cells.columns]
    w = np.stack([cells[f"lc_{c}"].to_numpy("f8") * area_m2 for c in classes], axis=1)
    area = w.sum(0)
    out = pd.DataFrame({"igbp": classes, "name": [NAMES[c] for c in classes], "area_m2": area})
    for flux in ("rs", "rh", "ra"):
        tot = _per_run_sums(draws[flux], w)
        mean = tot.mean(0)
        sd = tot.std(0, ddof=1) if len(tot) > 1 else np.zeros_like(mean)
        out[f"{flux}_pg_c_yr"] = mean
        out[f"{flux}_pg_c_yr_sd"] = sd
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{flux}_cv_pct"] = np.where(mean != 0, sd / np.abs(mean) * 100, np.nan)
            out[f"{flux}_gc_m2_yr"] = np.where(area > 0, mean * PG / area, np.nan)
    return out


def convergence_table(totals: pd.DataFrame, tolerance: float = 0.01) -> tuple[pd.DataFrame, dict]:
    """Running mean and SD of each global total after n runs (a table for the figure) and, per
    flux, the smallest n after which both stay within ``tolerance`` of their final values."""
    rows, first = {"n_runs": np.arange(1, len(totals) + 1)}, {}
    for flux in ("rs", "rh", "ra"):
        c = convergence(totals[f"{flux}_pg_c_yr"].to_numpy(), tolerance)
        rows[f"{flux}_running_mean_pg_c_yr"], rows[f"{flux}_running_sd_pg_c_yr"] = c["running_mean"], c["running_sd"]
        first[flux] = c["stable_from_run"]
    return pd.DataFrame(rows), first


def landcover_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Records by SRDB ``ecosystem_type`` × MODIS class of their cell (``igbp``), largest first,
    with the share each pair holds of its SRDB label."""
    if "ecosystem_type" not in table.columns or "igbp" not in table.columns:
        return pd.DataFrame(columns=["flux", "ecosystem_type", "igbp", "n_records", "share_of_label"])
    t = table.assign(ecosystem_type=table["ecosystem_type"].fillna("(none)"))
    out = t.groupby(["flux", "ecosystem_type", "igbp"]).size().rename("n_records").reset_index()
    out["share_of_label"] = out["n_records"] / out.groupby(["flux", "ecosystem_type"])["n_records"].transform("sum")
    return out.sort_values(["flux", "n_records"], ascending=[True, False]).reset_index(drop=True)
