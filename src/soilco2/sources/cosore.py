"""COSORE continuous soil respiration database: metadata, records, daily table.

Reads the R-package layout (``datasets/<name>/DESCRIPTION.txt, PORTS.txt, data/data.RDS``)
and the flat release layout (``description.csv``, ``ports.csv``, ``datasets/<name>/data.csv``
or ``datasets/data_<name>.csv``, missing values written as ``NA``).

Time: ``data.RDS`` timestamps come out of pyreadr as naive UTC instants; they are shifted to
the local *standard* time (no daylight saving) of ``CSR_TIMEZONE``. Flat-release ``data.csv``
timestamps without a UTC offset are taken as already in local standard time; with an offset
(``Z``, ``+01:00``) they are instants and are shifted like the RDS ones.

Public API (docs/contracts.md): ``list_datasets``, ``load_records``, ``aggregate``,
``daily_table``; plus ``parse_description``, ``parse_ports``, ``standard_offset``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import cache_dir, data_root
from soilco2.progress import track
from soilco2.prep import qa
from soilco2.prep.aggregate import STANDARD_DRIVERS, aggregate, driver_columns, pick_standard_drivers

__all__ = ["list_datasets", "load_records", "aggregate", "daily_table", "parse_description", "parse_ports",
           "standard_offset", "cosore_root", "igbp_percentile_bounds", "PORT_SELECTIONS", "IGBP_CODES"]

# Part of the cache key, with a digest of this module, prep/qa.py and prep/aggregate.py.
CODE_VERSION = "cosore-2"
PORT_SELECTIONS = ("rs_control", "rh", "all")
REQUIRED_KEYS = ("CSR_SITE_NAME", "CSR_LATITUDE", "CSR_LONGITUDE", "CSR_TIMEZONE", "CSR_IGBP")

# IGBP classes (code: name) and the spellings COSORE uses for them.
IGBP_CODES = {
    "ENF": "Evergreen needleleaf forest", "EBF": "Evergreen broadleaf forest",
    "DNF": "Deciduous needleleaf forest", "DBF": "Deciduous broadleaf forest", "MF": "Mixed forests",
    "CSH": "Closed shrubland", "OSH": "Open shrubland", "WSA": "Woody savanna", "SAV": "Savannas",
    "GRA": "Grassland", "WET": "Wetland", "CRO": "Cropland", "URB": "Urban", "CVM": "Cropland/natural vegetation mosaic",
    "SNO": "Snow and ice", "BSV": "Barren", "WAT": "Water",
}
_IGBP_ALIASES = {
    "broadleaf evergreen forest": "EBF", "evergreen broadleaf forests": "EBF",
    "evergreen needleleaf forests": "ENF", "evergreen needleleaf plantation": "ENF",
    "deciduous broadleaf forests": "DBF", "deciduous broadleaf plantation": "DBF",
    "deciduous needleleaf forests": "DNF", "mixed forest": "MF", "closed shrublands": "CSH",
    "open shrublands": "OSH", "woody savannas": "WSA", "savanna": "SAV", "grasslands": "GRA",
    "permanent wetlands": "WET", "wetlands": "WET", "croplands": "CRO", "urban and built-up": "URB",
    # sparse trees over desert shrubs: 10-30 % tree cover is the IGBP savanna class
    "desert woodland": "SAV",
}


def igbp_code(name: str, *, file: Path | str | None = None) -> str:
    """IGBP code (``ENF``...) for a COSORE ``CSR_IGBP`` value; unknown values are user errors."""
    key = " ".join(str(name).strip().lower().split())
    for code, full in IGBP_CODES.items():
        if key in (full.lower(), code.lower()):
            return code
    if key in _IGBP_ALIASES:
        return _IGBP_ALIASES[key]
    raise UserError(f"unknown IGBP class {name!r} (expected one of: {', '.join(IGBP_CODES.values())})",
                    file=file, field="CSR_IGBP")


# --------------------------------------------------------------------------- locations
def cosore_root(root: str | Path | None = None) -> Path:
    """The COSORE folder: ``root`` may be the data root (holding ``cosore/``) or COSORE itself."""
    base = Path(root).expanduser() if root is not None else data_root() / "cosore"
    if not base.exists():
        raise UserError("COSORE data root does not exist; set SOILCO2_DATA or run 'soilco2 data download cosore'",
                        file=base)
    for cand in (base, base / "cosore"):
        if (cand / "datasets").is_dir() or (cand / "description.csv").is_file():
            return cand
    raise UserError("not a COSORE folder (no 'datasets/' or 'description.csv' inside)", file=base)


def is_flat(root: Path) -> bool:
    return (root / "description.csv").is_file()


# --------------------------------------------------------------------------- metadata files
def parse_description(path: Path) -> dict[str, str]:
    """``KEY: value`` lines of a DESCRIPTION.txt (comment and indented lines skipped)."""
    if not path.is_file():
        raise UserError("DESCRIPTION.txt missing", file=path)
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", key.strip()):
            out[key.strip()] = value.strip()
    return out


def _parse_ports_text(text: str) -> pd.DataFrame:
    """PORTS.txt is comma-separated with tab padding, quotes, stray/trailing commas and tabs."""
    lines = [ln.replace("\t", " ").strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        return pd.DataFrame(columns=["CSR_PORT", "CSR_MSMT_VAR", "CSR_TREATMENT"])
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    body = []
    for r in rows[1:]:
        r = [v.strip() for v in r]
        while len(r) > width and not r[-1]:  # trailing commas / tabs
            r.pop()
        if len(r) > width:  # stray commas inside an unquoted last field: rejoin them
            r = r[: width - 1] + [", ".join(r[width - 1:])]
        body.append(r + [""] * (width - len(r)))
    return pd.DataFrame(body, columns=header)


def parse_ports(path: Path) -> pd.DataFrame:
    """Ports table: ``CSR_PORT`` (int), ``CSR_MSMT_VAR``, ``CSR_TREATMENT`` and any other columns."""
    if not path.is_file():
        raise UserError("PORTS.txt missing", file=path)
    df = _parse_ports_text(path.read_text(encoding="utf-8", errors="replace"))
    return _check_ports(df, path)


def _check_ports(df: pd.DataFrame, path) -> pd.DataFrame:
    for col in ("CSR_PORT", "CSR_MSMT_VAR", "CSR_TREATMENT"):
        if col not in df.columns:
            raise UserError("required column missing", file=path, field=col)
    ports = pd.to_numeric(df["CSR_PORT"], errors="coerce")
    if ports.isna().any():
        bad = df.loc[ports.isna(), "CSR_PORT"].iloc[0]
        raise UserError(f"port number {bad!r} is not an integer", file=path, field="CSR_PORT")
    df = df.copy()
    df["CSR_PORT"] = ports.astype(int)
    df["CSR_MSMT_VAR"] = df["CSR_MSMT_VAR"].astype(str).str.strip()
    df["CSR_TREATMENT"] = df["CSR_TREATMENT"].astype(str).str.strip().replace({"": "None", "nan": "None"})
    return df.reset_index(drop=True)


def standard_offset(tz_name: str, *, file: Path | str | None = None) -> timedelta:
    """UTC offset of the zone's standard time (the smaller of its January and July offsets)."""
    try:
        zone = ZoneInfo(str(tz_name).strip())
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise UserError(f"unknown time zone {tz_name!r}", file=file, field="CSR_TIMEZONE") from None
    return min(datetime(2015, m, 1, tzinfo=zone).utcoffset() for m in (1, 7))


