"""The S1 daily dataset's form: its target, static attributes and IGBP one-hot classes, the
``xarray.Dataset`` it is assembled into, a long table of its in-span days, its list attributes
after a NetCDF round trip, and CF-NetCDF output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2 import cf
from soilco2.errors import UserError
from soilco2.sources.cosore import igbp_code as cosore_igbp_code

TARGET = "flux_umol_m2_s"

# IGBP classes (codes) of the COSORE vocabulary; one-hot columns are always all of these.
IGBP_CODES = ["ENF", "EBF", "DNF", "DBF", "MF", "CSH", "OSH", "WSA", "SAV", "GRA", "WET", "CRO", "URB", "OTHER"]
STATIC_VARS = {
    "lat_deg": ("degrees_north", "site latitude"),
    "lon_deg": ("degrees_east", "site longitude"),
    "elevation_m": ("m", "site elevation above sea level"),
    "mat_c": ("degC", "mean annual air temperature (BIOME4 climatology at the site)"),
    "map_mm": ("mm yr-1", "mean annual precipitation (BIOME4 climatology at the site)"),
    "soc_mg_ha": ("Mg C ha-1", "soil organic carbon stock 0-30 cm (Sanderman et al. 2017)"),
    "whc_mm": ("mm", "soil water-holding capacity (BIOME4 input data)"),
}


def igbp_code(text) -> str:
    """One-hot class of a site: its IGBP code (COSORE's vocabulary) when it is in IGBP_CODES, else OTHER."""
    if not isinstance(text, str):
        return "OTHER"
    try:
        code = cosore_igbp_code(text)
    except UserError:
        return "OTHER"
    return code if code in IGBP_CODES else "OTHER"


def _target(table: pd.DataFrame, sites: pd.DataFrame, time: pd.DatetimeIndex):
    flux = np.full((len(sites), len(time)), np.nan)
    n = np.zeros((len(sites), len(time)))
    t = table[table["dataset"].isin(sites.index) & np.isfinite(table[TARGET].to_numpy(float))]
    si = pd.Index(sites.index).get_indexer(t["dataset"])
    ti = time.get_indexer(t["date"])
    ok = (si >= 0) & (ti >= 0)
    flux[si[ok], ti[ok]] = t[TARGET].to_numpy(float)[ok]
    if "flux_n" in t.columns:
        n[si[ok], ti[ok]] = t["flux_n"].to_numpy(float)[ok]
    else:
        n[si[ok], ti[ok]] = 1
    return flux, n


def _static(sites: pd.DataFrame, site_attributes, clim_provider) -> tuple[dict[str, np.ndarray], dict]:
    lat, lon = sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)
    out = {
        "lat_deg": lat,
        "lon_deg": lon,
        "elevation_m": pd.to_numeric(
            sites.get("elevation_m", pd.Series(np.nan, sites.index)), errors="coerce"
        ).to_numpy(float),
    }
    if site_attributes is not None:
        attrs = site_attributes(lat, lon)
        for k in ("mat_c", "map_mm", "soc_mg_ha", "whc_mm"):
            out[k] = np.asarray(attrs[k], float).reshape(-1) if k in attrs else np.full(len(sites), np.nan)
    else:  # from the climatology alone
        m = clim_provider.monthly(sites)
        out["mat_c"] = m["temp_c"].mean(axis=1)
        out["map_mm"] = m["prec_mm_month"].sum(axis=1)
        out["soc_mg_ha"] = np.full(len(sites), np.nan)
        out["whc_mm"] = np.full(len(sites), np.nan)
    if "whc_mm" in out:  # BIOME4 marks some desert cells 999.9 (no soil): treat as missing
        out["whc_mm"] = np.where(out["whc_mm"] >= 999.0, np.nan, out["whc_mm"])
    filled = {}
    for k, v in out.items():
        bad = ~np.isfinite(v)
        if bad.any():
            med = np.nanmedian(v) if (~bad).any() else 0.0
            out[k] = np.where(bad, med, v)
            how = "median of the other sites" if (~bad).any() else "0 (no site has a value)"
            filled[k] = {"sites": [str(s) for s in sites.index[bad]], "fill": how}
    return out, filled


