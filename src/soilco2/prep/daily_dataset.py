"""The S1 daily dataset: a ``(site, time)`` xarray Dataset of target, drivers and static attributes.

``build_daily_dataset(cfg)`` reads COSORE (via :func:`soilco2.sources.cosore.daily_table`) and the
grids (via :mod:`soilco2.sources.grids`), then :func:`assemble_daily_dataset` does the rest without
touching files (so it also runs on synthetic tables). See ``docs/daily_data.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.errors import UserError
from soilco2.prep import gaps
from soilco2.prep.daily_config import DailyDataConfig, ProvidersConfig  # noqa: F401 (public here too)
from soilco2.sources.cosore import igbp_code as cosore_igbp_code
from soilco2.prep.drivers import (
    AstronomyProvider,
    ClimatologyProvider,
    DriverVar,
    InSituProvider,
    tower_fill,
)

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


# --- reading ------------------------------------------------------------------------------------


def build_daily_dataset(cfg: DailyDataConfig | None = None, root=None, *, cosore_dir=None,
                        era5_client=None, progress: bool = True) -> xr.Dataset:
    """Read COSORE + grids under the data root and assemble the daily dataset.

    ``cosore_dir``: another folder in COSORE layout (new sites, e.g. ``daily predict --cosore``);
    the grids still come from the data root. Its daily table is not cached."""
    from soilco2.paths import data_root
    from soilco2.sources import grids
    from soilco2.sources.cosore import cosore_root, daily_table, list_datasets

    cfg = cfg or DailyDataConfig()
    root = data_root(root or cfg.data_root)
    croot = cosore_root(cosore_dir if cosore_dir is not None else root)
    meta = list_datasets(croot)
    if meta.empty or not meta["has_data"].any():
        raise UserError("no COSORE dataset with data in this folder", file=croot)
    table, accounting = daily_table(croot, percentile_filter=cfg.percentile_filter, port_balance=cfg.port_balance,
                                    cache=cosore_dir is None, progress=progress)
    if table.empty:
        raise UserError("no usable daily observations in this folder", file=croot)
    if "igbp_raw" in meta.columns:  # keep COSORE's text for the coord, codes for the one-hot
        meta = meta.assign(igbp_text=meta["igbp_raw"])

    def attrs_at(lat, lon):
        return grids.site_attributes(lat, lon, root=root)

    def monthly_at(lat, lon):
        return grids.climatology_at(lat, lon, root=root)

    ds = assemble_daily_dataset(cfg, table, meta, monthly_at=monthly_at, site_attributes=attrs_at, root=root,
                                era5_client=era5_client)
    ds.attrs["source_records_kept"] = int(_sum_col(accounting, "kept"))
    ds.attrs["source_records_raw"] = int(_sum_col(accounting, "raw"))
    ds.attrs["cosore_dir"] = str(croot)
    return ds


def _sum_col(table, col) -> float:
    return float(table[col].sum()) if isinstance(table, pd.DataFrame) and col in table else 0.0


# --- assembling ---------------------------------------------------------------------------------


def _select_sites(cfg: DailyDataConfig, table: pd.DataFrame, meta: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Sites to build (indexed by dataset) and {site: reason} for the ones skipped."""
    meta = meta.set_index("dataset") if "dataset" in meta.columns else meta
    observed = table[np.isfinite(table[TARGET].to_numpy(float))]
    n_obs = observed.groupby("dataset").size()
    known = list(meta.index)
    if cfg.sites_include is not None:
        if not cfg.sites_include:
            raise UserError("empty site list: name at least one site or leave it out for all",
                            field="data.sites_include")
        unknown = [s for s in cfg.sites_include if s not in known]
        if unknown:
            raise UserError(f"unknown site(s): {', '.join(unknown)}", field="data.sites_include")
        wanted = list(dict.fromkeys(cfg.sites_include))
    else:
        wanted = known
    wanted = [s for s in wanted if s not in set(cfg.sites_exclude)]
    if not wanted:
        raise UserError("no site left after sites_exclude", field="data.sites_exclude")
    skipped: dict[str, str] = {}
    keep = []
    for s in wanted:
        n = int(n_obs.get(s, 0))
        lat, lon = meta.loc[s].get("lat"), meta.loc[s].get("lon")
        if n == 0 and not bool(meta.loc[s].get("has_data", True)):
            skipped[s] = "no released data"
        elif n == 0:
            skipped[s] = "no observed flux day left after cleaning (see the COSORE accounting)"
        elif n < cfg.min_obs_days:
            skipped[s] = f"{n} observed days, fewer than min_obs_days={cfg.min_obs_days}"
        elif not (np.isfinite(lat) and np.isfinite(lon)):
            skipped[s] = "no coordinates"
        else:
            keep.append(s)
    single = cfg.sites_include is not None and len(wanted) == 1
    if not keep:
        reason = skipped[wanted[0]] if single else f"all {len(wanted)} sites skipped"
        raise UserError(f"no usable site: {reason}", field="data.sites_include" if single else "data")
    sites = meta.loc[keep].copy()
    first = observed.groupby("dataset")["date"].min()
    last = observed.groupby("dataset")["date"].max()
    sites["first_obs_day"] = pd.to_datetime(first.reindex(keep)).dt.normalize()
    sites["last_obs_day"] = pd.to_datetime(last.reindex(keep)).dt.normalize()
    sites["n_obs_days"] = n_obs.reindex(keep).astype(int)
    return sites, skipped


