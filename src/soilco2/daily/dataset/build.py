"""The S1 daily dataset: a ``(site, time)`` xarray Dataset of target, drivers and static attributes.

``build_daily_dataset(cfg)`` reads COSORE (via :func:`soilco2.prep.cosore_records.daily_table`) and the
grids (via :mod:`soilco2.sources.grids`), then :func:`assemble_daily_dataset` does the rest without
touching files (so it also runs on synthetic tables). See ``docs/daily_data.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from soilco2.daily.dataset import gaps
from soilco2.daily.dataset.config import DailyDataConfig, ProvidersConfig  # noqa: F401 (public here too)
from soilco2.daily.dataset.drivers import (
    AstronomyProvider,
    ClimatologyProvider,
    DriverVar,
    InSituProvider,
    tower_fill,
)
from soilco2.daily.dataset.form import IGBP_CODES, STATIC_VARS, TARGET, igbp_code, to_dataset  # noqa: F401
from soilco2.errors import UserError

# --- reading ------------------------------------------------------------------------------------


def build_daily_dataset(
    cfg: DailyDataConfig | None = None, root=None, *, cosore_dir=None, era5_client=None, progress: bool = True
) -> xr.Dataset:
    """Read COSORE + grids under the data root and assemble the daily dataset.

    ``cosore_dir``: another folder in COSORE layout (new sites, e.g. ``daily predict --cosore``);
    the grids still come from the data root. Its daily table is not cached."""
    from soilco2.paths import data_root
    from soilco2.prep.cosore_records import daily_table
    from soilco2.sources import grids
    from soilco2.sources.cosore import cosore_root, list_datasets

    cfg = cfg or DailyDataConfig()
    root = data_root(root or cfg.data_root)
    croot = cosore_root(cosore_dir if cosore_dir is not None else root)
    meta = list_datasets(croot)
    if meta.empty or not meta["has_data"].any():
        raise UserError("no COSORE dataset with data in this folder", file=croot)
    table, accounting = daily_table(
        croot,
        percentile_filter=cfg.percentile_filter,
        port_balance=cfg.port_balance,
        cache=cosore_dir is None,
        progress=progress,
    )
    if table.empty:
        raise UserError("no usable daily observations in this folder", file=croot)
    if "igbp_raw" in meta.columns:  # keep COSORE's text for the coord, codes for the one-hot
        meta = meta.assign(igbp_text=meta["igbp_raw"])

    def attrs_at(lat, lon):
        return grids.site_attributes(lat, lon, root=root)

    def monthly_at(lat, lon):
        return grids.climatology_at(lat, lon, root=root)

    ds = assemble_daily_dataset(
        cfg, table, meta, monthly_at=monthly_at, site_attributes=attrs_at, root=root, era5_client=era5_client
    )
    ds.attrs["source_records_kept"] = int(_sum_col(accounting, "kept"))
    ds.attrs["source_records_raw"] = int(_sum_col(accounting, "raw"))
    ds.attrs["cosore_dir"] = str(croot)
    return ds


def _sum_col(table, col) -> float:
    return float(table[col].sum()) if isinstance(table, pd.DataFrame) and col in table else 0.0


# --- assembling ---------------------------------------------------------------------------------


def _select_sites(
    cfg: DailyDataConfig, table: pd.DataFrame, meta: pd.DataFrame, drivers_only: bool = False
) -> tuple[pd.DataFrame, dict]:
    """Sites to build (indexed by dataset) and {site: reason} for the ones skipped.
    ``drivers_only``: a site's span is its table's dates (no flux needed; the first
    ``warmup_days`` of them warm the model up), not its observed flux days."""
    meta = meta.set_index("dataset") if "dataset" in meta.columns else meta
    if drivers_only:
        sites = meta.copy()
        dates = table.groupby("dataset")["date"]
        sites["first_obs_day"] = (dates.min() + pd.Timedelta(days=cfg.warmup_days)).reindex(sites.index)
        sites["last_obs_day"] = dates.max().reindex(sites.index)
        sites["n_obs_days"] = 0
        return sites, {}
    observed = table[np.isfinite(table[TARGET].to_numpy(float))]
    n_obs = observed.groupby("dataset").size()
    known = list(meta.index)
    if cfg.sites_include is not None:
        if not cfg.sites_include:
            raise UserError(
                "empty site list: name at least one site or leave it out for all", field="data.sites_include"
            )
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


def assemble_daily_dataset(
    cfg: DailyDataConfig,
    table: pd.DataFrame,
    meta: pd.DataFrame,
    *,
    monthly_at=None,
    site_attributes=None,
    root=None,
    era5_client=None,
    drivers_only: bool = False,
) -> xr.Dataset:
    """Build the dataset from an in-memory daily table (``dataset, date, flux_umol_m2_s, flux_n,
    <drivers>``) and site metadata (``dataset, lat, lon, elevation_m, igbp``).
    ``drivers_only``: sites without flux, each spanning its table's dates (prediction).

    ``monthly_at(lat, lon)`` gives the monthly climatology (see :class:`ClimatologyProvider`);
    ``site_attributes(lat, lon)`` gives ``mat_c, map_mm, soc_mg_ha, whc_mm`` per point."""
    p = cfg.providers
    era5_sources: dict[str, str] = {}
    if not (p.insitu or p.climatology or p.astronomy or p.era5):
        raise UserError("every driver provider is off; switch at least one on", field="data.providers")
    table = table.copy()
    table["date"] = pd.to_datetime(table["date"]).dt.normalize()
    sites, skipped = _select_sites(cfg, table, meta, drivers_only)
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
        time.to_numpy()[None, :] <= sites["last_obs_day"].to_numpy()[:, None]
    )
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
            raise UserError(
                "era5_role: fill fills the in-situ drivers; switch providers.insitu on or use era5_role: features",
                field="data.era5_role",
            )
        from soilco2.daily.dataset.drivers import ERA5Provider

        if era5_client is None and cfg.era5_source == "fluxnet_dd":
            from soilco2.sources.fluxnet_era5 import FluxnetERA5Files

            folder = Path(cfg.era5_fluxnet_dir)
            folder = folder if folder.is_absolute() or root is None else Path(root) / folder
            era5_client = FluxnetERA5Files.from_folder(folder, meta.reset_index(), cfg.era5_fluxnet_max_km)
        era5 = ERA5Provider(model=cfg.era5_model, client=era5_client)
        era = {k: np.where(in_span, v, np.nan) for k, v in era5.provide(sites, time).items()}
        era_interp = {k: gaps.interpolate_short_gaps(v, cfg.max_gap_days) for k, v in era.items()}
        if hasattr(era5_client, "describe"):  # which tower's file each site uses
            era5_sources = {str(s): era5_client.describe(float(r["lat"]), float(r["lon"])) for s, r in sites.iterrows()}
    weather = {}  # daily ERA5 references for the in-situ fills (era5_role: fill)
    if era and cfg.era5_role == "fill":
        for key, var in (
            ("weather_temp_c", "era5_air_temp_c"),
            ("weather_precip_mm", "era5_precip_mm"),
            ("weather_sw_w_m2", "era5_sw_w_m2"),
            ("weather_rh_pct", "era5_rh_pct"),
        ):
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
            filled = gaps.fill_driver(
                spec.name,
                np.where(avail, x_i, np.nan),
                observed,
                ref,
                fill_fraction=cfg.fill_fraction,
                swc_fill=cfg.swc_fill_m3_m3,
                base_filled=dynamic.get(base) if base != spec.name else None,
            )
            dynamic[spec.name], specs[spec.name] = filled, spec
            fill_counts[spec.name] = {
                "observed": int(observed.sum()),
                "interpolated": int((avail & ~observed).sum()),
                "filled": int((in_span & ~avail).sum()),
            }
            if cfg.tower_drivers:  # part of "observed"
                fill_counts[spec.name]["tower"] = int(tower_cells[spec.name].sum()) if spec.name in tower_cells else 0
            if base == spec.name:
                has_insitu |= observed.any(axis=1)
                name = f"avail_{spec.name}"
                dynamic[name] = avail.astype(float)
                specs[name] = DriverVar(
                    name,
                    "1",
                    f"availability of {spec.name}: 1 measured or interpolated (gap <= {cfg.max_gap_days} d), 0 filled",
                )
    tower_used = None  # which site took which driver from its tower (before sites can be dropped below)
    if p.insitu and cfg.tower_drivers:
        tower_used = {
            str(s): sorted(k for k, m in tower_cells.items() if m[i].any()) for i, s in enumerate(sites.index)
        }
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
                as_insitu,
                np.where(avail, x, np.nan),
                np.isfinite(raw_x),
                ref,
                fill_fraction=cfg.fill_fraction,
                swc_fill=cfg.swc_fill_m3_m3,
                base_filled=dynamic.get(base) if base != spec.name else None,
            )
            specs[spec.name] = spec
            fill_counts[spec.name] = {
                "observed": int(np.isfinite(raw_x).sum()),
                "interpolated": int((avail & ~np.isfinite(raw_x)).sum()),
                "filled": int((in_span & ~avail).sum()),
            }
        dynamic["avail_era5"] = era5_avail.astype(float)
        specs["avail_era5"] = DriverVar(
            "avail_era5",
            "1",
            f"availability of the ERA5 drivers: 1 given or interpolated (gap <= {cfg.max_gap_days} d), 0 none",
        )

    only_insitu = not (p.climatology or p.astronomy or p.era5)
    if only_insitu:
        no_driver = ~has_insitu
        for s in sites.index[no_driver]:
            skipped[s] = "no driver at all (no in-situ sensor and no other provider on)"
        if no_driver.all():
            single = cfg.sites_include is not None and len(sites) == 1
            raise UserError(
                "no usable site: no driver at all (no in-situ sensor and no other provider on)",
                field="data.providers" if not single else "data.sites_include",
            )
        keep = ~no_driver
        sites, in_span = sites[keep], in_span[keep]
        dynamic = {k: v[keep] for k, v in dynamic.items()}

    ds = to_dataset(
        cfg, table, sites, time, in_span, dynamic, specs, skipped, fill_counts, site_attributes, clim_provider
    )
    if drivers_only:
        ds.attrs["drivers_only"] = 1
    if tower_used is not None:
        ds.attrs["tower_drivers"] = json.dumps(tower_used)
    if era5_sources:
        ds.attrs["era5_sources"] = json.dumps(era5_sources)
        ds.attrs["era5_towers_unlocated"] = json.dumps(getattr(era5_client, "unlocated", []))
    return ds
