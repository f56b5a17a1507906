"""S2 data preparation: the sub-daily site table, driver windows, scalers and splits.

Site table: a regular grid at the site's native interval (30 min or 1 h) indexed by interval
start in local standard time, with ``flux_umol_m2_s`` (control Rs ports averaged, via
:func:`soilco2.prep.aggregate.aggregate`) and drivers (in-situ, tower files joined on time,
optionally ERA5 daily precipitation spread evenly over the day where the tower has none).
Gaps stay gaps (NaN); what is filled or missing is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import data_root

SKEWED = ("precip_mm",)  # arcsinh before standardising


# --- site table ---------------------------------------------------------------------------------


def native_interval(times: pd.Series, ports: pd.Series | None = None) -> str:
    """'30min' when a port is sampled at least every ~40 min, else '1h'."""
    t = pd.DataFrame({"time": pd.to_datetime(times), "port": 0 if ports is None else ports.to_numpy()})
    step = t.sort_values("time").groupby("port")["time"].diff().median()
    return "30min" if pd.notna(step) and step <= pd.Timedelta("40min") else "1h"


FILLABLE = ("soil_temp_c", "swc_m3_m3", "air_temp_c")  # smooth drivers whose short gaps may be interpolated


def fill_short_gaps(s: pd.Series, limit: int) -> pd.Series:
    """Linear interpolation across interior gaps of at most ``limit`` steps; longer gaps stay NaN."""
    na = s.isna()
    run_id = (na != na.shift()).cumsum()
    run_len = na.groupby(run_id).transform("sum")
    filled = s.interpolate(method="linear", limit_area="inside")
    return s.where(~na | (run_len > limit), filled)


def _bin_records(records: pd.DataFrame, interval: str, columns: list[str]) -> pd.DataFrame:
    """Mean of ``columns`` per interval (for readers without COSORE ports)."""
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(interval))
    g = records.groupby(pd.DatetimeIndex(records["time"]).floor(step))
    out = g[columns].mean()
    out["flux_n"] = g.size()
    out.index.name = "time"
    return out


def _resample(table: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Half-hourly tower values to ``interval``: precipitation summed, the rest averaged."""
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(interval))
    if step == pd.Timedelta("30min"):
        return table
    r = table.resample(step)
    parts = [r[c].sum(min_count=1) if c in SKEWED else r[c].mean() for c in table.columns]
    return pd.concat(parts, axis=1)


def flux_records(source: str, dataset: str | None, root: Path) -> tuple[pd.DataFrame, dict]:
    """Cleaned chamber records (``time`` local standard, ``flux_umol_m2_s``, drivers) and counts."""
    if source == "cosore":
        from soilco2.prep.cosore_records import load_records

        if not dataset:
            raise UserError("site.dataset is required when site.source is 'cosore'", field="site.dataset")
        records, acct = load_records(dataset, root=root / "cosore", ports="rs_control")
        if acct.status != "ok" or records.empty:
            raise UserError(f"COSORE dataset has no usable Rs control records ({acct.message})", field="site.dataset")
        return records, {k: v for k, v in acct.as_row().items() if v not in ("", 0)}
    if source == "hn1_chamber":
        from soilco2.sources.towers import TOWER_SITES, read_hn1_chamber

        records, counts = read_hn1_chamber(root / TOWER_SITES["us-hn1"].extra["chamber"])
        records["port"] = 1
        return records, counts
    raise UserError(f"unknown flux source '{source}' (cosore | hn1_chamber)", field="site.source")