def assemble_daily_dataset(cfg: DailyDataConfig, table: pd.DataFrame, meta: pd.DataFrame, *,
                           monthly_at=None, site_attributes=None, root=None, era5_client=None) -> xr.Dataset:
    """Build the dataset from an in-memory daily table (``dataset, date, flux_umol_m2_s, flux_n,
    <drivers>``) and site metadata (``dataset, lat, lon, elevation_m, igbp``).

    ``monthly_at(lat, lon)`` gives the monthly climatology (see :class:`ClimatologyProvider`);
    ``site_attributes(lat, lon)`` gives ``mat_c, map_mm, soc_mg_ha, whc_mm`` per point."""
    p = cfg.providers
    era5_sources: dict[str, str] = {}
    if not (p.insitu or p.climatology or p.astronomy or p.era5):
        raise UserError("every driver provider is off; switch at least one on", field="data.providers")
    table = table.copy()
    table["date"] = pd.to_datetime(table["date"]).dt.normalize()
    sites, skipped = _select_sites(cfg, table, meta)
    clim_provider = ClimatologyProvider(root=root, monthly_at=monthly_at)
    monthly = clim_provider.monthly(sites)
    no_clim = ~np.isfinite(np.stack(list(monthly.values()), axis=1)).all(axis=(1, 2))
    if no_clim.any():  # the fills need a climatology: no BIOME4 land cell near the site
        for s in sites.index[no_clim]:
            skipped[s] = "no BIOME4 climatology cell near the site (coordinates at sea?)"
        if no_clim.all():
            raise UserError("no usable site: no BIOME4 climatology cell near the site(s)", field="data")
        sites = sites[~no_clim]
        clim_provider = ClimatologyProvider(root=root, monthly_at=monthly_at)
    start = (sites["first_obs_day"] - pd.Timedelta(days=cfg.warmup_days)).min()
    time = pd.date_range(start, sites["last_obs_day"].max(), freq="D")
    span_start = (sites["first_obs_day"] - pd.Timedelta(days=cfg.warmup_days)).to_numpy()
    in_span = (time.to_numpy()[None, :] >= span_start[:, None]) & (
        time.to_numpy()[None, :] <= sites["last_obs_day"].to_numpy()[:, None])
    sites["span_start"] = span_start
    sites["span_end"] = sites["last_obs_day"]

    # references for fills are always computed (cheap, offline); they are features only when on
    clim = clim_provider.provide(sites, time)
    astro = AstronomyProvider().provide(sites, time)
    dynamic: dict[str, np.ndarray] = {}
    specs: dict[str, DriverVar] = {}
    fill_counts: dict[str, dict[str, int]] = {}

    era5, era = None, {}
    if p.era5:
        if cfg.era5_role == "fill" and not p.insitu:
            raise UserError("era5_role: fill fills the in-situ drivers; switch providers.insitu on or use "
                            "era5_role: features", field="data.era5_role")
        from soilco2.prep.drivers import ERA5Provider

        if era5_client is None and cfg.era5_source == "fluxnet_dd":
            from soilco2.sources.fluxnet_era5 import FluxnetERA5Files

            folder = Path(cfg.era5_fluxnet_dir)
            folder = folder if folder.is_absolute() or root is None else Path(root) / folder
            era5_client = FluxnetERA5Files.from_folder(folder, meta.reset_index(), cfg.era5_fluxnet_max_km)
        era5 = ERA5Provider(model=cfg.era5_model, client=era5_client)
        era = {k: np.where(in_span, v, np.nan) for k, v in era5.provide(sites, time).items()}
        era_interp = {k: gaps.interpolate_short_gaps(v, cfg.max_gap_days) for k, v in era.items()}
        if hasattr(era5_client, "describe"):  # which tower's file each site uses
            era5_sources = {str(s): era5_client.describe(float(r["lat"]), float(r["lon"]))
                            for s, r in sites.iterrows()}
    weather = {}  # daily ERA5 references for the in-situ fills (era5_role: fill)
    if era and cfg.era5_role == "fill":
        for key, var in (("weather_temp_c", "era5_air_temp_c"), ("weather_precip_mm", "era5_precip_mm"),
                         ("weather_sw_w_m2", "era5_sw_w_m2"), ("weather_rh_pct", "era5_rh_pct")):
            if var in era:
                weather[key] = era_interp[var][0]

    has_insitu = np.zeros(len(sites), bool)
    tower_cells: dict[str, np.ndarray] = {}  # (site, time) cells each in-situ driver took from a tower
    if p.insitu:
        insitu = InSituProvider(table, list(cfg.insitu_drivers))
        raw = insitu.provide(sites, time)
        if cfg.tower_drivers:
            tower_cells = tower_fill(raw, sites, time, in_span, root=root, min_cover=cfg.tower_min_cover)
        ref = {**clim, **astro, **weather}
        for spec in insitu.variables():
            x = raw[spec.name]
            observed = np.isfinite(x) & in_span
            x = np.where(in_span, x, np.nan)
            base = spec.name.removesuffix("_min").removesuffix("_max")
            x_i, avail = gaps.interpolate_short_gaps(x, cfg.max_gap_days)
            avail &= in_span
            filled = gaps.fill_driver(spec.name, np.where(avail, x_i, np.nan), observed, ref,
                                      fill_fraction=cfg.fill_fraction, swc_fill=cfg.swc_fill_m3_m3,
                                      base_filled=dynamic.get(base) if base != spec.name else None)
            dynamic[spec.name], specs[spec.name] = filled, spec
            fill_counts[spec.name] = {"observed": int(observed.sum()),
                                      "interpolated": int((avail & ~observed).sum()),
                                      "filled": int((in_span & ~avail).sum())}
            if cfg.tower_drivers:  # part of "observed"
                fill_counts[spec.name]["tower"] = int(tower_cells[spec.name].sum()) if spec.name in tower_cells else 0
            if base == spec.name:
                has_insitu |= observed.any(axis=1)
                name = f"avail_{spec.name}"
                dynamic[name] = avail.astype(float)
                specs[name] = DriverVar(name, "1", f"availability of {spec.name}: 1 measured or "
                                        f"interpolated (gap <= {cfg.max_gap_days} d), 0 filled")
    tower_used = None  # which site took which driver from its tower (before sites can be dropped below)
    if p.insitu and cfg.tower_drivers:
        tower_used = {str(s): sorted(k for k, m in tower_cells.items() if m[i].any()) for i, s in enumerate(sites.index)}
        tower_used = {s: v for s, v in tower_used.items() if v}
    if p.climatology:
        dynamic.update(clim)
        specs.update({v.name: v for v in clim_provider.variables()})
    if p.astronomy:
        dynamic.update(astro)
        specs.update({v.name: v for v in AstronomyProvider().variables()})
    if era5 is not None:
        era5_avail = np.zeros(in_span.shape, bool)
        ref = {**clim, **astro}
        for spec in era5.variables():  # reanalysis gaps are rare: same interpolation and fills
            raw_x = era[spec.name]
            x, avail = era_interp[spec.name]
            era5_avail |= avail & in_span
            if cfg.era5_role == "fill":
                continue
            as_insitu = spec.name.removeprefix("era5_")
            base = spec.name.removesuffix("_min").removesuffix("_max")
            dynamic[spec.name] = gaps.fill_driver(
                as_insitu, np.where(avail, x, np.nan), np.isfinite(raw_x), ref, fill_fraction=cfg.fill_fraction,
                swc_fill=cfg.swc_fill_m3_m3, base_filled=dynamic.get(base) if base != spec.name else None)
            specs[spec.name] = spec
            fill_counts[spec.name] = {"observed": int(np.isfinite(raw_x).sum()),
                                      "interpolated": int((avail & ~np.isfinite(raw_x)).sum()),
                                      "filled": int((in_span & ~avail).sum())}
        dynamic["avail_era5"] = era5_avail.astype(float)
        specs["avail_era5"] = DriverVar("avail_era5", "1", "availability of the ERA5 drivers: 1 given or "
                                        f"interpolated (gap <= {cfg.max_gap_days} d), 0 none")

    only_insitu = not (p.climatology or p.astronomy or p.era5)
    if only_insitu:
        no_driver = ~has_insitu
        for s in sites.index[no_driver]:
            skipped[s] = "no driver at all (no in-situ sensor and no other provider on)"
        if no_driver.all():
            single = cfg.sites_include is not None and len(sites) == 1
            raise UserError("no usable site: no driver at all (no in-situ sensor and no other provider on)",
                            field="data.providers" if not single else "data.sites_include")
        keep = ~no_driver
        sites, in_span = sites[keep], in_span[keep]
        dynamic = {k: v[keep] for k, v in dynamic.items()}

    ds = _to_dataset(cfg, table, sites, time, in_span, dynamic, specs, skipped, fill_counts,
                     site_attributes, clim_provider)
    if tower_used is not None:
        ds.attrs["tower_drivers"] = json.dumps(tower_used)
    if era5_sources:
        ds.attrs["era5_sources"] = json.dumps(era5_sources)
        ds.attrs["era5_towers_unlocated"] = json.dumps(getattr(era5_client, "unlocated", []))
    return ds


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
    out = {"lat_deg": lat, "lon_deg": lon,
           "elevation_m": pd.to_numeric(sites.get("elevation_m", pd.Series(np.nan, sites.index)),
                                        errors="coerce").to_numpy(float)}
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


