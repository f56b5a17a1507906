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
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import data_root
from soilco2.sources.cosore_columns import IGBP_CODES, driver_columns, igbp_code

__all__ = [
    "list_datasets",
    "read_dataset",
    "RawDataset",
    "Layout",
    "parse_description",
    "parse_ports",
    "standard_offset",
    "cosore_root",
    "port_selection",
    "PORT_SELECTIONS",
    "IGBP_CODES",
]

PORT_SELECTIONS = ("rs_control", "rh", "all")
REQUIRED_KEYS = ("CSR_SITE_NAME", "CSR_LATITUDE", "CSR_LONGITUDE", "CSR_TIMEZONE", "CSR_IGBP")


# IGBP classes (code: name) and the spellings COSORE uses for them.
def cosore_root(root: str | Path | None = None) -> Path:
    """The COSORE folder: ``root`` may be the data root (holding ``cosore/``) or COSORE itself."""
    base = Path(root).expanduser() if root is not None else data_root() / "cosore"
    if not base.exists():
        raise UserError(
            "COSORE data root does not exist; set SOILCO2_DATA or run 'soilco2 data download cosore'", file=base
        )
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
            r = r[: width - 1] + [", ".join(r[width - 1 :])]
        body.append(r + [""] * (width - len(r)))
    return pd.DataFrame(body, columns=header)


def parse_ports(path: Path) -> pd.DataFrame:
    """Ports table: ``CSR_PORT`` (int), ``CSR_MSMT_VAR``, ``CSR_TREATMENT`` and any other columns."""
    if not path.is_file():
        raise UserError("PORTS.txt missing", file=path)
    df = _parse_ports_text(path.read_text(encoding="utf-8", errors="replace"))
    if df.empty:
        raise UserError("no port listed (empty PORTS.txt): nothing says what the chambers measured", file=path)
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
        "dataset": name,
        "site_name": desc["CSR_SITE_NAME"],
        "lat": lat,
        "lon": lon,
        "elevation_m": float(elev) if pd.notna(elev) else np.nan,
        "igbp": igbp_code(desc["CSR_IGBP"], file=file),
        "igbp_raw": desc["CSR_IGBP"].strip(),
        "timezone": desc["CSR_TIMEZONE"].strip(),
        "utc_offset_h": offset.total_seconds() / 3600,
        "instrument": desc.get("CSR_INSTRUMENT", ""),
        "network": desc.get("CSR_NETWORK", ""),
        "site_id": desc.get("CSR_SITE_ID", ""),
        "primary_pub": desc.get("CSR_PRIMARY_PUB", ""),
        "other_pubs": desc.get("CSR_OTHER_PUBS", ""),
    }


class Layout:
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
            found = sorted(self._desc["CSR_DATASET"].str.strip().unique())
        else:
            found = sorted(p.name for p in (self.root / "datasets").iterdir() if p.is_dir())
        if not found:
            where = self.root / ("description.csv" if self.flat else "datasets")
            raise UserError("no COSORE dataset here (an empty folder?)", file=where)
        return found

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
    lay = Layout(cosore_root(root))
    rows = []
    for name in lay.names():
        row = {"dataset": name, "has_data": lay.data_file(name).exists(), "problem": ""}
        try:
            row.update(site_metadata(name, lay.description(name), lay.description_file(name)))
            row["n_ports"] = len(lay.ports(name))
        except UserError as err:
            row["problem"] = str(err)
        rows.append(row)
    cols = [
        "dataset",
        "has_data",
        "site_name",
        "lat",
        "lon",
        "elevation_m",
        "igbp",
        "igbp_raw",
        "timezone",
        "utc_offset_h",
        "instrument",
        "network",
        "site_id",
        "primary_pub",
        "other_pubs",
        "n_ports",
        "problem",
    ]
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


@dataclass
class RawDataset:
    """One dataset as read: site metadata, PORTS table, the data file and its records with
    ``time`` (local standard time), ``port``, ``flux_umol_m2_s`` and the CSR driver columns as
    numbers (text values set to NaN, each column's count in ``notes``)."""

    dataset: str
    meta: dict
    ports: pd.DataFrame
    path: Path
    records: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    problem: str = ""  # non-empty: no records (metadata only, or an empty data file)

    @property
    def attrs(self) -> dict:
        return {
            "dataset": self.dataset,
            **{k: self.meta[k] for k in ("site_name", "lat", "lon", "elevation_m", "igbp", "timezone", "utc_offset_h")},
        }


def read_dataset(dataset: str, root: str | Path | None = None) -> RawDataset:
    """Read one COSORE dataset (no cleaning: :func:`soilco2.prep.cosore_records.load_records`)."""
    croot = cosore_root(root)
    lay = Layout(croot)
    if dataset not in lay.names():
        raise UserError(f"no such COSORE dataset {dataset!r}", file=croot / "datasets", field="dataset")
    meta = site_metadata(dataset, lay.description(dataset), lay.description_file(dataset))
    port_table = lay.ports(dataset)
    empty = pd.DataFrame(
        {
            "time": pd.Series(dtype="datetime64[ns]"),
            "port": pd.Series(dtype=float),
            "flux_umol_m2_s": pd.Series(dtype=float),
        }
    )
    path = lay.data_file(dataset)
    if path.exists() and not path.is_file():
        raise UserError("not a file", file=path)
    if not path.is_file():
        return RawDataset(dataset, meta, port_table, path, empty, problem="no data file released (metadata only)")
    raw, is_utc = _read_data(path)
    if raw.empty:
        return RawDataset(dataset, meta, port_table, path, empty, problem="data file holds no records")
    for col in ("CSR_FLUX_CO2", "CSR_PORT", "CSR_TIMESTAMP_BEGIN"):
        if col not in raw.columns and not (col == "CSR_TIMESTAMP_BEGIN" and "CSR_TIMESTAMP_END" in raw.columns):
            raise UserError("required column missing", file=path, field=col)
    notes: list[str] = []
    offset = timedelta(hours=meta["utc_offset_h"])
    t = _parse_time(raw["CSR_TIMESTAMP_BEGIN"], is_utc, offset) if "CSR_TIMESTAMP_BEGIN" in raw else None
    if "CSR_TIMESTAMP_END" in raw.columns:
        t_end = _parse_time(raw["CSR_TIMESTAMP_END"], is_utc, offset)
        t = t_end if t is None else t.fillna(t_end)
    flux = pd.to_numeric(raw["CSR_FLUX_CO2"], errors="coerce")
    n_text = int((flux.isna() & raw["CSR_FLUX_CO2"].notna()).sum())
    if n_text:
        notes.append(f"non-numeric CSR_FLUX_CO2 values: {n_text} (counted as nonfinite_flux)")
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
            notes.append(f"non-numeric {c} values set to NaN: {n_bad}")
        df[c] = vals.astype(float)
    return RawDataset(dataset, meta, port_table, path, df, notes)


def port_selection(ports: pd.DataFrame, which: str) -> pd.Series:
    var = ports["CSR_MSMT_VAR"].str.lower()
    if which == "rs_control":
        return (var == "rs") & (ports["CSR_TREATMENT"].str.lower() == "none")
    if which == "rh":
        return var == "rh"
    return pd.Series(True, index=ports.index)
