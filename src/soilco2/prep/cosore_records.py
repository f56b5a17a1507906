"""COSORE records cleaned and accounted, and the cached daily table of every dataset.

Cleaning, in order, each step counting what it drops by reason (``qa.Accounting``): bad
timestamps, ports not in PORTS.txt, ports outside the selection (``rs_control``: Rs ports without
treatment; ``rh``; ``all``), non-finite and implausible fluxes, duplicate (port, time) records
(merged), the optional per-IGBP 1–99 % filter, and drivers outside their plausible ranges.

Public API (docs/contracts.md): ``load_records``, ``igbp_percentile_bounds``, ``daily_table``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.files import write_parquet
from soilco2.paths import cache_dir
from soilco2.prep import aggregate as aggregate_module
from soilco2.prep import qa
from soilco2.prep.aggregate import aggregate, pick_standard_drivers
from soilco2.progress import track
from soilco2.sources import cosore
from soilco2.sources.cosore import PORT_SELECTIONS, Layout, cosore_root, list_datasets, port_selection, read_dataset
from soilco2.sources.cosore_columns import STANDARD_DRIVERS

__all__ = ["load_records", "igbp_percentile_bounds", "daily_table", "CODE_VERSION"]

# Part of the cache key, with a digest of this module, prep/qa.py, prep/aggregate.py and sources/cosore.py.
CODE_VERSION = "cosore-2"


def load_records(
    dataset: str,
    root: str | Path | None = None,
    ports: str = "rs_control",
    *,
    percentile_filter: bool = False,
    flux_range: tuple[float, float] | None = None,
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
    raw = read_dataset(dataset, root)
    meta, port_table = raw.meta, raw.ports
    acc = qa.Accounting(dataset)
    acc.notes.extend(raw.notes)
    if raw.problem:
        empty = raw.records.astype({"port": "int32"})
        empty.attrs.update(depths_cm={}, **raw.attrs)
        acc.status, acc.message = "no_data", raw.problem
        return empty, acc
    df = raw.records
    acc.raw = acc.kept = len(df)

    # 1. timestamps
    years = df["time"].dt.year
    future = df["time"] > pd.Timestamp.now() + pd.Timedelta(days=1)  # a measurement cannot lie ahead
    bad_time = df["time"].isna() | (years < qa.YEAR_MIN) | (years > qa.YEAR_MAX) | future
    df = qa.apply_mask(df, bad_time, "bad_timestamp", acc)
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
    sel = port_selection(listed, ports)
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
    df.attrs.update(depths_cm=depths, **raw.attrs)
    if acc.kept == 0:
        acc.message = f"no records left for port selection '{ports}'"
    assert acc.closes, f"accounting does not close for {dataset}"
    return df, acc


def _code_digest() -> str:
    """Digest of the cleaning/aggregation code, so any edit invalidates the caches."""
    h = hashlib.sha256(CODE_VERSION.encode())
    for mod in (__file__, qa.__file__, aggregate_module.__file__, cosore.__file__):
        h.update(Path(mod).read_bytes())
    return h.hexdigest()[:12]


def _signature(lay: Layout, names, options: dict) -> str:
    h = hashlib.sha256(
        json.dumps({"code": _code_digest(), "root": str(lay.root.resolve()), **options}, sort_keys=True).encode()
    )
    for name in names:
        for p in lay.signature_files(name):
            st = p.stat() if p.exists() else None
            h.update(f"{p.name}:{name}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1};".encode())
    return h.hexdigest()[:20]


def igbp_percentile_bounds(
    root: str | Path | None = None, ports: str = "rs_control", lo_q: float = 0.01, hi_q: float = 0.99
) -> pd.DataFrame:
    """1st/99th percentile of cleaned record fluxes per IGBP class over all datasets (cached)."""
    lay = Layout(cosore_root(root))
    meta = list_datasets(lay.root)
    ok = meta[meta["has_data"] & (meta["problem"] == "")]
    path = cache_dir() / f"cosore_igbp_bounds_{_signature(lay, ok['dataset'], dict(p=ports, lo=lo_q, hi=hi_q))}.parquet"
    cached = read_cache(path)
    if cached is not None:
        return cached
    by_class: dict[str, list] = {}
    for name, code in zip(ok["dataset"], ok["igbp"]):
        try:
            rec, _ = load_records(name, lay.root, ports)
        except UserError:
            continue
        by_class.setdefault(code, []).append(rec["flux_umol_m2_s"].to_numpy())
    bounds = qa.group_quantiles({g: np.concatenate(v) for g, v in by_class.items()}, lo_q, hi_q)
    write_cache(bounds, path)
    return bounds


def daily_table(
    root: str | Path | None = None,
    *,
    percentile_filter: bool = True,
    cache: bool = True,
    ports: str = "rs_control",
    progress: bool = True,
    port_balance: bool = False,
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
    lay = Layout(cosore_root(root))
    names = lay.names()
    options = dict(p=ports, pf=percentile_filter) | ({"pb": True} if port_balance else {})  # old keys stay valid
    key = _signature(lay, names, options)
    daily_path, acc_path = cache_dir() / f"cosore_daily_{key}.parquet", cache_dir() / f"cosore_accounting_{key}.parquet"
    if cache:
        cached = read_cache(daily_path), read_cache(acc_path)
        if cached[0] is not None and cached[1] is not None:
            return cached

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
            records[name] = qa.apply_mask(
                rec, qa.percentile_mask(rec["flux_umol_m2_s"], b["lo"], b["hi"]), "igbp_percentile", accounts[name]
            )
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
    daily = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["dataset", "date", "flux_umol_m2_s"])
    )
    daily = daily.reindex(columns=_daily_columns(daily.columns))
    accounting = qa.accounting_table([accounts[n] for n in names])
    for a in accounts.values():
        assert a.closes, f"accounting does not close for {a.dataset}"
        reason, n = max(a.dropped.items(), key=lambda kv: kv[1])
        # every record dropped, and not only because the dataset measures another port selection
        if a.status == "ok" and a.raw > 0 and a.kept == 0 and reason != "excluded_port":
            warnings.warn(
                f"COSORE dataset {a.dataset}: all {a.raw} records dropped (mostly {reason}: {n})", stacklevel=2
            )
    if cache:
        write_cache(daily, daily_path)
        write_cache(accounting, acc_path)
    return daily, accounting


def read_cache(path: Path) -> pd.DataFrame | None:
    """A cached table, or None when it is missing or unreadable (e.g. truncated by a full disk:
    it is removed and rebuilt, with a warning)."""
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - any damage means: rebuild
        warnings.warn(f"cache {path} unreadable ({err.__class__.__name__}); rebuilding it", stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def write_cache(df: pd.DataFrame, path: Path) -> None:
    """Write a cache atomically; a cache that cannot be written (full disk, read-only folder) is a
    warning, not an error: the result is still returned, only the next call rebuilds it."""
    try:
        write_parquet(df, path, index=False)
    except UserError as err:
        warnings.warn(f"cache not written: {err}", stacklevel=3)


def _daily_columns(present) -> list[str]:
    order = ["dataset", "date", "flux_umol_m2_s", "flux_n", "flux_ports"]
    for d in STANDARD_DRIVERS:
        order += [d, f"{d}_min", f"{d}_max"]
    order += ["soil_temp_depth_cm", "swc_depth_cm"]
    return [c for c in order if c in present or c in ("soil_temp_depth_cm", "swc_depth_cm")]
