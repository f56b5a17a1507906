"""Multi-layer perceptron on flattened driver windows (the paper's MLP baseline), with or
without the future window. Same call signature as the LSTMs: ``model(past, future)``."""

from __future__ import annotations

import torch
from torch import nn


class WindowMLP(nn.Module):
    def __init__(self, n_past_values: int, n_future_values: int = 0, hidden: int = 64, dropout: float = 0.1):
        """``n_past_values`` = P × n_past drivers; ``n_future_values`` = F × n_future (0: past only)."""
        super().__init__()
        self.use_future = n_future_values > 0
        self.net = nn.Sequential(
            nn.Linear(n_past_values + n_future_values, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, past: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        parts = [past.flatten(1)]
        if self.use_future:
            if future is None:
                raise ValueError("this MLP uses the future window: pass it")
            parts.append(future.flatten(1))
        return self.net(torch.cat(parts, dim=1)).squeeze(-1)
