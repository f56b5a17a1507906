"""A synthetic S1 daily dataset in the shape of ``build_daily_dataset`` (docs/contracts.md), with a
known generating law: flux = R10_site * 2 ** ((soil_temp - 10) / 10) * swc / (swc + 0.1), where
soil temperature lags the seasonal cycle and R10 is a linear function of a static attribute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def true_flux(temp_c, swc, r10):
    return r10 * 2.0 ** ((temp_c - 10.0) / 10.0) * swc / (swc + 0.1)


def make_daily_dataset(n_sites: int = 6, years: float = 3.0, seed: int = 0, noise: float = 0.05) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    time = pd.date_range("2015-01-01", periods=int(365 * years), freq="D")
    nt = time.size
    doy = time.day_of_year.to_numpy()
    sites = [f"d2020_SYN_{i:02d}" for i in range(n_sites)]
    soc = rng.uniform(20, 120, n_sites)
    r10 = 0.5 + soc / 40.0
    lat = rng.uniform(30, 60, n_sites)
    shape = (n_sites, nt)
    temp = np.empty(shape)
    swc = np.empty(shape)
    flux = np.full(shape, np.nan)
    in_span = np.zeros(shape, bool)
    for i in range(n_sites):
        season = np.sin(2 * np.pi * (doy - 110) / 365)
        noise_t = np.convolve(rng.normal(0, 2.0, nt), np.ones(5) / 5, mode="same")
        temp[i] = 10 + 8 * season + noise_t
        rain = rng.random(nt) < 0.15
        s = np.empty(nt)
        s[0] = 0.25
        for t in range(1, nt):  # a bucket: dries out, refilled by rain
            s[t] = np.clip(s[t - 1] * 0.96 + rain[t] * rng.uniform(0.02, 0.1), 0.03, 0.45)
        swc[i] = s
        start, stop = rng.integers(0, 60), nt - rng.integers(0, 60)
        in_span[i, start:stop] = True
        seen = in_span[i] & (rng.random(nt) > 0.2)
        seen[start : start + 30] = False  # the builder's warm-up days have drivers only
        truth = true_flux(temp[i], swc[i], r10[i])
        flux[i, seen] = truth[seen] * (1 + rng.normal(0, noise, seen.sum()))
    clim = 10 + 8 * np.sin(2 * np.pi * (doy - 100) / 365)
    dyn = {
        "soil_temp_c": temp,
        "swc_m3_m3": swc,
        "clim_temp_c": np.broadcast_to(clim, shape).copy(),
        "doy_sin": np.broadcast_to(np.sin(2 * np.pi * doy / 365.25), shape).copy(),
        "doy_cos": np.broadcast_to(np.cos(2 * np.pi * doy / 365.25), shape).copy(),
        "avail_soil_temp_c": np.ones(shape),
        "avail_swc_m3_m3": np.ones(shape),
    }
    ds = xr.Dataset(
        coords={
            "site": sites,
            "time": time,
            "lat": ("site", lat),
            "lon": ("site", -lat),
            "igbp": ("site", ["DBF"] * n_sites),
        }
    )
    for name, arr in dyn.items():
        ds[name] = (("site", "time"), np.where(in_span, arr, np.nan).astype(np.float32))
    ds["flux_umol_m2_s"] = (("site", "time"), flux.astype(np.float32))
    ds["in_span"] = (("site", "time"), in_span.astype(np.int8))
    ds["soc_mg_ha"] = ("site", soc)
    ds["lat_deg"] = ("site", lat)
    ds.attrs.update(dynamic_features=list(dyn), static_features=["soc_mg_ha", "lat_deg"], target="flux_umol_m2_s")
    ds.attrs["true_r10"] = r10
    return ds
