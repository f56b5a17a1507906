"""Record-level QA for chamber fluxes, with row accounting.

Every record dropped is counted under exactly one reason, so that for each dataset
``raw == kept + sum(dropped_<reason>)``. Reasons are applied in the order of ``DROP_REASONS``;
a record is counted under the first reason it fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.accounting import DROP_REASONS, Accounting, accounting_table  # noqa: F401 (the cleaning API)

# Physically plausible soil CO2 efflux, umol CO2 m-2 s-1. Rs is positive by definition; small
# negative values are instrument noise around zero uptake, larger ones are chamber artefacts.
# 100 is about 3x the largest Rs reported in the literature for natural soils (after rain pulses).
FLUX_MIN_UMOL_M2_S = -10.0
FLUX_MAX_UMOL_M2_S = 100.0
# Timestamps outside these years are treated as corrupt (COSORE covers 2003-2020).
YEAR_MIN, YEAR_MAX = 1980, 2030


def apply_mask(df: pd.DataFrame, bad: np.ndarray | pd.Series, reason: str, acc: Accounting) -> pd.DataFrame:
    """Drop the rows where ``bad`` is true, counting them under ``reason``."""
    bad = np.asarray(bad, dtype=bool)
    n = int(bad.sum())
    if n:
        acc.drop(reason, n)
        return df.loc[~bad]
    return df


def merge_duplicates(df: pd.DataFrame, keys: list[str], acc: Accounting) -> pd.DataFrame:
    """Merge records sharing ``keys`` (port, timestamp) into one: the mean of each numeric column.

    Exact copies are common (re-imported files); differing values at the same port and time are
    most likely replicate chambers sharing a port number, so none is preferred over the other.
    The records beyond the first of each group are counted as ``duplicate_timestamp``.
    """
    dup = df.duplicated(keys, keep=False).to_numpy()
    if not dup.any():
        return df
    groups = df.loc[dup].groupby(keys, sort=False)
    merged = groups.mean().reset_index()
    differing = int((groups["flux_umol_m2_s"].nunique() > 1).sum()) if "flux_umol_m2_s" in df else 0
    acc.drop("duplicate_timestamp", int(dup.sum()) - len(merged))
    if differing:
        acc.notes.append(f"{differing} port-timestamps carried differing fluxes (merged by their mean)")
    return pd.concat([df.loc[~dup], merged[df.columns]], ignore_index=True)


def flux_range_mask(flux: pd.Series, lo: float = FLUX_MIN_UMOL_M2_S, hi: float = FLUX_MAX_UMOL_M2_S) -> np.ndarray:
    """True where a finite flux lies outside ``[lo, hi]``."""
    v = flux.to_numpy(dtype=float)
    return (v < lo) | (v > hi)


def percentile_bounds(flux: pd.Series, groups: pd.Series, lo_q: float = 0.01, hi_q: float = 0.99) -> pd.DataFrame:
    """Per-group (IGBP class) flux quantiles (linear interpolation): index group, columns ``lo``, ``hi``."""
    return group_quantiles(
        {g: flux.to_numpy(dtype=float)[(groups == g).to_numpy()] for g in pd.unique(groups)}, lo_q, hi_q
    )


def group_quantiles(values: dict[str, np.ndarray], lo_q: float = 0.01, hi_q: float = 0.99) -> pd.DataFrame:
    """``lo``/``hi`` quantiles of each group's finite values (groups given as arrays)."""
    rows = {}
    for g, v in values.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        rows[g] = np.quantile(v, [lo_q, hi_q]) if v.size else (np.nan, np.nan)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["lo", "hi"]).sort_index()


def percentile_mask(flux: pd.Series, lo: float, hi: float) -> np.ndarray:
    """True where flux lies outside the class's ``[lo, hi]`` percentile band."""
    v = flux.to_numpy(dtype=float)
    return (v < lo) | (v > hi)


# Plausible ranges of in-situ drivers (units of CSR_COLUMN_UNITS.csv); values outside become NaN
# (the record is kept: its flux is fine), counted per dataset and driver in the accounting
# (``driver_out_of_range_<driver>``). Soil moisture given in percent is converted first.
DRIVER_RANGES = {
    # soil at 2-10 cm: -40 degC in boreal and tundra winters; 60 degC is above the hottest 5 cm desert
    # soils reported (bare surfaces reach that only in the top millimetres)
    "soil_temp": (-40.0, 60.0),
    # air: the record lows are near -90 degC in Antarctica but no chamber runs there; the highest
    # reliably recorded air temperature is 56.7 degC (Death Valley); 55 keeps every real COSORE site
    "air_temp": (-60.0, 55.0),
    "swc": (0.0, 1.0),  # m3 m-3 (after converting percent)
    "rh": (0.0, 105.0),  # %, a little above 100 is sensor saturation
    "par": (-10.0, 3000.0),  # umol m-2 s-1: full sun is about 2000-2300
    "precip": (0.0, 500.0),  # mm per record
}


def _driver_kind(column: str) -> str | None:
    if column in ("CSR_TAIR", "CSR_TAIR_AMB"):
        return "air_temp"
    if column in ("CSR_PAR", "CSR_PAR_AMB"):
        return "par"
    if column == "CSR_RH":
        return "rh"
    if column == "CSR_PRECIP":
        return "precip"
    if column.startswith("CSR_SM") and column[6:7].isdigit():
        return "swc"
    if column.startswith("CSR_T") and column[5:6].isdigit():
        return "soil_temp"
    return None


def clean_drivers(df: pd.DataFrame, acc: Accounting) -> pd.DataFrame:
    """Convert soil moisture in percent to m3 m-3 and set implausible driver values to NaN.

    Soil moisture: a column whose median exceeds 2 is in percent (divided by 100); one with more
    than 20 % of its values in (1, 100] but a median <= 2 has unclear units and is set to NaN.
    Every change is counted in ``acc.notes`` and ``acc.driver_values_nan``.
    """
    for col in list(df.columns):
        kind = _driver_kind(col)
        if kind is None:
            continue
        v = df[col].to_numpy(dtype=float, copy=True)
        v[np.isinf(v)] = np.nan
        finite = np.isfinite(v)
        if not finite.any():
            continue
        if kind == "swc":
            med = float(np.median(v[finite]))
            share = float(np.mean((v[finite] > 1) & (v[finite] <= 100)))
            if med > 2:
                with np.errstate(invalid="ignore"):
                    v = v / 100.0
                acc.notes.append(f"{col} in percent (median {med:.3g}): divided by 100")
            elif share > 0.2:
                acc.notes.append(f"{col} units unclear (median {med:.3g}, {share:.0%} of values in 1..100): set to NaN")
                acc.driver_values_nan += int(finite.sum())
                acc.count_driver(f"units_unclear_{kind}", int(finite.sum()))
                df[col] = np.nan
                continue
        lo, hi = DRIVER_RANGES[kind]
        bad = finite & ((v < lo) | (v > hi))
        if bad.any():
            acc.notes.append(f"{col}: {int(bad.sum())} values outside {lo:g}..{hi:g} set to NaN")
            acc.driver_values_nan += int(bad.sum())
            acc.count_driver(f"out_of_range_{kind}", int(bad.sum()))
            v = np.where(bad, np.nan, v)
        df[col] = v
    return df