def to_dataset(
    cfg, table, sites, time, in_span, dynamic, specs, skipped, fill_counts, site_attributes, clim_provider
) -> xr.Dataset:
    flux, flux_n = _target(table, sites, time)
    dims = ("site", "time")
    data_vars = {
        TARGET: (
            dims,
            flux.astype("float32"),
            {
                "units": cf.CO2_FLUX_UNITS,
                "standard_name": cf.CO2_FLUX,
                "cell_methods": "time: mean",
                "long_name": "daily mean soil CO2 efflux, control Rs ports"
                + (", per-IGBP 1-99 % filter" if cfg.percentile_filter else "")
                + (", missing ports balanced by port levels" if cfg.port_balance else ""),
            },
        ),
        "flux_n": (dims, flux_n.astype("int32"), {"units": "1", "long_name": "flux records behind the daily mean"}),
        "in_span": (
            dims,
            in_span.astype("int8"),
            {
                "long_name": "inside the site's span (warm-up + first to last observed day)",
                "flag_values": np.array([0, 1], "int8"),
                "flag_meanings": "outside_span inside_span",
            },
        ),
    }
    for name, arr in dynamic.items():
        spec = specs[name]
        values = np.where(in_span, arr, np.nan).astype("float32")
        data_vars[name] = (dims, values, {"units": spec.units, "long_name": spec.long_name} | cf.driver_attrs(name))
    static, static_filled = _static(sites, site_attributes, clim_provider)
    for name, v in static.items():
        units, long = STATIC_VARS[name]
        data_vars[name] = (("site",), v.astype("float32"), {"units": units, "long_name": long})
    codes = [igbp_code(t) for t in sites.get("igbp", pd.Series(None, sites.index))]
    for c in IGBP_CODES:
        data_vars[f"igbp_{c}"] = (
            ("site",),
            np.array([x == c for x in codes], "float32"),
            {"units": "1", "long_name": f"IGBP class {c} (one-hot)"},
        )
    coords = {
        "site": (
            "site",
            np.array(sites.index, dtype=str),
            {"long_name": "COSORE dataset name", "cf_role": "timeseries_id"},
        ),
        "time": (
            "time",
            time.to_numpy(),
            {"long_name": "day (local standard time)", "standard_name": "time", "axis": "T"},
        ),
        "lat": ("site", sites["lat"].to_numpy(float), {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("site", sites["lon"].to_numpy(float), {"units": "degrees_east", "standard_name": "longitude"}),
        "igbp": (
            "site",
            np.array([str(x) for x in sites.get("igbp_text", sites.get("igbp", pd.Series("", sites.index)))]),
            {"long_name": "IGBP land cover (COSORE text)"},
        ),
        "igbp_code": ("site", np.array(codes), {"long_name": "IGBP land cover code"}),
        "dataset": ("site", np.array(sites.index, dtype=str), {"long_name": "COSORE dataset"}),
        "first_obs_day": ("site", sites["first_obs_day"].to_numpy(), {"long_name": "first observed flux day"}),
        "last_obs_day": ("site", sites["last_obs_day"].to_numpy(), {"long_name": "last observed flux day"}),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    dyn = list(dynamic)
    ds.attrs = {
        "title": "soilco2 S1 daily dataset (COSORE sites x days)",
        "target": TARGET,
        "dynamic_features": dyn,
        "static_features": list(static) + [f"igbp_{c}" for c in IGBP_CODES],
        "skewed_features": [n for n in dyn if specs[n].skewed],
        "skipped_sites": json.dumps(skipped),
        "fill_counts": json.dumps(fill_counts),
        "static_filled": json.dumps(static_filled),
        "config": json.dumps(cfg.model_dump(mode="json")),
    }
    return ds


def daily_dataset_table(ds: xr.Dataset) -> pd.DataFrame:
    """Long ``site, date, target, flux_n, <dynamic>, <static>`` table over in-span days."""
    names = [ds.attrs["target"], "flux_n", *ds.attrs["dynamic_features"]]
    frame = ds[names].to_dataframe().reset_index().rename(columns={"time": "date"})
    frame = frame[ds["in_span"].values.reshape(-1).astype(bool)]
    static = ds[list(ds.attrs["static_features"])].to_dataframe()
    keep = [c for c in frame.columns if c in ("site", "date", *names)]
    return frame[keep].merge(static, left_on="site", right_index=True).reset_index(drop=True)


def as_list(ds: xr.Dataset, key: str) -> list[str]:
    """``ds.attrs`` list entries survive NetCDF round trips as arrays or strings; normalise."""
    v = ds.attrs[key]
    if isinstance(v, str):
        return [v] if v else []
    return [str(x) for x in np.atleast_1d(v)]


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """CF-NetCDF with list attributes kept as space-free JSON strings."""
    out = ds.copy()
    for k in ("dynamic_features", "static_features", "skewed_features"):
        out.attrs[k] = json.dumps(list(ds.attrs[k]))
    return cf.write(out, path, feature_type="timeSeries")
