"""Config sections of the S1 daily dataset (``data:``) and its splits (``split:``).

Light on purpose (pydantic only), so that CLI modules can import them without pandas/xarray.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from soilco2.config import StrictModel

INSITU_NAMES = ("soil_temp_c", "swc_m3_m3", "air_temp_c", "par_umol_m2_s", "rh_pct", "precip_mm")
InSituName = Literal["soil_temp_c", "swc_m3_m3", "air_temp_c", "par_umol_m2_s", "rh_pct", "precip_mm"]


class ProvidersConfig(StrictModel):
    insitu: bool = True
    climatology: bool = True
    astronomy: bool = True
    era5: bool = False  # off by default (online, or FLUXNET ERA5 daily files: data.era5_source)


class DailyDataConfig(StrictModel):
    """Keys of the ``data:`` section of the daily config."""

    data_root: str | None = None
    providers: ProvidersConfig = ProvidersConfig()
    insitu_drivers: list[InSituName] = list(INSITU_NAMES)
    max_gap_days: int = Field(7, ge=0, le=366)
    warmup_days: int = Field(30, ge=0, le=3660)
    percentile_filter: bool = True
    # a day with some ports missing gets the mean of all ports (port levels from the whole record)
    port_balance: bool = False
    min_obs_days: int = Field(30, ge=1)
    sites_include: list[str] | None = None
    sites_exclude: list[str] = []
    fill_fraction: float = Field(0.8, gt=0, le=1)
    swc_fill_m3_m3: float = Field(0.25, ge=0, le=1)
    era5_model: Literal["era5_land", "era5", "best_match"] = "era5_land"
    # open_meteo: the online archive at the site; fluxnet_dd: the nearest tower's FLUXNET ERA5 daily
    # file (``*_FLUXNET*_ERA5_DD_*.csv`` under era5_fluxnet_dir, relative to the data root) within
    # era5_fluxnet_max_km, offline; sites with no tower near get the fills and avail_era5 = 0
    era5_source: Literal["open_meteo", "fluxnet_dd"] = "open_meteo"
    era5_fluxnet_dir: str = "sites"
    era5_fluxnet_max_km: float = Field(100.0, gt=0, le=2000)
    # features: the ERA5 variables are model inputs of their own (+ avail_era5); fill: they replace the
    # climatology as the reference that fills the in-situ drivers' gaps (docs/daily_data.md)
    era5_role: Literal["features", "fill"] = "features"
    # in-situ drivers a COSORE dataset lacks, from the AmeriFlux tower measured at the same site (half-hourly
    # files under sites/, soilco2.sources.towers.cosore_towers), where the tower covers at least
    # tower_min_cover of the days from the site's first to its last flux day; counted as measured
    # (docs/daily_data.md)
    tower_drivers: bool = False
    tower_min_cover: float = Field(0.8, gt=0, le=1)

    @field_validator("insitu_drivers", "sites_exclude")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("names must not repeat")
        return v


class SplitConfig(StrictModel):
    mode: Literal["temporal", "leave_site_out"] = "temporal"
    train_fraction: float = Field(0.8, gt=0, lt=1)
    val_fraction: float = Field(0.1, ge=0, lt=1)
    k_folds: int = Field(5, ge=2)
    fold: int = Field(0, ge=0)
    seed: int = Field(0, ge=0, lt=2**32)
