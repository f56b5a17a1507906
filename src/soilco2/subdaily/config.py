"""The S2 config (YAML → pydantic; unknown keys rejected)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from soilco2.config import IsoDate, SchedulerAddress, StrictModel

TORCH_MODELS = ("pastfuture_lstm", "oneway_lstm", "mlp_past", "mlp_pastfuture")
Q10_MODELS = ("q10", "q10_swc_power", "q10_swc_logistic", "lloyd_taylor")


class SiteSection(StrictModel):
    name: str = "site"
    source: Literal["cosore", "hn1_chamber"] = "cosore"
    dataset: str | None = None  # COSORE dataset (source: cosore)
    tower_site: str | None = None  # us-wkg | us-whs | us-hn1 | us-bi1
    tower_drivers: list[str] = []  # drivers taken from the tower files (e.g. precip_mm)
    era5_precip_fill: bool = True  # fill precipitation gaps with ERA5 daily / steps per day
    interval: Literal["30min", "1h"] | None = None  # None: the site's native interval
    driver_gap_fill_hours: float = Field(6.0, ge=0)  # interpolate soil T / SWC / air T gaps up to this long
    start: IsoDate = None
    end: IsoDate = None


class InputsSection(StrictModel):
    """``auto`` (default): the candidates available at the site, branches chosen by the lagged-MI
    helper on non-test data; unavailable candidates are dropped with a warning. A list is explicit:
    a listed driver missing at the site is an error."""

    past: list[str] | Literal["auto"] = "auto"
    future: list[str] | Literal["auto"] = "auto"
    candidates: list[str] = ["soil_temp_c", "swc_m3_m3", "precip_mm"]  # drivers 'auto' may use
    future_hours: float = Field(24.0, ge=0)


class ScenarioSection(StrictModel):
    run: list[Literal["interpolation", "extrapolation"]] = ["interpolation", "extrapolation"]
    holdout_start: IsoDate = None  # default: the last wet 6 months (see prep.subdaily.default_holdout)
    holdout_end: IsoDate = None
    holdout_months: int = Field(6, ge=1)


class SweepSection(StrictModel):
    past_hours: list[Annotated[float, Field(gt=0, le=24 * 60)]] = Field(
        default_factory=lambda: [12, 24, 36, 48, 84, 168], min_length=1
    )
    sample_past_hours: float | None = Field(
        None, gt=0, le=24 * 60
    )  # samples need this much gap-free past (None: the longest length)
    n_workers: int = Field(1, ge=1, le=256, description="local Dask workers fitting past lengths at once (1: here)")
    scheduler_address: SchedulerAddress = Field(None, description="Dask scheduler of a cluster, e.g. tcp://host:8786")


class SearchSection(StrictModel):
    past_hours: float = Field(
        24.0, gt=0, le=24 * 60
    )  # the search runs at this past length, the sweep reuses the winner
    hidden: list[Annotated[int, Field(gt=0, le=1024)]] = Field(default_factory=lambda: [16, 32], min_length=1)
    lr: list[Annotated[float, Field(gt=0, le=1.0)]] = Field(default_factory=lambda: [3e-3], min_length=1)
    dropout: list[float] | None = None  # None: train.dropout only
    models: list[Literal["pastfuture_lstm", "oneway_lstm", "mlp_past", "mlp_pastfuture"]] | None = (
        None  # searched (None: all torch models); the others use the first combination
    )


class TrainSection(StrictModel):
    epochs: int = Field(30, ge=1)
    patience: int = Field(6, ge=1)
    batch_size: int = Field(256, ge=8)
    batches_per_epoch: int = Field(40, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    target_transform: Literal["none", "log", "arcsinh"] = "log"
    max_val_samples: int = Field(4000, ge=10)
    threads: int = Field(1, ge=1, le=4)
    ensemble: int = Field(1, ge=1, le=20)  # seeds seed..seed+n-1 for the torch models at the headline past length


class MISection(StrictModel):
    drivers: list[str] | None = None  # default: the model drivers present
    max_lag_hours: float = Field(
        24.0, gt=0, le=24 * 60, description="longest lag of the mutual information (hours; at most 60 days)"
    )
    bins: int = Field(50, ge=2)


class PulseSection(StrictModel):
    dry_days: float = 7.0
    dry_max_mm: float = 1.0
    min_rain_mm: float = 5.0
    window_hours: float = 48.0


class SubdailyConfig(StrictModel):
    site: SiteSection
    data_root: str | None = None
    out_dir: str = "runs/subdaily"
    seed: int = Field(0, ge=0, lt=2**32)
    models: list[
        Literal[
            "pastfuture_lstm",
            "oneway_lstm",
            "mlp_past",
            "mlp_pastfuture",
            "q10",
            "q10_swc_power",
            "q10_swc_logistic",
            "lloyd_taylor",
        ]
    ] = list(TORCH_MODELS + Q10_MODELS)
    inputs: InputsSection = InputsSection()
    scenarios: ScenarioSection = ScenarioSection()
    sweep: SweepSection = SweepSection()
    search: SearchSection = SearchSection()
    train: TrainSection = TrainSection()
    mi: MISection = MISection()
    rain_pulses: PulseSection = PulseSection()
    show_progress: bool = True