def _float(desc: dict, key: str, file) -> float:
    try:
        return float(desc.get(key, ""))
    except ValueError:
        raise UserError(f"not a number: {desc.get(key)!r}", file=file, field=key) from None


def site_metadata(name: str, desc: dict, file) -> dict:
    """Validated site metadata from a DESCRIPTION mapping; raises :class:`UserError`."""
    for key in REQUIRED_KEYS:
        if not str(desc.get(key, "")).strip() or str(desc.get(key)).strip().lower() == "nan":
            raise UserError("required DESCRIPTION key missing or empty", file=file, field=key)
    lat, lon = _float(desc, "CSR_LATITUDE", file), _float(desc, "CSR_LONGITUDE", file)
    if not -90 <= lat <= 90:
        raise UserError(f"latitude {lat} outside -90..90", file=file, field="CSR_LATITUDE")
    if not -180 <= lon <= 180:
        raise UserError(f"longitude {lon} outside -180..180", file=file, field="CSR_LONGITUDE")
    elev = pd.to_numeric(desc.get("CSR_ELEVATION"), errors="coerce")
    offset = standard_offset(desc["CSR_TIMEZONE"], file=file)
    return {
        "dataset": name, "site_name": desc["CSR_SITE_NAME"], "lat": lat, "lon": lon,
        "elevation_m": float(elev) if pd.notna(elev) else np.nan,
        "igbp": igbp_code(desc["CSR_IGBP"], file=file), "igbp_raw": desc["CSR_IGBP"].strip(),
        "timezone": desc["CSR_TIMEZONE"].strip(), "utc_offset_h": offset.total_seconds() / 3600,
        "instrument": desc.get("CSR_INSTRUMENT", ""), "network": desc.get("CSR_NETWORK", ""),
        "site_id": desc.get("CSR_SITE_ID", ""), "primary_pub": desc.get("CSR_PRIMARY_PUB", ""),
        "other_pubs": desc.get("CSR_OTHER_PUBS", ""),
    }