def _to_dataset(cfg, table, sites, time, in_span, dynamic, specs, skipped, fill_counts,
                site_attributes, clim_provider) -> xr.Dataset:
    flux, flux_n = _target(table, sites, time)
    dims = ("site", "time")
    data_vars = {
        TARGET: (dims, flux.astype("float32"), {"units": "umol m-2 s-1", "long_name":
                 "daily mean soil CO2 efflux, control Rs ports" + (", per-IGBP 1-99 % filter" if cfg.percentile_filter else "")
                 + (", missing ports balanced by port levels" if cfg.port_balance else "")}),
        "flux_n": (dims, flux_n.astype("int32"), {"units": "1", "long_name": "flux records behind the daily mean"}),
        "in_span": (dims, in_span.astype("int8"), {"units": "1", "long_name":
                    "1 inside the site's span (warm-up + first to last observed day)"}),
    }
    for name, arr in dynamic.items():
        spec = specs[name]
        values = np.where(in_span, arr, np.nan).astype("float32")
        data_vars[name] = (dims, values, {"units": spec.units, "long_name": spec.long_name})
    static, static_filled = _static(sites, site_attributes, clim_provider)
    for name, v in static.items():
        units, long = STATIC_VARS[name]
        data_vars[name] = (("site",), v.astype("float32"), {"units": units, "long_name": long})
    codes = [igbp_code(t) for t in sites.get("igbp", pd.Series(None, sites.index))]
    for c in IGBP_CODES:
        data_vars[f"igbp_{c}"] = (("site",), np.array([x == c for x in codes], "float32"),
                                  {"units": "1", "long_name": f"IGBP class {c} (one-hot)"})
    coords = {
        "site": ("site", np.array(sites.index, dtype=str), {"long_name": "COSORE dataset name"}),
        "time": ("time", time.to_numpy(), {"long_name": "day (local standard time)"}),
        "lat": ("site", sites["lat"].to_numpy(float), {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("site", sites["lon"].to_numpy(float), {"units": "degrees_east", "standard_name": "longitude"}),
        "igbp": ("site", np.array([str(x) for x in sites.get("igbp_text", sites.get("igbp", pd.Series("", sites.index)))]),
                 {"long_name": "IGBP land cover (COSORE text)"}),
        "igbp_code": ("site", np.array(codes), {"long_name": "IGBP land cover code"}),
        "dataset": ("site", np.array(sites.index, dtype=str), {"long_name": "COSORE dataset"}),
        "first_obs_day": ("site", sites["first_obs_day"].to_numpy(), {"long_name": "first observed flux day"}),
        "last_obs_day": ("site", sites["last_obs_day"].to_numpy(), {"long_name": "last observed flux day"}),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    dyn = list(dynamic)
    ds.attrs = {
        "title": "soilco2 S1 daily dataset (COSORE sites x days)",
        "Conventions": "CF-1.8",
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
    path = Path(path)
    out.to_netcdf(path)
    return path
