"""One training loop for every torch model: masked MSE, Adam, early stopping on a validation
loss, best weights kept (state dict), progress shown, seeded for reproducibility."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

# A batch: model inputs (passed as model(*inputs)), target, and a 0/1 mask of scored points.
Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch; deterministic CPU kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over points where ``mask`` is 1 (observed); 0 when nothing is observed."""
    mask = mask.to(pred.dtype)
    diff = torch.where(mask > 0, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return (diff**2).sum() / mask.sum().clamp_min(1.0)


def epoch_progress(show: bool = True) -> Progress:
    """The progress display of epoch-wise training (one task per model; fields: info): rich's on a
    terminal, plain lines in a log."""
    from soilco2.progress import PlainProgress, is_terminal

    if show and not is_terminal():
        return PlainProgress(show)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    ]
    return Progress(*columns, disable=not show, transient=False)


@dataclass
class TrainResult:
    best_epoch: int
    best_val_loss: float
    history: list[dict] = field(default_factory=list)


def train(
    model: nn.Module,
    train_batches: Callable[[np.random.Generator], Iterable[Batch]],
    val_loss: Callable[[nn.Module], float] | None,
    *,
    epochs: int = 50,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int = 10,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] = masked_mse,
    checkpoint: str | Path | None = None,
    label: str = "training",
    show_progress: bool = True,
    lr_schedule: str = "constant",
    on_epoch: Callable[[int, int, str], None] | None = None,
    average_last: int = 0,
    precision: str = "float32",
    resume_state: str | Path | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    ``train_batches(rng)`` yields one epoch of batches (the caller owns sampling);
    ``val_loss(model)`` scores the model in eval mode; ``None`` (no validation data) trains all
    ``epochs`` and keeps the last (``best_val_loss`` is then NaN). The best state dict is written to
    ``checkpoint`` when given (load it with ``torch.load(..., weights_only=True)``).
    ``lr_schedule``: "constant", or "cosine" (cosine decay from ``lr`` to 0 over ``epochs``).
    ``on_epoch(done, epochs, info)`` is called after each epoch (progress of a worker process).
    ``average_last`` (only without validation): keep the mean of the last that many epochs'
    weights instead of the last (stochastic weight averaging).
    ``precision="bfloat16"``: each training step's forward (and so its backward) runs under CPU
    autocast to bfloat16; weights, optimiser and loss stay float32, and so does evaluation.
    ``resume_state``: after every epoch the whole state of the loop (weights, optimiser, scheduler,
    the sampler's and torch's random states, the best epoch so far) is saved there atomically; a
    later call with the same arguments continues after the last saved epoch and ends with the
    same weights as an uninterrupted run. The file is removed when training ends.
    """
    set_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if lr_schedule == "cosine" else None
    best = (float("inf"), -1, copy.deepcopy(model.state_dict()) if val_loss is not None else None)
    history: list[dict] = []
    averaged, n_averaged = None, 0
    start = 0
    if resume_state is not None and Path(resume_state).is_file():
        try:
            state = torch.load(resume_state, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None:
                sched.load_state_dict(state["scheduler"])
            rng.bit_generator.state = state["numpy_rng"]
            torch.set_rng_state(state["torch_rng"])
            best = (state["best_val"], state["best_epoch"], state["best_state"])
            history, averaged, n_averaged = state["history"], state["averaged"], state["n_averaged"]
            start = state["epoch"] + 1
        except Exception as err:  # noqa: BLE001 - truncated, foreign or of another model: one message
            from soilco2.errors import UserError

            raise UserError(f"unreadable resume state ({err.__class__.__name__}): delete it to retrain this "
                            "member, or train without --resume", file=resume_state) from None  # fmt: skip
    with epoch_progress(show_progress) as progress:
        task = progress.add_task(label, total=epochs, info="", completed=start)
        for epoch in range(start, epochs):
            model.train()
            losses = []
            for inputs, target, mask in train_batches(rng):
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                    pred = model(*inputs)
                loss = loss_fn(pred.float(), target, mask)
                loss.backward()
                if grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
                losses.append(float(loss.detach()))
            if sched is not None:
                sched.step()
            model.eval()
            t = float(np.mean(losses)) if losses else float("nan")
            if val_loss is None:  # keep the last epoch
                v = float("nan")
                best = (v, epoch, None)  # the model itself holds the weights to keep
                info = f"loss {t:.4f}"
                if average_last and epoch >= epochs - average_last:
                    n_averaged += 1
                    state = model.state_dict()
                    averaged = (
                        {k: w.detach().clone() for k, w in state.items()}
                        if averaged is None
                        else {k: a + (state[k] - a) / n_averaged for k, a in averaged.items()}
                    )
            else:
                with torch.no_grad():
                    v = float(val_loss(model))
                if v < best[0]:
                    best = (v, epoch, copy.deepcopy(model.state_dict()))
                info = f"loss {t:.4f}  val {v:.4f}  best@{best[1]}"
            history.append({"epoch": epoch, "train_loss": t, "val_loss": v})
            if resume_state is not None:
                _save_loop_state(resume_state, model, opt, sched, rng, epoch, best, history, averaged, n_averaged)
            progress.update(task, advance=1, info=info)
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, info)
            if epoch - best[1] >= patience:
                break
    if best[2] is not None:
        model.load_state_dict(best[2])
    elif averaged is not None:
        model.load_state_dict(averaged)
    model.eval()
    if checkpoint is not None:
        save_state(model.state_dict(), checkpoint)
    if resume_state is not None:
        Path(resume_state).unlink(missing_ok=True)
    return TrainResult(best_epoch=best[1], best_val_loss=best[0], history=history)


def save_state(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary name, then one rename: a kill never leaves half a checkpoint."""
    from soilco2.files import write_with

    write_with(path, lambda tmp: torch.save(obj, tmp))


def _save_loop_state(path, model, opt, sched, rng, epoch, best, history, averaged, n_averaged) -> None:
    save_state(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else None,
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "best_val": best[0],
            "best_epoch": best[1],
            "best_state": best[2],
            "history": history,
            "averaged": averaged,
            "n_averaged": n_averaged,
        },
        path,
    )
