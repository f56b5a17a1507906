"""Past/future LSTM (Jiang et al. 2022): one LSTM reads the past drivers forward up to the
target time ``t``; a second LSTM reads the known *future* drivers (e.g. the next 24 h of soil
temperature) **backward**, from ``t + F`` down to ``t + 1``; their last hidden states are joined
and a linear head predicts the flux at ``t``. With no future inputs it is the one-way LSTM.

Inputs: ``past`` (batch, P, n_past) ending at ``t``; ``future`` (batch, F, n_future) for
``t+1 .. t+F`` in time order (the model flips it). Output: (batch,) prediction at ``t``.
"""

from __future__ import annotations

import torch
from torch import nn


class PastFutureLSTM(nn.Module):
    def __init__(self, n_past: int, n_future: int = 0, hidden: int = 32, dropout: float = 0.1):
        super().__init__()
        self.n_past, self.n_future, self.hidden = n_past, n_future, hidden
        self.past = nn.LSTM(n_past, hidden, batch_first=True)
        self.future = nn.LSTM(n_future, hidden, batch_first=True) if n_future > 0 else None
        width = hidden * (2 if self.future is not None else 1)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, past: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        _, (h_past, _) = self.past(past)
        state = [h_past[-1]]
        if self.future is not None:
            if future is None:
                raise ValueError("this model has a future branch: pass the future window")
            _, (h_future, _) = self.future(torch.flip(future, dims=[1]))  # read t+F → t+1
            state.append(h_future[-1])
        return self.head(self.drop(torch.cat(state, dim=-1))).squeeze(-1)


class OneWayLSTM(PastFutureLSTM):
    """The past-only LSTM: the same network without the future branch."""

    def __init__(self, n_past: int, hidden: int = 32, dropout: float = 0.1):
        super().__init__(n_past, 0, hidden, dropout)

    def forward(self, past: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(past, None)
