"""Configuration of ``soilco2 global benchmark``: the model files, how to read each, the period,
the matching rules for the site series, and the cited budget terms."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from soilco2.config import StrictModel

Flux = Literal["rs", "rh", "ra"]


class ModelFile(StrictModel):
    """One model output file. ``path`` may start with ``{data_root}``."""

    name: str = Field(..., min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
    path: str
    variables: dict[Flux, list[str]] = Field(
        default_factory=dict, description="flux -> variable(s) summed; empty: found by name or CF standard name"
    )
    fluxes: list[Flux] | None = Field(
        None, description="fluxes to read when variables are not named (default: all found)"
    )
    units: dict[Flux, str] = Field(
        default_factory=dict, description="flux -> units, for files whose attribute is wrong"
    )
    land_area: str | None = Field(None, description="variable with each cell's land area (m2 or km2)")
    land_fraction: str | None = Field(None, description="variable with each cell's land fraction (0-1 or %)")

    @model_validator(mode="after")
    def _one_land(self):
        if self.land_area and self.land_fraction:
            raise ValueError("give land_area or land_fraction, not both")
        return self


class Cited(StrictModel):
    """A cited global flux, Pg C/yr, with its range."""

    value: float
    low: float
    high: float
    source: str


def _budget_defaults() -> dict[str, Cited]:
    return {
        "gpp": Cited(value=120.0, low=111.0, high=126.0, source="Jung et al. 2017 (Nature 541, 516-520)"),
        "npp": Cited(value=56.0, low=56.0 - 14.3, high=56.0 + 14.3, source="Ito 2011 (Global Change Biol. 17, 3161)"),
        "fire": Cited(value=2.2, low=2.2, high=2.2, source="van der Werf et al. 2017 (ESSD 9, 697)"),
    }


class BenchmarkConfig(StrictModel):
    data_root: str | None = None
    models: list[ModelFile] = Field(default_factory=list)
    period: tuple[int, int] | None = Field(
        (2000, 2010), description="years averaged from files with a time axis (null: all)"
    )
    max_distance_km: float = Field(
        300.0,
        ge=0,
        le=2000,
        description="a record in a model cell without land takes the nearest land cell within this",
    )
    site_radius_km: float = Field(10.0, gt=0, le=500, description="SRDB Rh records this close to an ISIMIP2a site")
    series: bool = Field(True, description="also the published global Rh totals and ISIMIP2a sites (data root)")
    published_years: tuple[int, int] = (2000, 2010)
    landcover_file: str | None = None
    budget: dict[Literal["gpp", "npp", "fire"], Cited] = Field(default_factory=_budget_defaults)
    figures: bool = True

    @model_validator(mode="after")
    def _unique(self):
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique: {names}")
        if self.period is not None and self.period[0] > self.period[1]:
            raise ValueError("period: first year after the last")
        return self
