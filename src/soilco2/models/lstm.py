"""Daily multi-site LSTM (S1): dynamic drivers plus static site attributes repeated at every step.

Shape of the daily paper's model (hydroDL style): a linear input layer with ReLU, one LSTM layer,
dropout, a linear head giving one value per day (``num_layers`` > 1 stacks LSTM layers, with the same
dropout between them). ``forward(x_dynamic, x_static)`` takes
``(batch, time, n_dynamic)`` and ``(batch, n_static)`` and returns ``(batch, time)``.

Optional linear skip (knowledge-guided path, issue #3): the scaled dynamic drivers also go straight
to the output, ``out = head(h_t) + w · x_dyn_t``. In arcsinh (≈ log) flux space a linear temperature
term is a Q10 law, which keeps extrapolating where the saturating LSTM flattens out.
``linear_skip="global"``: one weight vector for all sites; ``"static"``: per-site weights
``w = w0 + W1 @ x_static`` (the sensitivity depends on site attributes). Skip weights start at zero,
so an untrained skip model is the plain LSTM; ``"none"`` adds no parameters.

Optional ``input_to_head``: the head also sees the embedded inputs of the same day (the input
layer's output), ``y_t = head([h_t, relu(W x_t)])`` — a direct, memory-free path from today's
drivers to today's flux beside the LSTM's state.

``no_grad_steps`` (an attribute, not a weight; used in training mode only): the first that many
steps of each sequence — the unscored warm-up days of a training window — run without autograd, so
backpropagation is truncated at the end of the warm-up (half the cost of a step when warm-up and
window are equally long). Evaluation always runs the whole sequence with one graph-free pass.
"""

from __future__ import annotations

import torch
from torch import nn

SKIP_MODES = ("none", "global", "static")


class DailyLSTM(nn.Module):
    def __init__(
        self,
        n_dynamic: int,
        n_static: int,
        hidden_size: int = 128,
        dropout: float = 0.2,
        linear_skip: str = "none",
        skip_index: list[int] | None = None,
        input_to_head: bool = False,
        num_layers: int = 1,
    ):
        super().__init__()
        if linear_skip not in SKIP_MODES:
            raise ValueError(f"linear_skip must be one of {SKIP_MODES}, got {linear_skip!r}")
        self.n_dynamic, self.n_static = n_dynamic, n_static
        self.no_grad_steps = 0
        self.input_layer = nn.Linear(n_dynamic + n_static, hidden_size)
        self.lstm = nn.LSTM(
            hidden_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.input_to_head = input_to_head
        self.head = nn.Linear(hidden_size * (2 if input_to_head else 1), 1)
        self.linear_skip = linear_skip
        # which dynamic inputs feed the skip (default all); a plain list, not saved in checkpoints
        self.skip_index = list(range(n_dynamic)) if skip_index is None else [int(i) for i in skip_index]
        n_skip = len(self.skip_index)
        if linear_skip == "global":  # w (no bias: the head has one)
            self.skip = nn.Linear(n_skip, 1, bias=False)
        elif linear_skip == "static":  # w = w0 (bias) + W1 @ x_static
            self.skip = nn.Linear(n_static, n_skip)
        if linear_skip != "none":
            for p in self.skip.parameters():
                nn.init.zeros_(p)

    def forward(self, x_dynamic: torch.Tensor, x_static: torch.Tensor) -> torch.Tensor:
        steps = x_dynamic.shape[1]
        static = x_static[:, None, :].expand(-1, steps, -1)
        h = torch.relu(self.input_layer(torch.cat([x_dynamic, static], dim=-1)))
        k = self.no_grad_steps if self.training and torch.is_grad_enabled() else 0
        if 0 < k < steps:  # warm-up without autograd; its final state starts the scored part
            with torch.no_grad():
                first, state = self.lstm(h[:, :k])
            rest, _ = self.lstm(h[:, k:], state)
            out = torch.cat([first, rest], dim=1)
        else:
            out, _ = self.lstm(h)
        if self.input_to_head:
            out = torch.cat([out, h], dim=-1)
        y = self.head(self.dropout(out)).squeeze(-1)
        if self.linear_skip == "none":
            return y
        x = x_dynamic[..., self.skip_index]
        if self.linear_skip == "global":
            return y + self.skip(x).squeeze(-1)
        w = self.skip(x_static)  # (batch, n_skip): each site's sensitivities
        return y + (x * w[:, None, :]).sum(-1)


def weighted_masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``weight * (pred - target)**2`` over scored points (weight > 0).

    With weight = 1 this is :func:`soilco2.training.masked_mse`; with weight = 1 / (variance of the
    site's training target) it is a per-site normalised loss (high-flux sites don't dominate).
    """
    scored = weight > 0
    diff = torch.where(scored, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return (weight * diff**2).sum() / scored.sum().clamp_min(1)


def mse_std_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, std_weight: float = 1.0
) -> torch.Tensor:
    """:func:`weighted_masked_mse` plus ``std_weight`` × the mean squared difference between the
    standard deviations of prediction and observation within each window (row) — a KGE-like
    variability term that keeps the LSTM from smoothing its output."""
    scored = (weight > 0).to(pred.dtype)
    n = scored.sum(1).clamp_min(1)
    t = torch.nan_to_num(target)

    def row_std(x):
        mean = (x * scored).sum(1) / n
        return torch.sqrt((((x - mean[:, None]) ** 2) * scored).sum(1) / n + 1e-8)

    rows = scored.sum(1) > 2
    penalty = ((row_std(pred) - row_std(t)) ** 2 * rows).sum() / rows.sum().clamp_min(1)
    return weighted_masked_mse(pred, target, weight) + std_weight * penalty
