"""Training the S1 ensemble: one member (all-site training, then per-site fine-tuning), and the
members of a run in turn or in worker processes; the ensemble's mean and 5–95 % band."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from soilco2.daily.arrays import VALIDATION, DailyArrays, site_loss_weights
from soilco2.daily.config import DailyConfig
from soilco2.daily.finetune import finetune_sites
from soilco2.daily.model import Member, loss_function, new_model, predict_scaled, torch_setup
from soilco2.daily.sampling import batch_sampler
from soilco2.files import write_json


def train_member(
    a: DailyArrays,
    cfg: DailyConfig,
    seed: int,
    *,
    checkpoint=None,
    show_progress=True,
    label="lstm",
    epochs: int | None = None,
    on_epoch=None,
    resume_state: Path | None = None,
):
    """Train one ensemble member: early stopping on the validation days' loss, or, when the split
    has no validation days, all ``epochs`` with the last kept. ``resume_state``: see
    :func:`soilco2.training.train` (a killed member continues from its last epoch)."""
    torch = torch_setup(cfg.training.threads)
    from soilco2.models.lstm import weighted_masked_mse
    from soilco2.training import set_seed, train

    tc = cfg.training
    set_seed(seed)
    model = new_model(a, cfg.model)
    model.no_grad_steps = tc.no_grad_steps
    weights = site_loss_weights(a, tc.site_normalised_loss)
    val_w = torch.from_numpy(np.where(a.split == VALIDATION, weights[:, None], 0.0).astype(np.float32))
    y = torch.from_numpy(a.y)

    def val_loss(m) -> float:
        pred = torch.from_numpy(np.nan_to_num(predict_scaled(m, a, until=a.test_start)))
        return float(weighted_masked_mse(pred, y, val_w))

    has_val = bool((a.split == VALIDATION).any())
    result = train(
        model,
        batch_sampler(a, weights, tc),
        val_loss if has_val else None,
        epochs=epochs or tc.epochs,
        lr=tc.lr,
        weight_decay=tc.weight_decay,
        patience=tc.patience,
        seed=seed,
        loss_fn=loss_function(tc),
        checkpoint=checkpoint,
        label=label,
        show_progress=show_progress,
        lr_schedule=tc.lr_schedule,
        on_epoch=on_epoch,
        average_last=tc.average_last,
        precision=tc.precision,
        resume_state=resume_state,
    )
    return model, result


def resume_file(checkpoint: Path) -> Path:
    """The loop state of a member still training: checkpoints/resume_member_<k>.pt."""
    return checkpoint.parent / f"resume_{checkpoint.name}"


def result_file(checkpoint: Path) -> Path:
    """A finished member's training result (best epoch, validation loss): member_<k>.json."""
    return checkpoint.with_suffix(".json")


def site_checkpoint(checkpoint: Path) -> Path:
    """Where a member's per-site fine-tuned weights are kept: checkpoints/sites/member_<k>.pt."""
    return checkpoint.parent / "sites" / checkpoint.name


