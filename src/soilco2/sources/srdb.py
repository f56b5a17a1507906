"""SRDB v5 (global soil respiration database, annual records): read, clean, flag, account.

``load_srdb`` returns the cleaned table and a one-row accounting table (``raw == kept +
sum(dropped_<reason>)``). Records are dropped only for the reasons in ``DROP_REASONS``;
everything else suspicious is a flag column (``flag_*``, ``qc_*``) so the user decides.
The original SRDB columns are kept as read (numeric fields parsed to numbers); our columns
are snake_case with units in the name (annual fluxes in g C m-2 yr-1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.accounting import Accounting, accounting_table
from soilco2.errors import UserError
from soilco2.paths import source_dir
from soilco2.sources import srdb_vocab as vocab

SRDB_FILE = "srdb-data.csv"
REQUIRED_COLUMNS = (
    "Record_number",
    "Study_number",
    "Site_name",
    "Country",
    "Latitude",
    "Longitude",
    "Manipulation",
    "Study_midyear",
    "YearsOfData",
    "Quality_flag",
    "Duplicate_record",
    "Rs_annual",
    "Rh_annual",
    *vocab.CATEGORICAL,
)
NUMERIC_COLUMNS = (
    "Study_number",
    "Study_midyear",
    "YearsOfData",
    "Latitude",
    "Longitude",
    "Elevation",
    "Age_ecosystem",
    "Age_disturbance",
    "Soil_BD",
    "Soil_CN",
    "Soil_sand",
    "Soil_silt",
    "Soil_clay",
    "MAT",
    "MAP",
    "PET",
    "Study_temp",
    "Study_precip",
    "Collar_height",
    "Collar_depth",
    "Chamber_area",
    "Meas_interval",
    "Annual_coverage",
    "Rs_annual",
    "Rs_annual_err",
    "Rs_interann_err",
    "Rlitter_annual",
    "Ra_annual",
    "Rh_annual",
    "RC_annual",
    "Rs_spring",
    "Rs_summer",
    "Rs_autumn",
    "Rs_winter",
    "Rs_growingseason",
    "Rs_wet",
    "Rs_dry",
    "RC_seasonal",
    "GPP",
    "ER",
    "NEP",
    "NPP",
    "ANPP",
    "BNPP",
    "NPP_FR",
    "TBCA",
    "Litter_flux",
    "Rootlitter_flux",
    "TotDet_flux",
    "Ndep",
    "LAI",
    "BA",
    "C_veg_total",
    "C_AG",
    "C_BG",
    "C_CR",
    "C_FR",
    "C_litter",
    "C_soilmineral",
    "C_soildepth",
)
# Values of Manipulation meaning "no manipulation" (SRDB writes 'None'; a few are empty).
UNMANIPULATED = ("", "none")
# Plausible annual soil respiration, g C m-2 yr-1 (the largest credible values are ~4,500).
RS_MAX_GC_M2_YR = 5000.0
# Reported MAT vs the 0.5° climatology: beyond this the coordinates are suspect (°C). Within a
# mountainous 0.5° cell, elevation alone rarely explains more than ~8 °C.
MAT_MISMATCH_C = 10.0

DROP_REASONS = (
    "manipulated",  # Manipulation not empty/'None' (unless manipulated=True)
    "implausible_rs_annual",  # Rs_annual <= 0 or > RS_MAX_GC_M2_YR
    "implausible_rh_annual",  # Rh_annual <= 0 or > RS_MAX_GC_M2_YR
    "rs_lt_rh",  # Rs_annual < Rh_annual where both exist
    "duplicate",  # flag_duplicate (only when drop_duplicates=True)
    "quality_code",  # Quality_flag holds one of drop_quality_codes (empty by default)
)


def srdb_dir(root: str | Path | None = None) -> Path:
    """The folder holding ``srdb-data.csv`` (``<data root>/srdb`` or ``root`` itself)."""
    return source_dir("srdb", root, label="SRDB")


def read_srdb_raw(path: str | Path) -> pd.DataFrame:
    """Read ``srdb-data.csv`` as text (no NA guessing: 'None' and 'NA' stay text), check columns."""
    path = Path(path)
    if not path.is_file():
        raise UserError("SRDB data file not found", file=path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise UserError("file is empty", file=path) from None
    except (pd.errors.ParserError, UnicodeError) as err:
        raise UserError(f"not a readable CSV ({str(err).splitlines()[0]})", file=path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise UserError("missing required column(s) " + ", ".join(missing), file=path, field=missing[0])
    if df.empty:
        raise UserError("no records", file=path)
    return df


def _clean_text(s: pd.Series) -> pd.Series:
    """Collapse whitespace (including line breaks inside quoted fields); empty -> None."""
    out = s.str.replace(r"\s+", " ", regex=True).str.strip().astype(object)
    return out.where(out != "", None)


def normalise_categorical(values: pd.Series, table: dict) -> tuple[pd.Series, dict]:
    """Map raw labels onto canonical ones; report {raw label: canonical or '<unmapped>'}."""
    stripped = values.str.strip().str.replace(r"\s+", " ", regex=True)
    key = stripped.str.lower()
    mapped = key.map(lambda k: table.get(k, "\0") if k else None)
    unmapped = mapped == "\0"
    out = mapped.where(~unmapped, stripped).astype(object)
    out = out.where(out.notna() & (out != ""), None)
    changes = {}
    for raw in values[values.str.len() > 0].unique():
        canon = table.get(" ".join(raw.split()).lower(), "<unmapped>")
        if canon != raw:
            changes[raw] = "<missing>" if canon is None else canon
    return out, changes


def parse_quality_codes(flags: pd.Series) -> pd.Series:
    """'Q1, Q10' -> 'Q01,Q10' (sorted, zero-padded to two digits after Q; 'Q0' stays)."""

    def one(text: str) -> str:
        codes = set()
        for tok in re.split(r"[,;\s]+", text.strip().upper()):
            m = re.fullmatch(r"Q(\d+)", tok)
            if m:
                n = m.group(1)
                codes.add("Q0" if int(n) == 0 else f"Q{int(n):02d}")
        return ",".join(sorted(codes))

    return flags.map(one)


def _to_number(df: pd.DataFrame, cols, counts: dict) -> None:
    """Parse numeric columns in place, counting non-empty values that are not numbers."""
    for c in cols:
        if c not in df.columns:
            continue
        text = df[c].astype(str).str.strip().str.replace(",", "", regex=False)
        num = pd.to_numeric(text, errors="coerce")
        bad = int(((text != "") & num.isna()).sum())
        if bad:
            counts[c] = bad
        df[c] = num.astype("f8")


def coordinate_flags(lat: np.ndarray, lon: np.ndarray, root=None) -> pd.DataFrame:
    """Check coordinates against the 0.5° land-fraction grid.

    ``flag_no_coords``: missing or out of range. ``flag_in_sea``: the cell and its 8 neighbours
    have no land (so coastal sites on a coarse grid are not flagged). For sea records, the
    candidate fixes swapped (lat<->lon), lat sign and lon sign flipped are tried;
    ``flag_coords_swapped`` / ``flag_lat_sign`` / ``flag_lon_sign`` mark those that land on a
    land cell, and ``candidate_lat/lon`` hold the fix when exactly one candidate works — a
    candidate only: verify it against the publication before use.
    """
    from soilco2.sources.grids import _cell_index, land_fraction

    lf = land_fraction(root)
    grid = lf.values
    near = grid.copy()  # max over the 3x3 neighbourhood (longitude wraps)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            shifted = np.roll(np.roll(grid, dj, axis=1), di, axis=0)
            if di == 1:
                shifted[0] = 0
            if di == -1:
                shifted[-1] = 0
            near = np.maximum(near, shifted)
    lat_c, lon_c = lf["lat"].values, lf["lon"].values
    lat = np.asarray(lat, "f8")
    lon = np.asarray(lon, "f8")
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)

    def look(g: np.ndarray, la: np.ndarray, lo: np.ndarray, valid: np.ndarray) -> np.ndarray:
        out = np.full(la.shape, np.nan)
        if valid.any():
            i, j = _cell_index(lat_c, lon_c, la[valid], lo[valid])
            out[valid] = g[i, j]
        return out

    frac = look(grid, lat, lon, ok)
    in_sea = ok & (look(near, lat, lon, ok) == 0)
    cands = {
        "flag_coords_swapped": (lon, lat),
        "flag_lat_sign": (-lat, lon),
        "flag_lon_sign": (lat, -lon),
    }
    out = {"land_fraction": frac, "flag_no_coords": ~ok, "flag_in_sea": in_sea}
    sug_lat, sug_lon = np.full(lat.shape, np.nan), np.full(lat.shape, np.nan)
    n_fix = np.zeros(lat.shape, int)
    for name, (la, lo) in cands.items():
        valid = in_sea & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
        hit = valid & (np.nan_to_num(look(grid, la, lo, valid)) > 0)
        out[name] = hit
        n_fix += hit
        sug_lat = np.where(hit, la, sug_lat)
        sug_lon = np.where(hit, lo, sug_lon)
    one = n_fix == 1
    out["candidate_lat"] = np.where(one, sug_lat, np.nan)
    out["candidate_lon"] = np.where(one, sug_lon, np.nan)
    return pd.DataFrame(out)


def climate_check(ours: pd.DataFrame, root=None) -> pd.DataFrame:
    """BIOME4 MAT/MAP at each record's coordinates and ``flag_mat_mismatch``.

    A reported MAT more than ``MAT_MISMATCH_C`` away from the 0.5° climatology points at wrong
    coordinates on land (e.g. lat/lon swapped onto another continent), which the sea check
    cannot see. Coordinates without a land cell within 100 km get NaN.
    """
    from soilco2.sources.grids import site_attributes

    out = pd.DataFrame({"grid_mat_c": np.nan, "grid_map_mm": np.nan}, index=ours.index)
    ok = ~ours["flag_no_coords"]
    if ok.any():
        att = site_attributes(ours.loc[ok, "lat"].to_numpy(), ours.loc[ok, "lon"].to_numpy(), root)
        out.loc[ok, "grid_mat_c"] = att["mat_c"].round(2).to_numpy()
        out.loc[ok, "grid_map_mm"] = att["map_mm"].to_numpy()
    out["flag_mat_mismatch"] = (ours["mat_c_reported"] - out["grid_mat_c"]).abs() > MAT_MISMATCH_C
    return out


def duplicate_flags(df: pd.DataFrame) -> pd.DataFrame:
    """Same site coordinates + Study_midyear + YearsOfData + Rs_annual = duplicate.

    ``duplicate_group`` numbers each set of duplicates (-1: unique); ``flag_duplicate`` is true
    for every member but the first (lowest row). Records without Rs_annual are never duplicates.
    """
    keys = pd.DataFrame(
        {
            "lat": df["lat"].round(4),
            "lon": df["lon"].round(4),
            "y": df["study_midyear"],
            "n": df["years_of_data"],
            "rs": df["rs_annual_gc_m2_yr"].round(3),
        }
    )
    has = keys["rs"].notna()
    grp = pd.Series(-1, index=df.index)
    dup = pd.Series(False, index=df.index)
    if has.any():
        k = keys[has]
        by = k.groupby(list(k.columns), dropna=False, sort=False)
        ids, size = by.ngroup(), by["rs"].transform("size")
        grp[has] = np.where(size > 1, ids, -1)
        dup[has] = k.duplicated(keep="first")
    return pd.DataFrame({"duplicate_group": grp.astype(int), "flag_duplicate": dup})


def load_srdb(
    root: str | Path | None = None,
    *,
    manipulated: bool = False,
    drop_duplicates: bool = False,
    drop_quality_codes: tuple[str, ...] = (),
    with_report: bool = False,
):
    """Read, clean and flag SRDB v5; return ``(records, accounting)``.

    ``root``: data root (with ``srdb/`` and ``grids/``) or the SRDB folder itself (the grids
    are then taken from ``../grids`` when present, else from the default data root).
    ``manipulated=True`` keeps manipulated records (``Manipulation`` not empty/'None'). ``drop_duplicates`` drops ``flag_duplicate``
    rows; ``drop_quality_codes`` drops records carrying any of those SRDB codes (e.g. 'Q12').
    With ``with_report=True`` a third element is returned: a dict with the categorical
    normalisation map and counts of non-numeric values set to NaN.
    """
    folder = srdb_dir(root)
    path = folder / SRDB_FILE
    raw = read_srdb_raw(path)
    grids_root = folder.parent if (folder.parent / "grids").is_dir() else None  # else the default data root
    df = raw.copy()
    nonnumeric: dict[str, int] = {}
    _to_number(df, NUMERIC_COLUMNS, nonnumeric)

    ours = pd.DataFrame(index=df.index)
    ours["record_number"] = df["Record_number"].str.strip()
    study = df["Study_number"]
    ours["study_number"] = study.astype("Int64") if (study.dropna() % 1 == 0).all() else study
    ours["site_name"] = _clean_text(df["Site_name"])  # a few names span lines in the CSV
    ours["country"] = _clean_text(df["Country"])
    ours["lat"], ours["lon"] = df["Latitude"], df["Longitude"]
    ours["elevation_m"] = df["Elevation"] if "Elevation" in df else np.nan
    ours["study_midyear"], ours["years_of_data"] = df["Study_midyear"], df["YearsOfData"]
    ours["manipulation"] = df["Manipulation"].str.strip()
    changes = {}
    for col, (new, table) in vocab.CATEGORICAL.items():
        ours[new], changes[col] = normalise_categorical(df[col], table)
    for src, new in (("MAT", "mat_c_reported"), ("MAP", "map_mm_reported")):
        ours[new] = df[src] if src in df else np.nan
    for src, new in (
        ("Rs_annual", "rs_annual_gc_m2_yr"),
        ("Rs_annual_err", "rs_annual_err_gc_m2_yr"),
        ("Rh_annual", "rh_annual_gc_m2_yr"),
        ("Ra_annual", "ra_annual_gc_m2_yr"),
    ):
        ours[new] = df[src] if src in df else np.nan

    codes = parse_quality_codes(df["Quality_flag"])
    ours["quality_codes"] = codes
    has = lambda *cs: codes.map(lambda s: any(c in s.split(",") for c in cs))  # noqa: E731
    ours["qc_from_figure"] = has("Q01")
    ours["qc_estimated"] = has("Q02", "Q03")
    ours["qc_problem"] = has("Q10", "Q11", "Q12", "Q14")
    ours["qc_known_problem"] = has("Q12")
    ours["qc_duplicate_suspect"] = has("Q13")
    ours["flag_srdb_duplicate"] = df["Duplicate_record"].str.strip() != ""
    coords = coordinate_flags(ours["lat"].to_numpy(), ours["lon"].to_numpy(), grids_root)
    ours = pd.concat([ours, coords.set_index(ours.index)], axis=1)
    ours = pd.concat([ours, climate_check(ours, grids_root)], axis=1)

    acc = Accounting(dataset=SRDB_FILE, raw=len(df), kept=len(df), dropped={r: 0 for r in DROP_REASONS})
    rs, rh = ours["rs_annual_gc_m2_yr"], ours["rh_annual_gc_m2_yr"]
    keep = pd.Series(True, index=df.index)

    def drop(reason: str, bad: pd.Series) -> None:
        hit = keep & bad.fillna(False).astype(bool)
        acc.drop(reason, int(hit.sum()))
        keep[hit] = False

    if not manipulated:
        drop("manipulated", ~ours["manipulation"].str.lower().isin(UNMANIPULATED))
    drop("implausible_rs_annual", (rs <= 0) | (rs > RS_MAX_GC_M2_YR))
    drop("implausible_rh_annual", (rh <= 0) | (rh > RS_MAX_GC_M2_YR))
    ours["rs_ge_rh_checked"] = rs.notna() & rh.notna()
    drop("rs_lt_rh", rs < rh)

    dups = duplicate_flags(ours[keep])
    ours["duplicate_group"] = dups["duplicate_group"].reindex(ours.index).fillna(-1).astype(int)
    ours["flag_duplicate"] = dups["flag_duplicate"].reindex(ours.index, fill_value=False).astype(bool)
    if drop_duplicates:
        drop("duplicate", ours["flag_duplicate"])
    if drop_quality_codes:
        asked = list(parse_quality_codes(pd.Series(list(drop_quality_codes))))
        wanted = set(vocab.known_quality_codes(drop_quality_codes, asked, codes))
        drop("quality_code", codes.map(lambda s: bool(wanted & set(s.split(",")))))
    flag_cols = [
        "flag_no_coords",
        "flag_in_sea",
        "flag_mat_mismatch",
        "flag_duplicate",
        "flag_srdb_duplicate",
        "qc_problem",
    ]
    ours["flag_any"] = ours[flag_cols].any(axis=1)

    if nonnumeric:
        acc.notes.append("non-numeric values set to NaN: " + ", ".join(f"{k}={v}" for k, v in nonnumeric.items()))
    out = pd.concat([ours[keep], df.loc[keep, [c for c in df.columns]]], axis=1).reset_index(drop=True)
    accounting = accounting_table([acc]).drop(columns=["driver_values_nan"], errors="ignore")
    assert acc.closes, "SRDB accounting does not close"
    if with_report:
        return out, accounting, {"categorical_changes": changes, "nonnumeric": nonnumeric}
    return out, accounting


def flag_counts(records: pd.DataFrame) -> pd.Series:
    """Number of records carrying each flag (``flag_*`` and ``qc_*`` columns)."""
    cols = [c for c in records.columns if c.startswith(("flag_", "qc_"))]
    return records[cols].sum().astype(int)


def biome_summary(records: pd.DataFrame, by: str = "biome") -> pd.DataFrame:
    """Records, records with Rs/Rh annual, and median Rs/Rh (g C m-2 yr-1) per category."""
    g = records.assign(**{by: records[by].fillna("<missing>")}).groupby(by, dropna=False)
    out = pd.DataFrame(
        {
            "records": g.size(),
            "with_rs_annual": g["rs_annual_gc_m2_yr"].count(),
            "with_rh_annual": g["rh_annual_gc_m2_yr"].count(),
            "median_rs_annual_gc_m2_yr": g["rs_annual_gc_m2_yr"].median().round(1),
            "median_rh_annual_gc_m2_yr": g["rh_annual_gc_m2_yr"].median().round(1),
        }
    )
    return out.sort_values("records", ascending=False)


def records_near(records: pd.DataFrame, lat, lon, max_distance_km: float = 5.0) -> pd.DataFrame:
    """SRDB records within ``max_distance_km`` of each point (e.g. COSORE sites).

    Returns the matching records with ``point`` (0-based position in the input) and
    ``distance_km`` prepended, sorted by point and distance.
    """
    from soilco2.sources.grids import check_coords, haversine_km

    lat_a, lon_a = check_coords(lat, lon)
    rlat, rlon = records["lat"].to_numpy("f8"), records["lon"].to_numpy("f8")
    parts = []
    for k, (la, lo) in enumerate(zip(lat_a, lon_a)):
        d = haversine_km(la, lo, rlat, rlon)
        hit = np.flatnonzero(np.nan_to_num(d, nan=np.inf) <= max_distance_km)
        if hit.size:
            part = records.iloc[hit].copy()
            part.insert(0, "distance_km", np.round(d[hit], 3))
            part.insert(0, "point", k)
            parts.append(part)
    if not parts:
        return records.iloc[:0].assign(point=pd.Series(dtype=int), distance_km=pd.Series(dtype=float))
    return pd.concat(parts).sort_values(["point", "distance_km"]).reset_index(drop=True)
