"""Config of the S3 global pipeline (pydantic only, so the CLI can import it cheaply)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from soilco2.config import SchedulerAddress, StrictModel

LU2021_PG_C_YR = {"rs": 85.5, "rh": 50.3, "ra": 35.2}  # Lu et al. 2021, ERL 16 054048, Pg C/yr

# covariates available on the grid (soilco2.global_.covariates.CANDIDATES); |lat| is off by default:
# it ties e.g. the Sahel to a few tropical Asian sites at the same latitude.
ALL_COVARIATES = (
    "mat_c", "map_mm", "sun_pct_mean", "tmin_c", "prec_cv", "whc_mm", "soc_mg_ha", "abs_lat_deg",
    "gs_precip_mm", "gs_length_months", "sw_mj_m2_day", "aridity_index",
    "lc_forest", "lc_shrub", "lc_savanna", "lc_grass", "lc_crop", "ndvi_max",
)  # fmt: skip
DEFAULT_COVARIATES = ("mat_c", "map_mm", "sun_pct_mean", "tmin_c", "prec_cv", "whc_mm", "soc_mg_ha")
LANDCOVER_COVARIATES = ("lc_forest", "lc_shrub", "lc_savanna", "lc_grass", "lc_crop")
# the candidates of `covariates: auto`: 12 give 4095 subsets per flux (docs/global.md: selection)
SELECTION_CANDIDATES = DEFAULT_COVARIATES + (
    "gs_precip_mm",
    "gs_length_months",
    "sw_mj_m2_day",
    "aridity_index",
    "ndvi_max",
)
MAX_SELECTION_CANDIDATES = 16  # 2^16 - 1 = 65,535 subsets per flux
ALLOWED_DROP_FLAGS = (
    "flag_mat_mismatch",
    "qc_problem",
    "qc_known_problem",
    "flag_duplicate",
    "flag_srdb_duplicate",
    "qc_duplicate_suspect",
    "qc_estimated",
    "qc_from_figure",
)


def check_predictors(names: list[str], what: str) -> None:
    """Known predictor names, distinct, at least one (a ValueError for pydantic otherwise)."""
    bad = [c for c in names if c not in ALL_COVARIATES]
    if bad:
        raise ValueError(f"unknown predictor {bad[0]!r}; known: {', '.join(ALL_COVARIATES)}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"{what} must be distinct names, at least one")


class StrataConfig(StrictModel):
    """Climate strata = MAT class × MAP class of each 0.5° cell (BIOME4 climatology)."""

    mat_edges_c: list[float] = Field(default_factory=lambda: [0.0, 10.0, 20.0])
    map_edges_mm: list[float] = Field(default_factory=lambda: [250.0, 500.0, 1000.0, 2000.0])
    min_locations: int = Field(5, ge=1, description="distinct 0.5° locations a stratum needs to be area-weighted")

    @field_validator("mat_edges_c", "map_edges_mm")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("edges must be strictly ascending")
        return v


class SelectionConfig(StrictModel):
    """Complete combinatorial predictor selection (``covariates: auto``): every non-empty subset
    of ``candidates``, ranked by grouped-CV RMSE of a forest of ``n_trees`` trees."""

    candidates: list[str] = Field(default_factory=lambda: list(SELECTION_CANDIDATES))
    n_trees: int = Field(30, ge=1, le=1000, description="trees of each subset's forests (the ranking, not the map)")
    rule: Literal["best", "one_se"] = Field(
        "best",
        description="best: the lowest CV RMSE; one_se: the smallest subset within one standard error "
        "(over folds) of the lowest",
    )
    chunk_subsets: int = Field(32, ge=1, le=100_000, description="subsets per Dask task")

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v: list[str]) -> list[str]:
        check_predictors(v, "candidates")
        if len(v) > MAX_SELECTION_CANDIDATES:
            raise ValueError(
                f"{len(v)} candidates give {2 ** len(v) - 1:,} subsets per flux; at most "
                f"{MAX_SELECTION_CANDIDATES} ({2**MAX_SELECTION_CANDIDATES - 1:,} subsets)"
            )
        return v


class ClimateConfig(StrictModel):
    """Year-by-year maps from a monthly climate file (CRU TS, ERA5 monthly, ...): the covariates
    that come from the climate are recomputed for every year; the others stay as they are."""

    path: str
    variables: dict[Literal["temp_c", "prec_mm_month", "sun_pct", "cloud_pct"], str] = Field(
        ...,
        description="our name -> the file's variable (e.g. CRU TS: temp_c: tmp, prec_mm_month: pre, cloud_pct: cld)",
    )
    units: dict[Literal["temp_c", "prec_mm_month", "sun_pct", "cloud_pct"], str] = Field(
        default_factory=dict, description="units for variables whose attribute is missing or wrong"
    )
    years: tuple[int, int]
    runs: int = Field(20, ge=1, le=10_000, description="runs (spread over all) that map every year")

    @field_validator("years")
    @classmethod
    def _years(cls, v):
        if v[0] > v[1]:
            raise ValueError("years: first after last")
        return v


class GlobalConfig(StrictModel):
    seed: int = Field(0, ge=0, lt=2**32)
    data_root: str | None = None
    out_dir: str = "runs/global"
    n_bootstrap: int = Field(
        50, ge=1, le=100_000, description="runs (one Rs and one Rh forest each): 80/20 splits, or bootstrap draws"
    )
    sampling: Literal["vegetation_bins", "equal", "climate_strata"] = Field(
        "vegetation_bins",
        description="vegetation_bins: each run trains on 80 % of the records drawn with each MODIS IGBP bin's share "
        "of vegetated area (Lu et al. 2021) and scores the other 20 %; equal: the same split with equal chances; "
        "climate_strata: a bootstrap resampled to each MAT x MAP stratum's share of land area (no test records)",
    )
    train_fraction: float = Field(0.8, gt=0, lt=1, description="share of records that train each run (80/20 splits)")
    rh_model: Literal["fraction", "independent"] = Field(
        "fraction",
        description="fraction: Rh = Rs x (Rh/Rs), the fraction from a forest on records with both, so 0 <= Rh <= Rs "
        "in every run and cell; independent: a forest of its own for Rh (Ra = Rs - Rh can be negative)",
    )
    quantile_every: int = Field(
        10,
        ge=1,
        le=100_000,
        description="every that many runs fit quantile forests (5/50/95 % maps, interval "
        "coverage); the others fit plain forests for the mean map, which is several times faster",
    )
    explain_runs: int = Field(
        10, ge=0, le=10_000, description="runs that also compute permutation importance and partial dependence"
    )
    chunk_runs: int = Field(10, ge=1, le=10_000, description="runs per Dask task")
    n_workers: int = Field(1, ge=1, le=256, description="local Dask worker processes (1: no Dask)")
    scheduler_address: SchedulerAddress = Field(None, description="Dask scheduler of a cluster, e.g. tcp://host:8786")
    landcover_file: str | None = Field(None, description="MCD12C1 GeoTIFF (default: the installed package's file)")
    ndvi_file: str | None = Field(None, description="0.05° NDVI-maximum GeoTIFF (default: the BESS-JPL package's file)")
    crossing_runs: int = Field(
        10,
        ge=0,
        le=1000,
        description="with rh_model fraction: runs that also fit an independent Rh forest, to "
        "report where it would exceed Rs",
    )
    n_trees: int = Field(200, ge=1, le=5_000)
    min_samples_leaf: int = Field(
        20, ge=1, le=500, description="records per leaf (above a few hundred the forest degenerates to the mean)"
    )
    max_features: float = Field(0.5, gt=0, le=1, description="share of covariates tried at each split")
    quantiles: list[float] = Field(default_factory=lambda: [0.05, 0.5, 0.95])
    covariates: Literal["auto"] | list[str] | dict[Literal["rs", "rh"], list[str]] = Field(
        default_factory=lambda: list(DEFAULT_COVARIATES),
        description="predictors of both forests (a list), of each ({rs: [...], rh: [...]}; with rh_model "
        "fraction, rh names the Rh/Rs forest's), or auto: the best subset of selection.candidates for each",
    )
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    cv_folds: int = Field(5, ge=2, le=50)
    cv_group_deg: float = Field(0.5, gt=0, description="records in one cell of this size share a CV fold")
    strata: StrataConfig = Field(default_factory=StrataConfig)
    drop_flags: list[str] = Field(default_factory=lambda: ["flag_mat_mismatch", "qc_problem", "flag_duplicate"])
    max_distance_km: float = Field(
        100.0, gt=0, description="records off the grid take the nearest complete cell within this"
    )
    climate: ClimateConfig | None = Field(None, description="year-by-year maps from a monthly climate file")
    n_jobs: int = Field(1, ge=1)
    figures: bool = True

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < q < 1 for q in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("quantiles must be ascending and inside (0, 1)")
        if not {0.05, 0.5, 0.95} <= set(v):
            raise ValueError("quantiles must include 0.05, 0.5 and 0.95")
        return v

    @field_validator("covariates")
    @classmethod
    def _covariates(cls, v):
        if v == "auto":
            return v
        for names in v.values() if isinstance(v, dict) else [v]:
            check_predictors(names, "covariates")
        if isinstance(v, dict) and set(v) != {"rs", "rh"}:
            raise ValueError("covariates per flux need both rs and rh")
        return v

    def covariates_of(self, flux: str) -> list[str]:
        """The predictors of ``flux`` ('rs'; 'rh' or 'pairs': the Rh or Rh/Rs forest)."""
        if self.covariates == "auto":
            raise RuntimeError("covariates: auto is resolved by the selection before the forests are fitted")
        if isinstance(self.covariates, dict):
            return list(self.covariates["rs" if flux == "rs" else "rh"])
        return list(self.covariates)

    def all_covariates(self) -> list[str]:
        """Every predictor the run can use (with auto: every candidate)."""
        if self.covariates == "auto":
            return list(self.selection.candidates)
        return list(dict.fromkeys(self.covariates_of("rs") + self.covariates_of("rh")))

    @field_validator("drop_flags")
    @classmethod
    def _flags(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in ALLOWED_DROP_FLAGS]
        if bad:
            raise ValueError(f"unknown flag {bad[0]!r}; allowed: {', '.join(ALLOWED_DROP_FLAGS)}")
        return v
