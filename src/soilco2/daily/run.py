"""S1 daily pipeline: config → run folder (train an LSTM ensemble, baselines, evaluate, predict).

Run folder (docs/contracts.md, "S1 daily run folder"): config.yaml, scalers.json,
checkpoints/member_<k>.pt (and checkpoints/sites/member_<k>.pt with per-site fine-tuning),
sites.parquet, metrics.parquet, summary.json, predictions.nc.
"""

from __future__ import annotations

import json
import time as _time
from pathlib import Path

import numpy as np
import xarray as xr

from soilco2.config import dump_config, load_config
from soilco2.daily.arrays import TARGET, TEST, TRAIN, VALIDATION, DailyArrays, build_arrays
from soilco2.daily.config import DailyConfig
from soilco2.daily.inputs import load_daily_dataset
from soilco2.daily.members import ensemble_predict, site_checkpoint, train_members
from soilco2.daily.model import Member, new_model, torch_setup
from soilco2.daily.outputs import (
    predictions_dataset,
    score_predictions,
    sites_table,
    summarise,
    write_predictions,
)
from soilco2.errors import UserError
from soilco2.files import (
    check_destination,
    mkdir,
    run_folder,
    verify_manifest,
    write_json,
    write_manifest,
    write_parquet,
    write_with,
)


def run_files(run: Path) -> list[str]:
    """The files a trained run is made of (the manifest's list): config, scalers, checkpoints."""
    ckpt = sorted(p.relative_to(run).as_posix() for p in (run / "checkpoints").rglob("*.pt"))
    extra = ["calibration.parquet"] if (run / "calibration.parquet").is_file() else []
    return ["config.yaml", "scalers.json", *ckpt, *extra]


def load_run_config(run: str | Path) -> DailyConfig:
    """The config a run folder was trained with, after checking the folder against its manifest
    (every checkpoint present and unchanged, the config as trained); anything else is an error."""
    run = Path(run)
    if not run.is_dir():
        raise UserError("run folder not found", file=run)
    manifest = verify_manifest(run, kind="daily")
    cfg = load_config(run / "config.yaml", DailyConfig)
    members = sorted((run / "checkpoints").glob("member_*.pt"))
    if len(members) != cfg.training.ensemble or manifest.get("members") != cfg.training.ensemble:
        raise UserError(
            f"{len(members)} member checkpoint(s) for an ensemble of {cfg.training.ensemble}",
            file=run / "checkpoints",
            field="training.ensemble",
        )
    return cfg


def prepare(
    cfg: DailyConfig, scaler=None, *, ds: xr.Dataset | None = None, cosore_dir=None, site_target: dict | None = None
):
    """The dataset (built, or given), its model-ready arrays, and the scaler (FeatureScaler with
    ``.site_target``: the per-site target scaling as a dict, or None)."""
    if ds is None:
        ds = load_daily_dataset(cfg.data, cosore_dir=cosore_dir)
    how = {"per_site": True, "per_site_mean": "center", "global": False}[cfg.training.target_scaling]
    a, scaler, site = build_arrays(
        ds,
        split=cfg.split,
        warmup_days=cfg.training.warmup_days,
        scaler=scaler,
        site_scaling=(site_target or how) if how else False,
        anomalies=tuple(cfg.training.site_anomalies),
        trailing=cfg.training.trailing_means,
        target_arcsinh=cfg.training.target_arcsinh,
        target_arcsinh_scale=cfg.training.target_arcsinh_scale,
        static_inputs=cfg.model.static_inputs,
    )
    scaler.site_target = site
    return ds, a, scaler


SPLITS = {"train": (TRAIN, VALIDATION), "test": (TEST,)}


def load_calibration(run: Path, cfg: DailyConfig, ds: xr.Dataset):
    """The run's predictive distribution (:class:`Calibration`) fitted from its calibration table,
    or None when the run has none (``calibration.method: none``, a leave-site-out split)."""
    import pandas as pd

    from soilco2.daily.uncertainty.distribution import Calibration
    from soilco2.daily.uncertainty.holdout import TABLE

    if cfg.calibration.method == "none" or not (run / TABLE).is_file():
        return None
    try:
        table = pd.read_parquet(run / TABLE)
    except (OSError, ValueError) as err:
        raise UserError(f"unreadable calibration table ({err.__class__.__name__})", file=run / TABLE) from None
    c = cfg.calibration
    return Calibration.fit(table, grouping=c.grouping, prior_days=c.site_prior_days, floor=c.floor_umol_m2_s,
                           groups=_igbp_groups(cfg, ds))  # fmt: skip