class _Layout:
    """File locations of one COSORE copy (package or flat layout)."""

    def __init__(self, root: Path):
        self.root = root
        self.flat = is_flat(root)
        self._desc = self._ports = None
        if self.flat:
            self._desc = self._read_csv(root / "description.csv", "CSR_DATASET")
            ports_csv = root / "ports.csv"
            self._ports = self._read_csv(ports_csv, "CSR_DATASET") if ports_csv.is_file() else None

    @staticmethod
    def _read_csv(path: Path, key: str) -> pd.DataFrame:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
            raise UserError(f"unreadable CSV ({exc.__class__.__name__})", file=path) from None
        if key not in df.columns:
            raise UserError("required column missing", file=path, field=key)
        return df

    def names(self) -> list[str]:
        if self.flat:
            return sorted(self._desc["CSR_DATASET"].str.strip().unique())
        return sorted(p.name for p in (self.root / "datasets").iterdir() if p.is_dir())

    def description_file(self, name: str) -> Path:
        return self.root / "description.csv" if self.flat else self.root / "datasets" / name / "DESCRIPTION.txt"

    def description(self, name: str) -> dict:
        if not self.flat:
            return parse_description(self.description_file(name))
        rows = self._desc[self._desc["CSR_DATASET"].str.strip() == name]
        if rows.empty:
            raise UserError(f"dataset {name!r} not listed", file=self.description_file(name), field="CSR_DATASET")
        return {k: str(v).strip() for k, v in rows.iloc[0].items()}

    def ports_file(self, name: str) -> Path:
        return self.root / "ports.csv" if self.flat else self.root / "datasets" / name / "PORTS.txt"

    def ports(self, name: str) -> pd.DataFrame:
        if not self.flat:
            return parse_ports(self.ports_file(name))
        if self._ports is None:
            raise UserError("ports.csv missing", file=self.ports_file(name))
        rows = self._ports[self._ports["CSR_DATASET"].str.strip() == name].drop(columns="CSR_DATASET")
        return _check_ports(rows, self.ports_file(name))

    def data_file(self, name: str) -> Path:
        d = self.root / "datasets" / name
        if not self.flat:
            return d / "data" / "data.RDS"
        alt = self.root / "datasets" / f"data_{name}.csv"  # the name csr_make_release() writes
        return alt if alt.is_file() and not (d / "data.csv").is_file() else d / "data.csv"

    def signature_files(self, name: str) -> list[Path]:
        return [self.description_file(name), self.ports_file(name), self.data_file(name)]


