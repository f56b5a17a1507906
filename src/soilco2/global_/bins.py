"""Vegetation-type bins of the S3 runs (Lu et al. 2021, Fig. S1 / Table S1): every SRDB record
falls in the IGBP class of its 0.5° cell, each run's training set is drawn (80 %, without
replacement) with each bin's selection probability equal to its share of global vegetated area,
and the records left out are that run's test set.

A record's chance is ``area_share(bin) / n_records(bin)``, so over many runs a bin covering much
area with few records (open shrubland: about 12 % of vegetated area, 1 % of Rs records) keeps its
records in training nearly always, and the forest-heavy bins give up most of the test records.
``equal`` is the same split with equal chances (the paper's comparison).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.sources.landcover import IGBP, NAMES, VEGETATED

OTHER = "other"  # records in cells whose dominant class is not vegetated (barren, urban, ice)


def record_bins(igbp: np.ndarray) -> np.ndarray:
    """The bin of each record: its cell's dominant vegetated IGBP class, else ``other``."""
    igbp = np.asarray(igbp, dtype=object)
    return np.where(np.isin(igbp, VEGETATED), igbp, OTHER).astype(object)


def vegetated_area_shares(fractions: np.ndarray, area_m2: np.ndarray) -> pd.Series:
    """Each vegetated class's share of the global vegetated area: ``fractions`` (class, cell) at
    the mapped cells, ``area_m2`` their land area."""
    area = {c: float(np.sum(fractions[IGBP.index(c)] * area_m2)) for c in VEGETATED}
    total = sum(area.values())
    if total <= 0:
        raise UserError("no vegetated land in the land-cover grid", field="landcover_file")
    return pd.Series({c: a / total for c, a in area.items()}, name="area_share")


def bin_table(bins: np.ndarray, area_share: pd.Series) -> pd.DataFrame:
    """Per bin: name, records, record share, area share (Fig. S1) and the selection weight of
    one record (area share / records; 0 for bins without area, such as ``other``)."""
    counts = pd.Series(bins).value_counts()
    idx = list(area_share.index) + ([OTHER] if OTHER in counts.index else [])
    out = pd.DataFrame(index=pd.Index(idx, name="bin"))
    out["name"] = [NAMES.get(b, "not vegetated (barren, urban, snow and ice)") for b in out.index]
    out["n_records"] = counts.reindex(out.index, fill_value=0).astype(int)
    out["record_share"] = out["n_records"] / max(int(out["n_records"].sum()), 1)
    out["area_share"] = area_share.reindex(out.index, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weight_per_record"] = np.where(out["n_records"] > 0, out["area_share"] / out["n_records"], 0.0)
    return out


def selection_probabilities(bins: np.ndarray, table: pd.DataFrame, how: str = "vegetation_bins") -> np.ndarray:
    """Each record's chance to be drawn first: area share / records of its bin (``vegetation_bins``)
    or the same for all (``equal``). Records of bins without area (``other``) get the smallest
    positive chance, so they can still fill the last places of a training set."""
    n = len(bins)
    if how == "equal":
        return np.full(n, 1.0 / n)
    w = table["weight_per_record"].reindex(pd.Index(bins)).to_numpy("f8")
    floor = w[w > 0].min() if (w > 0).any() else 1.0
    w = np.where(w > 0, w, floor * 1e-3)
    return w / w.sum()


def split_run(p: np.ndarray, rng: np.random.Generator, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices of one run: ``round(train_fraction * n)`` records drawn without
    replacement with chances ``p`` (successive sampling), the rest held out."""
    n = len(p)
    k = min(max(int(round(train_fraction * n)), 1), n - 1)
    train = rng.choice(n, size=k, replace=False, p=p)
    mask = np.zeros(n, bool)
    mask[train] = True
    return np.sort(train), np.nonzero(~mask)[0]
