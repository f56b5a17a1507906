"""Ensemble members of the S1 daily LSTM, with optional per-site fine-tuning.

``training.finetune_steps > 0``: after the all-site training, every site with training days gets its
own copy of the member, trained for that many batches on the site's own training windows (same
sampler, loss and site weights; ``finetune_lr``, ``finetune_batch_size``; recency weights with
``finetune_halflife_days`` when given; dropout ``finetune_dropout`` when given) — a site-specific
calibration of the shared model, as regional LSTMs are fine-tuned to single catchments in hydrology
(Kratzert et al. 2018, HESS 22:6005). Sites without training days (new sites in ``predict``,
leave-site-out test sites) keep the all-site weights.
"""

from __future__ import annotations

import copy

import numpy as np

from soilco2.daily.arrays import TRAIN, DailyArrays
from soilco2.daily.model import loss_function
from soilco2.daily.sampling import batch_sampler
from soilco2.progress import track


def finetune_sites(
    model,
    a: DailyArrays,
    cfg,
    seed: int,
    weights: np.ndarray,
    *,
    on_site=None,
    show_progress: bool = False,
    label: str = "fine-tuning sites",
) -> dict[str, dict]:
    """Per-site fine-tuned state dicts of ``model`` (which is left unchanged); ``weights``: the
    per-site loss weights of the all-site training. ``on_site(done, total)`` after each site."""
    from soilco2.training import train

    tc = cfg.training
    if tc.finetune_steps == 0:
        return {}
    ft = tc.model_copy(
        update={
            "batch_size": tc.finetune_batch_size,
            "batches_per_epoch": tc.finetune_steps,
            "recency_halflife_days": tc.finetune_halflife_days or tc.recency_halflife_days,
        }
    )
    sites = [i for i in range(a.n_sites) if (a.split[i] == TRAIN).any()]
    states = {}
    for done, i in enumerate(track(sites, label, show_progress), 1):
        m = copy.deepcopy(model)
        m.no_grad_steps = tc.no_grad_steps
        if tc.finetune_dropout is not None:  # the head's dropout, and the LSTM's between stacked layers
            m.dropout.p = tc.finetune_dropout
            if m.lstm.num_layers > 1:
                m.lstm.dropout = tc.finetune_dropout
        # one seed per (member, site): dropout masks and windows differ between members
        train(
            m,
            batch_sampler(a.site_view(i), weights[i : i + 1], ft),
            None,
            epochs=1,
            lr=tc.finetune_lr,
            weight_decay=tc.weight_decay,
            seed=seed * 1000 + i,
            loss_fn=loss_function(tc),
            show_progress=False,
            precision=tc.precision,
        )
        m.eval()
        states[a.sites[i]] = {k: v.detach().clone() for k, v in m.state_dict().items()}
        if on_site is not None:
            on_site(done, len(sites))
    return states
