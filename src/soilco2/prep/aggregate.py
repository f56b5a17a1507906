"""Aggregate chamber records to regular intervals (30 min, 1 h, daily, ...).

Flux: records are binned by ``floor(time, interval)``; each port's records in a bin are
averaged first, then the port means are averaged (so a port sampled more often does not
dominate). ``flux_n`` counts the records behind a value, ``flux_ports`` the ports.
Drivers follow the same two-stage mean. At daily (or longer) scale, temperatures also get
``_min``/``_max`` over the records of the bin. Precipitation is a total: the per-timestamp
mean over ports, summed over the bin.

``port_balance``: a bin where only some of the dataset's ports were measured gets the mean of all
ports as if every port had been measured. Each port's level ``c_p`` (mean 1 over ports) comes from
a multiplicative port × bin model fitted by ratio estimates over the whole record,
``flux[b, p] ≈ level[b] · c_p``; the bin's value is then ``mean(flux[b, present]) /
mean(c_present)``. A bin with every port present, and a dataset with one port, are unchanged. This
keeps a collar going offline (or a high-flux collar added) from showing up as a change of the site's
efflux.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.sources.cosore_columns import PRECIP_COLUMNS, TEMPERATURE_COLUMNS, driver_columns, sensor_depth_cm


def is_temperature(column: str) -> bool:
    d = sensor_depth_cm(column)
    return (
        column in TEMPERATURE_COLUMNS
        or column in ("CSR_TAIR", "CSR_TAIR_AMB", "CSR_TWATER")
        or (d is not None and d[0] == "T")
    )


def port_levels(port_means: pd.Series, iterations: int = 20) -> pd.Series:
    """Each port's relative level ``c_p`` (mean 1) from ``port_means`` indexed by (bin, port), by
    alternating ratio estimates of ``flux[b, p] ≈ level[b] · c_p``. A port whose level is not
    positive (fluxes summing to ≤ 0) gets the mean level (it neither raises nor lowers a bin)."""
    bins, ports = port_means.index.get_level_values(0), port_means.index.get_level_values(1)
    c = pd.Series(1.0, index=pd.Index(ports.unique(), name=ports.name))
    for _ in range(iterations):
        cp = c.reindex(ports).to_numpy()
        level = pd.Series(port_means.to_numpy() / cp, index=bins).groupby(level=0).mean()
        lv = level.reindex(bins).to_numpy()
        num = pd.Series(port_means.to_numpy(), index=ports).groupby(level=0).sum()
        den = pd.Series(lv, index=ports).groupby(level=0).sum()
        new = (num / den).where((num > 0) & (den > 0)).reindex(c.index)
        new = new.fillna(new.mean()) if new.notna().any() else pd.Series(1.0, index=c.index)
        new /= new.mean()
        done = np.allclose(new, c, rtol=0, atol=1e-9)
        c = new
        if done:
            break
    return c


def aggregate(
    records: pd.DataFrame, interval: str = "1D", *, min_max: bool | None = None, port_balance: bool = False
) -> pd.DataFrame:
    """Aggregate cleaned records (``time``, ``port``, ``flux_umol_m2_s``, drivers) to ``interval``.

    Returns a frame indexed by interval start (``time``) with ``flux_umol_m2_s``, ``flux_n``,
    ``flux_ports``, driver means, and ``<temp>_min``/``<temp>_max`` when ``min_max`` (default:
    intervals of a day or longer). Only intervals with at least one flux record appear.
    ``port_balance``: the flux of a bin with ports missing is scaled to all ports (module doc).
    """
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(interval))
    if min_max is None:
        min_max = step >= pd.Timedelta("1D")
    drivers = driver_columns(records.columns)
    precip = [c for c in drivers if c in PRECIP_COLUMNS]
    means = [c for c in drivers if c not in PRECIP_COLUMNS]
    if records.empty:
        cols = ["flux_umol_m2_s", "flux_n", "flux_ports", *means, *precip]
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="time"))

    t = pd.DatetimeIndex(records["time"])
    work = records[["port", "flux_umol_m2_s", *means]].copy()
    work["bin"] = t.floor(step)
    by_port = work.groupby(["bin", "port"], sort=False)
    stage1 = by_port[["flux_umol_m2_s", *means]].mean()
    stage1["n"] = by_port.size()
    g2 = stage1.groupby(level="bin")
    out = g2[["flux_umol_m2_s", *means]].mean()
    out["flux_n"] = g2["n"].sum().astype("int64")
    out["flux_ports"] = g2.size().astype("int64")
    if port_balance and out["flux_ports"].max() > 1:
        c = port_levels(stage1["flux_umol_m2_s"])
        present = pd.Series(
            c.reindex(stage1.index.get_level_values("port")).to_numpy(), index=stage1.index.get_level_values("bin")
        )
        out["flux_umol_m2_s"] /= present.groupby(level=0).mean().reindex(out.index)

    if min_max:
        temps = [c for c in means if is_temperature(c)]
        if temps:
            g = work.groupby("bin", sort=False)[temps]
            out = out.join(g.min().add_suffix("_min")).join(g.max().add_suffix("_max"))
    if precip:
        per_ts = records[["time", *precip]].groupby("time").mean()  # mean over ports per timestamp
        per_ts["bin"] = pd.DatetimeIndex(per_ts.index).floor(step)
        totals = per_ts.groupby("bin")[precip].sum(min_count=1)
        out = out.join(totals)

    out.index.name = "time"
    out = out.sort_index()
    order = ["flux_umol_m2_s", "flux_n", "flux_ports"]
    return out[order + [c for c in out.columns if c not in order]]


def pick_standard_drivers(records: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Add the standard driver columns (docs/contracts.md) from the shallowest usable sensor.

    Soil temperature and moisture: the shallowest ``CSR_T<d>``/``CSR_SM<d>`` with d > 0 cm
    whose coverage is at least half that of the best-covered sensor (``d = 0`` is used only
    when nothing deeper exists). Air temperature: ``CSR_TAIR``, else ``CSR_TAIR_AMB``; PAR:
    ``CSR_PAR``, else ``CSR_PAR_AMB``. Returns the frame and the chosen depths (cm).
    """
    out = records.copy()
    depths: dict[str, float] = {}
    for kind, name, depth_name in (("T", "soil_temp_c", "soil_temp_depth_cm"), ("SM", "swc_m3_m3", "swc_depth_cm")):
        cands = []
        for c in records.columns:
            d = sensor_depth_cm(c)
            if d and d[0] == kind:
                cover = float(records[c].notna().mean()) if len(records) else 0.0
                if cover > 0:
                    cands.append((d[1], c, cover))
        if not cands:
            continue
        best = max(c[2] for c in cands)
        usable = [c for c in cands if c[2] >= 0.5 * best]
        deep = [c for c in usable if c[0] > 0] or usable
        depth, col, _ = min(deep)
        out[name] = records[col].astype(float)
        depths[depth_name] = depth
    for name, cols in (
        ("air_temp_c", ("CSR_TAIR", "CSR_TAIR_AMB")),
        ("par_umol_m2_s", ("CSR_PAR", "CSR_PAR_AMB")),
        ("rh_pct", ("CSR_RH",)),
        ("precip_mm", ("CSR_PRECIP",)),
    ):
        for c in cols:
            if c in records.columns and records[c].notna().any():
                out[name] = records[c].astype(float)
                break
    return out, depths


def nan_fraction(s: pd.Series) -> float:
    return float(np.mean(~np.isfinite(s.to_numpy(dtype=float)))) if len(s) else 1.0