def _igbp_groups(cfg: DailyConfig, ds) -> dict[str, str] | None:
    """Each site's IGBP class when the distribution is grouped by class."""
    if cfg.calibration.grouping != "igbp" or "igbp" not in ds:
        return None
    return dict(zip(map(str, ds["site"].values), map(str, ds["igbp"].values), strict=True))


def with_distribution(run: Path, cfg: DailyConfig, ds, a: DailyArrays, preds: dict, metrics=None, splits=SPLITS,
                      levels=None, trained: list[str] | None = None):  # fmt: skip
    """The predictive quantiles added to ``preds`` and the distribution scores to ``metrics`` (the
    LSTM's rows); returns (metrics, pooled scores per split or {}). ``levels``: the new-site level
    table (``log_k``, ``log_k_sd`` per site); without it a site the run did not train on
    (``trained``: the run's sites, default those of its sites.parquet) has a level known to the
    between-site SD."""
    from soilco2.daily.newsite.level import DEFAULT_BETWEEN_SITE_SD
    from soilco2.daily.uncertainty.distribution import predictive_outputs

    fluxes = preds.pop("members")
    cal = load_calibration(run, cfg, ds)
    if cal is None:
        return metrics, {}
    if levels is not None:
        shift = {"log_shift": levels["log_k"].to_numpy(), "log_sd": levels["log_k_sd"].to_numpy()}
    else:
        known = set(_trained_sites(run) if trained is None else trained)
        shift = {"log_sd": np.array([0.0 if s in known else DEFAULT_BETWEEN_SITE_SD for s in a.sites])}
    obs = ds[TARGET].transpose("site", "time").values if TARGET in ds else np.full(a.y.shape, np.nan)
    quant, scores, pooled = predictive_outputs(cal, fluxes, a.sites, obs, a.split, splits,
                                               groups=_igbp_groups(cfg, ds), **shift)  # fmt: skip
    preds.update(quant)
    if metrics is not None and len(scores):
        metrics = metrics.merge(scores.assign(model="lstm"), on=["site", "model", "split"], how="left")
    return metrics, pooled


def _trained_sites(run: Path) -> list[str]:
    import pandas as pd

    try:
        return [str(s) for s in pd.read_parquet(run / "sites.parquet", columns=["site"])["site"]]
    except (OSError, ValueError, KeyError):
        return []


def finish_run(run: Path, cfg: DailyConfig, ds, a: DailyArrays, models, scalers, extra: dict) -> dict:
    """Baselines, metrics, the predictive distribution, summary and predictions for a run folder."""
    from soilco2.daily.baselines import run_baselines

    preds = ensemble_predict(models, a, scalers)
    preds.update(run_baselines(ds, a, cfg.baselines, seed=cfg.training.seed))
    obs = ds[TARGET].transpose("site", "time").values
    metrics = score_predictions(obs, a.split, preds, a.sites)
    metrics, pooled = with_distribution(run, cfg, ds, a, preds, metrics, trained=a.sites)
    summary = summarise(metrics) | extra | ({"distribution_pooled": pooled} if pooled else {})
    write_with(run / "predictions.nc", lambda tmp: write_predictions(predictions_dataset(ds, a, preds), tmp))
    write_parquet(sites_table(ds, a), run / "sites.parquet", index=False)
    write_parquet(metrics, run / "metrics.parquet", index=False)
    write_json(run / "summary.json", summary)
    return summary


def check_window(a: DailyArrays, cfg: DailyConfig) -> list[str]:
    """Sites with fewer observed training days than one window: an error when the config names
    its sites, else listed in summary.json (their windows still hold every observed day)."""
    n_train = np.isin(a.split, (TRAIN, VALIDATION)).sum(1)
    short = [s for s, n in zip(a.sites, n_train) if n < cfg.training.window_days]
    if short and cfg.data.sites_include:
        raise UserError(
            f"site(s) with fewer observed training days than one window "
            f"({cfg.training.window_days}): {', '.join(short)}",
            field="data.sites_include",
        )
    return short