def fit_member(
    a: DailyArrays,
    cfg: DailyConfig,
    seed: int,
    *,
    checkpoint: Path | None = None,
    show_progress: bool = True,
    label: str = "lstm",
    on_epoch=None,
):
    """One ensemble member: the all-site training (:func:`train_member`), then, with
    ``training.finetune_steps``, each site's fine-tuned weights (saved beside the checkpoint).
    Returns (Member, TrainResult).

    With a ``checkpoint``, what an earlier, killed call finished is kept: a member whose all-site
    weights and result are on disk is not trained again, one with a loop state continues from its
    last epoch, and saved per-site weights are not fine-tuned again."""
    from soilco2.training import TrainResult

    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file() and result_file(ckpt).is_file():
        torch = torch_setup(cfg.training.threads)
        model = new_model(a, cfg.model)
        try:
            model.load_state_dict(torch.load(ckpt, weights_only=True))
            result = TrainResult(**json.loads(result_file(ckpt).read_text()))
            sites = site_checkpoint(ckpt)
            states = torch.load(sites, weights_only=True) if cfg.training.finetune_steps and sites.is_file() else {}
        except Exception as err:  # noqa: BLE001 - a damaged finished member: one message, nothing deleted
            from soilco2.errors import UserError

            raise UserError(f"unreadable finished member ({err.__class__.__name__}): delete it to retrain it, or "
                            "train without --resume", file=ckpt) from None  # fmt: skip
        model.eval()
        if cfg.training.finetune_steps == 0 or site_checkpoint(ckpt).is_file():
            return Member(model, states), result
    else:
        model, result = train_member(
            a,
            cfg,
            seed,
            checkpoint=checkpoint,
            show_progress=show_progress,
            label=label,
            on_epoch=on_epoch,
            resume_state=resume_file(ckpt) if ckpt is not None else None,
        )
        if ckpt is not None:
            write_json(result_file(ckpt), {"best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss})
    on_site = None
    if on_epoch is not None:  # a worker process: the sites go to the epoch display's info field

        def on_site(done, total):
            on_epoch(cfg.training.epochs, cfg.training.epochs, f"fine-tuned {done}/{total} sites")

    member = finetune_member(
        model,
        a,
        cfg,
        seed,
        checkpoint=checkpoint,
        on_site=on_site,
        show_progress=show_progress and on_epoch is None,
        label=label,
    )
    return member, result


def finetune_member(
    model,
    a: DailyArrays,
    cfg: DailyConfig,
    seed: int,
    *,
    checkpoint: Path | None = None,
    on_site=None,
    show_progress: bool = False,
    label: str = "lstm",
):
    """The second half of :func:`fit_member`: the trained all-site ``model`` with each site's
    fine-tuned weights (none when ``training.finetune_steps`` is 0), saved beside ``checkpoint``."""
    from soilco2.training import save_state

    weights = site_loss_weights(a, cfg.training.site_normalised_loss)
    states = finetune_sites(
        model, a, cfg, seed, weights, on_site=on_site, show_progress=show_progress, label=f"{label}: fine-tuning sites"
    )
    if cfg.training.finetune_steps > 0 and checkpoint is not None:
        save_state(states, site_checkpoint(Path(checkpoint)))
    return Member(model, states)


def _member_task(shared: tuple, task: tuple, report):
    """One ensemble member on a worker: its state dict, per-site states and training result;
    epoch progress goes to ``report(label, done, total, info)``."""
    a, cfg_data = shared
    seed, checkpoint, label = task
    cfg = DailyConfig.model_validate(cfg_data)
    member, res = fit_member(
        a,
        cfg,
        seed,
        checkpoint=checkpoint,
        show_progress=False,
        on_epoch=lambda done, total, info: report(label, done, total, info),
    )
    return member.model.state_dict(), member.site_states, res


def train_members(a: DailyArrays, cfg: DailyConfig, checkpoints: Path, *, show_progress: bool = True):
    """The ensemble's members (seeds seed, seed+1, ...), ``training.workers`` at a time on Dask
    workers; the same models as one after another. Returns (Members, per-member history rows)."""
    n = cfg.training.ensemble
    labels = [f"member {k + 1}/{n}" for k in range(n)]
    paths = [checkpoints / f"member_{k}.pt" for k in range(n)]
    seeds = [cfg.training.seed + k for k in range(n)]
    workers = min(cfg.training.workers, n)
    if workers == 1 and not cfg.training.scheduler_address:
        results = [
            fit_member(a, cfg, seeds[k], checkpoint=paths[k], show_progress=show_progress, label=labels[k])
            for k in range(n)
        ]
    else:
        results = _train_in_processes(a, cfg, seeds, paths, labels, workers, show_progress)
    history = [
        {
            "member": k,
            "best_epoch": res.best_epoch,
            "best_val_loss": res.best_val_loss if np.isfinite(res.best_val_loss) else None,
        }
        for k, (_, res) in enumerate(results)
    ]
    return [m for m, _ in results], history


def _train_in_processes(a, cfg, seeds, paths, labels, workers: int, show_progress: bool):
    """The members on Dask (:func:`soilco2.parallel.map_tasks`: ``workers`` local processes, or the
    cluster at ``training.scheduler_address``), each with its epoch progress bar."""
    from soilco2.parallel import map_tasks
    from soilco2.training import epoch_progress

    with epoch_progress(show_progress) as progress:
        bars = {lab: progress.add_task(lab, total=cfg.training.epochs, info="waiting") for lab in labels}
        states = map_tasks(
            _member_task,
            (a, cfg.model_dump(mode="json")),
            list(zip(seeds, paths, labels, strict=True)),
            n_workers=workers,
            scheduler_address=cfg.training.scheduler_address,
            field="training.scheduler_address",
            on_update=lambda lab, done, total, info: progress.update(bars[lab], completed=done, total=total, info=info),
        )
    results = []
    for state, site_states, res in states:
        model = new_model(a, cfg.model)
        model.load_state_dict(state)
        model.eval()
        results.append((Member(model, site_states), res))
    return results


def member_fluxes(members, a: DailyArrays, scaler) -> np.ndarray:
    """(member, site, time) predictions in µmol m-2 s-1 (members back-transformed one by one),
    NaN outside each site's span."""
    return np.stack([a.to_flux(m.predict(a), scaler) for m in members])


def ensemble_predict(members, a: DailyArrays, scaler) -> dict[str, np.ndarray]:
    """The point forecast ``lstm``: the members' mean, floored at 0 (an efflux is never negative),
    and the members themselves (``members``, µmol m-2 s-1) for the predictive distribution."""
    fluxes = member_fluxes(members, a, scaler)
    return {"lstm": np.maximum(fluxes.mean(0), 0.0), "members": fluxes}