def build_site_table(
    records: pd.DataFrame,
    *,
    interval: str | None = None,
    tower: pd.DataFrame | None = None,
    tower_drivers: tuple[str, ...] = (),
    era5_daily: pd.DataFrame | None = None,
    required: tuple[str, ...] = ("soil_temp_c",),
    name: str = "site",
    tower_file: str | None = None,
    driver_gap_fill_hours: float = 0.0,
) -> tuple[pd.DataFrame, dict]:
    """Records → regular-grid table and an accounting dict (what was filled/missing, by reason)."""
    if records.empty:
        raise UserError("no flux records", field=name)
    interval = interval or native_interval(records["time"], records.get("port"))
    if "port" in records and records["port"].nunique() > 1:
        from soilco2.prep.aggregate import aggregate

        table = aggregate(records, interval)
    else:
        cols = [c for c in records.columns if c not in ("time", "port") and pd.api.types.is_numeric_dtype(records[c])]
        table = _bin_records(records, interval, cols)
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(interval))
    grid = pd.date_range(table.index.min().floor(step), table.index.max().floor(step), freq=step, name="time")
    table = table.reindex(grid)
    acct: dict = {
        "interval": interval,
        "n_intervals": len(grid),
        "n_flux_intervals": int(table["flux_umol_m2_s"].notna().sum()),
    }

    if tower is not None and tower_drivers:
        tw = _resample(tower[list(tower_drivers)], interval)
        overlap = tw.index.intersection(grid)
        if len(overlap) == 0 or tw.loc[overlap].notna().sum().sum() == 0:
            raise UserError(
                f"tower timestamps ({tw.index.min()} → {tw.index.max()}) do not overlap the fluxes "
                f"({grid[0]} → {grid[-1]})",
                file=tower_file,
                field=",".join(tower_drivers),
            )
        for c in tower_drivers:
            table[c] = tw[c].reindex(grid)  # tower replaces any in-situ column of that name
            acct[f"{c}_from_tower"] = int(table[c].notna().sum())

    if era5_daily is not None and "precip_mm" in era5_daily:
        per_step = era5_daily["precip_mm"] * (step / pd.Timedelta("1D"))
        fill = per_step.reindex(grid.normalize()).to_numpy()
        if "precip_mm" not in table:
            table["precip_mm"] = np.nan
        gap = table["precip_mm"].isna().to_numpy() & np.isfinite(fill)
        table.loc[gap, "precip_mm"] = fill[gap]
        table["precip_from_era5"] = gap.astype(np.int8)
        acct["precip_mm_filled_from_era5_daily"] = int(gap.sum())

    if driver_gap_fill_hours > 0:
        limit = int(driver_gap_fill_hours / (step / pd.Timedelta("1h")))
        for c in FILLABLE:
            if c in table:
                before = table[c].isna().sum()
                table[c] = fill_short_gaps(table[c], limit)
                acct[f"{c}_gap_filled"] = int(before - table[c].isna().sum())
    for c in required:
        if c not in table or table[c].notna().sum() == 0:
            what = "soil temperature" if c == "soil_temp_c" else c
            raise UserError(f"site has no {what} ('{c}'): the sub-daily models need it", field=name)
    for c in table.columns:
        if c not in ("flux_n", "flux_ports", "precip_from_era5"):
            acct[f"missing_{c}"] = int(table[c].isna().sum())
    return table, acct


def site_position(site, root: str | Path | None = None) -> tuple[float, float] | None:
    """(lat, lon) of a COSORE site from its description; None for other sources."""
    if site.source != "cosore" or not site.dataset:
        return None
    from soilco2.sources.cosore import Layout, site_metadata

    lay = Layout(data_root(root) / "cosore")
    meta = site_metadata(site.dataset, lay.description(site.dataset), lay.description_file(site.dataset))
    return meta["lat"], meta["lon"]