def list_datasets(root: str | Path | None = None) -> pd.DataFrame:
    """One row per dataset folder: ``dataset, has_data, site_name, lat, lon, elevation_m, igbp,
    igbp_raw, timezone, utc_offset_h, instrument, network, site_id, primary_pub, other_pubs,
    n_ports, problem``. Metadata problems do not raise here: they fill ``problem`` (the
    dataset's loader raises them)."""
    lay = _Layout(cosore_root(root))
    rows = []
    for name in lay.names():
        row = {"dataset": name, "has_data": lay.data_file(name).is_file(), "problem": ""}
        try:
            row.update(site_metadata(name, lay.description(name), lay.description_file(name)))
            row["n_ports"] = len(lay.ports(name))
        except UserError as err:
            row["problem"] = str(err)
        rows.append(row)
    cols = ["dataset", "has_data", "site_name", "lat", "lon", "elevation_m", "igbp", "igbp_raw", "timezone",
            "utc_offset_h", "instrument", "network", "site_id", "primary_pub", "other_pubs", "n_ports", "problem"]
    return pd.DataFrame(rows).reindex(columns=cols)


# --------------------------------------------------------------------------- records
def _read_data(path: Path) -> tuple[pd.DataFrame, bool]:
    """Raw data frame and whether its timestamps are UTC instants (RDS) or local (CSV)."""
    if path.suffix.lower() == ".rds":
        import pyreadr

        try:
            result = pyreadr.read_r(str(path))
        except Exception as exc:  # noqa: BLE001 - pyreadr raises several types for bad files
            raise UserError(f"corrupt or unreadable R data file ({exc.__class__.__name__})", file=path) from None
        if None not in result:
            raise UserError("R data file holds no data frame", file=path)
        return result[None], True
    try:
        df = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), False
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"unreadable CSV ({exc.__class__.__name__})", file=path) from None
    return df, False


def _parse_time(col: pd.Series, is_utc: bool, offset: timedelta) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        t = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz is not None else col
        return (t + offset) if is_utc else t
    s = col.astype("string").str.strip()
    has_tz = s.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    out = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns]")
    if (~has_tz).any():
        out[~has_tz] = pd.to_datetime(s[~has_tz], errors="coerce", format="ISO8601")
    if has_tz.any():
        inst = pd.to_datetime(s[has_tz], errors="coerce", utc=True, format="ISO8601")
        out[has_tz] = inst.dt.tz_localize(None) + offset
    return out


def _port_selection(ports: pd.DataFrame, which: str) -> pd.Series:
    var = ports["CSR_MSMT_VAR"].str.lower()
    if which == "rs_control":
        return (var == "rs") & (ports["CSR_TREATMENT"].str.lower() == "none")
    if which == "rh":
        return var == "rh"
    return pd.Series(True, index=ports.index)


