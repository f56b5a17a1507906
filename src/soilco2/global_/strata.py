"""Climate strata of the S3 bootstrap: MAT × MAP classes of each 0.5° cell, their share of
land area, and the area-weighted resampling of training records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.global_.config import StrataConfig


def assign_strata(mat_c, map_mm, strata: StrataConfig) -> np.ndarray:
    """Stratum id = MAT class × (number of MAP classes) + MAP class."""
    mat_k = np.digitize(np.asarray(mat_c, "f8"), strata.mat_edges_c)
    map_k = np.digitize(np.asarray(map_mm, "f8"), strata.map_edges_mm)
    return mat_k * (len(strata.map_edges_mm) + 1) + map_k


def stratum_label(sid: int, strata: StrataConfig) -> str:
    def rng(k, edges, unit):
        lo = f"{edges[k - 1]:g}" if k > 0 else "-inf"
        hi = f"{edges[k]:g}" if k < len(edges) else "inf"
        return f"[{lo},{hi}) {unit}"

    n_map = len(strata.map_edges_mm) + 1
    return f"MAT {rng(sid // n_map, strata.mat_edges_c, 'degC')}, MAP {rng(sid % n_map, strata.map_edges_mm, 'mm')}"


def stratum_weights(
    record_strata: np.ndarray, area_share: pd.Series, record_groups: np.ndarray | None = None, min_locations: int = 1
) -> pd.DataFrame:
    """Per stratum: ``area_share`` (of mapped land), ``n_records``, ``n_locations``, ``record_share``,
    ``target_share`` (share of each bootstrap sample) and ``weight`` = target share / record share.

    Strata with at least ``min_locations`` distinct locations (``covered``) get target share =
    area share (renormalised over covered strata, after the rest). Strata with records but fewer
    locations are not up-weighted: they keep their record share (weight 1), so a handful of sites
    is never copied hundreds of times. Strata without records cannot be represented (weight 0).
    """
    strata = pd.Series(np.asarray(record_strata))
    groups = pd.Series(np.asarray(record_groups) if record_groups is not None else np.arange(len(strata)))
    counts = strata.value_counts()
    locs = groups.groupby(strata.to_numpy()).nunique()
    out = pd.DataFrame({"area_share": area_share.astype("f8")})
    out = out.reindex(out.index.union(counts.index), fill_value=0.0)
    out["n_records"] = counts.reindex(out.index, fill_value=0).astype(int)
    out["n_locations"] = locs.reindex(out.index, fill_value=0).astype(int)
    out["record_share"] = out["n_records"] / max(int(out["n_records"].sum()), 1)
    out["covered"] = out["n_locations"] >= max(min_locations, 1)
    sparse = (out["n_records"] > 0) & ~out["covered"]
    covered_area = out.loc[out["covered"], "area_share"].sum()
    if covered_area <= 0:
        raise UserError("no stratum with land area holds enough training locations", field="strata")
    rest = 1.0 - out.loc[sparse, "record_share"].sum()
    out["target_share"] = np.where(
        out["covered"], rest * out["area_share"] / covered_area, np.where(sparse, out["record_share"], 0.0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weight"] = np.where(out["n_records"] > 0, out["target_share"] / out["record_share"], 0.0)
    out.index.name = "stratum"
    return out


def bootstrap_probabilities(record_strata: np.ndarray, weights: pd.DataFrame) -> np.ndarray:
    """Sampling probability of each record: stratum weight / number of records (sums to 1)."""
    w = weights["weight"].reindex(record_strata).to_numpy(dtype="f8")
    return w / w.sum()


def stratified_bootstrap(
    record_strata: np.ndarray, weights: pd.DataFrame, rng: np.random.Generator, n: int | None = None
) -> np.ndarray:
    """Indices of one area-weighted bootstrap sample (with replacement, ``n`` = number of records)."""
    p = bootstrap_probabilities(record_strata, weights)
    return rng.choice(len(record_strata), size=n or len(record_strata), replace=True, p=p)
