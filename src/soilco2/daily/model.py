"""The S1 LSTM as the pipeline uses it: building one from a config, predicting every site's span,
the training loss, and an ensemble member with its per-site fine-tuned weights. torch is imported
inside the functions, so the config and data layers load without it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from soilco2.daily.arrays import DailyArrays
from soilco2.daily.config import ModelConfig, TrainingConfig
from soilco2.errors import UserError


def torch_setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    return torch


def predict_scaled(model, a: DailyArrays, until: np.ndarray | None = None, chunk: int = 32) -> np.ndarray:
    """Each site's whole span in one pass (sites left-aligned and batched): ``(site, time)``
    scaled predictions, NaN outside the span (or after ``until``)."""
    import torch

    stop = a.stop if until is None else np.minimum(a.stop, until)
    out = np.full(a.y.shape, np.nan, np.float32)
    order = np.argsort(stop - a.start)
    model.eval()
    with torch.no_grad():
        for c in range(0, a.n_sites, chunk):
            sel = order[c : c + chunk]
            n = int((stop[sel] - a.start[sel]).max())
            if n <= 0:
                continue
            x = np.zeros((sel.size, n, a.x_dynamic.shape[2]), np.float32)
            for j, i in enumerate(sel):
                x[j, : stop[i] - a.start[i]] = a.x_dynamic[i, a.start[i] : stop[i]]
            pred = model(torch.from_numpy(x), torch.from_numpy(a.x_static[sel])).numpy()
            for j, i in enumerate(sel):
                out[i, a.start[i] : stop[i]] = pred[j, : stop[i] - a.start[i]]
    return out


def new_model(a: DailyArrays, mc: ModelConfig):
    from soilco2.models.lstm import DailyLSTM

    if mc.linear_skip == "none":
        return DailyLSTM(
            a.x_dynamic.shape[2],
            a.x_static.shape[1],
            mc.hidden_size,
            mc.dropout,
            input_to_head=mc.input_to_head,
            num_layers=mc.num_layers,
        )
    index = None
    if mc.skip_drivers is not None:
        unknown = [d for d in mc.skip_drivers if d not in a.dynamic_features]
        if unknown:
            raise UserError(
                f"not a dynamic feature: {', '.join(unknown)} (known: {', '.join(a.dynamic_features)})",
                field="model.skip_drivers",
            )
        index = [a.dynamic_features.index(d) for d in mc.skip_drivers]
    return DailyLSTM(
        a.x_dynamic.shape[2],
        a.x_static.shape[1],
        mc.hidden_size,
        mc.dropout,
        linear_skip=mc.linear_skip,
        skip_index=index,
        input_to_head=mc.input_to_head,
        num_layers=mc.num_layers,
    )


def loss_function(tc: TrainingConfig):
    """The training loss: the weighted masked MSE, plus the std-matching term when configured."""
    from soilco2.models.lstm import mse_std_loss, weighted_masked_mse

    if tc.std_loss_weight > 0:
        from functools import partial

        return partial(mse_std_loss, std_weight=tc.std_loss_weight)
    return weighted_masked_mse


@dataclass
class Member:
    """One ensemble member: the all-site LSTM and the fine-tuned weights of each site (by name;
    empty without fine-tuning)."""

    model: object  # torch.nn.Module (torch stays out of this module's imports)
    site_states: dict[str, dict] = field(default_factory=dict)

    def predict(self, a: DailyArrays) -> np.ndarray:
        """Scaled ``(site, time)`` predictions: each site by its own weights where it has them."""
        out = predict_scaled(self.model, a)
        tuned = [i for i, s in enumerate(a.sites) if s in self.site_states]
        if tuned:
            site_model = copy.deepcopy(self.model)
            for i in tuned:
                site_model.load_state_dict(self.site_states[a.sites[i]])
                out[i] = predict_scaled(site_model, a.site_view(i))[0]
        return out