def load_records(dataset: str, root: str | Path | None = None, ports: str = "rs_control", *,
                 percentile_filter: bool = False, flux_range: tuple[float, float] | None = None,
                 ) -> tuple[pd.DataFrame, qa.Accounting]:
    """Cleaned flux records of one dataset and the accounting of what was dropped.

    Columns: ``time`` (local standard time, naive), ``port``, ``flux_umol_m2_s``, the CSR driver
    columns (``CSR_T5``, ``CSR_SM10``, ``CSR_TAIR``, ...) and the standard drivers
    (``soil_temp_c``, ``swc_m3_m3``, ...; chosen depths in ``df.attrs['depths_cm']``), sorted by
    time and port. ``ports``: ``rs_control`` (Rs ports without treatment), ``rh`` (Rh ports),
    ``all``. ``percentile_filter`` drops records outside the 1st..99th percentile of the
    dataset's IGBP class (over all COSORE datasets, same port selection).
    Datasets without data give an empty frame and ``status == 'no_data'``.
    """
    if ports not in PORT_SELECTIONS:
        raise UserError(f"unknown port selection {ports!r}; choose one of {', '.join(PORT_SELECTIONS)}", field="ports")
    lo, hi = flux_range or (qa.FLUX_MIN_UMOL_M2_S, qa.FLUX_MAX_UMOL_M2_S)
    croot = cosore_root(root)
    lay = _Layout(croot)
    if dataset not in lay.names():
        raise UserError(f"no such COSORE dataset {dataset!r}", file=croot / "datasets", field="dataset")
    meta = site_metadata(dataset, lay.description(dataset), lay.description_file(dataset))
    port_table = lay.ports(dataset)
    acc = qa.Accounting(dataset)
    empty = pd.DataFrame({"time": pd.Series(dtype="datetime64[ns]"), "port": pd.Series(dtype="int32"),
                          "flux_umol_m2_s": pd.Series(dtype=float)})
    empty.attrs.update(dataset=dataset, depths_cm={}, **_attrs(meta))
    path = lay.data_file(dataset)
    if not path.is_file():
        acc.status, acc.message = "no_data", "no data file released (metadata only)"
        return empty, acc
    raw, is_utc = _read_data(path)
    acc.raw = acc.kept = len(raw)
    if raw.empty:
        acc.status, acc.message = "no_data", "data file holds no records"
        return empty, acc
    for col in ("CSR_FLUX_CO2", "CSR_PORT", "CSR_TIMESTAMP_BEGIN"):
        if col not in raw.columns and not (col == "CSR_TIMESTAMP_BEGIN" and "CSR_TIMESTAMP_END" in raw.columns):
            raise UserError("required column missing", file=path, field=col)

    offset = timedelta(hours=meta["utc_offset_h"])
    t = _parse_time(raw["CSR_TIMESTAMP_BEGIN"], is_utc, offset) if "CSR_TIMESTAMP_BEGIN" in raw else None
    if "CSR_TIMESTAMP_END" in raw.columns:
        t_end = _parse_time(raw["CSR_TIMESTAMP_END"], is_utc, offset)
        t = t_end if t is None else t.fillna(t_end)
    flux = pd.to_numeric(raw["CSR_FLUX_CO2"], errors="coerce")
    n_text = int((flux.isna() & raw["CSR_FLUX_CO2"].notna()).sum())
    if n_text:
        acc.notes.append(f"non-numeric CSR_FLUX_CO2 values: {n_text} (counted as nonfinite_flux)")
    port = pd.to_numeric(raw["CSR_PORT"], errors="coerce")
    df = pd.DataFrame({"time": t.astype("datetime64[ns]"), "port": port, "flux_umol_m2_s": flux})
    for c in driver_columns(raw.columns):
        col = raw[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            df[c] = col.to_numpy(dtype=float)
            continue
        vals = pd.to_numeric(col, errors="coerce")
        text = col[vals.isna() & col.notna()].astype(str).str.strip()
        n_bad = int((text != "").sum())
        if n_bad:
            acc.notes.append(f"non-numeric {c} values set to NaN: {n_bad}")
        df[c] = vals.astype(float)

    # 1. timestamps
    years = df["time"].dt.year
    df = qa.apply_mask(df, df["time"].isna() | (years < qa.YEAR_MIN) | (years > qa.YEAR_MAX), "bad_timestamp", acc)
    # 2. ports: port 0 in PORTS.txt describes every port without its own row
    listed = port_table.drop_duplicates("CSR_PORT", keep="first")
    if len(listed) < len(port_table):
        acc.notes.append("PORTS.txt lists a port twice (first row used)")
    by_port = listed.set_index("CSR_PORT")
    data_ports = {int(p) for p in df["port"].dropna().unique()}
    known = {int(p) for p in by_port.index}
    if 0 in known:
        known = known | data_ports
    missing_in_data = sorted(known - {0} - data_ports)
    if missing_in_data:
        acc.notes.append(f"PORTS.txt ports absent from the data: {missing_in_data}")
    unlisted = sorted(data_ports - known)
    if unlisted:
        acc.notes.append(f"data ports absent from PORTS.txt: {unlisted}")
    df = qa.apply_mask(df, ~df["port"].isin(known), "unknown_port", acc)
    sel = _port_selection(listed, ports)
    chosen = set(listed.loc[sel, "CSR_PORT"])
    if 0 in chosen:
        chosen = (chosen | data_ports) - set(listed.loc[~sel, "CSR_PORT"])
    df = qa.apply_mask(df, ~df["port"].isin(chosen), "excluded_port", acc)
    # 3. flux values
    df = qa.apply_mask(df, ~np.isfinite(df["flux_umol_m2_s"].to_numpy(dtype=float)), "nonfinite_flux", acc)
    df = qa.apply_mask(df, qa.flux_range_mask(df["flux_umol_m2_s"], lo, hi), "implausible_flux", acc)
    # 4. records sharing port and timestamp are merged into one (mean); the extra ones are counted
    df = qa.merge_duplicates(df, ["port", "time"], acc)
    # 5. optional per-IGBP percentile filter
    if percentile_filter and len(df):
        b = igbp_percentile_bounds(root, ports).loc[meta["igbp"]]
        df = qa.apply_mask(df, qa.percentile_mask(df["flux_umol_m2_s"], b["lo"], b["hi"]), "igbp_percentile", acc)

    df["port"] = df["port"].astype("int32")
    df = qa.clean_drivers(df, acc)
    df = df.sort_values(["time", "port"], kind="stable").reset_index(drop=True)
    df, depths = pick_standard_drivers(df)
    df.attrs.update(dataset=dataset, depths_cm=depths, **_attrs(meta))
    if acc.kept == 0:
        acc.message = f"no records left for port selection '{ports}'"
    assert acc.closes, f"accounting does not close for {dataset}"
    return df, acc


def _attrs(meta: dict) -> dict:
    return {k: meta[k] for k in ("site_name", "lat", "lon", "elevation_m", "igbp", "timezone", "utc_offset_h")}


# --------------------------------------------------------------------------- caches
def _code_digest() -> str:
    """Digest of the cleaning/aggregation code, so any edit invalidates the caches."""
    h = hashlib.sha256(CODE_VERSION.encode())
    for mod in (__file__, qa.__file__, sys.modules[aggregate.__module__].__file__):
        h.update(Path(mod).read_bytes())
    return h.hexdigest()[:12]


def _signature(lay: _Layout, names, options: dict) -> str:
    h = hashlib.sha256(json.dumps({"code": _code_digest(), "root": str(lay.root.resolve()), **options},
                                  sort_keys=True).encode())
    for name in names:
        for p in lay.signature_files(name):
            st = p.stat() if p.exists() else None
            h.update(f"{p.name}:{name}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1};".encode())
    return h.hexdigest()[:20]


def igbp_percentile_bounds(root: str | Path | None = None, ports: str = "rs_control",
                           lo_q: float = 0.01, hi_q: float = 0.99) -> pd.DataFrame:
    """1st/99th percentile of cleaned record fluxes per IGBP class over all datasets (cached)."""
    lay = _Layout(cosore_root(root))
    meta = list_datasets(lay.root)
    ok = meta[meta["has_data"] & (meta["problem"] == "")]
    path = cache_dir() / f"cosore_igbp_bounds_{_signature(lay, ok['dataset'], dict(p=ports, lo=lo_q, hi=hi_q))}.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    by_class: dict[str, list] = {}
    for name, code in zip(ok["dataset"], ok["igbp"]):
        try:
            rec, _ = load_records(name, lay.root, ports)
        except UserError:
            continue
        by_class.setdefault(code, []).append(rec["flux_umol_m2_s"].to_numpy())
    bounds = qa.group_quantiles({g: np.concatenate(v) for g, v in by_class.items()}, lo_q, hi_q)
    bounds.to_parquet(path)
    return bounds


def daily_table(root: str | Path | None = None, *, percentile_filter: bool = True, cache: bool = True,
                ports: str = "rs_control", progress: bool = True, port_balance: bool = False,
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cleaned daily table of all datasets and the accounting table.

    Daily: ``dataset, date, flux_umol_m2_s, flux_n, flux_ports`` and the standard drivers
    (``soil_temp_c`` + ``_min``/``_max``, ``swc_m3_m3``, ``air_temp_c`` + ``_min``/``_max``,
    ``par_umol_m2_s``, ``rh_pct``, ``precip_mm``; ``soil_temp_depth_cm``, ``swc_depth_cm``).
    Accounting: one row per dataset (``status`` ok | no_data | error): ``raw, kept,
    dropped_<reason>...``. A dataset that fails to load is skipped with status ``error``, its
    message, and a warning; it does not stop the build. Cached as Parquet in ``cache_dir()``.
    ``port_balance``: days with some ports missing get the mean of all ports (``prep.aggregate``).
    """
    lay = _Layout(cosore_root(root))
    names = lay.names()
    options = dict(p=ports, pf=percentile_filter) | ({"pb": True} if port_balance else {})  # old keys stay valid
    key = _signature(lay, names, options)
    daily_path, acc_path = cache_dir() / f"cosore_daily_{key}.parquet", cache_dir() / f"cosore_accounting_{key}.parquet"
    if cache and daily_path.is_file() and acc_path.is_file():
        return pd.read_parquet(daily_path), pd.read_parquet(acc_path)

    meta = list_datasets(lay.root).set_index("dataset")
    records: dict[str, pd.DataFrame] = {}
    accounts: dict[str, qa.Accounting] = {}
    for name in track(names, "Reading COSORE datasets", progress):
        try:
            rec, acc = load_records(name, lay.root, ports)
        except UserError as err:
            acc = qa.Accounting(name, status="error", message=str(err))
            warnings.warn(f"COSORE dataset {name} skipped: {err}", stacklevel=2)
            rec = None
        accounts[name] = acc
        if rec is not None and len(rec):
            keep = ["time", "port", "flux_umol_m2_s", *[c for c in STANDARD_DRIVERS if c in rec.columns]]
            slim = rec[keep]
            slim.attrs = dict(rec.attrs)
            records[name] = slim

    if percentile_filter and records:
        by_class: dict[str, list] = {}
        for n, r in records.items():
            by_class.setdefault(meta.at[n, "igbp"], []).append(r["flux_umol_m2_s"].to_numpy())
        bounds = qa.group_quantiles({g: np.concatenate(v) for g, v in by_class.items()})
        for name, rec in records.items():
            b = bounds.loc[meta.at[name, "igbp"]]
            attrs = rec.attrs
            records[name] = qa.apply_mask(rec, qa.percentile_mask(rec["flux_umol_m2_s"], b["lo"], b["hi"]),
                                          "igbp_percentile", accounts[name])
            records[name].attrs = attrs

    parts = []
    for name, rec in records.items():
        if rec.empty:
            continue
        day = aggregate(rec, "1D", port_balance=port_balance).reset_index().rename(columns={"time": "date"})
        day.insert(0, "dataset", name)
        for k in ("soil_temp_depth_cm", "swc_depth_cm"):
            day[k] = rec.attrs.get("depths_cm", {}).get(k, np.nan)
        parts.append(day)
    daily = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["dataset", "date", "flux_umol_m2_s"])
    daily = daily.reindex(columns=_daily_columns(daily.columns))
    accounting = qa.accounting_table([accounts[n] for n in names])
    for a in accounts.values():
        assert a.closes, f"accounting does not close for {a.dataset}"
    if cache:
        daily.to_parquet(daily_path, index=False)
        accounting.to_parquet(acc_path, index=False)
    return daily, accounting


def _daily_columns(present) -> list[str]:
    order = ["dataset", "date", "flux_umol_m2_s", "flux_n", "flux_ports"]
    for d in STANDARD_DRIVERS:
        order += [d, f"{d}_min", f"{d}_max"]
    order += ["soil_temp_depth_cm", "swc_depth_cm"]
    return [c for c in order if c in present or c in ("soil_temp_depth_cm", "swc_depth_cm")]