def train_run(
    cfg: DailyConfig,
    out: str | Path | None = None,
    *,
    show_progress: bool = True,
    ds: xr.Dataset | None = None,
    resume: bool = False,
    replace: bool = False,
) -> Path:
    """Train the ensemble and write the whole run folder; returns its path. ``ds`` replaces the
    dataset the config would build (tests, notebooks). ``resume``: continue the unfinished run of
    the same config that a kill left in ``<run>.partial`` (finished members are kept, an unfinished
    one continues from its last epoch), ending with the metrics of an uninterrupted run. ``replace``:
    a finished run at the same place is replaced (with everything in it: report, gap-filling)."""
    torch_setup(cfg.training.threads)  # without PyTorch: stop before any folder is made
    final = check_destination(Path(out) if out else Path(cfg.run_dir) / cfg.name, "daily", replace=replace or resume)
    # everything is written to <run>.partial and swapped in at the end (soilco2.files.run_folder):
    # a failed or interrupted run never leaves a new config beside an older run's checkpoints, and
    # a folder soilco2 did not create is never replaced
    partial = final.with_name(final.name + ".partial") / "config.yaml"
    if resume and partial.is_file() and load_config(partial, DailyConfig) != cfg:  # refused: the partial run stays
        raise UserError(
            "the unfinished run here was started with another config; train without --resume to start afresh",
            file=partial,
        )
    with run_folder(final, "daily", resume=resume, replace=replace) as run:
        t0 = _time.perf_counter()
        ds, a, scalers = prepare(cfg, ds=ds)
        short = check_window(a, cfg)
        mkdir(run / "checkpoints")
        dump_config(cfg, run / "config.yaml")
        _save_scaler(scalers, run / "scalers.json")
        t1 = _time.perf_counter()
        models, history = train_members(a, cfg, run / "checkpoints", show_progress=show_progress)
        t2 = _time.perf_counter()
        calibration = train_calibration(run, cfg, ds, a, show_progress)
        extra = {
            "calibration_seconds": _time.perf_counter() - t2,
            "calibration_members": calibration,
            "members": history,
            "prepare_seconds": t1 - t0,
            "train_seconds": t2 - t1,
            "short_sites": short,
            "dynamic_features": a.dynamic_features,
            "static_features": a.static_features,
        }
        summary = finish_run(run, cfg, ds, a, models, scalers, extra)
        summary["total_seconds"] = _time.perf_counter() - t0
        write_json(run / "summary.json", summary)
        write_manifest(run, run_files(run), kind="daily", members=cfg.training.ensemble)
    return final


def train_calibration(run: Path, cfg: DailyConfig, ds, a: DailyArrays, show_progress: bool) -> list | str:
    """The calibration ensemble (checkpoints/calibration/) and its table (calibration.parquet);
    returns its members' history, or why there is none."""
    from soilco2.daily.members import member_fluxes
    from soilco2.daily.uncertainty.holdout import TABLE, calibration_table, holdout_config, without_test_days

    if cfg.calibration.method == "none":
        return "calibration.method: none"
    if cfg.split.mode != "temporal":
        return "not calibrated: the split is not temporal (a new site's distribution is calibrated apart)"
    inner_cfg = holdout_config(cfg)
    inner_ds = without_test_days(ds, a)
    _, inner, scaler = prepare(inner_cfg, ds=inner_ds)
    members, history = train_members(inner, inner_cfg, mkdir(run / "checkpoints" / "calibration"),
                                     show_progress=show_progress)  # fmt: skip
    table = calibration_table(inner_ds, inner, member_fluxes(members, inner, scaler))
    write_parquet(table, run / TABLE, index=False)
    return history


def _save_scaler(scaler, path: Path) -> None:
    """The FeatureScaler's JSON plus, under 'site_target', the per-site target scaling."""
    write_json(path, scaler.to_dict() | {"site_target": scaler.site_target})


def load_scaler(run: Path):
    """(FeatureScaler, per-site target scaling dict or None) of a run."""
    from soilco2.daily.dataset.transforms import FeatureScaler

    scaler = FeatureScaler.from_json(run / "scalers.json")
    return scaler, json.loads((run / "scalers.json").read_text()).get("site_target")


