"""Config of the S1 daily pipeline (pydantic only, so the CLI imports it cheaply): model,
training, baselines, tuning and the run's data section; one YAML file drives a run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from soilco2.config import SchedulerAddress, StrictModel
from soilco2.daily.inputs import DailyDataConfig, SplitConfig


class ModelConfig(StrictModel):
    hidden_size: int = Field(128, gt=0, le=2048, description="LSTM units (memory grows with its square)")
    dropout: float = Field(0.2, ge=0, lt=1)
    num_layers: int = Field(1, gt=0, le=4, description="stacked LSTM layers (dropout between them too)")
    linear_skip: Literal["none", "global", "static"] = Field(
        "none",
        description="linear path from the scaled dynamic drivers to the output: global = one weight "
        "vector, static = per-site weights from the static attributes (w0 + W1 @ x_static)",
    )
    skip_drivers: list[str] | None = Field(
        None, min_length=1, description="dynamic features feeding the linear path (default: all)"
    )
    input_to_head: bool = Field(
        False, description="the head also sees each day's embedded inputs (a memory-free path beside the LSTM state)"
    )
    static_inputs: list[str] | None = Field(
        None, description="static attributes fed to the LSTM (igbp = all IGBP columns); default all, [] none"
    )

    @model_validator(mode="after")
    def _skip_drivers_need_skip(self):
        if self.skip_drivers is not None and self.linear_skip == "none":
            raise ValueError("skip_drivers given but linear_skip is 'none'")
        return self


class TrainingConfig(StrictModel):
    window_days: int = Field(30, gt=0, le=3660, description="scored days per training window")
    warmup_days: int = Field(60, ge=0, le=3660, description="unscored days before each window")
    precision: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="bfloat16: training steps under CPU autocast (about twice as fast where the CPU "
        "has bfloat16 instructions, e.g. AVX512-BF16 or AMX); weights and predictions stay float32",
    )
    warmup_gradient: bool = Field(
        True,
        description="backpropagate through the warm-up days; false: the warm-up "
        "runs without autograd (truncated backpropagation, about half the cost)",
    )
    batch_size: int = Field(64, gt=0, le=4096)
    batches_per_epoch: int = Field(40, gt=0, le=100_000)
    epochs: int = Field(30, gt=0, le=10_000)
    patience: int = Field(8, gt=0)
    lr: float = Field(1e-3, gt=0, le=1.0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: decay lr to 0 over epochs")
    weight_decay: float = Field(0.0, ge=0)
    site_normalised_loss: bool = True
    site_sampling: Literal["days", "sqrt", "sites"] = Field(
        "days",
        description="how often a site's windows are drawn: in proportion to its training days (days), "
        "their square root (sqrt), or equally for every site (sites)",
    )
    std_loss_weight: float = Field(0.0, ge=0, description="weight of the within-window std-matching term")
    recency_halflife_days: float | None = Field(
        None,
        gt=0,
        description="weight each training day by 2^(-(days before the site's training end) / this), "
        "normalised to a mean of 1 over the site's training days; null = equal weights",
    )
    target_scaling: Literal["per_site", "per_site_mean", "global"] = Field(
        "per_site_mean",
        description="per_site: the LSTM predicts each site's target around its training mean, in "
        "units of its training std; per_site_mean: around its training mean only; global: as scaled",
    )
    target_arcsinh: bool = Field(True, description="arcsinh on the target before min-max (the paper)")
    target_arcsinh_scale: float = Field(
        1.0,
        gt=0,
        le=1000.0,
        description="µmol m-2 s-1: the target's transform is "
        "arcsinh(flux / this), log-like above it and linear below (1 = the paper)",
    )
    site_anomalies: list[str] = Field(
        default_factory=list, description="drivers also given as departures from the site's training-period mean"
    )
    input_noise: float = Field(
        0.0,
        ge=0,
        description="std of Gaussian noise added to the scaled dynamic inputs "
        "(not the 0/1 availability flags) of every training window; 0 = none",
    )
    trailing_means: dict[str, PositiveInt] = Field(
        default_factory=dict,
        description="driver -> days: the driver's mean over that many trailing days as an "
        "extra input (a memory longer than the training windows); {} = none",
    )
    ensemble: int = Field(4, gt=0, le=100, description="members, seeds seed, seed+1, ...")
    seed: int = Field(0, ge=0, lt=2**32, description="random seed of member 0 (members use seed, seed+1, ...)")
    threads: int = Field(1, gt=0, le=64, description="torch threads; 1 is fastest on a shared CPU")
    average_last: int = Field(
        0,
        ge=0,
        description="without validation days: keep the mean weights of the last "
        "that many epochs (stochastic weight averaging); 0 = the last epoch's",
    )
    finetune_steps: int = Field(
        0,
        ge=0,
        description="after the all-site training, each site's own copy of the "
        "member trains this many batches on the site's training windows; 0 = off",
    )
    finetune_batch_size: int = Field(16, gt=0, description="windows per fine-tuning batch (one site)")
    finetune_lr: float = Field(1e-3, gt=0, le=1.0, description="learning rate of the per-site fine-tuning")
    finetune_dropout: float | None = Field(
        None, ge=0, lt=1, description="dropout of the fine-tuning stage; null = model.dropout"
    )
    finetune_halflife_days: float | None = Field(
        None, gt=0, description="recency half-life of the fine-tuning stage; null = recency_halflife_days"
    )
    workers: int = Field(
        1,
        gt=0,
        le=64,
        description="ensemble members trained at once, one Dask worker process each (each with `threads` torch threads)",
    )
    scheduler_address: SchedulerAddress = Field(
        None, description="Dask scheduler of a cluster that trains the members, e.g. tcp://host:8786; none = local"
    )

    @property
    def no_grad_steps(self) -> int:
        """Leading steps of a training window that run without autograd (DailyLSTM.no_grad_steps)."""
        return 0 if self.warmup_gradient else self.warmup_days


class BaselineConfig(StrictModel):
    q10: bool = True
    doy_climatology: bool = True
    random_forest: bool = True
    doy_window_days: int = Field(15, ge=0, description="half-width of the circular day-of-year smoother")
    rf_trees: int = Field(200, gt=0, le=5_000)
    rf_min_samples_leaf: int = Field(5, gt=0, le=10_000)


class TuneConfig(StrictModel):
    hidden_size: list[int] = Field(default_factory=lambda: [64, 128, 256], min_length=1)
    dropout: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4], min_length=1)
    window_days: list[int] = Field(default_factory=lambda: [30, 90], min_length=1)
    seed: list[int] = Field(default_factory=lambda: [0], min_length=1)
    epochs: int | None = Field(None, gt=0, description="epochs per trial (default: training.epochs)")
    val_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="share of each site's training days that trials "
        "hold out for early stopping and scoring (also when split.val_fraction is 0)",
    )
    scheduler_address: SchedulerAddress = Field(None, description="Dask scheduler, e.g. tcp://host:8786; none = local")
    n_workers: int = Field(2, gt=0)

    @model_validator(mode="after")
    def _positive(self):
        if any(h <= 0 for h in self.hidden_size) or any(w <= 0 for w in self.window_days):
            raise ValueError("hidden_size and window_days values must be positive")
        if any(not 0 <= d < 1 for d in self.dropout):
            raise ValueError("dropout values must lie in [0, 1)")
        return self


class DailyRunDataConfig(DailyDataConfig):
    """The ``data:`` section as a run config checks it: an empty site list is an error here (so
    the message names ``data.sites_include``), not only when the dataset is built."""

    @field_validator("sites_include")
    @classmethod
    def _not_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(v) == 0:
            raise ValueError("empty site list (leave it out for all sites)")
        return v


class CalibrationConfig(StrictModel):
    """The LSTM's predictive distribution (soilco2.daily.uncertainty): split-conformal in log space,
    calibrated on days a second ensemble of the same recipe did not train on."""

    method: Literal["conformal", "none"] = Field(
        "conformal",
        description="conformal: train a calibration ensemble without the last holdout_fraction of each site's "
        "training days and use its log residuals there (doubles training time); none: no distribution",
    )
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of each site's training days (its last) the calibration ensemble holds out"
    )
    grouping: Literal["site", "igbp", "pooled"] = Field(
        "site",
        description="whose residuals shape a site's distribution: its own (shrunk to all sites'), its IGBP "
        "class's, or all sites' (pooled)",
    )
    site_prior_days: float = Field(
        60.0, ge=0, le=1e6, description="shrinkage: a site's own residuals weigh n / (n + this) against the pooled ones"
    )
    floor_umol_m2_s: float = Field(
        0.05, gt=0, le=10, description="fluxes below this are taken as this in log space (chamber detection limit)"
    )


class DailyConfig(StrictModel):
    name: str = Field("daily", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="run folder name under run_dir")
    run_dir: str = "runs"
    data: DailyRunDataConfig = Field(default_factory=DailyRunDataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