def load_site_table(site, root: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """Build the table for a config ``site`` section (see :mod:`soilco2.subdaily.run`)."""
    from soilco2.sources.towers import TOWER_SITES, load_tower, read_era5_daily

    root = data_root(root)
    records, counts = flux_records(site.source, site.dataset, root)
    if site.start:
        records = records[records["time"] >= pd.Timestamp(site.start)]
    if site.end:
        records = records[records["time"] < pd.Timestamp(site.end)]
    if site.source == "hn1_chamber" and "soil_temp_c" not in records and "chamber_temp_c" in records:
        records = records.assign(soil_temp_c=records["chamber_temp_c"])  # chamber T stands in (documented)
    tower = era5 = None
    tower_file = None
    if site.tower_site and site.tower_drivers:
        tower = load_tower(site.tower_site, root, list(site.tower_drivers))
        tower_file = ", ".join(f.relpath for f in TOWER_SITES[site.tower_site].files)
    if site.tower_site and site.era5_precip_fill and TOWER_SITES[site.tower_site].era5_daily:
        era5 = read_era5_daily(root / TOWER_SITES[site.tower_site].era5_daily)
    table, acct = build_site_table(
        records,
        interval=site.interval,
        tower=tower,
        tower_drivers=tuple(site.tower_drivers),
        era5_daily=era5,
        required=("soil_temp_c",),
        name=site.name,
        tower_file=tower_file,
        driver_gap_fill_hours=site.driver_gap_fill_hours,
    )
    table = table.drop(columns=[c for c in table.columns if c.startswith("CSR_")])
    acct = {"records": counts, **acct}
    return table, acct


# --- windows --------------------------------------------------------------------------------------


@dataclass
class Windows:
    """Samples at target times ``time``: past drivers (N, P, dp) up to t, future drivers (N, F, df)."""

    past: np.ndarray
    future: np.ndarray
    target: np.ndarray
    time: pd.DatetimeIndex
    row: np.ndarray  # row of each target in the site table
    past_drivers: tuple[str, ...]
    future_drivers: tuple[str, ...]


def _valid_run(ok: np.ndarray, length: int) -> np.ndarray:
    """valid[i] = ok[i-length+1 .. i] all True (False near the start)."""
    if length == 0:
        return np.ones_like(ok, dtype=bool)
    c = np.concatenate([[0], np.cumsum(~ok)])
    out = np.zeros(ok.size, dtype=bool)
    out[length - 1 :] = (c[length:] - c[: ok.size - length + 1]) == 0
    return out


def make_windows(
    table: pd.DataFrame,
    past_drivers: list[str],
    future_drivers: list[str],
    past_steps: int,
    future_steps: int,
    target: str = "flux_umol_m2_s",
) -> tuple[Windows, dict[str, int]]:
    """All samples with an observed target and gap-free driver windows; drops counted by reason.

    The flux itself is never an input (no future or past flux leaks into the windows).
    """
    y = table[target].to_numpy(dtype=float)
    n = y.size
    past_ok = np.ones(n, bool)
    for d in past_drivers:
        past_ok &= np.isfinite(table[d].to_numpy(dtype=float))
    fut_ok = np.ones(n, bool)
    for d in future_drivers:
        fut_ok &= np.isfinite(table[d].to_numpy(dtype=float))
    past_valid = _valid_run(past_ok, past_steps)
    # future window t+1..t+F all ok: run ending at t+F of length F
    fut_end = _valid_run(fut_ok, future_steps)
    fut_valid = np.zeros(n, bool)
    if future_steps == 0:
        fut_valid[:] = True
    else:
        fut_valid[: n - future_steps] = fut_end[future_steps:]
    has_y = np.isfinite(y)
    keep = has_y & past_valid & fut_valid
    drops = {
        "no_flux": int((~has_y).sum()),
        "past_driver_gap_or_edge": int((has_y & ~past_valid).sum()),
        "future_driver_gap_or_edge": int((has_y & past_valid & ~fut_valid).sum()),
        "kept": int(keep.sum()),
    }
    rows = np.flatnonzero(keep)
    P = np.lib.stride_tricks.sliding_window_view
    pmat = table[past_drivers].to_numpy(dtype=np.float32)
    past = (
        P(pmat, past_steps, axis=0)[rows - past_steps + 1].transpose(0, 2, 1)
        if len(rows)
        else np.zeros((0, past_steps, len(past_drivers)), np.float32)
    )
    if future_steps and future_drivers:
        fmat = table[future_drivers].to_numpy(dtype=np.float32)
        future = P(fmat, future_steps, axis=0)[rows + 1].transpose(0, 2, 1)
    else:
        future = np.zeros((len(rows), 0, len(future_drivers)), np.float32)
    return Windows(
        np.ascontiguousarray(past),
        np.ascontiguousarray(future),
        y[rows].astype(np.float32),
        table.index[rows],
        rows,
        tuple(past_drivers),
        tuple(future_drivers),
    ), drops


# --- scalers (training samples only) ----------------------------------------------------------------


@dataclass
class Scaler:
    """Per-driver standardisation (arcsinh first for skewed drivers) and a target transform."""

    mean: dict[str, float]
    std: dict[str, float]
    target_transform: str  # none | log | arcsinh
    target_mean: float
    target_std: float

    @classmethod
    def fit(
        cls,
        table: pd.DataFrame,
        train_rows: np.ndarray,
        drivers: list[str],
        target: np.ndarray,
        target_transform: str = "none",
    ) -> Scaler:
        mean, std = {}, {}
        for d in drivers:
            v = _pre(d, table[d].to_numpy(dtype=float)[train_rows])  # drivers at training targets only
            mean[d], std[d] = float(np.nanmean(v)), float(np.nanstd(v)) or 1.0
        z = _forward(target, target_transform)
        return cls(mean, std, target_transform, float(np.mean(z)), float(np.std(z)) or 1.0)

    def drivers(self, arr: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        out = np.empty_like(arr)
        for k, d in enumerate(names):
            out[..., k] = (_pre(d, arr[..., k]) - self.mean[d]) / self.std[d]
        return out

    def y(self, flux: np.ndarray) -> np.ndarray:
        return ((_forward(flux, self.target_transform) - self.target_mean) / self.target_std).astype(np.float32)

    def flux(self, z: np.ndarray) -> np.ndarray:
        return _inverse(np.asarray(z) * self.target_std + self.target_mean, self.target_transform)

    def to_json(self) -> dict:
        return self.__dict__.copy()


def _pre(name: str, v: np.ndarray) -> np.ndarray:
    return np.arcsinh(v) if name in SKEWED else v


def _forward(v: np.ndarray, how: str) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if how == "log":
        return np.log(np.clip(v, 1e-3, None))
    if how == "arcsinh":
        return np.arcsinh(v)
    return v


def _inverse(z: np.ndarray, how: str) -> np.ndarray:
    if how == "log":
        return np.exp(z)
    if how == "arcsinh":
        return np.sinh(z)
    return z


# --- splits ---------------------------------------------------------------------------------------

TRAIN, VAL, TEST = 0, 1, 2


def split_interpolation(n: int, seed: int, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """Random 8:1:1 labels (0 train, 1 validation, 2 test) over ``n`` samples."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_tr, n_va = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    lab = np.full(n, TEST, np.int8)
    lab[perm[:n_tr]] = TRAIN
    lab[perm[n_tr : n_tr + n_va]] = VAL
    return lab


def interval_labels(has_flux: np.ndarray, seed: int, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """8:1:1 labels drawn over the table's flux intervals (−1 where there is no flux), so a split
    exists before the windows do; each window inherits its target interval's label."""
    lab = np.full(has_flux.size, -1, np.int8)
    idx = np.flatnonzero(has_flux)
    lab[idx] = split_interpolation(idx.size, seed, fractions)
    return lab


def default_holdout(
    table: pd.DataFrame, months: int = 6, wet_fraction: float = 0.9
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The latest ``months``-long window (month-aligned, inside the flux record) whose
    precipitation total is at least ``wet_fraction`` of the wettest such window: the last wet
    half-year, like the paper's Jul–Dec monsoon hold-out (at US-Wkg it gives 2018-07 → 2019-01).
    Without precipitation data: the last ``months`` of the record."""
    flux_t = table.index[table["flux_umol_m2_s"].notna()]
    first, last = flux_t.min(), flux_t.max()
    starts = pd.date_range(first.to_period("M").to_timestamp(), last, freq="MS")
    starts = starts[starts >= first.normalize() - pd.Timedelta("1D")] if len(starts) else starts
    cands = [
        (s, s + pd.DateOffset(months=months))
        for s in starts
        if s + pd.DateOffset(months=months) <= last + pd.Timedelta("1D")
    ]
    if not cands:
        raise UserError(
            f"the flux record ({first} → {last}) is shorter than the {months}-month hold-out",
            field="scenarios.holdout_months",
        )
    if "precip_mm" not in table or table["precip_mm"].notna().sum() == 0:
        return cands[-1]
    totals = np.array([table.loc[s : e - pd.Timedelta("1ns"), "precip_mm"].sum() for s, e in cands])
    if totals.max() <= 0:
        return cands[-1]
    good = [c for c, tot in zip(cands, totals) if tot >= wet_fraction * totals.max()]
    return good[-1]


def split_extrapolation(
    time: pd.DatetimeIndex, start, end, seed: int, val_fraction: float = 0.1, block: str = "1D"
) -> np.ndarray:
    """Targets in [start, end) → test; the rest split 9:1 train/validation by random ``block``s
    (whole days by default, so validation is not a copy of its hourly neighbours)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    test = (time >= start) & (time < end)
    if not test.any():
        raise UserError(
            f"held-out window {start} → {end} contains no samples (data {time.min()} → {time.max()})",
            field="scenarios.holdout_start",
        )
    if test.all():
        raise UserError("held-out window covers all samples: nothing left to train on", field="scenarios.holdout_start")
    lab = np.full(len(time), TRAIN, np.int8)
    lab[test] = TEST
    blocks = time.floor(block)
    uniq = pd.Index(blocks[~test]).unique()
    rng = np.random.default_rng(seed)
    val_blocks = set(rng.choice(uniq, size=max(1, int(round(val_fraction * len(uniq)))), replace=False))
    lab[(~test) & np.isin(blocks, list(val_blocks))] = VAL
    return lab