def load_members(run: Path, cfg: DailyConfig, a: DailyArrays) -> list:
    """Checkpoints of a run as Members (with their per-site fine-tuned weights, when the run has
    them); shape mismatches mean an incompatible run folder."""

    torch = torch_setup(cfg.training.threads)
    files = sorted((run / "checkpoints").glob("member_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    if not files:
        raise UserError("no checkpoints/member_<k>.pt in the run folder", file=run)
    members = []
    for f in files:
        m = new_model(a, cfg.model)
        if cfg.training.finetune_steps > 0 and not site_checkpoint(f).is_file():
            raise UserError(
                "the run's config fine-tunes per site (training.finetune_steps) but its per-site weights are missing",
                file=site_checkpoint(f),
            )
        try:
            m.load_state_dict(torch.load(f, weights_only=True))
            states = torch.load(site_checkpoint(f), weights_only=True) if site_checkpoint(f).is_file() else {}
            probe = new_model(a, cfg.model)
            for state in states.values():
                probe.load_state_dict(state)
        except (RuntimeError, KeyError, AttributeError) as err:
            raise UserError(f"checkpoint does not fit the run's config ({str(err).splitlines()[0]})", file=f) from None
        m.eval()
        members.append(Member(m, states))
    return members


def evaluate_run(run: str | Path, *, ds: xr.Dataset | None = None) -> dict:
    """Rebuild the dataset, reload scalers and checkpoints, re-score; rewrites the outputs."""
    run = Path(run)
    cfg = load_run_config(run)
    scalers, site = load_scaler(run)
    ds, a, scalers = prepare(cfg, scalers, ds=ds, site_target=site)
    models = load_members(run, cfg, a)
    try:
        old = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    except (ValueError, UnicodeDecodeError):
        import warnings

        warnings.warn(f"{run / 'summary.json'} was unreadable (truncated?): it is written again, without the "
                      "training's timings and members' epochs it held", stacklevel=2)  # fmt: skip
        old = {}
    kept = ("members", "prepare_seconds", "train_seconds", "calibration_seconds", "calibration_members",
            "total_seconds", "short_sites")  # fmt: skip
    keep = {k: old[k] for k in kept if k in old}
    return finish_run(
        run,
        cfg,
        ds,
        a,
        models,
        scalers,
        keep | {"dynamic_features": a.dynamic_features, "static_features": a.static_features},
    )


def predict_run(
    run: str | Path,
    cosore_dir: str | Path | None,
    out: str | Path | None = None,
    *,
    ds: xr.Dataset | None = None,
    level: dict | None = None,
    replace: bool = False,
) -> Path:
    """Apply a trained run to the datasets of another COSORE-layout directory (new sites): writes
    predictions.nc and, where there are observations, metrics.parquet (split 'all' = every
    observed day, and train/test on the same temporal split). ``level``: the keyword arguments of
    :func:`soilco2.daily.newsite.level.site_levels` (source, spots, ...) to set each site's level
    (the factors go to levels.parquet)."""
    run = Path(run)
    cfg = load_run_config(run)
    scalers, site = load_scaler(run)
    if cosore_dir is not None:  # every site of the new folder, whatever the run's site selection
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"sites_include": None, "sites_exclude": []})})
    ds, a, scalers = prepare(cfg, scalers, ds=ds, cosore_dir=cosore_dir, site_target=site)
    models = load_members(run, cfg, a)
    t0 = _time.perf_counter()
    preds = ensemble_predict(models, a, scalers)
    seconds = _time.perf_counter() - t0
    levels = None
    if level is not None:
        from soilco2.daily.newsite.level import site_levels, spot_error_from_run

        level = spot_error_from_run(run) | level
        lat, lon = (ds[c].sel(site=a.sites).values for c in ("lat_deg", "lon_deg"))
        preds, levels = site_levels(preds, a, lat, lon, **level)
    dest = Path(out) if out else run / "predict" / (Path(cosore_dir).resolve().name if cosore_dir else "dataset")
    obs = ds[TARGET].transpose("site", "time").values
    splits = {"all": (TRAIN, VALIDATION, TEST), "train": (TRAIN, VALIDATION), "test": (TEST,)}
    metrics = score_predictions(obs, a.split, preds, a.sites, splits)
    metrics, pooled = with_distribution(run, cfg, ds, a, preds, metrics, splits, levels=levels)
    summary = summarise(metrics) | {"predict_seconds": seconds, "run": str(run), "cosore": str(cosore_dir)}
    summary |= {"distribution_pooled": pooled} if pooled else {}
    with run_folder(dest, "daily_predict", replace=replace) as tmp:
        write_parquet(metrics, tmp / "metrics.parquet", index=False)
        write_with(tmp / "predictions.nc", lambda f: write_predictions(predictions_dataset(ds, a, preds), f))
        write_parquet(sites_table(ds, a), tmp / "sites.parquet", index=False)
        if levels is not None:
            write_parquet(levels, tmp / "levels.parquet", index=False)
            summary["levels"] = levels.to_dict(orient="records")
        write_json(tmp / "summary.json", summary)
        write_manifest(tmp, ["predictions.nc", "metrics.parquet"], kind="daily_predict")
    return dest
